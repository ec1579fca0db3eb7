import { DefaultStackSynthesizer, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct, IConstruct } from 'constructs';
import {
  acknowledge,
  acknowledgeArtifactGrants,
  acknowledgeArtifactWrites,
  acknowledgeGrantPolicy,
  acknowledgePart,
  arnToken,
  nagAccount,
} from '../compliance/acknowledge';
import { EnvironmentConfig, recoveryStackNameOf } from '../config';
import { MigrationTarget } from '../database/migration-target';
import type { CollectorImage } from '../service/payment-service';
import { EncryptedLogGroup } from '../common/encrypted-log-group';
import { BuildProject } from './build-project';
import { grantMigration, migrationEnvironment } from './migration';
import { ConnectionSourceAction } from './source-action';
import {
  buildImageStep,
  DEFAULT_MIGRATION_TIMEOUT_MINUTES,
  deployStep,
  INFRA_NAMESPACE,
  infraApplyStep,
  infraPlanStep,
  mutationStep,
  PipelineStep,
  promoteImageStep,
  PromoteFrom,
  smokeStep,
} from './steps';
import { triggerFilePaths } from './trigger-paths';
import { verifySteps } from './verify-stage';
import { PrivateAwsAccess } from '../network/egress';

export interface DeliveryPipelineProps {
  readonly config: EnvironmentConfig;
  readonly vpc: ec2.IVpc;
  /** The VPC's interface endpoints and S3 prefix list (the builds' security groups are built from them). */
  readonly network: PrivateAwsAccess;
  /** The foundation's artifact bucket and its key. */
  readonly artifactBucket: s3.IBucket;
  readonly artifactsKey: kms.IKey;
  readonly logsKey: kms.IKey;
  readonly logRemovalPolicy: RemovalPolicy;
  /** This environment's image repository. */
  readonly repository: ecr.IRepository;
  /** The service the deploy step updates, and what it needs to know about it. */
  readonly service: ecs.FargateService;
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly containerName: string;
  readonly imageParameterName: string;
  /** The schema migration the Deploy step runs with the new image before it deploys the service. */
  readonly migration: MigrationTarget;
  /**
   * How long one migration may run before the Deploy step stops it and fails (whole minutes, 1 to 120).
   * @default - 15 minutes
   */
  readonly migrationTimeout?: Duration;
  /** Read by the post-deploy smoke test. */
  readonly apiKey: secretsmanager.ISecret;
  readonly productionUrl: string;
  /** Failures and approvals are announced here. */
  readonly topic: sns.ITopic;
  /**
   * The tracing collector's image in the pull-through cache, which the Deploy step pulls first (tools/collector-cache),
   * in every environment: the image is cached before any change turns tracing on.
   * @default - nothing to pull (a pipeline without the service's tracing collector)
   */
  readonly collectorImage?: CollectorImage;
  /**
   * Promote the image the upstream environment deployed instead of building one.
   * @default - build (the first environment of the chain)
   */
  readonly promoteFrom?: PromoteFrom;
  /**
   * The upstream environment's URL, shown to the approver.
   * @default - none
   */
  readonly upstreamUrl?: string;
}

/**
 * CodePipeline V2 for one environment: GitHub (CodeConnections) push on the configured branch -> Verify (tests per
 * Node version, lint, static analysis, dependency scan, IaC check, in parallel) -> Image (build in dev, promote the
 * upstream's promotable digest elsewhere) -> [Approve, prod only] -> Deploy (schema migration with the new image, then
 * blue/green, truthful) -> production smoke, which alone marks the image promotable for the next environment.
 *
 * The push filter's paths come from lib/pipeline/trigger-paths.ts, the same in every environment.
 */
