import { ENV } from '../app/src/contract';
import { ENVS, shippedConfigs, synthEnv } from './helpers';

type Resource = { Type: string; Properties: Record<string, unknown> };
type Output = { Value: unknown; Description?: string };

/** Every output the runbooks read, and nothing else: a removed key breaks a runbook, an extra one is undocumented. */
const OUTPUT_KEYS = [
  'AlarmTopicArn',
  'ApiKeySecretArn',
  'BlueTargetGroupArn',
  'CertificateArn',
  'ClusterName',
  'DatabaseAppUserSecretArn',
  'DatabaseClusterIdentifier',
  'DatabaseEndpoint',
  'DatabaseLogGroupName',
  'DatabaseMasterSecretArn',
  'GreenTargetGroupArn',
  'ImageParameterName',
  'LoadBalancerDnsName',
  'LoadBalancerHostedZoneId',
  'MigrationTaskDefinitionFamily',
  'PageTopicArn',
  'PendingSetup',
  'PipelineName',
  'ProductionListenerRuleArn',
  'ProductionUrl',
  'RepositoryUri',
  'ServiceLogGroupName',
  'ServiceName',
  'SmokeTestLogGroupName',
  'TestListenerUrl',
  'TokenizationKeySecretArn',
];

describe.each(ENVS)('stack outputs of %s point at the resources the runbooks mean', (env) => {
  const config = shippedConfigs()[env];
  const { template } = synthEnv(env);
  const json = template.toJSON() as { Resources: Record<string, Resource>; Outputs: Record<string, Output> };
  const resources = json.Resources;
  const outputs = json.Outputs;
  const only = (type: string, where: (r: Resource) => boolean = () => true): [string, Resource] => {
    const found = Object.entries(resources).filter(([, r]) => r.Type === type && where(r));
    expect(found.map(([id]) => id)).toHaveLength(1);
    return found[0]!;
  };
  const valueOf = (key: string): unknown => outputs[key]!.Value;
  const [serviceId, service] = only('AWS::ECS::Service');
  const container = () =>
    (resources[(service.Properties.TaskDefinition as { Ref: string }).Ref]!.Properties.ContainerDefinitions as Record<string, unknown>[])[0]!;

  test('exactly the documented keys, each with a description', () => {
    expect(Object.keys(outputs).sort()).toEqual(OUTPUT_KEYS);
    for (const key of OUTPUT_KEYS) expect({ key, described: (outputs[key]!.Description ?? '').length > 10 }).toEqual({ key, described: true });
  });

  test('ClusterName and ServiceName are the cluster and service that run the payment API', () => {
    expect(valueOf('ClusterName')).toEqual(service.Properties.Cluster);
    expect(valueOf('ClusterName')).toEqual({ Ref: only('AWS::ECS::Cluster')[0] });
    expect(valueOf('ServiceName')).toEqual({ 'Fn::GetAtt': [serviceId, 'Name'] });
  });

  test("ServiceLogGroupName is the group the container's awslogs driver writes to", () => {
    const options = (container().LogConfiguration as { Options: Record<string, unknown> }).Options;
    expect(valueOf('ServiceLogGroupName')).toEqual(options['awslogs-group']);
    expect(valueOf('ServiceLogGroupName')).toEqual({ Ref: expect.stringMatching(/^PaymentServiceLogGroup/) });
  });

  test('SmokeTestLogGroupName is the group the lifecycle hook function logs to', () => {
    const [, hook] = only('AWS::Lambda::Function', (r) => String(r.Properties.Description).includes('POST_TEST_TRAFFIC_SHIFT'));
    const logGroup = (hook.Properties.LoggingConfig as { LogGroup: unknown }).LogGroup;
    expect(valueOf('SmokeTestLogGroupName')).toEqual(logGroup);
    expect(valueOf('SmokeTestLogGroupName')).toEqual({ Ref: expect.stringMatching(/^PaymentServiceSmokeTestLogGroup/) });
  });

  test('the secret outputs are the ARNs of the secrets the container reads, never a value', () => {
    const secrets = container().Secrets as { Name: string; ValueFrom: unknown }[];
    const from = (name: string) => secrets.find((s) => s.Name === name)!.ValueFrom;
    expect(valueOf('ApiKeySecretArn')).toEqual(from(ENV.apiKey));
    expect(valueOf('TokenizationKeySecretArn')).toEqual(from(ENV.tokenizationKey));
    // A Ref of AWS::SecretsManager::Secret is its ARN; a dynamic reference would put the value into the outputs.
    const [apiKeyId] = only('AWS::SecretsManager::Secret', (r) => String(r.Properties.Description).includes('API_KEY'));
    expect(valueOf('ApiKeySecretArn')).toEqual({ Ref: apiKeyId });
    expect(JSON.stringify(outputs)).not.toMatch(/resolve:secretsmanager|SecretString/);
  });

  test('the database outputs are the cluster, its writer endpoint, log group and secrets the tasks are given', () => {
    const [clusterId, cluster] = only('AWS::RDS::DBCluster');
    expect(valueOf('DatabaseClusterIdentifier')).toBe(cluster.Properties.DBClusterIdentifier);
    expect(valueOf('DatabaseEndpoint')).toEqual({ 'Fn::GetAtt': [clusterId, 'Endpoint.Address'] });
    const env = (c: Record<string, unknown>) =>
      Object.fromEntries((c.Environment as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]));
    expect(valueOf('DatabaseAppUserSecretArn')).toEqual(env(container())[ENV.databaseSecretArn]);
    const family = `TapStack-${config.envName}-migrate`;
    const [, migration] = only('AWS::ECS::TaskDefinition', (r) => r.Properties.Family === family);
    expect(valueOf('DatabaseMasterSecretArn')).toEqual(
      env((migration.Properties.ContainerDefinitions as Record<string, unknown>[])[0]!)[ENV.databaseSecretArn],
    );
    expect(valueOf('MigrationTaskDefinitionFamily')).toBe(family);
    const [groupId] = only('AWS::Logs::LogGroup', (r) => String(r.Properties.LogGroupName).startsWith('/aws/rds/cluster/'));
    expect(valueOf('DatabaseLogGroupName')).toEqual({ Ref: groupId });
    expect(JSON.stringify(outputs)).not.toMatch(/resolve:secretsmanager|SecretString/);
  });

  test('the URLs are HTTPS on the configured name, the test URL on the test listener port', () => {
    expect(valueOf('ProductionUrl')).toBe(`https://${config.tls.domainName}`);
    expect(valueOf('TestListenerUrl')).toBe(`https://${config.tls.domainName}:${config.deployment.testListenerPort}`);
  });

  test('CertificateArn is the certificate both HTTPS listeners present', () => {
    const httpsCertificates = Object.values(resources)
      .filter((r) => r.Type === 'AWS::ElasticLoadBalancingV2::Listener' && r.Properties.Protocol === 'HTTPS')
      .map((r) => (r.Properties.Certificates as { CertificateArn: unknown }[])[0]!.CertificateArn);
    expect(httpsCertificates).toEqual([valueOf('CertificateArn'), valueOf('CertificateArn')]);
    expect(valueOf('CertificateArn')).toEqual(config.tls.certificateArn ?? { Ref: only('AWS::CertificateManager::Certificate')[0] });
  });

  test('the DNS target outputs are the load balancer DNS name and its canonical hosted zone', () => {
    const [albId] = only('AWS::ElasticLoadBalancingV2::LoadBalancer');
    expect(valueOf('LoadBalancerDnsName')).toEqual({ 'Fn::GetAtt': [albId, 'DNSName'] });
    expect(valueOf('LoadBalancerHostedZoneId')).toEqual({ 'Fn::GetAtt': [albId, 'CanonicalHostedZoneID'] });
  });

  test('the listener-rule runbook outputs are the production rule and the two target groups', () => {
    expect(valueOf('ProductionListenerRuleArn')).toEqual({ Ref: 'LoadBalancerProductionRule1971DB67' });
    expect(valueOf('BlueTargetGroupArn')).toEqual({ Ref: expect.stringMatching(/^LoadBalancerBlueTargetGroup/) });
    expect(valueOf('GreenTargetGroupArn')).toEqual({ Ref: expect.stringMatching(/^LoadBalancerGreenTargetGroup/) });
    const rule = resources.LoadBalancerProductionRule1971DB67!.Properties.Actions as { TargetGroupArn: unknown }[];
    expect(rule[0]!.TargetGroupArn).toEqual(valueOf('BlueTargetGroupArn'));
  });

  test('the outputs that were there before keep their values', () => {
    expect(valueOf('ImageParameterName')).toBe(`/tap/${env}/app/image-uri`);
    expect(valueOf('PipelineName')).toEqual({ Ref: only('AWS::CodePipeline::Pipeline')[0] });
    expect(valueOf('AlarmTopicArn')).toEqual({ Ref: only('AWS::SNS::Topic', (r) => r.Properties.DisplayName === 'Payment platform alarms')[0] });
  });

  test('PageTopicArn is the topic Critical alarms page through', () => {
    const [pages] = only('AWS::SNS::Topic', (r) => r.Properties.DisplayName === 'Payment platform pages');
    expect(valueOf('PageTopicArn')).toEqual({ Ref: pages });
    const critical = Object.values(template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>).filter(
      (r) => r.Type === 'AWS::CloudWatch::Alarm' && String(r.Properties.AlarmName).endsWith('-Critical'),
    );
    expect(critical.length).toBeGreaterThan(3);
    for (const alarm of critical) expect(alarm.Properties.AlarmActions).toContainEqual({ Ref: pages });
  });
});
