import { Match } from 'aws-cdk-lib/assertions';
import { ENVS, shippedConfigs, synthEnv } from './helpers';

describe.each(ENVS)('security baseline in %s', (env) => {
  const config = shippedConfigs()[env];
  const { template } = synthEnv(env);

  test('three customer-managed keys, each rotating, with the configured removal policy', () => {
    const keys = template.findResources('AWS::KMS::Key');
    expect(Object.keys(keys).length).toBeGreaterThanOrEqual(3);
    for (const key of Object.values(keys)) {
      expect(key.Properties.EnableKeyRotation).toBe(true);
      expect(key.DeletionPolicy).toBe(config.removal.keys === 'retain' ? 'Retain' : 'Delete');
    }
  });

  test('the logs key admits CloudWatch Logs and CloudTrail of this account only', () => {
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'AllowCloudWatchLogsOfThisAccount',
            Principal: { Service: 'logs.us-east-1.amazonaws.com' },
            Condition: { ArnLike: Match.anyValue() },
          }),
          Match.objectLike({
            Sid: 'AllowCloudTrailOfThisAccount',
            Principal: { Service: 'cloudtrail.amazonaws.com' },
            Condition: Match.objectLike({ StringEquals: Match.anyValue() }),
          }),
        ]),
      },
    });
  });

  test('CloudTrail: multi-region management events, file validation, KMS, and a CloudWatch copy', () => {
    template.resourceCountIs('AWS::CloudTrail::Trail', 1);
    template.hasResourceProperties('AWS::CloudTrail::Trail', {
      IsLogging: true,
      IsMultiRegionTrail: true,
      IncludeGlobalServiceEvents: true,
      EnableLogFileValidation: true,
      KMSKeyId: Match.anyValue(),
      CloudWatchLogsLogGroupArn: Match.anyValue(),
      EventSelectors: [Match.objectLike({ IncludeManagementEvents: true, ReadWriteType: 'All' })],
    });
  });

  test('the trail bucket is dedicated, KMS-encrypted and access-logged', () => {
    const trail = Object.values(template.findResources('AWS::CloudTrail::Trail'))[0] as { Properties: { S3BucketName: { Ref: string } } };
    const bucket = template.findResources('AWS::S3::Bucket')[trail.Properties.S3BucketName.Ref] as { Properties: Record<string, unknown> };
    expect(bucket.Properties.LoggingConfiguration).toBeDefined();
    expect(JSON.stringify(bucket.Properties.BucketEncryption)).toContain('aws:kms');
    expect(bucket.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
  });

  test('the access-log bucket uses SSE-S3, the only encryption ALB and S3 access logs accept', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([Match.objectLike({ Id: 'expire-access-logs', ExpirationInDays: config.logs.retentionDays })]),
      },
    });
  });
});
