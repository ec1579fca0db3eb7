import { CfnOutput, Duration, Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { allowedDomainsOf, EnvironmentConfig, imageParameterNameOf, PROMOTION_ORDER, repositoryNameOf } from './config';
import { MigrationTask, PaymentsDatabase } from './database';
import { AlarmTopic } from './monitoring/alarm-topic';
import { DeploymentEvents } from './monitoring/deployment-events';
import { PaymentCanary } from './monitoring/canary';
import { AuditLogReview } from './monitoring/log-review';
import { ServiceMonitoring } from './monitoring/service-monitoring';
import { DnsFirewall } from './network/dns-firewall';
import { Network } from './network/network';
import { ImageRepository } from './registry/image-repository';
import { AccessLogsBucket } from './security/access-logs-bucket';
import { AuditTrail } from './security/audit-trail';
import { Keys } from './security/keys';
import { DeliveryPipeline } from './pipeline';
import { DisasterRecovery } from './recovery';
import { CONTAINER_NAME, LoadBalancer, PaymentService, ServiceSecrets, WebFirewall } from './service';
import { fixedNameRemovalPolicyOf, removalPolicyOf } from './common/removal';
import { ArtifactStore } from './storage/artifact-store';

export interface TapStackProps extends StackProps {
  /** The validated configuration of this stack's environment. */
  readonly config: EnvironmentConfig;
  /**
   * First deployment into an empty account (`-c firstDeploy=true`): the service starts with no tasks (docs/deployments.md, trap 4).
   * @default false
   */
  readonly firstDeploy?: boolean;
  /**
   * The database's app login does not exist yet (`-c newDatabase=true`, implied by `firstDeploy`): its rotation
   * schedule is added by the next infrastructure deploy, after the pipeline's first migration has created the login.
   * @default false
   */
  readonly newDatabase?: boolean;
  /**
   * The environment this one promotes images from (build once, promote by digest: docs/pipeline.md).
   * @default - none: this environment builds
   */
  readonly upstream?: EnvironmentConfig;
  /**
   * The environment that promotes from this one (its account may pull deployed images).
   * @default - none
   */
  readonly downstream?: EnvironmentConfig;
}

/** The complete platform for one environment. Composition only: each unit defines itself under lib/. */
export class TapStack extends Stack {
  public readonly keys: Keys;
  public readonly network: Network;
  public readonly accessLogs: AccessLogsBucket;
  public readonly auditTrail: AuditTrail;
  public readonly artifactStore: ArtifactStore;
  public readonly images: ImageRepository;
  public readonly secrets: ServiceSecrets;
  public readonly loadBalancer: LoadBalancer;
  public readonly firewall: WebFirewall;
  public readonly alarms: AlarmTopic;
  /** Which names the VPC may resolve; every query logged. */
  public readonly dnsFirewall: DnsFirewall;
  public readonly paymentService: PaymentService;
  public readonly database: PaymentsDatabase;
  /** The schema migrations as a one-off task the pipeline runs before each deployment (a `MigrationTarget`). */
  public readonly migration: MigrationTask;
  public readonly pipeline: DeliveryPipeline;
  public readonly monitoring: ServiceMonitoring;
  /** The page topic: Critical alarms, and rollbacks where config pages on them. `alarms` is the notice topic. */
  public readonly pages: AlarmTopic;
  public readonly deploymentEvents: DeploymentEvents;
  /** Metric filters and alarms on the audit trail, and the saved Logs Insights queries of the runbooks. */
  public readonly auditLogReview: AuditLogReview;
  /** The synthetic check: the pipeline's smoke test against the public URL on a schedule. */
  public readonly canary: PaymentCanary;
  /** The audit logs' replication and the database's backup copies to the recovery region (its stack: lib/recovery). */
  public readonly recovery: DisasterRecovery;

  private readonly zones: readonly string[];

  constructor(scope: Construct, id: string, props: TapStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.zones = config.network.availabilityZones;
    const logRemoval = removalPolicyOf(config.removal.logs);

    this.keys = new Keys(this, 'Keys', { removalPolicy: removalPolicyOf(config.removal.keys) });
    this.accessLogs = new AccessLogsBucket(this, 'AccessLogs', { retentionDays: config.logs.retentionDays });
    this.auditTrail = new AuditTrail(this, 'AuditTrail', {
      key: this.keys.logs,
      accessLogsBucket: this.accessLogs.bucket,
      retentionDays: config.logs.retentionDays,
      removalPolicy: logRemoval,
    });
    this.network = new Network(this, 'Network', {
      cidr: config.network.cidr,
      availabilityZones: config.network.availabilityZones,
      natGateways: config.network.natGateways,
      logsKey: this.keys.logs,
      logRetentionDays: config.logs.retentionDays,
      logRemovalPolicy: logRemoval,
      tracing: config.monitoring.tracing.enabled,
    });
    this.artifactStore = new ArtifactStore(this, 'ArtifactStore', {
      key: this.keys.artifacts,
      accessLogsBucket: this.accessLogs.bucket,
    });
    // PCI DSS 10.2.1: every read and write of a pipeline artifact (source, image scan reports, SBOMs) is audited.
    this.auditTrail.auditObjectAccess(this.artifactStore.bucket);

    this.images = new ImageRepository(this, 'Images', {
      key: this.keys.data,
      removalPolicy: fixedNameRemovalPolicyOf(config.removal.artifacts),
      repositoryName: repositoryNameOf(config.envName),
      buildCache: props.upstream === undefined,
      downstreamAccount: props.downstream?.account,
    });
    this.secrets = new ServiceSecrets(this, 'Secrets', { key: this.keys.data, removalPolicy: removalPolicyOf(config.removal.keys) });
    this.loadBalancer = new LoadBalancer(this, 'LoadBalancer', {
      vpc: this.network.vpc,
      config,
      accessLogsBucket: this.accessLogs.bucket,
      natPublicIps: this.network.natPublicIps,
    });
    this.firewall = new WebFirewall(this, 'Firewall', {
      loadBalancer: this.loadBalancer.alb,
      rateLimitPer5Min: config.loadBalancer.wafRateLimitPer5Min,
      logsKey: this.keys.logs,
      logRetentionDays: config.logs.retentionDays,
      logRemovalPolicy: fixedNameRemovalPolicyOf(config.removal.logs),
    });
    this.alarms = new AlarmTopic(this, 'Alarms', { key: this.keys.data, emails: config.alarms.emails, displayName: 'Payment platform alarms' });
    this.pages = new AlarmTopic(this, 'Pages', { key: this.keys.data, emails: config.alarms.pageEmails, displayName: 'Payment platform pages' });
    const topics = { notice: this.alarms.topic, page: this.pages.topic };
    this.dnsFirewall = new DnsFirewall(this, 'DnsFirewall', {
      vpc: this.network.vpc,
      allowedDomains: allowedDomainsOf(config),
      mode: config.egress.dnsFirewallMode,
      failOpen: config.egress.dnsFirewallFailOpen,
      logsKey: this.keys.logs,
      logRetentionDays: config.logs.retentionDays,
      logRemovalPolicy: fixedNameRemovalPolicyOf(config.removal.logs),
      topics,
      severity: config.envName === 'prod' ? 'Critical' : 'Warning',
    });
    this.database = new PaymentsDatabase(this, 'Database', {
      vpc: this.network.vpc,
      config: config.database,
      dataKey: this.keys.data,
      logsKey: this.keys.logs,
      logRetentionDays: config.logs.retentionDays,
      logRemovalPolicy: fixedNameRemovalPolicyOf(config.removal.logs),
      secretRemovalPolicy: removalPolicyOf(config.removal.keys),
      network: this.network,
      // A database restored from a snapshot already has the app login, so its rotation starts at once and resets the
      // login's password to this stack's secret (docs/runbooks/disaster-recovery.md).
      appLoginPending: ((props.firstDeploy ?? false) || (props.newDatabase ?? false)) && !config.database.restoreFromSnapshot,
    });
    this.paymentService = new PaymentService(this, 'PaymentService', {
      alarmTopic: this.alarms.topic,
      vpc: this.network.vpc,
      config,
      loadBalancer: this.loadBalancer,
      secrets: this.secrets,
      database: this.database,
      repository: this.images.repository,
      network: this.network,
      imageParameterName: imageParameterNameOf(config.envName),
      firstDeploy: props.firstDeploy,
      logsKey: this.keys.logs,
      dataKey: this.keys.data,
      logRemovalPolicy: logRemoval,
    });
    this.migration = new MigrationTask(this, 'Migration', {
      vpc: this.network.vpc,
      cluster: this.paymentService.cluster,
      database: this.database,
      imageParameterName: imageParameterNameOf(config.envName),
      repository: this.images.repository,
      logGroup: this.paymentService.logGroup,
      network: this.network,
    });
    const upstream = props.upstream;
    this.pipeline = new DeliveryPipeline(this, 'Delivery', {
      config,
      vpc: this.network.vpc,
      network: this.network,
      artifactBucket: this.artifactStore.bucket,
      artifactsKey: this.keys.artifacts,
      logsKey: this.keys.logs,
      logRemovalPolicy: logRemoval,
      repository: this.images.repository,
      service: this.paymentService.service,
      taskDefinition: this.paymentService.taskDefinition,
      containerName: CONTAINER_NAME,
      migration: this.migration,
      imageParameterName: imageParameterNameOf(config.envName),
      apiKey: this.secrets.apiKey,
      productionUrl: this.loadBalancer.productionUrl,
      topic: this.alarms.topic,
      collectorImage: this.paymentService.collectorImage,
      promoteFrom: upstream && {
        env: upstream.envName,
        registryId: upstream.account,
        repositoryName: repositoryNameOf(upstream.envName),
        // Long enough for the upstream pipeline to verify, build or promote, deploy and bake.
        timeout: Duration.minutes(60 * PROMOTION_ORDER.indexOf(config.envName)),
      },
      upstreamUrl: upstream && urlOf(upstream),
    });
    this.recovery = new DisasterRecovery(this, 'Recovery', {
      config,
      buckets: { auditLogs: this.auditTrail.bucket, auditLogsKey: this.keys.logs, accessLogs: this.accessLogs.bucket },
      cluster: this.database.cluster,
      dataKey: this.keys.data,
      topics,
      replicatedSecrets: [this.secrets.apiKey, this.secrets.tokenizationKey],
    });
    this.deploymentEvents = new DeploymentEvents(this, 'DeploymentEvents', {
      envName: config.envName,
      service: this.paymentService.service,
      pipeline: this.pipeline.pipeline,
      projects: Object.values(this.pipeline.projects).map((p) => p.project),
      notice: this.alarms.topic,
      page: this.pages.topic,
      pageOnRollback: config.monitoring.pageOnRollback,
      moreRules: this.recovery.eventRules,
    });
    this.auditLogReview = new AuditLogReview(this, 'AuditLogReview', {
      logGroup: this.auditTrail.logGroup,
      pageTopic: this.pages.topic,
      noticeTopic: this.alarms.topic,
      alarmNamePrefix: this.stackName,
      serviceLogGroup: this.paymentService.logGroup,
      wafLogGroup: this.firewall.logGroup,
    });
    this.canary = new PaymentCanary(this, 'SmokeCanary', {
      baseUrl: this.loadBalancer.productionUrl,
      apiKey: this.secrets.apiKey,
      dataKey: this.keys.data,
      logsKey: this.keys.logs,
      retentionDays: config.logs.retentionDays,
      accessLogsBucket: this.accessLogs.bucket,
      rateMinutes: config.monitoring.canaryRateMinutes,
      topics,
      alarmNamePrefix: this.stackName,
    });
    this.monitoring = new ServiceMonitoring(this, 'Monitoring', {
      service: this.paymentService.service,
      loadBalancer: this.loadBalancer.alb,
      webAcl: this.firewall.webAcl,
      smokeTest: this.paymentService.smokeTest.function,
      topic: this.alarms.topic,
      pageTopic: this.pages.topic,
      minTasks: config.service.minCapacity,
      envName: config.envName,
      thresholds: config.monitoring.thresholds,
      databaseCluster: this.database.cluster,
      databaseMaxCapacityAcu: config.database.maxCapacityAcu,
      deploymentEventRules: this.deploymentEvents.ruleNames,
    });

    // What the on-call and the runbooks look up (docs/runbooks/*.md read them by these keys; test/outputs.test.ts
    // checks that every key a runbook names exists). Identifiers only: a secret's ARN, never its value.
    const lb = this.loadBalancer;
    const service = this.paymentService;
    const outputs: Record<string, { value: string; description: string }> = {
      ProductionUrl: { value: lb.productionUrl, description: 'The payment API (HTTPS only; port 80 redirects)' },
      TestListenerUrl: {
        value: lb.testUrl,
        description: 'Blue/green test listener, reachable only from the NAT gateways and testListenerAllowedCidrs',
      },
      CertificateArn: { value: lb.certificate.certificateArn, description: 'ACM certificate both HTTPS listeners present' },
      LoadBalancerDnsName: { value: lb.alb.loadBalancerDnsName, description: 'Target of the DNS record for the domain name (CNAME, or alias A)' },
      LoadBalancerHostedZoneId: {
        value: lb.alb.loadBalancerCanonicalHostedZoneId,
        description: 'Hosted zone id of the load balancer, for a Route 53 alias record',
      },
      ProductionListenerRuleArn: {
        value: lb.productionRule.listenerRuleArn,
        description: 'The rule ECS blue/green shifts (listener-rule-reset runbook)',
      },
      BlueTargetGroupArn: { value: lb.blueTargetGroup.targetGroupArn, description: 'Blue target group' },
      GreenTargetGroupArn: { value: lb.greenTargetGroup.targetGroupArn, description: 'Green target group' },
      ClusterName: { value: service.cluster.clusterName, description: 'ECS cluster of the payment service' },
      ServiceName: { value: service.service.serviceName, description: 'ECS service of the payment API' },
      ServiceLogGroupName: { value: service.logGroup.logGroupName, description: "The payment service's container logs" },
      SmokeTestLogGroupName: {
        value: service.smokeTest.function.logGroup.logGroupName,
        description: "The smoke-test lifecycle hook's logs (why a deployment was rolled back)",
      },
      ApiKeySecretArn: {
        value: this.secrets.apiKey.secretArn,
        description: 'Secret holding the API key clients present (read it, never print it in CI)',
      },
      TokenizationKeySecretArn: { value: this.secrets.tokenizationKey.secretArn, description: 'Secret holding the tokenization HMAC key' },
      DatabaseClusterIdentifier: { value: this.database.clusterIdentifier, description: 'Aurora cluster of the payments database' },
      DatabaseEndpoint: { value: this.database.cluster.clusterEndpoint.hostname, description: 'Writer endpoint of the payments database (TLS only)' },
      DatabaseAppUserSecretArn: {
        value: this.database.appUserSecret.secretArn,
        description: "Secret holding the service's database login (rotated by Secrets Manager; read it, never print it)",
      },
      DatabaseMasterSecretArn: {
        value: this.database.masterSecret.secretArn,
        description: 'Secret holding the database master user (migration task only; rotated by Secrets Manager)',
      },
      DatabaseLogGroupName: { value: this.database.logGroup.logGroupName, description: 'The PostgreSQL log of the payments database' },
      MigrationTaskDefinitionFamily: {
        value: this.migration.taskDefinition.family,
        description: 'Task definition family of the schema migrations the pipeline runs before each deployment',
      },
      PipelineName: { value: this.pipeline.pipeline.pipelineName, description: "This environment's delivery pipeline" },
      RepositoryUri: { value: this.images.repository.repositoryUri, description: "This environment's image repository" },
      ImageParameterName: { value: imageParameterNameOf(config.envName), description: 'The image the service runs (docs/deployments.md, trap 1)' },
      AlarmTopicArn: {
        value: this.alarms.topic.topicArn,
        description: 'The notice topic: every alarm and deployment event; its email subscriptions need confirming',
      },
      PageTopicArn: {
        value: this.pages.topic.topicArn,
        description: 'The page topic: Critical alarms (and rollbacks in prod); subscribe the on-call pager (docs/operations.md)',
      },
      // The pipeline's Infra-Plan synthesizes with the same setup flags the stack was last deployed with, so its first runs
      // after a first deploy keep the service at 0 tasks and the app login without rotation until a person clears them.
      PendingSetup: {
        value: pendingSetupOf(props).join(',') || 'none',
        description:
          'Setup flags (-c name=true) the last deploy used and the pipeline keeps: cleared by the deploy the first-deploy runbook ends with',
      },
    };
    for (const [id, output] of Object.entries(outputs)) new CfnOutput(this, id, output);
  }

  /**
   * The zones are the config's. Without this, an account-bound synth (`cdk deploy`, or a synth with credentials) asks
   * AWS for the account's zones (a context lookup) and fails where there are no credentials, or gets another list.
   */
  public get availabilityZones(): string[] {
    return [...this.zones];
  }
}

/** The setup context flags a stack was synthesized with (`firstDeploy`, `newDatabase`), in a fixed order. */
export function pendingSetupOf(props: Pick<TapStackProps, 'firstDeploy' | 'newDatabase'>): string[] {
  return [...(props.firstDeploy ? ['firstDeploy'] : []), ...(props.newDatabase ? ['newDatabase'] : [])];
}

/** The public URL of an environment, as its approvers and smoke tests know it. */
function urlOf(c: EnvironmentConfig): string | undefined {
  return c.tls.domainName ? `https://${c.tls.domainName}` : undefined;
}
