import * as fs from 'fs';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { KEEP_ALIVE_TIMEOUT_MS } from '../app/src/contract';
import { buildApp } from '../lib/app';
import { imageParameterNameOf } from '../lib/config';
import { CDK_CONTEXT, ENVS, shippedConfigs, synthEnv } from './helpers';

type Resource = { Type: string; Properties: Record<string, unknown> };

describe.each(ENVS)('runtime in %s', (env) => {
  const config = shippedConfigs()[env];
  const { template } = synthEnv(env);
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  const service = () => ofType('AWS::ECS::Service')[0]![1].Properties;
  /** The ARN of one of the stack's customer-managed keys (lib/security/keys.ts). */
  const keyArn = (name: 'Data' | 'Logs') => ({ 'Fn::GetAtt': [ofType('AWS::KMS::Key').find(([id]) => id.startsWith(`Keys${name}Key`))![0], 'Arn'] });
  // The service's task definition (the migration task has its own: test/database.test.ts).
  const container = () =>
    (resources[(service().TaskDefinition as { Ref: string }).Ref]!.Properties.ContainerDefinitions as Record<string, unknown>[])[0]!;

  test('ECS-native blue/green with the configured strategy, bake time and ECS deployment controller', () => {
    const s = service();
    const d = config.deployment;
    // No controller property means the ECS controller; CODE_DEPLOY would forbid deployment alarms (aws-cdk #26307).
    expect(s.DeploymentController ?? { Type: 'ECS' }).toEqual({ Type: 'ECS' });
    const step = { Percent: d.stepPercent, BakeTimeInMinutes: d.stepBakeTimeMinutes };
    // Every key of the deployment configuration, by value: the alarms and the hook are pinned in the tests below.
    expect({ ...(s.DeploymentConfiguration as Record<string, unknown>), Alarms: undefined, LifecycleHooks: undefined }).toEqual({
      Strategy: d.strategy,
      BakeTimeInMinutes: d.bakeTimeMinutes,
      // A revision whose tasks cannot start or stay healthy is rolled back, not retried forever.
      DeploymentCircuitBreaker: { Enable: true, Rollback: true },
      // Blue/green keeps the whole old revision serving until the new one has baked.
      MinimumHealthyPercent: 100,
      MaximumPercent: 200,
      ...(d.strategy === 'CANARY' ? { CanaryConfiguration: { CanaryPercent: step.Percent, CanaryBakeTimeInMinutes: step.BakeTimeInMinutes } } : {}),
      ...(d.strategy === 'LINEAR' ? { LinearConfiguration: { StepPercent: step.Percent, StepBakeTimeInMinutes: step.BakeTimeInMinutes } } : {}),
    });
    expect(s).toMatchObject({
      LaunchType: 'FARGATE',
      DesiredCount: config.service.desiredCount,
      HealthCheckGracePeriodSeconds: config.service.healthCheckGraceSeconds,
    });
  });

  test('deployment alarms roll back on 5xx rate, unhealthy hosts and p99 latency of both target groups', () => {
    const s = service();
    const alarms = (s.DeploymentConfiguration as { Alarms: { AlarmNames: string[]; Enable: boolean; Rollback: boolean } }).Alarms;
    expect({ ...alarms, AlarmNames: undefined }).toEqual({ Enable: true, Rollback: true });
    expect([...alarms.AlarmNames].sort()).toEqual(
      ['blue', 'green'].flatMap((c) => ['5xx-rate', 'p99-latency', 'unhealthy-hosts'].map((sig) => `TapStack-${env}-deploy-${c}-${sig}`)).sort(),
    );
    // Each alarm's metric, threshold and window: test/alarms-values.test.ts.
    for (const name of alarms.AlarmNames) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: name,
        EvaluationPeriods: config.deployment.alarmEvaluationPeriods,
        DatapointsToAlarm: config.deployment.alarmEvaluationPeriods,
      });
    }
  });

  test('each deployment alarm window fits inside the bake time (docs/deployments.md, trap 5)', () => {
    const deploymentAlarms = (service().DeploymentConfiguration as { Alarms: { AlarmNames: string[] } }).Alarms.AlarmNames;
    const watched = ofType('AWS::CloudWatch::Alarm').filter(([, a]) => deploymentAlarms.includes(a.Properties.AlarmName as string));
    expect(watched).toHaveLength(deploymentAlarms.length);
    for (const [, alarm] of watched) {
      const p = alarm.Properties;
      const period =
        (p.Period as number | undefined) ??
        ((p.Metrics as { MetricStat?: { Period: number } }[]).find((m) => m.MetricStat)?.MetricStat?.Period as number);
      expect(period * (p.EvaluationPeriods as number)).toBeLessThanOrEqual(config.deployment.bakeTimeMinutes * 60);
    }
  });

  test('the smoke test runs as a lifecycle hook after test traffic shifts', () => {
    expect((service().DeploymentConfiguration as { LifecycleHooks: unknown }).LifecycleHooks).toEqual([
      {
        LifecycleStages: ['POST_TEST_TRAFFIC_SHIFT'],
        HookTargetArn: { 'Fn::GetAtt': [expect.stringMatching(/^PaymentServiceSmokeTestFunction/), 'Arn'] },
        RoleArn: { 'Fn::GetAtt': [expect.stringMatching(/^PaymentServiceSmokeTestHookRole/), 'Arn'] },
      },
    ]);
    // The hook calls the test listener with the API key, from the private subnets, inside the cluster.
    const hooks = (service().DeploymentConfiguration as { LifecycleHooks: { HookTargetArn: { 'Fn::GetAtt': [string] } }[] }).LifecycleHooks;
    const hookId = hooks[0]!.HookTargetArn['Fn::GetAtt'][0];
    const hook = resources[hookId]!.Properties;
    const apiKey = ofType('AWS::SecretsManager::Secret').find(([id]) => id.startsWith('SecretsApiKey'))![0];
    const privateSubnets = ofType('AWS::EC2::Subnet')
      .filter(([id]) => id.startsWith('NetworkVpcprivateSubnet'))
      .map(([id]) => ({ Ref: id }));
    expect(privateSubnets).toHaveLength(config.network.availabilityZones.length);
    expect(hook).toMatchObject({ Runtime: 'nodejs24.x', Timeout: 60 });
    expect(hook.Environment).toEqual({
      Variables: {
        TEST_URL: `https://${config.tls.domainName}:${config.deployment.testListenerPort}`,
        API_KEY_SECRET_ARN: { Ref: apiKey },
        CLUSTER_NAME: service().Cluster as { Ref: string },
      },
    });
    expect((hook.VpcConfig as { SubnetIds: unknown[] }).SubnetIds).toEqual(privateSubnets);
  });

  test('blue and green target groups, the production rule forwards to blue, the test rule to green', () => {
    const tgs = ofType('AWS::ElasticLoadBalancingV2::TargetGroup');
    expect(tgs).toHaveLength(2);
    for (const [, tg] of tgs) {
      // The readiness path, checked every 10 s: two failures take a task out, two passes put it back.
      expect({ ...tg.Properties, VpcId: undefined, Tags: undefined }).toEqual({
        TargetType: 'ip',
        Protocol: 'HTTP',
        Port: config.service.containerPort,
        HealthCheckPath: '/health/ready',
        Matcher: { HttpCode: '200' },
        HealthCheckIntervalSeconds: 10,
        HealthCheckTimeoutSeconds: 5,
        HealthyThresholdCount: 2,
        UnhealthyThresholdCount: 2,
        TargetGroupAttributes: [
          { Key: 'deregistration_delay.timeout_seconds', Value: String(config.service.deregistrationDelaySeconds) },
          { Key: 'stickiness.enabled', Value: 'false' },
        ],
      });
    }
    const tgId = (color: string) => tgs.find(([id]) => id.startsWith(`LoadBalancer${color}TargetGroup`))![0];
    expect(service().LoadBalancers).toEqual([
      {
        ContainerName: 'app',
        ContainerPort: config.service.containerPort,
        TargetGroupArn: { Ref: tgId('Blue') },
        AdvancedConfiguration: {
          AlternateTargetGroupArn: { Ref: tgId('Green') },
          ProductionListenerRule: { Ref: 'LoadBalancerProductionRule1971DB67' },
          TestListenerRule: { Ref: 'LoadBalancerTestRule392350BF' },
          RoleArn: { 'Fn::GetAtt': [expect.stringMatching(/^PaymentServiceGreenTargetRole/), 'Arn'] },
        },
      },
    ]);
  });

  test('the production listener rule definition is pinned (aws-cdk #36649: changing it resets live traffic)', () => {
    // GIVEN the rule ECS rewrites during deployments; WHEN anything about it changes, THEN this test must be updated
    // on purpose together with docs/runbooks/listener-rule-reset.md and a listener-guard preflight.
    const rules = ofType('AWS::ElasticLoadBalancingV2::ListenerRule').map(([id, r]) => ({ id, ...r.Properties }));
    expect(rules.map((r) => r.id).sort()).toEqual(['LoadBalancerProductionRule1971DB67', 'LoadBalancerTestRule392350BF']);
    // No Tags either: a tag edit in config would otherwise update, and so reset, the rule.
    expect(rules.find((r) => r.id === 'LoadBalancerProductionRule1971DB67')).toEqual({
      id: 'LoadBalancerProductionRule1971DB67',
      ListenerArn: { Ref: 'LoadBalancerAlbProductionDEFA25DA' },
      Priority: 10,
      Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/*'] } }],
      Actions: [{ Type: 'forward', TargetGroupArn: { Ref: 'LoadBalancerBlueTargetGroupCEE54ADF' } }],
    });
    expect(rules.find((r) => r.id === 'LoadBalancerTestRule392350BF')).toEqual({
      id: 'LoadBalancerTestRule392350BF',
      ListenerArn: { Ref: 'LoadBalancerAlbTestBAD99082' },
      Priority: 10,
      Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/*'] } }],
      Actions: [{ Type: 'forward', TargetGroupArn: { Ref: 'LoadBalancerGreenTargetGroup903EF8E6' } }],
    });
  });

  test('no public IP, private subnets, tasks reachable from the load balancer only', () => {
    const privateSubnets = ofType('AWS::EC2::Subnet')
      .filter(([id]) => id.startsWith('NetworkVpcprivateSubnet'))
      .map(([id]) => ({ Ref: id }));
    expect(privateSubnets).toHaveLength(config.network.availabilityZones.length);
    const network = service().NetworkConfiguration as { AwsvpcConfiguration: { SecurityGroups: { 'Fn::GetAtt': string[] }[] } };
    expect(network.AwsvpcConfiguration.SecurityGroups).toHaveLength(1);
    const sgId = network.AwsvpcConfiguration.SecurityGroups[0]!['Fn::GetAtt'][0]!;
    expect(network).toEqual({
      AwsvpcConfiguration: { AssignPublicIp: 'DISABLED', Subnets: privateSubnets, SecurityGroups: [{ 'Fn::GetAtt': [sgId, 'GroupId'] }] },
    });
    // The group's only ingress (test/ingress-rules.test.ts holds every group to its table).
    expect(resources[sgId]!.Properties.SecurityGroupIngress).toBeUndefined();
    const ingress = ofType('AWS::EC2::SecurityGroupIngress').filter(
      ([, r]) => JSON.stringify(r.Properties.GroupId) === JSON.stringify({ 'Fn::GetAtt': [sgId, 'GroupId'] }),
    );
    expect(ingress).toHaveLength(1);
    expect(ingress[0]![1].Properties).toMatchObject({
      IpProtocol: 'tcp',
      FromPort: config.service.containerPort,
      ToPort: config.service.containerPort,
      SourceSecurityGroupId: { 'Fn::GetAtt': [expect.stringMatching(/^LoadBalancerSecurityGroup/), 'GroupId'] },
    });
  });

  test('read-only root filesystem, non-root user, health check without a shell, stop timeout above the drain deadline', () => {
    const c = container();
    expect(c.HealthCheck).toEqual({
      Command: ['CMD', '/nodejs/bin/node', 'dist/healthcheck.js'],
      Interval: 15,
      Timeout: 5,
      Retries: 3,
      StartPeriod: Math.min(300, config.service.healthCheckGraceSeconds),
    });
    expect(c).toMatchObject({
      Essential: true,
      ReadonlyRootFilesystem: true,
      User: '65532:65532',
      StopTimeout: config.service.stopTimeoutSeconds,
      MountPoints: [{ ContainerPath: '/tmp', SourceVolume: 'tmp', ReadOnly: false }],
    });
    expect(c.Environment).toContainEqual({ Name: 'SHUTDOWN_DEADLINE_MS', Value: String(config.service.drainDeadlineSeconds * 1000) });
    expect(config.service.stopTimeoutSeconds).toBeGreaterThan(config.service.drainDeadlineSeconds);
  });

  test('secrets reach the container only through `Secrets`, never as environment values', () => {
    const c = container();
    expect((c.Secrets as { Name: string }[]).map((s) => s.Name).sort()).toEqual(['API_KEY', 'TOKENIZATION_KEY']);
    const envNames = (c.Environment as { Name: string }[]).map((e) => e.Name);
    for (const secret of ['API_KEY', 'DATABASE_CREDENTIALS', 'TOKENIZATION_KEY']) expect(envNames).not.toContain(secret);
    // Every variable, by name: a new one is a reviewed change (Trivy's sensitive-name check is accepted for the one ARN).
    expect([...envNames].sort()).toEqual(
      [
        'DATABASE_HOST',
        'DATABASE_NAME',
        'DATABASE_POOL_MAX',
        'DATABASE_PORT',
        'DATABASE_SECRET_ARN',
        'DATABASE_SSL_MODE',
        'ENVIRONMENT_NAME',
        'LOG_LEVEL',
        'NODE_ENV',
        'PORT',
        'SHUTDOWN_DEADLINE_MS',
        'TRACING_ENABLED',
        'TRACING_SAMPLE_RATIO',
      ].sort(),
    );
    const secretArn = (c.Environment as { Name: string; Value: unknown }[]).find((e) => e.Name === 'DATABASE_SECRET_ARN')!.Value as { Ref: string };
    expect(ofType('AWS::SecretsManager::Secret').map(([id]) => id)).toContain(secretArn.Ref);
    const secrets = ofType('AWS::SecretsManager::Secret');
    expect(secrets.length).toBeGreaterThanOrEqual(3);
    for (const [id, s] of secrets) expect({ id, key: s.Properties.KmsKeyId }).toEqual({ id, key: keyArn('Data') });
  });

  test('the API and tokenization key secrets keep the generation templates they were created with: no deploy generates new keys', () => {
    // Any change here (a JSON template included) makes CloudFormation generate a new value at the next deploy, which new
    // tasks would start with while clients present the old API key (or stored tokens need the old HMAC key). The API key's
    // JSON form {"current","previous"} comes from its first rotation (docs/runbooks/rotate-secrets.md).
    const generation = (name: string) => {
      const secret = (container().Secrets as { Name: string; ValueFrom: { Ref: string } }[]).find((s) => s.Name === name)!;
      return resources[secret.ValueFrom.Ref]!.Properties.GenerateSecretString;
    };
    expect(generation('API_KEY')).toEqual({ PasswordLength: 48, ExcludePunctuation: true });
    expect(generation('TOKENIZATION_KEY')).toEqual({ PasswordLength: 64, ExcludePunctuation: true });
  });

  test('the image comes from the SSM parameter the deploy step writes, never a pinned tag (docs/deployments.md, trap 1)', () => {
    const image = container().Image as { Ref: string };
    const params = template.toJSON().Parameters as Record<string, { Type: string; Default: string }>;
    expect(params[image.Ref]).toEqual({ Type: 'AWS::SSM::Parameter::Value<String>', Default: imageParameterNameOf(env) });
  });

  test('container logs go to a group encrypted with the logs key, kept the configured days (>= 365)', () => {
    const logConfig = container().LogConfiguration as { Options: { 'awslogs-group': { Ref: string } } };
    const group = resources[logConfig.Options['awslogs-group'].Ref]!;
    expect(group.Properties.KmsKeyId).toEqual(keyArn('Logs'));
    expect(group.Properties.RetentionInDays).toBe(config.logs.retentionDays);
    expect(config.logs.retentionDays).toBeGreaterThanOrEqual(365);
  });

  test('autoscaling on CPU and on requests per target of both target groups', () => {
    const targets = ofType('AWS::ApplicationAutoScaling::ScalableTarget');
    expect(targets).toHaveLength(1);
    const [targetId, target] = targets[0]!;
    expect(target.Properties).toMatchObject({
      MinCapacity: config.service.minCapacity,
      MaxCapacity: config.service.maxCapacity,
      ScalableDimension: 'ecs:service:DesiredCount',
      ServiceNamespace: 'ecs',
    });
    const policies = ofType('AWS::ApplicationAutoScaling::ScalingPolicy').map(([, p]) => p.Properties);
    expect(
      policies.every((p) => p.PolicyType === 'TargetTrackingScaling' && JSON.stringify(p.ScalingTargetId) === JSON.stringify({ Ref: targetId })),
    ).toBe(true);
    const tracking = policies.map(
      (p) =>
        p.TargetTrackingScalingPolicyConfiguration as {
          PredefinedMetricSpecification: { PredefinedMetricType: string; ResourceLabel?: unknown };
          TargetValue: number;
        },
    );
    const onGroup = (color: string) =>
      tracking.filter((t) => JSON.stringify(t.PredefinedMetricSpecification.ResourceLabel ?? '').includes(`"LoadBalancer${color}TargetGroup`)).length;
    expect(tracking.map((t) => [t.PredefinedMetricSpecification.PredefinedMetricType, t.TargetValue]).sort()).toEqual(
      [
        ['ALBRequestCountPerTarget', config.service.requestsPerTarget],
        ['ALBRequestCountPerTarget', config.service.requestsPerTarget],
        ['ECSServiceAverageCPUUtilization', config.service.cpuTargetPercent],
      ].sort(),
    );
    // One request policy per target group: the live revision alternates between them.
    expect([onGroup('Blue'), onGroup('Green')]).toEqual([1, 1]);
  });

  test('the ALB: internet-facing, invalid headers dropped, access logs, idle timeout below the app keep-alive (docs/deployments.md, trap 6)', () => {
    const alb = ofType('AWS::ElasticLoadBalancingV2::LoadBalancer')[0]![1].Properties;
    expect(alb.Scheme).toBe('internet-facing');
    expect(alb.LoadBalancerAttributes).toEqual(
      expect.arrayContaining([
        { Key: 'routing.http.drop_invalid_header_fields.enabled', Value: 'true' },
        { Key: 'access_logs.s3.enabled', Value: 'true' },
        { Key: 'idle_timeout.timeout_seconds', Value: String(config.loadBalancer.idleTimeoutSeconds) },
        { Key: 'deletion_protection.enabled', Value: String(config.loadBalancer.deletionProtection) },
      ]),
    );
    expect(config.loadBalancer.idleTimeoutSeconds * 1000).toBeLessThan(KEEP_ALIVE_TIMEOUT_MS);
  });

  test('HTTPS with a TLS 1.2+ policy (TLS 1.3 preferred) and HTTP 80 only redirects', () => {
    const listeners = ofType('AWS::ElasticLoadBalancingV2::Listener').map(([, l]) => l.Properties);
    const https = listeners.filter((l) => l.Protocol === 'HTTPS');
    expect(https).toHaveLength(2);
    for (const l of https) expect(l.SslPolicy).toBe('ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09');
    const http = listeners.filter((l) => l.Protocol === 'HTTP');
    expect(http).toEqual([
      expect.objectContaining({
        Port: 80,
        DefaultActions: [
          expect.objectContaining({ Type: 'redirect', RedirectConfig: expect.objectContaining({ Port: '443', StatusCode: 'HTTP_301' }) }),
        ],
      }),
    ]);
  });

  test('the test listener has its own port and is not open to 0.0.0.0/0', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: config.deployment.testListenerPort });
    const albSg = ofType('AWS::EC2::SecurityGroup').find(([id]) => id.startsWith('LoadBalancerSecurityGroup'))![1];
    const testIngress = (albSg.Properties.SecurityGroupIngress as { FromPort: number; CidrIp: unknown }[]).filter(
      (r) => r.FromPort === config.deployment.testListenerPort,
    );
    expect(testIngress.length).toBe(config.network.natGateways + config.deployment.testListenerAllowedCidrs.length);
    for (const rule of testIngress) expect(rule.CidrIp).not.toBe('0.0.0.0/0');
  });

  test('WAF: exactly these rules in this order, each blocking, the configured rate limit, allow by default; on the ALB; logging to its group', () => {
    const acls = ofType('AWS::WAFv2::WebACL');
    expect(acls).toHaveLength(1);
    const [aclId, acl] = acls[0]!;
    const visibility = (name: string) => ({ CloudWatchMetricsEnabled: true, MetricName: `TapStack-${env}-${name}`, SampledRequestsEnabled: false });
    // A managed rule group blocks what it matches only with OverrideAction None; Count would only count.
    const managed = (name: string, priority: number) => ({
      Name: name,
      Priority: priority,
      OverrideAction: { None: {} },
      Statement: { ManagedRuleGroupStatement: { Name: name, VendorName: 'AWS' } },
      VisibilityConfig: visibility(name),
    });
    expect({ ...acl.Properties, Tags: undefined }).toEqual({
      Name: `TapStack-${env}-web-acl`,
      Scope: 'REGIONAL',
      DefaultAction: { Allow: {} },
      VisibilityConfig: visibility('web-acl'),
      Rules: [
        {
          Name: 'RateLimitPerIp',
          Priority: 1,
          Action: { Block: {} },
          Statement: { RateBasedStatement: { AggregateKeyType: 'IP', Limit: config.loadBalancer.wafRateLimitPer5Min } },
          VisibilityConfig: visibility('rate-limit'),
        },
        managed('AWSManagedRulesAmazonIpReputationList', 10),
        managed('AWSManagedRulesCommonRuleSet', 11),
        managed('AWSManagedRulesKnownBadInputsRuleSet', 12),
        managed('AWSManagedRulesSQLiRuleSet', 13),
      ],
    });
    const albId = ofType('AWS::ElasticLoadBalancingV2::LoadBalancer')[0]![0];
    expect(ofType('AWS::WAFv2::WebACLAssociation').map(([, a]) => a.Properties)).toEqual([
      { ResourceArn: { Ref: albId }, WebACLArn: { 'Fn::GetAtt': [aclId, 'Arn'] } },
    ]);
    const [groupId, group] = ofType('AWS::Logs::LogGroup').find(([, g]) => g.Properties.LogGroupName === `aws-waf-logs-TapStack-${env}`)!;
    const logsKey = ofType('AWS::KMS::Key').find(([id]) => id.startsWith('KeysLogsKey'))![0];
    expect(group.Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [logsKey, 'Arn'] });
    expect(ofType('AWS::WAFv2::LoggingConfiguration').map(([, l]) => [l.Properties.ResourceArn, l.Properties.LogDestinationConfigs])).toEqual([
      [
        { 'Fn::GetAtt': [aclId, 'Arn'] },
        [{ 'Fn::Join': ['', ['arn:aws:logs:us-east-1:', { Ref: 'AWS::AccountId' }, ':log-group:', { Ref: groupId }]] }],
      ],
    ]);
  });

  test("WAF samples no request (samples keep the client's API key; log redaction does not apply to them), and redacts it from its logs", () => {
    const acl = ofType('AWS::WAFv2::WebACL')[0]![1].Properties;
    const configs = [acl.VisibilityConfig, ...(acl.Rules as { VisibilityConfig: unknown }[]).map((r) => r.VisibilityConfig)] as Record<
      string,
      unknown
    >[];
    expect(configs.length).toBeGreaterThan(1);
    for (const v of configs) expect(v).toEqual(expect.objectContaining({ SampledRequestsEnabled: false, CloudWatchMetricsEnabled: true }));
    template.hasResourceProperties('AWS::WAFv2::LoggingConfiguration', { RedactedFields: [{ SingleHeader: { Name: 'authorization' } }] });
  });

  test('Container Insights and an encrypted, immutable, scanned image repository', () => {
    template.hasResourceProperties('AWS::ECS::Cluster', { ClusterSettings: [{ Name: 'containerInsights', Value: 'enhanced' }] });
    template.hasResourceProperties('AWS::ECR::Repository', {
      ImageTagMutability: env === 'dev' ? 'IMMUTABLE_WITH_EXCLUSION' : 'IMMUTABLE',
      ImageScanningConfiguration: { ScanOnPush: true },
      EncryptionConfiguration: { EncryptionType: 'KMS', KmsKey: keyArn('Data') },
    });
  });
});

describe('the listener guard checks the rule the template really has (docs/deployments.md, trap 2)', () => {
  test('deploy:infra and the runbook name the production rule by its logical id', () => {
    const rules = Object.entries(synthEnv('prod').template.findResources('AWS::ElasticLoadBalancingV2::ListenerRule'));
    const production = rules.find(([, r]) => JSON.stringify(r).includes('LoadBalancerAlbProduction'))![0];
    for (const file of ['scripts/deploy-infra.sh', 'docs/runbooks/listener-rule-reset.md']) {
      expect(fs.readFileSync(path.join(__dirname, '..', file), 'utf8')).toContain(`RULE_LOGICAL_ID=${production}`);
    }
  });
});

describe('first deploy into an empty account (docs/deployments.md, trap 4)', () => {
  test('-c firstDeploy=true creates the service with no tasks; otherwise the configured count', () => {
    const first = buildApp(new App({ context: { ...CDK_CONTEXT, env: 'prod', firstDeploy: 'true' } }));
    Template.fromStack(first).hasResourceProperties('AWS::ECS::Service', { DesiredCount: 0 });
    synthEnv('prod').template.hasResourceProperties('AWS::ECS::Service', { DesiredCount: shippedConfigs().prod.service.desiredCount });
  });
});
