import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { CONTAINER_HEALTHCHECK_COMMAND, DEFAULT_OTLP_ENDPOINT, ENV } from '../../app/src/contract';
import { acknowledge, acknowledgeGrantPolicy } from '../compliance/acknowledge';
import { EnvironmentConfig } from '../config';
import { databaseEnvironment, PaymentsDatabase } from '../database';
import { EncryptedLogGroup } from '../common/encrypted-log-group';
import { allowEgress, PrivateAwsAccess } from '../network/egress';
import { DeploymentAlarms } from './deployment-alarms';
import { LoadBalancer } from './load-balancer';
import { ServiceSecrets } from './secrets';
import { SmokeTestHook } from './smoke-test-hook';

export interface PaymentServiceProps {
  readonly vpc: ec2.IVpc;
  readonly config: Pick<EnvironmentConfig, 'envName' | 'service' | 'deployment' | 'logs' | 'database' | 'monitoring'>;
  readonly loadBalancer: LoadBalancer;
  readonly secrets: ServiceSecrets;
  /**
   * The database the service keeps payments and idempotency keys in. The task reads the app user secret from Secrets
   * Manager itself, at start and again when PostgreSQL refuses its password (after a rotation), so a running task
   * follows the rotation (docs/deployments.md, trap 27).
   */
  readonly database: PaymentsDatabase;
  readonly repository: ecr.IRepository;
  /** The interface endpoints and S3's prefix list: the tasks and the smoke-test hook reach AWS through them only. */
  readonly network: PrivateAwsAccess;
  /**
   * SSM parameter holding the image URI (`<repo>@sha256:<digest>`) the pipeline last deployed. The task definition
   * reads it at every stack deployment, so an infrastructure change never rolls the app back (docs/deployments.md, trap 1).
   */
  readonly imageParameterName: string;
  /**
   * First deployment into an empty account: the service starts with no tasks, so the stack can be created before any
   * image exists; the pipeline's first deploy sets the count (docs/deployments.md, trap 4). Autoscaling then has a minimum of 0 and
   * is suspended, so nothing starts a task; the next infrastructure deploy without this flag restores both.
   * @default false
   */
  readonly firstDeploy?: boolean;
  readonly logsKey: kms.IKey;
  readonly dataKey: kms.IKey;
  readonly logRemovalPolicy: RemovalPolicy;
  /** Where alarms and deployment notifications go. */
  readonly alarmTopic: sns.ITopic;
}

/** The container's name in the task definition; the deploy step replaces this container's image. */
export const CONTAINER_NAME = 'app';

/**
 * The ADOT collector beside the service when tracing is on. Pulled through this account's ECR pull-through cache of
 * ECR Public, so the tasks reach it through the ECR endpoints like their own image (they have no route to the
 * internet) and ECR keeps the copy the environment runs. The version is pinned; bump it deliberately.
 * https://github.com/aws-observability/aws-otel-collector (VERSION), https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache.html
 */
export const COLLECTOR = {
  containerName: 'otel-collector',
  upstreamRepository: 'aws-observability/aws-otel-collector',
  version: 'v0.45.1',
} as const;

/**
 * The collector's whole configuration (ADOT reads it from AOT_CONFIG_CONTENT): OTLP over HTTP on the task's loopback
 * only, batched, exported to X-Ray in the stack's region. Nothing else is received or exported; no health or debug port is opened.
 * https://aws-otel.github.io/docs/setup/ecs (AOT_CONFIG_CONTENT), https://aws-otel.github.io/docs/getting-started/x-ray
 */
/** The collector's uid:gid: unprivileged, and not the service's. */
export const COLLECTOR_USER = '10001:10001';

export const collectorConfig = (region: string): string =>
  [
    'receivers:',
    '  otlp:',
    '    protocols:',
    '      http:',
    `        endpoint: ${new URL(DEFAULT_OTLP_ENDPOINT).host}`,
    'processors:',
    '  batch/traces:',
    '    timeout: 1s',
    '    send_batch_size: 50',
    'exporters:',
    '  awsxray:',
    `    region: ${region}`,
    'service:',
    '  pipelines:',
    '    traces:',
    '      receivers: [otlp]',
    '      processors: [batch/traces]',
    '      exporters: [awsxray]',
    '',
  ].join('\n');

