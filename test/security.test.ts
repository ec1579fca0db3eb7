import { CfnElement } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { ENVS, shippedConfigs, synthEnv } from './helpers';

type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string; UpdateReplacePolicy?: string };
type Statement = Record<string, unknown>;

/** `arn:aws:<service>:us-east-1:<this account>:<rest>`, as CloudFormation receives it from an account-agnostic synth. */

const arnInThisAccount = (service: string, rest: string) => ({
  'Fn::Join': ['', [`arn:aws:${service}:us-east-1:`, { Ref: 'AWS::AccountId' }, rest]],
});

describe.each(ENVS)('security baseline in %s', (env) => {
  const config = shippedConfigs()[env];
  const { stack, template } = synthEnv(env);
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const keyStatements = (idPrefix: string): Statement[] => {
    const key = Object.entries(resources).find(([id, r]) => r.Type === 'AWS::KMS::Key' && id.startsWith(idPrefix))![1];
    return (key.Properties.KeyPolicy as { Statement: Statement[] }).Statement;
  };
  const bySid = (statements: Statement[], sid: string) => statements.filter((s) => s.Sid === sid);

  test('three customer-managed keys, each rotating, with the configured removal policy', () => {
    const keys = Object.values(resources).filter((r) => r.Type === 'AWS::KMS::Key');
    expect(keys).toHaveLength(3);
    const retained = config.removal.keys === 'retain';
    for (const key of keys) {
      expect(key.Properties.EnableKeyRotation).toBe(true);
      expect([key.DeletionPolicy, key.UpdateReplacePolicy]).toEqual(retained ? ['Retain', 'Retain'] : ['Delete', 'Delete']);
    }
  });

  // SNS encrypts each message with the topic's key on the publisher's behalf: a publisher the key does not admit
  // fails to publish even when the topic policy lets it.
  test("the data key admits the alarm topic's publishers, each with the conditions it supports", () => {
    const data = keyStatements('KeysDataKey');
    const keyUse = ['kms:Decrypt', 'kms:GenerateDataKey*'];
    expect(bySid(data, 'AllowCloudWatchAlarmsToPublish')).toEqual([
      {
        Sid: 'AllowCloudWatchAlarmsToPublish',
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: keyUse,
        Resource: '*',
        Condition: {
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
          ArnLike: { 'aws:SourceArn': arnInThisAccount('cloudwatch', `:alarm:${stack.stackName}-*`) },
        },
      },
    ]);
    // No other statement names a publishing service: EventBridge and the pipeline use the key through IAM grants of
    // roles of this account, so no service principal is admitted without a condition.
    const services = data.map((s) => JSON.stringify((s.Principal as { Service?: unknown } | undefined)?.Service ?? null));
    expect(services.filter((s) => /cloudwatch|events|codestar|sns/.test(s))).toHaveLength(1);
  });

  test('the logs key admits CloudWatch Logs and CloudTrail of this account only', () => {
    const logs = keyStatements('KeysLogsKey');
    // The account's administration of the key (IAM decides who in the account may use it), and the two services: no
    // other statement.
    expect(logs.map((s) => s.Sid ?? s.Principal)).toEqual([
      { AWS: { 'Fn::Join': ['', ['arn:aws:iam::', { Ref: 'AWS::AccountId' }, ':root']] } },
      'AllowCloudWatchLogsOfThisAccount',
      'AllowCloudTrailOfThisAccount',
      'AllowCloudTrailDescribeKey',
    ]);
    expect(logs[0]).toEqual({ Effect: 'Allow', Principal: logs[0]!.Principal, Action: 'kms:*', Resource: '*' });
    // CloudTrail describes the key when a trail is created or updated with it (the key policy CloudTrail's own setup
    // writes grants this without a condition); DescribeKey reveals no data.
    expect(bySid(logs, 'AllowCloudTrailDescribeKey')).toEqual([
      {
        Sid: 'AllowCloudTrailDescribeKey',
        Effect: 'Allow',
        Principal: { Service: 'cloudtrail.amazonaws.com' },
        Action: 'kms:DescribeKey',
        Resource: '*',
      },
    ]);
    // CloudWatch Logs names the log group in the encryption context; only log groups of this account may use the key.
    expect(bySid(logs, 'AllowCloudWatchLogsOfThisAccount')).toEqual([
      {
        Sid: 'AllowCloudWatchLogsOfThisAccount',
        Effect: 'Allow',
        Principal: { Service: 'logs.us-east-1.amazonaws.com' },
        Action: ['kms:Decrypt*', 'kms:Describe*', 'kms:Encrypt*', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'],
        Resource: '*',
        Condition: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': arnInThisAccount('logs', ':log-group:*') } },
      },
    ]);
    // CloudTrail names the trail in the encryption context: trails of this account only, on this account's behalf.
    expect(bySid(logs, 'AllowCloudTrailOfThisAccount')).toEqual([
      {
        Sid: 'AllowCloudTrailOfThisAccount',
        Effect: 'Allow',
        Principal: { Service: 'cloudtrail.amazonaws.com' },
        Action: 'kms:GenerateDataKey*',
        Resource: '*',
        Condition: {
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
          StringLike: {
            'kms:EncryptionContext:aws:cloudtrail:arn': { 'Fn::Join': ['', ['arn:aws:cloudtrail:*:', { Ref: 'AWS::AccountId' }, ':trail/*']] },
          },
        },
      },
    ]);
  });

  test('CloudTrail: multi-region management events, file validation, KMS, and a CloudWatch copy', () => {
    template.resourceCountIs('AWS::CloudTrail::Trail', 1);
    template.hasResourceProperties('AWS::CloudTrail::Trail', {
      IsLogging: true,
      IsMultiRegionTrail: true,
      IncludeGlobalServiceEvents: true,
      EnableLogFileValidation: true,
      // The customer-managed logs key itself (Trivy cannot resolve this attribute; security/scan-ignore.json says so).
      KMSKeyId: { 'Fn::GetAtt': [stack.getLogicalId(stack.keys.logs.node.defaultChild as CfnElement), 'Arn'] },
      CloudWatchLogsLogGroupArn: { 'Fn::GetAtt': [stack.getLogicalId(stack.auditTrail.logGroup.node.defaultChild as CfnElement), 'Arn'] },
      // Advanced selectors only: CloudTrail rejects a trail with both kinds.
      EventSelectors: Match.absent(),
      AdvancedEventSelectors: Match.arrayWith([{ Name: 'Management events', FieldSelectors: [{ Field: 'eventCategory', Equals: ['Management'] }] }]),
    });
  });

  test('the trail records every read and write of the audit log files (S3 data events on its own bucket)', () => {
    const trail = Object.values(resources).find((r) => r.Type === 'AWS::CloudTrail::Trail')!.Properties;
    const bucketId = (trail.S3BucketName as { Ref: string }).Ref;
    const objects = (trail.AdvancedEventSelectors as Statement[]).find((s) => s.Name === 'Object access of audited buckets')!;
    const fields = objects.FieldSelectors as Array<{ Field: string } & Record<string, unknown>>;
    expect(fields.slice(0, 2)).toEqual([
      { Field: 'eventCategory', Equals: ['Data'] },
      { Field: 'resources.type', Equals: ['AWS::S3::Object'] },
    ]);
    // No readOnly field: reads and writes both.
    expect(fields.map((f) => f.Field)).toEqual(['eventCategory', 'resources.type', 'resources.ARN']);
    expect(fields[2]!.StartsWith).toContainEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/']] });
  });

  test('the trail also records every read and write of the pipeline artifacts, image scan reports and SBOMs', () => {
    const trail = Object.values(resources).find((r) => r.Type === 'AWS::CloudTrail::Trail')!.Properties;
    const objects = (trail.AdvancedEventSelectors as Statement[]).find((s) => s.Name === 'Object access of audited buckets')!;
    const arn = (objects.FieldSelectors as Array<{ Field: string; StartsWith?: unknown[] }>).find((f) => f.Field === 'resources.ARN')!;
    const pipeline = Object.values(resources).find((r) => r.Type === 'AWS::CodePipeline::Pipeline')!.Properties;
    const artifactBucketId = ((pipeline.ArtifactStore as { Location: { Ref: string } }).Location as { Ref: string }).Ref;
    expect(arn.StartsWith).toContainEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [artifactBucketId, 'Arn'] }, '/']] });
    // The SBOM and the Trivy report reach that bucket only as the Image action's output artifact.
    const image = (pipeline.Stages as { Name: string; Actions: { OutputArtifacts?: { Name: string }[] }[] }[]).find((st) => st.Name === 'Image')!;
    expect(image.Actions[0]!.OutputArtifacts).toEqual([{ Name: 'ImageScan' }]);
  });

  test('the trail bucket is dedicated, KMS-encrypted and access-logged', () => {
    const trail = Object.values(template.findResources('AWS::CloudTrail::Trail'))[0] as { Properties: { S3BucketName: { Ref: string } } };
    const bucket = template.findResources('AWS::S3::Bucket')[trail.Properties.S3BucketName.Ref] as { Properties: Record<string, unknown> };
    expect(trail.Properties.S3BucketName.Ref).toBe(stack.getLogicalId(stack.auditTrail.bucket.node.defaultChild as CfnElement));
    expect(bucket.Properties.LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: stack.getLogicalId(stack.accessLogs.bucket.node.defaultChild as CfnElement) },
      LogFilePrefix: 'cloudtrail-bucket/',
    });
    expect(bucket.Properties.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [
        {
          BucketKeyEnabled: true,
          ServerSideEncryptionByDefault: {
            SSEAlgorithm: 'aws:kms',
            KMSMasterKeyID: { 'Fn::GetAtt': [stack.getLogicalId(stack.keys.logs.node.defaultChild as CfnElement), 'Arn'] },
          },
        },
      ],
    });
    // Dedicated: no other trail, and no load balancer or bucket delivers its logs there.
    const delivered = JSON.stringify(
      Object.values(resources).filter((r) => r.Type === 'AWS::ElasticLoadBalancingV2::LoadBalancer' || r.Type === 'AWS::S3::Bucket'),
    );
    expect(delivered).not.toContain(`"DestinationBucketName":{"Ref":"${trail.Properties.S3BucketName.Ref}"}`);
    expect(delivered).not.toContain(`{"Key":"access_logs.s3.bucket","Value":{"Ref":"${trail.Properties.S3BucketName.Ref}"}}`);
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
