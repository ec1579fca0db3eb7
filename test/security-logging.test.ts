import { ENVS, synthEnv } from './helpers';

type Resource = { Type: string; Properties: Record<string, unknown> };
type Statement = Record<string, unknown>;

describe.each(ENVS)('log delivery in %s', (env) => {
  const { template } = synthEnv(env);
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const of = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

  // us-east-1 is one of the Regions where the Elastic Load Balancing account, not a service principal, writes the logs.
  test('the ALB writes its access logs under alb/ into the SSE-S3 access-log bucket, as the us-east-1 ELB account', () => {
    const alb = of('AWS::ElasticLoadBalancingV2::LoadBalancer')[0]![1].Properties;
    const attributes = Object.fromEntries((alb.LoadBalancerAttributes as Array<{ Key: string; Value: unknown }>).map((a) => [a.Key, a.Value]));
    expect(attributes['access_logs.s3.enabled']).toBe('true');
    expect(attributes['access_logs.s3.prefix']).toBe('alb');
    const bucketId = (attributes['access_logs.s3.bucket'] as { Ref: string }).Ref;
    expect(resources[bucketId]!.Properties.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
    const policy = of('AWS::S3::BucketPolicy').find(([, r]) => (r.Properties.Bucket as { Ref: string }).Ref === bucketId)![1];
    const statements = (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement;
    expect(statements).toContainEqual({
      Effect: 'Allow',
      Principal: { AWS: 'arn:aws:iam::127311923021:root' },
      Action: 's3:PutObject',
      Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/alb/AWSLogs/', { Ref: 'AWS::AccountId' }, '/*']] },
    });
  });

  test('WAF logs to its aws-waf-logs- group, named by the log group ARN without the :* suffix', () => {
    const [groupId, group] = of('AWS::Logs::LogGroup').find(([, r]) => String(r.Properties.LogGroupName).startsWith('aws-waf-logs-'))!;
    expect(group.Properties.LogGroupName).toBe(`aws-waf-logs-TapStack-${env}`);
    const logging = of('AWS::WAFv2::LoggingConfiguration')[0]![1].Properties;
    expect(logging.LogDestinationConfigs).toEqual([
      { 'Fn::Join': ['', ['arn:aws:logs:us-east-1:', { Ref: 'AWS::AccountId' }, ':log-group:', { Ref: groupId }]] },
    ]);
  });
});