export class DeliveryPipeline extends Construct {
  public readonly pipeline: codepipeline.Pipeline;
  /** The Image action's output: the image's Trivy report and CycloneDX SBOM, kept in the artifact bucket. */
  public readonly imageScan: codepipeline.Artifact;
  /** Infra-Plan's output: the plan and the synthesized template it was made from, kept in the artifact bucket. */
  public readonly infraPlan: codepipeline.Artifact;
  /** Every CodeBuild project of the pipeline, by step name. */
  public readonly projects: Record<string, BuildProject> = {};
  /** The SSM parameter naming the running image (the template reads it when a change set is made). */
  private readonly imageParameterName: string;

  constructor(scope: Construct, id: string, props: DeliveryPipelineProps) {
    super(scope, id);
    const { config } = props;
    const stack = Stack.of(this);
    this.imageParameterName = props.imageParameterName;
    const logGroup = new EncryptedLogGroup(this, 'BuildLogs', {
      key: props.logsKey,
      retentionDays: config.logs.retentionDays,
      removalPolicy: props.logRemovalPolicy,
    });
    const project = (step: PipelineStep, environmentVariables?: Record<string, string>): BuildProject => {
      const p = new BuildProject(this, step.name, {
        step,
        vpc: props.vpc,
        network: props.network,
        key: props.artifactsKey,
        logGroup,
        environmentVariables,
        artifactBucket: props.artifactBucket,
      });
      this.projects[step.name] = p;
      return p;
    };

    const source = new codepipeline.Artifact('Source');
    // The same action object goes into the Source stage and the trigger (docs/deployments.md, trap 13, aws-cdk #28694).
    const sourceAction = new ConnectionSourceAction({
      actionName: 'GitHub',
      connectionArn: config.source.connectionArn,
      owner: config.source.owner,
      repo: config.source.repo,
      branch: config.source.branch,
      output: source,
      variablesNamespace: 'Source',
    });

    this.pipeline = new codepipeline.Pipeline(this, 'Pipeline', {
      pipelineType: codepipeline.PipelineType.V2,
      executionMode: codepipeline.ExecutionMode.SUPERSEDED,
      artifactBucket: props.artifactBucket,
      // An update of the pipeline's definition ends the running execution once its running actions finish. CloudFormation
      // does not restart it (RestartExecutionOnUpdate would start it while the stack update is still running, and again
      // on its rollback): Infra-Apply starts it once the whole update completed (docs/pipeline.md, Self-update).
      restartExecutionOnUpdate: false,
      triggers: [
        {
          providerType: codepipeline.ProviderType.CODE_STAR_SOURCE_CONNECTION,
          gitConfiguration: {
            sourceAction,
            pushFilter: [{ branchesIncludes: [config.source.branch], filePathsIncludes: triggerFilePaths() }],
          },
        },
      ],
    });
    this.pipeline.addStage({ stageName: 'Source', actions: [sourceAction] });

    // Verify: every action in parallel (one run order), each retried once by the stage on failure.
    const commit = { COMMIT_SHA: '#{Source.CommitId}' };
    this.pipeline.addStage({
      stageName: 'Verify',
      actions: verifySteps(config).map((step) => this.codeBuildAction(project(step), source, 1)),
      onFailure: { result: codepipeline.Result.RETRY, retryMode: codepipeline.RetryMode.FAILED_ACTIONS },
    });

    // Image: built once (first environment) or promoted by digest (the others).
    const registry = `${stack.account}.dkr.ecr.${stack.region}.amazonaws.com`;
    const imageStep = props.promoteFrom ? promoteImageStep(props.promoteFrom) : buildImageStep();
    const image = project(imageStep, { REPOSITORY_URI: props.repository.repositoryUri, REGISTRY: registry });
    props.repository.grantPullPush(image.project);
    props.repository.grant(image.project, 'ecr:DescribeImages');
    acknowledgePart(
      image,
      'IAM5[Resource::*]',
      'ecr:GetAuthorizationToken, the registry login before docker pulls and pushes (CDK adds it with the repository grant): AWS authorizes it on no resource type',
    );
    if (props.promoteFrom) this.grantUpstreamPull(image, props.promoteFrom);
    // The image's Trivy report and CycloneDX SBOM (the step's buildspec artifacts) are kept as the action's output
    // artifact: CodePipeline stores it in the artifact bucket, encrypted and audited object by object (AuditTrail).
    this.imageScan = new codepipeline.Artifact('ImageScan');
    acknowledgeArtifactWrites(image, props.artifactBucket);
    this.pipeline.addStage({
      stageName: 'Image',
      actions: [
        this.codeBuildAction(image, source, 1, commit, 'Image', [this.imageScan]),
        // Mutation testing runs once per push, in the environment that builds: the others promote the image only after
        // it passed there (and its smoke test).
        ...(props.promoteFrom ? [] : [this.codeBuildAction(project(mutationStep()), source, 1)]),
      ],
      onFailure: { result: codepipeline.Result.RETRY, retryMode: codepipeline.RetryMode.FAILED_ACTIONS },
    });

    // Infrastructure: this commit's stack as a change set, judged before anything runs it (tools/infra plan). Where a person
    // approves, the plan is a stage of its own before the approval; elsewhere it is the first action of Deploy, so no
    // other execution can deploy between the plan and its apply (one execution per stage).
    const stackName = stack.stackName;
    const approval = config.pipeline.approvalRequired;
    const recovery = { stackName: recoveryStackNameOf(config.envName), region: config.recovery.region };
    const infraPlan = project(infraPlanStep(config.envName, stackName, recovery), { IMAGE_PARAMETER_NAME: props.imageParameterName });
    this.grantInfraPlan(infraPlan, stackName, recovery);
    this.infraPlan = new codepipeline.Artifact('InfraPlan');
    acknowledgeArtifactWrites(infraPlan, props.artifactBucket);
    const planAction = this.codeBuildAction(infraPlan, source, 1, commit, INFRA_NAMESPACE, [this.infraPlan], true);
    if (approval) this.pipeline.addStage({ stageName: 'Infrastructure', actions: [planAction] });

    if (config.pipeline.approvalRequired) {
      const repoUrl = `https://github.com/${config.source.owner}/${config.source.repo}`;
      this.pipeline.addStage({
        stageName: 'Approve',
        actions: [
          new actions.ManualApprovalAction({
            actionName: 'Approve',
            notificationTopic: props.topic,
            // The change set the approver reads is the one Infra-Apply executes (it refuses any other, or a stale one).
            externalEntityLink: '#{Infra.CHANGE_SET_URL}',
            additionalInformation: [
              `Deploy commit ${repoUrl}/commit/#{Source.CommitId} to ${config.envName}`,
              'infrastructure: #{Infra.CHANGE_SUMMARY} (change set #{Infra.CHANGE_SET_NAME})',
              'image #{Image.IMAGE_URI}',
              'scan report and SBOM: #{Image.SCAN_REPORT_URL}',
              props.upstreamUrl ? `running now in ${props.promoteFrom?.env ?? 'upstream'}: ${props.upstreamUrl}` : '',
            ]
              .filter(Boolean)
              .join('; '),
          }),
        ],
      });
    }

    // Deploy: the schema migration, then the service; no automatic stage retry, a failed deployment is never retried blindly.
    const migrationTimeoutMinutes = props.migrationTimeout?.toMinutes() ?? DEFAULT_MIGRATION_TIMEOUT_MINUTES;
    const deploy = project(deployStep(config.envName, config.deployment.deployTimeoutMinutes, migrationTimeoutMinutes), {
      CLUSTER_NAME: props.service.cluster.clusterName,
      SERVICE_NAME: props.service.serviceName,
      CONTAINER_NAME: props.containerName,
      IMAGE_PARAMETER_NAME: props.imageParameterName,
      DESIRED_COUNT: String(config.service.desiredCount),
      ...migrationEnvironment(props.migration),
      ...(props.collectorImage ? { COLLECTOR_IMAGE_REPOSITORY: props.collectorImage.repository, COLLECTOR_IMAGE_TAG: props.collectorImage.tag } : {}),
    });
    // The first pull through the cache imports the image from ECR Public (docs/aws-contracts.md, "Operations").
    if (props.collectorImage) {
      deploy.project.role!.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['ecr:BatchGetImage', 'ecr:BatchImportUpstreamImage', 'ecr:CreateRepository'],
          resources: [props.collectorImage.repositoryArn],
        }),
      );
    }
    this.grantDeploy(deploy, props);
    grantMigration(deploy, props.migration);
    acknowledgePart(
      deploy,
      'IAM5[Resource::*]',
      'ecs:DescribeTaskDefinition, with which tools/deploy and tools/migrate read the revision they copy: AWS authorizes it on no resource type',
    );
    // Smoke-Production runs only after Deploy succeeded (run order 3), and marks the image promotable only after its
    // own smoke test passed (smokeStep): the next environment never sees an image whose production smoke failed.
    const smoke = project(smokeStep(config.envName), {
      BASE_URL: props.productionUrl,
      API_KEY_SECRET_ARN: props.apiKey.secretArn,
      IMAGE_PARAMETER_NAME: props.imageParameterName,
    });
    props.apiKey.grantRead(smoke.project);
    // tools/promote mark reads what production runs, and marks the image only if it is that one.
    smoke.project.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ssm:GetParameter'],
        resources: [imageParameterArn(stack, props.imageParameterName)],
      }),
    );
    // tools/promote mark: DescribeImages (the deployed-<env> tag must be there), BatchGetImage + PutImage (add a tag).
    props.repository.grant(smoke.project, 'ecr:DescribeImages', 'ecr:BatchGetImage', 'ecr:PutImage');
    const infraApply = project(infraApplyStep(config.envName, stackName), {
      TOPIC_ARN: props.topic.topicArn,
      IMAGE_PARAMETER_NAME: props.imageParameterName,
    });
    this.grantInfraApply(infraApply, stackName, props.topic);
    const imageUri = { IMAGE_URI: '#{Image.IMAGE_URI}' };
    // One stage, so one execution at a time: no infrastructure update runs beside a blue/green deployment of this pipeline.
    // In order: [plan,] apply, the image deploy only on applied infrastructure, the smoke test only after the deploy.
    const first = approval ? 1 : 2;
    this.pipeline.addStage({
      stageName: 'Deploy',
      actions: [
        ...(approval ? [] : [planAction]),
        this.codeBuildAction(infraApply, source, first, {
          ...commit,
          CHANGE_SET_NAME: '#{Infra.CHANGE_SET_NAME}',
          LISTENER_RULES_TOUCHED: '#{Infra.LISTENER_RULES_TOUCHED}',
          PIPELINE_EXECUTION_ID: '#{codepipeline.PipelineExecutionId}',
        }),
        this.codeBuildAction(deploy, source, first + 1, { ...commit, ...imageUri }),
        this.codeBuildAction(smoke, source, first + 2, { ...commit, ...imageUri }),
      ],
    });
    // Infra-Apply starts the pipeline again after a change of the pipeline itself completed. A separate policy, so the
    // project (which the pipeline references) does not wait for a policy that references the pipeline.
    const restart = new iam.Policy(this, 'InfraApplyRestart', {
      roles: [infraApply.project.role!],
      statements: [new iam.PolicyStatement({ actions: ['codepipeline:StartPipelineExecution'], resources: [this.pipeline.pipelineArn] })],
    });
    acknowledge(
      restart,
      ['PCI.DSS.321', 'NIST.800.53.R5'],
      'IAMNoInlinePolicy',
      "Infra-Apply's role alone may start this one pipeline; a policy of its own, since the role's default policy must not reference the pipeline that references the role's project",
    );

    // Failures, successes and approvals waiting reach the topics through EventBridge (lib/monitoring/deployment-events.ts).
    // The pipeline's service role and the per-action roles CDK creates under it.
    acknowledgeGrantPolicy(this.pipeline, 'CodePipeline service and action roles: start these builds, use this artifact bucket and key');
    // The wildcards of the pipeline's roles, each on the role that holds it: the service role's artifact grant, the Source
    // action's (lib/pipeline/source-action.ts) and the approval's notification (the Approve action role).
    acknowledgeArtifactGrants(this.pipeline.role, props.artifactBucket, { write: true });
    if (approval) {
      acknowledgePart(
        this.actionRole('Approve', 'Approve'),
        'IAM5[Action::kms:GenerateDataKey*]',
        "kms:GenerateDataKey* on the alarm topic's key alone (CDK grant with the approval's notification): SNS encrypts each message with it on the publisher's behalf",
      );
    }
  }

  private codeBuildAction(
    p: BuildProject,
    input: codepipeline.Artifact,
    runOrder: number,
    vars?: Record<string, string>,
    namespace?: string,
    outputs?: codepipeline.Artifact[],
    executionId = false,
  ) {
    return new actions.CodeBuildAction({
      actionName: p.node.id,
      project: p.project,
      input,
      outputs,
      runOrder,
      variablesNamespace: namespace,
      environmentVariables:
        vars || executionId
          ? Object.fromEntries(
              Object.entries({ ...vars, ...(executionId ? { PIPELINE_EXECUTION_ID: '#{codepipeline.PipelineExecutionId}' } : {}) }).map(([k, v]) => [
                k,
                { value: v },
              ]),
            )
          : undefined,
    });
  }

  /** Pull (and describe) the upstream environment's repository; its policy admits this account (ImageRepository). */
  private grantUpstreamPull(p: BuildProject, from: PromoteFrom): void {
    const stack = Stack.of(this);
    p.project.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability', 'ecr:DescribeImages'],
        resources: [stack.formatArn({ service: 'ecr', account: from.registryId, resource: 'repository', resourceName: from.repositoryName })],
      }),
    );
  }

  /** The stack's ARN (any stack id of this name) and the CDK bootstrap roles and bucket of this account and region. */
  private bootstrap(stackName: string) {
    const stack = Stack.of(this);
    const q = DefaultStackSynthesizer.DEFAULT_QUALIFIER;
    const role = (name: string): string =>
      stack.formatArn({ service: 'iam', region: '', resource: 'role', resourceName: `cdk-${q}-${name}-${stack.account}-${stack.region}` });
    return {
      stackArn: stack.formatArn({ service: 'cloudformation', resource: 'stack', resourceName: `${stackName}/*` }),
      execRole: role('cfn-exec-role'),
      filePublishingRole: role('file-publishing-role'),
      assetObjects: `arn:${stack.partition}:s3:::cdk-${q}-assets-${stack.account}-${stack.region}/*`,
      ssmParameters: [
        stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: `cdk-bootstrap/${q}/version` }),
        imageParameterArn(stack, this.imageParameterName),
      ],
    };
  }

  /**
   * Infra-Plan: change sets of this one stack, made with the bootstrap's execution role only (PassRole to CloudFormation
   * only, and CreateChangeSet only with that role), asset publishing through the bootstrap's file-publishing role, the
   * template read back from the bootstrap bucket, and the live listener rule read for tools/listener-guard.
   */
  private grantInfraPlan(p: BuildProject, stackName: string, recovery: { readonly stackName: string; readonly region: string }): void {
    const b = this.bootstrap(stackName);
    const role = p.project.role!;
    // The recovery stack in its region: read only, to check it is there and current before planning.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['cloudformation:DescribeStacks', 'cloudformation:GetTemplate'],
        resources: [
          Stack.of(this).formatArn({
            service: 'cloudformation',
            region: recovery.region,
            resource: 'stack',
            resourceName: `${recovery.stackName}/*`,
          }),
        ],
      }),
    );
    acknowledgePart(
      p,
      `IAM5[Resource::arn:aws:cloudformation:${recovery.region}:${nagAccount(p)}:stack/${recovery.stackName}/*]`,
      'cloudformation:DescribeStacks and cloudformation:GetTemplate (read only) on the recovery stack: CloudFormation appends a stack id to its name in the ARN, so the id takes a wildcard',
    );
    // A template with a transform also needs CreateChangeSet on the transform (the hosted rotations add one).
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['cloudformation:CreateChangeSet'],
        resources: [b.stackArn, ...transformArns(Stack.of(this))],
        conditions: { StringEquals: { 'cloudformation:RoleArn': b.execRole } },
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [
          'cloudformation:DescribeStacks',
          'cloudformation:DescribeChangeSet',
          'cloudformation:DeleteChangeSet',
          'cloudformation:GetTemplate',
          'cloudformation:DescribeStackResources',
        ],
        resources: [b.stackArn],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [b.execRole],
        conditions: { StringEquals: { 'iam:PassedToService': 'cloudformation.amazonaws.com' } },
      }),
    );
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: [b.filePublishingRole] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [b.assetObjects] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['ssm:GetParameters', 'ssm:GetParameter'], resources: b.ssmParameters }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['elasticloadbalancing:DescribeRules'], resources: ['*'] }));
    acknowledgePart(p, 'IAM5[Resource::*]', LISTENER_RULE_READ);
    this.acknowledgeInfra(
      p,
      'cloudformation:CreateChangeSet (with the bootstrap execution role only), cloudformation:DeleteChangeSet, cloudformation:DescribeChangeSet, ' +
        'cloudformation:DescribeStackResources, cloudformation:DescribeStacks and cloudformation:GetTemplate on this one stack',
    );
    acknowledgePart(
      p,
      `IAM5[Resource::arn:aws:s3:::cdk-${DefaultStackSynthesizer.DEFAULT_QUALIFIER}-assets-${nagAccount(p)}-${Stack.of(this).region}/*]`,
      's3:GetObject on the objects of the CDK bootstrap asset bucket: the template and assets are named by content hash at synth time',
    );
  }

  /** Infra-Apply: execute and follow change sets of this one stack, read the live listener rule, announce on the topic. */
  private grantInfraApply(p: BuildProject, stackName: string, topic: sns.ITopic): void {
    const b = this.bootstrap(stackName);
    const role = p.project.role!;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [
          'cloudformation:ExecuteChangeSet',
          'cloudformation:DescribeChangeSet',
          'cloudformation:DescribeStacks',
          'cloudformation:DescribeStackEvents',
          'cloudformation:GetTemplate',
          'cloudformation:DescribeStackResources',
        ],
        resources: [b.stackArn],
      }),
    );
    // No iam:PassRole: the change set already carries the stack's execution role, which CloudFormation uses "even if the
    // users don't have permission to pass it" (docs/aws-contracts.md, "Infrastructure through the pipeline").
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['elasticloadbalancing:DescribeRules'], resources: ['*'] }));
    acknowledgePart(p, 'IAM5[Resource::*]', LISTENER_RULE_READ);
    // The image the service runs now, against the one the change set froze when it was planned.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['ssm:GetParameter'], resources: [imageParameterArn(Stack.of(this), this.imageParameterName)] }),
    );
    topic.grantPublish(role);
    acknowledgePart(
      p,
      'IAM5[Action::kms:GenerateDataKey*]',
      "kms:GenerateDataKey* on the alarm topic's key alone (CDK grant with the topic's publish): SNS encrypts each message Infra-Apply publishes with it",
    );
    this.acknowledgeInfra(
      p,
      'cloudformation:ExecuteChangeSet, cloudformation:DescribeChangeSet, cloudformation:DescribeStacks, cloudformation:DescribeStackEvents, ' +
        'cloudformation:GetTemplate and cloudformation:DescribeStackResources on this one stack',
    );
  }

  /** `what` names the actions the step has on this stack. */
  private acknowledgeInfra(p: BuildProject, what: string): void {
    const stack = Stack.of(this);
    acknowledgePart(
      p,
      `IAM5[Resource::arn:aws:cloudformation:${stack.region}:${nagAccount(p)}:stack/${stack.stackName}/*]`,
      `${what}: CloudFormation appends a stack id to its name in the ARN, so the id takes a wildcard`,
    );
  }

  /** The role CodePipeline assumes for one action (CDK creates it under the action's stage). */
  private actionRole(stageName: string, actionName: string): IConstruct {
    const role = this.pipeline.node.tryFindChild(stageName)?.node.tryFindChild(actionName)?.node.tryFindChild('CodePipelineActionRole');
    if (!role) throw new Error(`DeliveryPipeline: no role for the action ${stageName}/${actionName}`);
    return role;
  }

  /**
   * What tools/deploy calls, scoped to this service where ECS allows it.
   * https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html
   */
  private grantDeploy(p: BuildProject, props: DeliveryPipelineProps): void {
    const stack = Stack.of(this);
    const role = p.project.role!;
    const cluster = props.service.cluster.clusterName;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ecs:DescribeServices', 'ecs:UpdateService', 'ecs:ListServiceDeployments'],
        resources: [props.service.serviceArn],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ecs:DescribeServiceDeployments'],
        resources: [stack.formatArn({ service: 'ecs', resource: 'service-deployment', resourceName: `${cluster}/${props.service.serviceName}/*` })],
      }),
    );
    // RegisterTaskDefinition is authorized on the revision it creates (resource type task-definition); DescribeTaskDefinition
    // has no resource-level permission (docs/aws-contracts.md, "Migrations in the pipeline").
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ecs:RegisterTaskDefinition'],
        resources: [stack.formatArn({ service: 'ecs', resource: 'task-definition', resourceName: `${props.taskDefinition.family}:*` })],
      }),
    );
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['ecs:DescribeTaskDefinition'], resources: ['*'] }));
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ecs:TagResource'],
        resources: [stack.formatArn({ service: 'ecs', resource: 'task-definition', resourceName: `${props.taskDefinition.family}:*` })],
        conditions: { StringEquals: { 'ecs:CreateAction': 'RegisterTaskDefinition' } },
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [props.taskDefinition.taskRole.roleArn, props.taskDefinition.obtainExecutionRole().roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ssm:PutParameter', 'ssm:GetParameter'],
        resources: [imageParameterArn(stack, props.imageParameterName)],
      }),
    );
    props.repository.grant(role, 'ecr:BatchGetImage', 'ecr:PutImage', 'ecr:DescribeImages');
    acknowledgePart(
      p,
      `IAM5[Resource::arn:aws:ecs:${stack.region}:${nagAccount(p)}:service-deployment/${arnToken(props.service.cluster).replace('.Arn>', '>')}/<${stack.getLogicalId(props.service.node.defaultChild as ecs.CfnService)}.Name>/*]`,
      'ecs:DescribeServiceDeployments on the service deployments of this one service: ECS names each deployment, so the id takes a wildcard',
    );
    acknowledgePart(
      p,
      `IAM5[Resource::arn:aws:ecs:${stack.region}:${nagAccount(p)}:task-definition/${props.taskDefinition.family}:*]`,
      'ecs:RegisterTaskDefinition and ecs:TagResource (only while registering, ecs:CreateAction) on revisions of the service task definition family, one per release: ECS numbers the revision',
    );
  }
}

/** Why Infra-Plan and Infra-Apply may read listener rules on "*". */
const LISTENER_RULE_READ =
  'elasticloadbalancing:DescribeRules, with which tools/listener-guard reads the live production listener rule: AWS authorizes it on no resource type';

/**
 * The ARNs of the transforms the stack's template declares (`arn:aws:cloudformation:<region>:aws:transform/<name>`).
 * Read when the pipeline is built: every construct that adds one (the database's hosted rotations) is built before it,
 * and test/pipeline-infra.test.ts checks the grant covers the synthesized template's list.
 */
function transformArns(stack: Stack): string[] {
  return (stack.templateOptions.transforms ?? []).map(
    (t) => `arn:${stack.partition}:cloudformation:${stack.region}:aws:transform/${t.replace(/^AWS::/, '')}`,
  );
}

/** The ARN of the SSM parameter that names the running image (its name starts with `/`, the ARN's resource does not). */
function imageParameterArn(stack: Stack, name: string): string {
  return stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: name.replace(/^\//, '') });
}