/** Where a task pulls the collector from: a repository of the pull-through cache. */
export interface CollectorImage {
  readonly repository: string;
  readonly tag: string;
  readonly repositoryArn: string;
}

/** The repository prefix of this environment's pull-through cache of ECR Public. */
export const publicEcrCachePrefixOf = (envName: string): string => `tap-${envName}-ecr-public`;

/**
 * The payment API on Fargate: private subnets, no public IP, read-only root filesystem, non-root, secrets only through
 * `secrets`, and ECS-native blue/green with a smoke-test hook, deployment alarms, bake time and the circuit breaker,
 * each of which rolls a bad revision back by itself.
 */
export class PaymentService extends Construct {
  public readonly cluster: ecs.Cluster;
  public readonly taskDefinition: ecs.FargateTaskDefinition;
  public readonly service: ecs.FargateService;
  public readonly logGroup: EncryptedLogGroup;
  public readonly deploymentAlarms: DeploymentAlarms;
  public readonly smokeTest: SmokeTestHook;
  /** The tasks' security group: the load balancer may reach the container port; the database admits it on 5432. */
  public readonly securityGroup: ec2.SecurityGroup;
  /**
   * The tracing collector's image in the pull-through cache (repository, tag and ARN). The cache rule exists, and the
   * pipeline's Deploy step pulls the image through it, whether tracing is on or not: so by the time a change turns
   * tracing on, an earlier deploy has cached the image the new tasks pull (docs/operations.md, "Traces").
   */
  public readonly collectorImage: CollectorImage;

