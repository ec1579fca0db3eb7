import * as fs from 'fs';
import * as path from 'path';
import { Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { BUILD_CACHE_TAG, DEPLOYED_TAG_PREFIX } from '../lib/registry/image-repository';
import { useConnectionActions } from '../lib/pipeline/source-action';
import {
  CRANE_SHA256,
  DEPLOY_COMMAND,
  MARK_PROMOTABLE_COMMAND,
  MIGRATE_COMMAND,
  SMOKE_COMMAND,
  TRIVY_SHA256,
  TRIVY_VERSION,
  testStepName,
} from '../lib/pipeline/steps';
import { triggerFilePaths } from '../lib/pipeline/trigger-paths';
import { loadConfig, SUPPORTED_NODE_VERSIONS } from '../lib/config';
import { ENVS, shippedConfigs, synthEnv } from './helpers';

type Resource = { Type: string; Properties: Record<string, unknown> };
interface Action {
  Name: string;
  RunOrder?: number;
  ActionTypeId: { Category: string; Provider: string };
  Configuration?: Record<string, unknown>;
  Namespace?: string;
}
interface Stage {
  Name: string;
  Actions: Action[];
  OnFailure?: { Result: string; RetryConfiguration?: { RetryMode: string } };
}
interface Statement {
  Action: string | string[];
  Resource: unknown;
  Effect: string;
  Condition?: unknown;
}

describe.each(ENVS)('pipeline of %s', (env) => {
  const config = shippedConfigs()[env];
  const { stack, template } = synthEnv(env);
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  const pipeline = ofType('AWS::CodePipeline::Pipeline')[0]![1].Properties;
  const stages = pipeline.Stages as Stage[];
  const stage = (name: string) => stages.find((s) => s.Name === name);
  /** The ARN of one of the stack's customer-managed keys (lib/security/keys.ts). */
  const keyArn = (key: { node: { defaultChild?: unknown } }) => ({ 'Fn::GetAtt': [stack.getLogicalId(key.node.defaultChild as never), 'Arn'] });
  /** Every statement of the inline policies attached to the roles whose logical id starts with `rolePrefix`. */
  const statementsOf = (rolePrefix: string): Statement[] =>
    ofType('AWS::IAM::Policy')
      .filter(([, p]) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref.startsWith(rolePrefix)))
      .flatMap(([, p]) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
  const buildSpecOf = (projectPrefix: string) => {
    const found = ofType('AWS::CodeBuild::Project').filter(([id]) => id.startsWith(projectPrefix));
    expect(found).toHaveLength(1);
    return JSON.parse((found[0]![1].Properties.Source as { BuildSpec: string }).BuildSpec) as {
      env?: { variables?: Record<string, string> };
      phases: Record<string, { commands: string[]; finally?: string[]; 'on-failure'?: string }>;
    };
  };

  test('CodePipeline V2 on the foundation artifact bucket, encrypted with the artifacts key', () => {
    expect(ofType('AWS::CodePipeline::Pipeline')).toHaveLength(1);
    expect(pipeline.PipelineType).toBe('V2');
    expect(pipeline.ArtifactStore).toMatchObject({
      Type: 'S3',
      Location: { Ref: expect.stringMatching(/^ArtifactStoreBucket/) },
      EncryptionKey: { Type: 'KMS', Id: keyArn(stack.keys.artifacts) },
    });
  });

  test('a push on the configured branch with the repository-wide path filters triggers it, through the Source stage action itself', () => {
    const source = stage('Source')!.Actions;
    expect(source).toHaveLength(1);
    expect(source[0]).toMatchObject({
      Name: 'GitHub',
      // The namespace every #{Source.CommitId} in later actions resolves against
      Namespace: 'Source',
      ActionTypeId: { Category: 'Source', Owner: 'AWS', Provider: 'CodeStarSourceConnection', Version: '1' },
      Configuration: {
        ConnectionArn: config.source.connectionArn,
        FullRepositoryId: `${config.source.owner}/${config.source.repo}`,
        BranchName: config.source.branch,
        DetectChanges: false,
      },
    });
    expect(pipeline.Triggers).toEqual([
      {
        ProviderType: 'CodeStarSourceConnection',
        GitConfiguration: {
          SourceActionName: 'GitHub',
          Push: [{ Branches: { Includes: [config.source.branch] }, FilePaths: { Includes: triggerFilePaths() } }],
        },
      },
    ]);
  });

  test('Verify: one test action per configured Node version, all actions in one run order, retried on failure', () => {
    const verify = stage('Verify')!;
    const tests = verify.Actions.filter((a) => a.Name.startsWith('Test-Node'));
    expect(tests.map((a) => a.Name).sort()).toEqual(config.pipeline.nodeVersions.map(testStepName).sort());
    expect(verify.Actions.map((a) => a.Name).sort()).toEqual(
      [...config.pipeline.nodeVersions.map(testStepName), 'Dependency-Scan', 'IaC-Check', 'Lint-Typecheck', 'Static-Analysis'].sort(),
    );
    expect(new Set(verify.Actions.map((a) => a.RunOrder ?? 1))).toEqual(new Set([1]));
    expect(verify.OnFailure).toEqual({ Result: 'RETRY', RetryConfiguration: { RetryMode: 'FAILED_ACTIONS' } });
  });

  test('stage order; the image is built in dev and promoted elsewhere; the infrastructure planned after both; approval only in prod, right before Deploy', () => {
    const expected = env === 'prod' ? ['Source', 'Verify', 'Image', 'Infrastructure', 'Approve', 'Deploy'] : ['Source', 'Verify', 'Image', 'Deploy'];
    expect(stages.map((s) => s.Name)).toEqual(expected);
    // Mutation testing runs once per push, beside the image build of the environment that builds.
    expect(stage('Image')!.Actions.map((a) => a.Name)).toEqual(env === 'dev' ? ['Build-Image', 'Mutation'] : ['Promote-Image']);
    expect(stage('Image')!.Actions[0]!.Namespace).toBe('Image');
    const approvals = stages.flatMap((s) => s.Actions).filter((a) => a.ActionTypeId.Category === 'Approval');
    if (env === 'prod') {
      expect(approvals).toHaveLength(1);
      expect(approvals[0]!.Configuration).toMatchObject({
        // The approver is told on the notice topic.
        NotificationArn: { Ref: stack.getLogicalId(stack.alarms.topic.node.defaultChild as never) },
        ExternalEntityLink: '#{Infra.CHANGE_SET_URL}',
        CustomData: expect.stringContaining('#{Image.IMAGE_URI}'),
      });
      // The approver reads the change set Infra-Apply will execute, and the commit it came from
      expect(approvals[0]!.Configuration!.CustomData).toContain('infrastructure: #{Infra.CHANGE_SUMMARY} (change set #{Infra.CHANGE_SET_NAME})');
      expect(approvals[0]!.Configuration!.CustomData).toContain(
        `https://github.com/${config.source.owner}/${config.source.repo}/commit/#{Source.CommitId}`,
      );
      expect(approvals[0]!.Configuration!.CustomData).toContain('#{Image.SCAN_REPORT_URL}');
      expect(approvals[0]!.Configuration!.CustomData).toContain('https://staging.pay.example.com');
    } else {
      expect(approvals).toHaveLength(0);
    }
  });

  test('Deploy applies the planned infrastructure, then deploys the image by digest from the Image stage, then smoke-tests production; no automatic retry', () => {
    const deploy = stage('Deploy')!;
    expect(deploy.OnFailure).toBeUndefined();
    // The infrastructure first (test/pipeline-infra.test.ts), then the image, then the smoke test
    const order = deploy.Actions.map((a) => a.Name);
    expect(order.slice(-3)).toEqual(['Infra-Apply', 'Deploy', 'Smoke-Production']);
    expect(deploy.Actions.map((a) => a.RunOrder)).toEqual(order.map((_, i) => i + 1));
    expect(JSON.parse(deploy.Actions.find((a) => a.Name === 'Deploy')!.Configuration!.EnvironmentVariables as string)).toEqual(
      expect.arrayContaining([{ name: 'IMAGE_URI', type: 'PLAINTEXT', value: '#{Image.IMAGE_URI}' }]),
    );
  });

  test('every CodeBuild project: private subnets, the artifacts key, a pinned curated image, a timeout; privileged only for the image build', () => {
    const projects = ofType('AWS::CodeBuild::Project');
    expect(projects.length).toBe(config.pipeline.nodeVersions.length + 4 + 1 + 2 + 2 + (env === 'dev' ? 1 : 0));
    for (const [id, p] of projects) {
      const props = p.Properties as {
        VpcConfig?: unknown;
        EncryptionKey?: unknown;
        Environment: { Image: string; PrivilegedMode: boolean };
        TimeoutInMinutes: number;
      };
      expect({ id, vpc: props.VpcConfig !== undefined, key: props.EncryptionKey }).toEqual({ id, vpc: true, key: keyArn(stack.keys.artifacts) });
      expect(props.Environment.Image).toBe('aws/codebuild/standard:7.0');
      expect(props.TimeoutInMinutes).toBeGreaterThan(0);
      expect({ id, privileged: props.Environment.PrivilegedMode }).toEqual({ id, privileged: id.startsWith('DeliveryBuildImage') });
    }
  });

  test('every CodeBuild project runs in subnets whose default route is a NAT gateway, with a security group open to HTTPS outbound', () => {
    // CodeBuild gives a VPC build no public IP: it reaches npm, GitHub releases and ECR Public only through NAT.
    const routeTableOf = (subnetId: string) =>
      ofType('AWS::EC2::SubnetRouteTableAssociation').find(([, a]) => (a.Properties.SubnetId as { Ref: string }).Ref === subnetId)![1].Properties
        .RouteTableId as { Ref: string };
    const defaultRoute = (routeTable: string) =>
      ofType('AWS::EC2::Route').find(
        ([, r]) => (r.Properties.RouteTableId as { Ref: string }).Ref === routeTable && r.Properties.DestinationCidrBlock === '0.0.0.0/0',
      )?.[1].Properties;
    for (const [id, p] of ofType('AWS::CodeBuild::Project')) {
      const vpc = p.Properties.VpcConfig as { Subnets: { Ref: string }[]; SecurityGroupIds: { 'Fn::GetAtt': [string, string] }[] };
      expect({ id, subnets: vpc.Subnets.length }).toEqual({ id, subnets: config.network.availabilityZones.length });
      for (const subnet of vpc.Subnets) {
        const route = defaultRoute(routeTableOf(subnet.Ref).Ref);
        expect({ id, subnet: subnet.Ref, nat: route?.NatGatewayId !== undefined, igw: route?.GatewayId }).toEqual({
          id,
          subnet: subnet.Ref,
          nat: true,
          igw: undefined,
        });
      }
      const [sgId] = vpc.SecurityGroupIds.map((g) => g['Fn::GetAtt'][0]);
      // HTTPS only (test/egress.test.ts holds every group to the egress table).
      expect(resources[sgId!]!.Properties.SecurityGroupEgress).toEqual([
        expect.objectContaining({ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443 }),
      ]);
    }
  });

  test('no plaintext credentials in any build environment', () => {
    for (const [, p] of ofType('AWS::CodeBuild::Project')) {
      const vars = ((p.Properties.Environment as { EnvironmentVariables?: { Name: string; Value: unknown }[] }).EnvironmentVariables ?? []).map(
        (v) => v.Name,
      );
      for (const name of vars) expect(name).not.toMatch(/PASSWORD|SECRET$|TOKEN|API_KEY$/);
    }
  });

  test("the deploy role's ECS and iam:PassRole statements are exactly these: this service, the migration family, the cluster's tasks", () => {
    // GIVEN what the Deploy step's two tools need (tools/migrate, then tools/deploy)
    const account = { Ref: 'AWS::AccountId' };
    const ecsArn = (resource: string) => ({ 'Fn::Join': ['', ['arn:aws:ecs:us-east-1:', account, `:${resource}`]] });
    const migration = stack.migration;
    const service = stack.paymentService;
    const clusterArn = stack.resolve(migration.cluster.clusterArn);
    const revisions = [ecsArn(`task-definition/${migration.taskDefinition.family}:*`), ecsArn(`task-definition/${service.taskDefinition.family}:*`)];
    const inCluster = { ArnEquals: { 'ecs:cluster': clusterArn } };
    const expected: Statement[] = [
      {
        Effect: 'Allow',
        Action: ['ecs:DescribeServices', 'ecs:ListServiceDeployments', 'ecs:UpdateService'],
        Resource: stack.resolve(service.service.serviceArn),
      },
      {
        Effect: 'Allow',
        Action: 'ecs:DescribeServiceDeployments',
        Resource: {
          'Fn::Join': [
            '',
            [
              'arn:aws:ecs:us-east-1:',
              account,
              ':service-deployment/',
              stack.resolve(service.cluster.clusterName),
              '/',
              stack.resolve(service.service.serviceName),
              '/*',
            ],
          ],
        },
      },
      // RegisterTaskDefinition has a resource type (task-definition): revisions of the two families, nothing else
      { Effect: 'Allow', Action: 'ecs:RegisterTaskDefinition', Resource: revisions },
      {
        Effect: 'Allow',
        Action: 'ecs:TagResource',
        Resource: revisions,
        Condition: { StringEquals: { 'ecs:CreateAction': 'RegisterTaskDefinition' } },
      },
      // DescribeTaskDefinition has none
      { Effect: 'Allow', Action: 'ecs:DescribeTaskDefinition', Resource: '*' },
      // The migration family only, and only in its cluster
      { Effect: 'Allow', Action: 'ecs:RunTask', Resource: revisions[0], Condition: inCluster },
      {
        Effect: 'Allow',
        Action: ['ecs:DescribeTasks', 'ecs:StopTask'],
        Resource: { 'Fn::Join': ['', ['arn:aws:ecs:us-east-1:', account, ':task/', stack.resolve(migration.cluster.clusterName), '/*']] },
        Condition: inCluster,
      },
      // The four task roles the two families name, to ECS tasks only
      {
        Effect: 'Allow',
        Action: 'iam:PassRole',
        Resource: [
          migration.taskDefinition.executionRole!,
          migration.taskDefinition.taskRole,
          service.taskDefinition.executionRole!,
          service.taskDefinition.taskRole,
        ].map((r) => stack.resolve(r.roleArn)),
        Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      },
    ];
    // THEN the role's statements on ECS and IAM are exactly these (resource lists compared as sets)
    const canonical = (st: Statement) =>
      JSON.stringify({
        Effect: st.Effect,
        Action: st.Action,
        Resource: Array.isArray(st.Resource) ? [...st.Resource].map((r) => JSON.stringify(r)).sort() : st.Resource,
        Condition: st.Condition,
      });
    const actual = statementsOf('DeliveryDeployProjectRole').filter((st) =>
      [st.Action].flat().some((a) => a.startsWith('ecs:') || a.startsWith('iam:')),
    );
    expect(actual.map(canonical).sort()).toEqual(expected.map(canonical).sort());
    // AND the roles passed are the migration task's own and the service's (the migration family's template names them)
    expect(stack.resolve(migration.taskDefinition.taskRole.roleArn)).not.toEqual(stack.resolve(service.taskDefinition.taskRole.roleArn));
  });

  test('the Deploy step migrates with the new image first and deploys only if the migration succeeded, in every environment', () => {
    const spec = buildSpecOf('DeliveryDeployProject');
    // GIVEN one command list in the build phase: CodeBuild skips the rest of a list once a command fails
    expect(spec.phases.build).toEqual({ commands: [MIGRATE_COMMAND, DEPLOY_COMMAND] });
    // AND neither tool runs anywhere else (post_build or finally would run after a failed migration)
    const elsewhere = Object.entries(spec.phases)
      .filter(([phase]) => phase !== 'build')
      .flatMap(([, p]) => [...p.commands, ...(p.finally ?? [])]);
    expect(elsewhere.filter((c) => c.includes('tools/migrate') || c.includes('tools/deploy'))).toEqual([]);
    expect(spec.phases.build!.finally).toBeUndefined();
    expect(spec.env?.variables).toEqual({
      DEPLOY_ENV: env,
      DEPLOY_TIMEOUT_MINUTES: String(config.deployment.deployTimeoutMinutes),
      MIGRATION_TIMEOUT_SECONDS: '900',
    });
    // AND CodeBuild's own timeout leaves room for both tools' bounds
    const project = ofType('AWS::CodeBuild::Project').find(([id]) => id.startsWith('DeliveryDeployProject'))![1];
    expect(project.Properties.TimeoutInMinutes).toBe(15 + config.deployment.deployTimeoutMinutes + 15);
  });

  test('the Deploy project knows the migration target by plain names and ids only, and the image by the Image stage', () => {
    const project = ofType('AWS::CodeBuild::Project').find(([id]) => id.startsWith('DeliveryDeployProject'))![1];
    const vars = (project.Properties.Environment as { EnvironmentVariables: { Name: string; Type: string; Value: unknown }[] }).EnvironmentVariables;
    const migration = stack.migration;
    expect(vars).toEqual([
      { Name: 'CLUSTER_NAME', Type: 'PLAINTEXT', Value: stack.resolve(stack.paymentService.cluster.clusterName) },
      { Name: 'SERVICE_NAME', Type: 'PLAINTEXT', Value: stack.resolve(stack.paymentService.service.serviceName) },
      { Name: 'CONTAINER_NAME', Type: 'PLAINTEXT', Value: 'app' },
      { Name: 'IMAGE_PARAMETER_NAME', Type: 'PLAINTEXT', Value: `/tap/${env}/app/image-uri` },
      { Name: 'DESIRED_COUNT', Type: 'PLAINTEXT', Value: String(config.service.desiredCount) },
      { Name: 'MIGRATION_CLUSTER', Type: 'PLAINTEXT', Value: stack.resolve(migration.cluster.clusterArn) },
      { Name: 'MIGRATION_TASK_FAMILY', Type: 'PLAINTEXT', Value: `TapStack-${env}-migrate` },
      { Name: 'MIGRATION_CONTAINER_NAME', Type: 'PLAINTEXT', Value: 'migrate' },
      {
        Name: 'MIGRATION_SUBNET_IDS',
        Type: 'PLAINTEXT',
        Value: { 'Fn::Join': ['', migration.subnets.flatMap((sn, i) => [...(i > 0 ? [','] : []), stack.resolve(sn.subnetId)])] },
      },
      { Name: 'MIGRATION_SECURITY_GROUP_IDS', Type: 'PLAINTEXT', Value: stack.resolve(migration.securityGroup.securityGroupId) },
      // The collector image the Deploy step pulls through the cache first (in every environment, tracing on or off).
      { Name: 'COLLECTOR_IMAGE_REPOSITORY', Type: 'PLAINTEXT', Value: `tap-${env}-ecr-public/aws-observability/aws-otel-collector` },
      { Name: 'COLLECTOR_IMAGE_TAG', Type: 'PLAINTEXT', Value: 'v0.45.1' },
    ]);
    // The migration task runs where the service's tasks run: private subnets with a route out (no public IP is assigned)
    expect(migration.subnets.map((sn) => stack.resolve(sn.subnetId))).toEqual(
      stack.network.vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }).subnetIds.map((id) => stack.resolve(id)),
    );
    // The digest comes from the Image stage, for both tools
    const deploy = stage('Deploy')!.Actions.find((a) => a.Name === 'Deploy')!;
    expect(JSON.parse(deploy.Configuration!.EnvironmentVariables as string)).toContainEqual({
      name: 'IMAGE_URI',
      type: 'PLAINTEXT',
      value: '#{Image.IMAGE_URI}',
    });
  });

  test('the Source action may use the configured connection under the IAM prefix of its ARN, and under no other', () => {
    // GIVEN the shipped connection ARN (arn:aws:codeconnections:..., what the console creates since July 2024)
    const prefix = config.source.connectionArn.split(':')[2];
    expect(prefix).toBe('codeconnections');
    // THEN the source action role's statements on the connection are exactly UseConnection with that prefix
    const statements = statementsOf('DeliveryPipelineSourceGitHubCodePipelineActionRole');
    const onConnection = statements.filter((s) => JSON.stringify(s.Resource).includes(':connection/'));
    expect(onConnection).toEqual([{ Effect: 'Allow', Action: 'codeconnections:UseConnection', Resource: config.source.connectionArn }]);
    // AND no role anywhere in the stack names the other prefix, which IAM never matches to this ARN
    const allActions = ofType('AWS::IAM::Policy').flatMap(([, p]) =>
      (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement.flatMap((s) => [s.Action].flat()),
    );
    expect(allActions.filter((a) => a.startsWith('codestar-connections:'))).toEqual([]);
    // AND no CodeBuild project clones with the connection (CODE_ZIP artifact), so none needs UseConnection
    expect(stage('Source')!.Actions[0]!.Configuration!.OutputArtifactFormat).toBeUndefined();
  });

  test('only a production smoke test that passed marks the image promotable; the deploy step never does', () => {
    // GIVEN the Deploy stage: Deploy, then Smoke-Production (the next run order: runs only after Deploy succeeded)
    const [deploy, smoke] = stage('Deploy')!.Actions.slice(-2);
    expect([deploy!.Name, smoke!.Name, smoke!.RunOrder! - deploy!.RunOrder!]).toEqual(['Deploy', 'Smoke-Production', 1]);
    // THEN Smoke-Production's build phase runs the smoke test, then the mark, in one command list (a failure skips the rest)
    const spec = buildSpecOf('DeliverySmokeProductionProject');
    expect(spec.phases.build).toEqual({ commands: [SMOKE_COMMAND, MARK_PROMOTABLE_COMMAND] });
    expect(Object.keys(spec.phases).sort()).toEqual(['build', 'install']);
    expect(spec.env?.variables).toEqual({ DEPLOY_ENV: env });
    // AND it marks the digest the Image stage produced, the one Deploy shipped, for this commit (the mark names it)
    expect(JSON.parse(smoke!.Configuration!.EnvironmentVariables as string)).toEqual([
      { name: 'COMMIT_SHA', type: 'PLAINTEXT', value: '#{Source.CommitId}' },
      { name: 'IMAGE_URI', type: 'PLAINTEXT', value: '#{Image.IMAGE_URI}' },
    ]);
    // AND the deploy step's buildspec has no way to mark
    expect(JSON.stringify(buildSpecOf('DeliveryDeployProject'))).not.toContain('promote/cli.ts mark');
    // AND the smoke role may read and tag images of this environment's repository only
    const ecr = statementsOf('DeliverySmokeProductionProjectRole').filter((s) => [s.Action].flat().some((a) => a.startsWith('ecr:')));
    expect(ecr).toEqual([
      {
        Effect: 'Allow',
        Action: ['ecr:BatchGetImage', 'ecr:DescribeImages', 'ecr:PutImage'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^ImagesRepository/), 'Arn'] },
      },
    ]);
    // AND it may read what production runs (the mark refuses an image that is not running) and nothing else in SSM
    const project = ofType('AWS::CodeBuild::Project').find(([id]) => id.startsWith('DeliverySmokeProductionProject'))![1];
    const vars = (project.Properties.Environment as { EnvironmentVariables: { Name: string; Value: unknown }[] }).EnvironmentVariables;
    expect(vars).toContainEqual(expect.objectContaining({ Name: 'IMAGE_PARAMETER_NAME', Value: `/tap/${env}/app/image-uri` }));
    const ssm = statementsOf('DeliverySmokeProductionProjectRole').filter((s) => [s.Action].flat().some((a) => a.startsWith('ssm:')));
    expect(ssm).toEqual([
      {
        Effect: 'Allow',
        Action: 'ssm:GetParameter',
        Resource: { 'Fn::Join': ['', ['arn:aws:ssm:us-east-1:', { Ref: 'AWS::AccountId' }, `:parameter/tap/${env}/app/image-uri`]] },
      },
    ]);
  });

  test('no CodeBuild project declares a cache: local caching does not work in a VPC, and no buildspec names cache paths', () => {
    for (const [id, p] of ofType('AWS::CodeBuild::Project')) {
      const cache = p.Properties.Cache as { Type: string } | undefined;
      expect({ id, cache: cache?.Type ?? 'NO_CACHE' }).toEqual({ id, cache: 'NO_CACHE' });
      expect({ id, spec: Object.keys(JSON.parse((p.Properties.Source as { BuildSpec: string }).BuildSpec)) }).toEqual({
        id,
        spec: expect.not.arrayContaining(['cache']),
      });
    }
  });

  test('ECR: KMS, scan on push, immutable tags (one excluded cache tag where images are built), deployed images shielded', () => {
    const repo = ofType('AWS::ECR::Repository')[0]![1].Properties;
    expect(repo).toMatchObject({
      RepositoryName: `tap/${env}/payment-service`,
      ImageScanningConfiguration: { ScanOnPush: true },
      EncryptionConfiguration: { EncryptionType: 'KMS', KmsKey: keyArn(stack.keys.data) },
    });
    if (env === 'dev') {
      expect(repo.ImageTagMutability).toBe('IMMUTABLE_WITH_EXCLUSION');
      expect(repo.ImageTagMutabilityExclusionFilters).toEqual([
        { ImageTagMutabilityExclusionFilterType: 'WILDCARD', ImageTagMutabilityExclusionFilterValue: BUILD_CACHE_TAG },
      ]);
    } else {
      expect(repo.ImageTagMutability).toBe('IMMUTABLE');
    }
    const rules = JSON.parse((repo.LifecyclePolicy as { LifecyclePolicyText: string }).LifecyclePolicyText).rules as {
      rulePriority: number;
      selection: { tagStatus: string; tagPrefixList?: string[]; countType: string };
    }[];
    // The deployed-* rule has the highest priority, so no later rule can expire a deployed image (docs/deployments.md, trap 17).
    expect(rules[0]).toMatchObject({ rulePriority: 1, selection: { tagStatus: 'tagged', tagPrefixList: [DEPLOYED_TAG_PREFIX] } });
    expect(rules.map((r) => [r.rulePriority, r.selection])).toEqual([
      [1, { tagStatus: 'tagged', tagPrefixList: [DEPLOYED_TAG_PREFIX], countType: 'imageCountMoreThan', countNumber: 500 }],
      [2, { tagStatus: 'untagged', countType: 'sinceImagePushed', countNumber: 1, countUnit: 'days' }],
      [3, { tagStatus: 'tagged', tagPrefixList: ['sha-'], countType: 'imageCountMoreThan', countNumber: 50 }],
    ]);
  });

  test('the next environment may pull from this repository; nobody else', () => {
    const repo = ofType('AWS::ECR::Repository')[0]![1].Properties as { RepositoryPolicyText?: { Statement: { Principal: unknown }[] } };
    const next = { dev: 'staging', staging: 'prod', prod: undefined }[env];
    if (!next) {
      expect(repo.RepositoryPolicyText).toBeUndefined();
      return;
    }
    const account = shippedConfigs()[next as 'staging' | 'prod'].account;
    // Pull only: no push, no delete, no policy change.
    expect(repo.RepositoryPolicyText!.Statement).toEqual([
      {
        Sid: 'PromoteToNextEnvironment',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${account}:root` },
        Action: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:DescribeImages', 'ecr:GetDownloadUrlForLayer'],
      },
    ]);
  });
});

describe('UseConnection follows the prefix of the connection ARN', () => {
  test.each([
    ['arn:aws:codeconnections:us-east-1:111111111111:connection/0f0e0d0c-0000-4000-8000-000000000001', ['codeconnections:UseConnection']],
    ['arn:aws:codestar-connections:us-east-1:111111111111:connection/0f0e0d0c-0000-4000-8000-000000000001', ['codestar-connections:UseConnection']],
  ])('%s -> %p', (arn, actions) => {
    expect(useConnectionActions(arn)).toEqual(actions);
  });

  test('an ARN known only at deploy time gets both prefixes; anything else is refused', () => {
    expect(useConnectionActions(Token.asString({ Ref: 'ConnectionArn' }))).toEqual([
      'codeconnections:UseConnection',
      'codestar-connections:UseConnection',
    ]);
    expect(() => useConnectionActions('arn:aws:codecommit:us-east-1:111111111111:repo')).toThrow(
      'connection ARN must start with arn:aws:codeconnections: or arn:aws:codestar-connections:, got: arn:aws:codecommit:us-east-1:111111111111:repo',
    );
  });
});

describe('pinned tools', () => {
  test('Trivy and crane downloads are pinned by version and verified by SHA-256 before use', () => {
    expect(TRIVY_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
    for (const sha of [TRIVY_SHA256, CRANE_SHA256]) expect(sha).toMatch(/^[0-9a-f]{64}$/);
  });
});

/**
 * The Node.js versions the payment service supports: 16, 18 and 20, each tested on its own (docs/deployments.md,
 * trap 9). Written out here, not read from config or lib/: dropping or changing one anywhere must fail a test.
 */
const SUPPORTED_NODE = ['16.20.2', '18.20.8', '20.20.2'];

describe('the Node.js test matrix is exactly Node 16, 18 and 20', () => {
  const APP = path.join(__dirname, '..', 'app');

  test('the config schema allows exactly these versions', () => {
    expect([...SUPPORTED_NODE_VERSIONS]).toEqual(SUPPORTED_NODE);
  });

  test.each(ENVS)('%s: the config tests on every one of them', (env) => {
    expect(loadConfig(env).pipeline.nodeVersions).toEqual(SUPPORTED_NODE);
  });

  test.each(ENVS)('%s: the Verify stage runs one test action per version, whose build runs the suite on exactly that version', (env) => {
    const resources = synthEnv(env).template.toJSON().Resources as Record<string, Resource>;
    const pipeline = Object.values(resources).find((r) => r.Type === 'AWS::CodePipeline::Pipeline')!.Properties;
    const verify = (pipeline.Stages as Stage[]).find((s) => s.Name === 'Verify')!;
    const tests = verify.Actions.filter((a) => /^Test-Node/.test(a.Name));
    expect(tests.map((a) => a.Name)).toEqual(['Test-Node16', 'Test-Node18', 'Test-Node20']);
    const specs = tests.map((a) => {
      const project = resources[(a.Configuration!.ProjectName as { Ref: string }).Ref]!;
      return JSON.parse((project.Properties.Source as { BuildSpec: string }).BuildSpec) as {
        env: { variables: Record<string, string> };
        phases: { build: { commands: string[] } };
      };
    });
    expect(specs.map((s) => s.env.variables.NODE_MATRIX_VERSIONS)).toEqual(SUPPORTED_NODE);
    for (const s of specs) expect(s.phases.build.commands).toEqual(['cd app && npm run test:matrix']);
  });

  test("the service's package declares the oldest supported version as its minimum, and test:matrix runs the matrix script", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(APP, 'package.json'), 'utf8')) as { engines: { node: string }; scripts: Record<string, string> };
    expect(pkg.engines.node).toBe(`>=${SUPPORTED_NODE[0]}`);
    expect(pkg.scripts['test:matrix']).toBe('npm run build && node scripts/test-matrix.mjs');
  });

  test('app/scripts/test-matrix.mjs runs exactly the supported versions when NODE_MATRIX_VERSIONS is not set', () => {
    // GIVEN the script as checked in: its default is the one place the versions are written for a local run
    const script = fs.readFileSync(path.join(APP, 'scripts', 'test-matrix.mjs'), 'utf8');
    const defaults = [...script.matchAll(/process\.env\.NODE_MATRIX_VERSIONS \?\? '([^']*)'/g)].map((m) => m[1]!);
    // THEN there is one default, and it lists the supported versions
    expect(defaults).toHaveLength(1);
    expect(defaults[0]!.split(/\s+/)).toEqual(SUPPORTED_NODE);
  });
});