  constructor(scope: Construct, id: string, props: PaymentServiceProps) {
    super(scope, id);
    const { service: s, deployment: d } = props.config;
    const lb = props.loadBalancer;

    this.cluster = new ecs.Cluster(this, 'Cluster', { vpc: props.vpc, containerInsightsV2: ecs.ContainerInsights.ENHANCED });
    this.logGroup = new EncryptedLogGroup(this, 'LogGroup', {
      key: props.logsKey,
      retentionDays: props.config.logs.retentionDays,
      removalPolicy: props.logRemovalPolicy,
    });

    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      cpu: s.cpu,
      memoryLimitMiB: s.memoryMiB,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    // The only writable path in the container (the root filesystem is read-only).
    this.taskDefinition.addVolume({ name: 'tmp' });
    const imageUri = ssm.StringParameter.valueForStringParameter(this, props.imageParameterName);
    const container = this.taskDefinition.addContainer(CONTAINER_NAME, {
      image: ecs.ContainerImage.fromRegistry(imageUri),
      essential: true,
      readonlyRootFilesystem: true,
      user: '65532:65532',
      portMappings: [{ containerPort: s.containerPort, name: 'http' }],
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'payments', logGroup: this.logGroup, mode: ecs.AwsLogDriverMode.NON_BLOCKING }),
      // Only non-secret settings; the secrets below never appear in the task definition. The database password is
      // not injected at all: the task role reads the app user secret, whose ARN is the only trace of it here.
      environment: {
        NODE_ENV: 'production',
        [ENV.port]: String(s.containerPort),
        [ENV.shutdownDeadlineMs]: String(s.drainDeadlineSeconds * 1000),
        [ENV.logLevel]: 'info',
        ...databaseEnvironment(props.database),
        [ENV.databaseSecretArn]: props.database.appUserSecret.secretArn,
        [ENV.databasePoolMax]: String(props.config.database.poolMaxPerTask),
        [ENV.environmentName]: props.config.envName,
        [ENV.tracingEnabled]: String(props.config.monitoring.tracing.enabled),
        [ENV.tracingSampleRatio]: String(props.config.monitoring.tracing.sampleRatio),
        ...(props.config.monitoring.tracing.enabled ? { [ENV.otlpEndpoint]: DEFAULT_OTLP_ENDPOINT } : {}),
      },
      secrets: {
        [ENV.apiKey]: ecs.Secret.fromSecretsManager(props.secrets.apiKey),
        [ENV.tokenizationKey]: ecs.Secret.fromSecretsManager(props.secrets.tokenizationKey),
      },
      healthCheck: {
        command: ['CMD', ...CONTAINER_HEALTHCHECK_COMMAND],
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(Math.min(300, s.healthCheckGraceSeconds)),
      },
      // SIGTERM -> SIGKILL; validated above the app's drain deadline so a drain is never cut (docs/deployments.md, trap 7).
      stopTimeout: Duration.seconds(s.stopTimeoutSeconds),
    });
    container.addMountPoints({ containerPath: '/tmp', sourceVolume: 'tmp', readOnly: false });
    this.collectorImage = this.addCollectorCache(props.config.envName);
    if (props.config.monitoring.tracing.enabled) this.addCollector(this.collectorImage);
    props.repository.grantPull(this.taskDefinition.obtainExecutionRole());
    props.database.appUserSecret.grantGetValue(this.taskDefinition.taskRole);
    acknowledge(
      container.taskDefinition,
      ['AwsSolutions'],
      'ECS2',
      'Only non-secret settings (port, drain deadline, log level, database host, port, name, TLS mode, pool size, the ARN of the secret the task reads itself, the environment name, the tracing switch, sample ratio and collector endpoint, and the collector configuration) are environment variables; secrets use ECS secrets',
    );
    acknowledgeGrantPolicy(this.taskDefinition.taskRole, 'Task role: read the database app user secret');

    this.deploymentAlarms = new DeploymentAlarms(this, 'DeploymentAlarms', {
      targetGroups: { blue: lb.blueTargetGroup, green: lb.greenTargetGroup },
      deployment: d,
      topic: props.alarmTopic,
    });

    const serviceSecurityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Payment service tasks: the container port from the load balancer; out to the database and AWS endpoints only',
      allowAllOutbound: false,
    });
    // Fargate pulls the image, injects the secrets and ships the logs through the task's own network interface.
    allowEgress(serviceSecurityGroup, props.network, [
      { to: 'aws-endpoints', why: 'ECR, CloudWatch Logs, Secrets Manager and KMS endpoints' },
      { to: 's3', why: 'Image layers from S3 through the gateway endpoint' },
    ]);
    serviceSecurityGroup.connections.allowFrom(lb.securityGroup, ec2.Port.tcp(s.containerPort), 'Load balancer to tasks');
    props.database.allowConnectionsFrom(serviceSecurityGroup, 'Payment service tasks');
    this.securityGroup = serviceSecurityGroup;

    this.service = new ecs.FargateService(this, 'Service', {
      cluster: this.cluster,
      taskDefinition: this.taskDefinition,
      desiredCount: props.firstDeploy ? 0 : s.desiredCount,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      assignPublicIp: false,
      securityGroups: [serviceSecurityGroup],
      deploymentStrategy: ecs.DeploymentStrategy[d.strategy],
      bakeTime: Duration.minutes(d.bakeTimeMinutes),
      canaryConfiguration: d.strategy === 'CANARY' ? this.trafficShift(d) : undefined,
      linearConfiguration: d.strategy === 'LINEAR' ? this.trafficShift(d) : undefined,
      circuitBreaker: { enable: true, rollback: true },
      deploymentAlarms: { alarmNames: this.deploymentAlarms.alarmNames, behavior: ecs.AlarmBehavior.ROLLBACK_ON_ALARM },
      healthCheckGracePeriod: Duration.seconds(s.healthCheckGraceSeconds),
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      propagateTags: ecs.PropagatedTagSource.SERVICE,
      enableECSManagedTags: true,
    });
    this.service.node.addDependency(...this.deploymentAlarms.alarms);

    this.service
      .loadBalancerTarget({
        containerName: CONTAINER_NAME,
        containerPort: s.containerPort,
        alternateTarget: new ecs.AlternateTarget('GreenTarget', {
          alternateTargetGroup: lb.greenTargetGroup,
          productionListener: ecs.ListenerRuleConfiguration.applicationListenerRule(lb.productionRule),
          testListener: ecs.ListenerRuleConfiguration.applicationListenerRule(lb.testRule),
        }),
      })
      .attachToApplicationTargetGroup(lb.blueTargetGroup);

    this.smokeTest = new SmokeTestHook(this, 'SmokeTest', {
      vpc: props.vpc,
      cluster: this.cluster,
      network: props.network,
      testUrl: lb.testUrl,
      testListenerPort: d.testListenerPort,
      apiKey: props.secrets.apiKey,
      logsKey: props.logsKey,
      dataKey: props.dataKey,
      logRetentionDays: props.config.logs.retentionDays,
      logRemovalPolicy: props.logRemovalPolicy,
    });
    // ECS invokes the hook with this role; a managed policy naming the one function, rather than grantInvoke's
    // inline `<arn>:*` wildcard.
    const hookRole = new iam.Role(this, 'SmokeTestHookRole', {
      assumedBy: new iam.ServicePrincipal('ecs.amazonaws.com'),
      description: 'ECS blue/green: invoke the smoke-test lifecycle hook',
    });
    const hookPolicy = new iam.ManagedPolicy(this, 'SmokeTestHookPolicy', {
      roles: [hookRole],
      statements: [new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.smokeTest.function.functionArn] })],
    });
    this.service.addLifecycleHook(
      new ecs.DeploymentLifecycleLambdaTarget(this.smokeTest.function, 'SmokeTestHook', {
        role: hookRole,
        lifecycleStages: [ecs.DeploymentLifecycleStage.POST_TEST_TRAFFIC_SHIFT],
      }),
    );

    this.addAutoScaling(s, lb, props.firstDeploy ?? false);

    const executionRole = this.taskDefinition.obtainExecutionRole();
    acknowledgeGrantPolicy(executionRole, 'Task execution role: pull this image, read the API and tokenization key secrets, write this log group');
    acknowledge(
      executionRole,
      ['AwsSolutions'],
      'IAM5[Resource::*]',
      'ecr:GetAuthorizationToken has no resource-level permissions (it returns a registry login)',
    );
    const greenTargetRole = this.service.node.findChild('GreenTargetRole') as iam.Role;
    acknowledge(
      greenTargetRole,
      ['AwsSolutions'],
      'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers]',
      'The AWS managed policy ECS blue/green requires to shift listener rules between the target groups',
    );

    // CloudFormation orders resources only by references. The service references these roles, not the policies that
    // give them their permissions, yet ECS uses them while it creates the service: it invokes the hook (ECS runs
    // lifecycle hooks on the first deployment too), shifts listener rules, and pulls the image and secrets for the
    // first tasks. Created any later, the first deployment fails on a permission that a moment later exists.
    const rolePolicies = [
      hookPolicy,
      ...[hookRole, greenTargetRole, executionRole, this.taskDefinition.taskRole, this.smokeTest.function.role]
        .map((role) => role?.node.tryFindChild('DefaultPolicy'))
        .filter((policy): policy is iam.Policy => policy instanceof iam.Policy),
    ];
    (this.service.node.defaultChild as ecs.CfnService).node.addDependency(...rolePolicies);
  }

  /** The pull-through cache of ECR Public that serves the collector image, and where that image is in it. */
  private addCollectorCache(envName: string): CollectorImage {
    const stack = Stack.of(this);
    const prefix = publicEcrCachePrefixOf(envName);
    new ecr.CfnPullThroughCacheRule(this, 'PublicEcrCache', { ecrRepositoryPrefix: prefix, upstreamRegistryUrl: 'public.ecr.aws' });
    const repository = `${prefix}/${COLLECTOR.upstreamRepository}`;
    return {
      repository,
      tag: COLLECTOR.version,
      repositoryArn: stack.formatArn({ service: 'ecr', resource: 'repository', resourceName: repository }),
    };
  }

  /**
   * The ADOT collector sidecar: receives the service's spans on 127.0.0.1:4318 and sends them to X-Ray through the
   * X-Ray endpoint. Not essential: a collector that stops costs traces, never payments (the service drops spans it
   * cannot export). Its image comes through this account's pull-through cache of ECR Public.
   */
  private addCollector(image: CollectorImage): void {
    const stack = Stack.of(this);
    const { repository, repositoryArn } = image;
    const collector = this.taskDefinition.addContainer(COLLECTOR.containerName, {
      image: ecs.ContainerImage.fromRegistry(`${stack.account}.dkr.ecr.${stack.region}.${stack.urlSuffix}/${repository}:${COLLECTOR.version}`),
      essential: false,
      readonlyRootFilesystem: true,
      // The ADOT image is FROM scratch with no USER (it would run as root); its binary is world-executable and it reads
      // its configuration from the environment, so it runs as an unprivileged uid like the service (PCI DSS 2.2).
      // https://github.com/aws-observability/aws-otel-collector/blob/main/cmd/awscollector/Dockerfile
      user: COLLECTOR_USER,
      memoryReservationMiB: 64,
      // A hard limit: a collector that grows is stopped (it is not essential), never the payment container.
      memoryLimitMiB: 128,
      environment: { AOT_CONFIG_CONTENT: collectorConfig(stack.region) },
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'otel-collector', logGroup: this.logGroup, mode: ecs.AwsLogDriverMode.NON_BLOCKING }),
    });
    // The service starts after the collector, so its first spans have somewhere to go.
    this.taskDefinition.defaultContainer?.addContainerDependencies({ container: collector, condition: ecs.ContainerDependencyCondition.START });
    // The tasks pull the copy the pipeline's Deploy step cached: pull only, no import (they could not reach ECR Public).
    // https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-iam.html
    this.taskDefinition.obtainExecutionRole().addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
        resources: [repositoryArn],
      }),
    );
    // X-Ray's trace APIs have no resource-level permissions.
    // https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsx-ray.html
    this.taskDefinition.taskRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets'],
        resources: ['*'],
      }),
    );
    acknowledge(
      this.taskDefinition.taskRole,
      ['AwsSolutions'],
      'IAM5[Resource::*]',
      'xray:PutTraceSegments, xray:PutTelemetryRecords, xray:GetSamplingRules and xray:GetSamplingTargets (the tracing collector): AWS authorizes them on no resource type',
    );
  }

  /**
   * Autoscaling of the task count. With `firstDeploy` the minimum is 0, because registering a scalable target moves
   * the current capacity into [min, max] (it would start tasks of an image that does not exist yet), and dynamic and
   * scheduled scaling are suspended, so no policy starts a task, nor later removes those the pipeline's first deploy
   * starts (tools/deploy sets the desired count, it does not touch the scalable target). The next infrastructure
   * deploy without `firstDeploy` restores the configured minimum and resumes scaling; suspension is written out as
   * false then, because RegisterScalableTarget changes only the parameters it is given, so omitting it could leave
   * scaling suspended.
   */
  private addAutoScaling(s: EnvironmentConfig['service'], lb: LoadBalancer, firstDeploy: boolean): void {
    const scaling = this.service.autoScaleTaskCount({ minCapacity: firstDeploy ? 0 : s.minCapacity, maxCapacity: s.maxCapacity });
    scaling.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: s.cpuTargetPercent });
    // One request policy per target group: the live revision's group alternates between deployments, and
    // Application Auto Scaling scales out if any policy asks and in only when all agree.
    scaling.scaleOnRequestCount('RequestsBlue', { requestsPerTarget: s.requestsPerTarget, targetGroup: lb.blueTargetGroup });
    scaling.scaleOnRequestCount('RequestsGreen', { requestsPerTarget: s.requestsPerTarget, targetGroup: lb.greenTargetGroup });
    const target = scaling.node.findChild('Target').node.defaultChild as appscaling.CfnScalableTarget;
    target.suspendedState = {
      dynamicScalingInSuspended: firstDeploy,
      dynamicScalingOutSuspended: firstDeploy,
      scheduledScalingSuspended: firstDeploy,
    };
  }

  private trafficShift(d: EnvironmentConfig['deployment']): ecs.TrafficShiftConfig {
    return { stepPercent: d.stepPercent, stepBakeTime: d.stepBakeTimeMinutes === undefined ? undefined : Duration.minutes(d.stepBakeTimeMinutes) };
  }
}
