import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AccessLogsBucket } from '../lib/security/access-logs-bucket';
import { compliancePacks } from '../lib/compliance/packs';
import { staleAcknowledgements } from '../lib/compliance/stale';
import { CANARY_HANDLER, canaryNameOf, PaymentCanary, PaymentCanaryProps } from '../lib/monitoring/canary';

const STACK_NAME = 'TapStack-dev';
/** The feature flags of cdk.json, as `cdk synth` uses them. */
const CDK_CONTEXT = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'cdk.json'), 'utf8')).context as Record<string, unknown>;

interface Fixture {
  stack: Stack;
  canary: PaymentCanary;
  template: Template;
  ids: { dataKey: string; logsKey: string; secret: string; topic: string; pages: string; accessLogs: string; artifacts: string };
}

/** A small stack with what the real stack passes in: two keys, the API key secret, the access-log bucket, the topic. */
function build(overrides: Partial<PaymentCanaryProps> = {}, env?: { account?: string; region?: string }): Fixture {
  const app = new App({ context: CDK_CONTEXT, outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'tap-canary-test-')) });
  const stack = new Stack(app, STACK_NAME, env ? { env } : {});
  const dataKey = new kms.Key(stack, 'DataKey', { enableKeyRotation: true });
  const logsKey = new kms.Key(stack, 'LogsKey', { enableKeyRotation: true });
  const secret = new secretsmanager.Secret(stack, 'ApiKey', { encryptionKey: dataKey });
  const accessLogs = new AccessLogsBucket(stack, 'AccessLogs', { retentionDays: 365, notReplicatedBecause: 'A test stack without a recovery region' })
    .bucket;
  const topic = new sns.Topic(stack, 'Alarms', { masterKey: dataKey, enforceSSL: true });
  const pages = new sns.Topic(stack, 'Pages', { masterKey: dataKey, enforceSSL: true });
  const canary = new PaymentCanary(stack, 'SmokeCanary', {
    baseUrl: 'https://payments.example.com',
    apiKey: secret,
    dataKey,
    logsKey,
    retentionDays: 365,
    accessLogsBucket: accessLogs,
    rateMinutes: 5,
    topics: { notice: topic, page: pages },
    alarmNamePrefix: stack.stackName,
    ...overrides,
  });
  const id = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as never);
  return {
    stack,
    canary,
    template: Template.fromStack(stack),
    ids: {
      dataKey: id(dataKey),
      logsKey: id(logsKey),
      secret: id(secret),
      topic: id(topic),
      pages: id(pages),
      accessLogs: id(accessLogs),
      artifacts: id(canary.artifactsBucket),
    },
  };
}

describe('PaymentCanary', () => {
  const { stack, canary, template, ids } = build();
  const arn = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });

  test('one canary: Node.js 22 Puppeteer runtime, the bundled smoke test, every 5 minutes, outside any VPC', () => {
    template.resourceCountIs('AWS::Synthetics::Canary', 1);
    const [props] = Object.values(template.findResources('AWS::Synthetics::Canary')).map((r) => r.Properties);
    expect(props.Name).toBe('tapstack-dev-smoke');
    expect(props.RuntimeVersion).toBe('syn-nodejs-puppeteer-13.0');
    expect(props.Code.Handler).toBe(CANARY_HANDLER);
    // The bundle, as a file asset of the CDK bootstrap bucket.
    expect(props.Code.S3Bucket).toEqual({ 'Fn::Sub': 'cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}' });
    expect(props.Code.S3Key).toMatch(/\.zip$/);
    expect(props.Schedule).toEqual({ Expression: 'rate(5 minutes)', DurationInSeconds: '0' });
    expect(props.StartCanaryAfterCreation).toBe(true);
    expect(props.ProvisionedResourceCleanup).toBe('AUTOMATIC');
    expect(props.SuccessRetentionPeriod).toBe(365);
    expect(props.FailureRetentionPeriod).toBe(365);
    expect(props.RunConfig).toEqual({
      TimeoutInSeconds: 60,
      EnvironmentVariables: { BASE_URL: 'https://payments.example.com', API_KEY_SECRET_ARN: { Ref: ids.secret }, SMOKE_TIMEOUT_MS: '10000' },
    });
    expect(props.KmsKeyArn).toBeUndefined();
    expect(props.ExecutionRoleArn).toEqual(arn(stack.getLogicalId(canary.role.node.defaultChild as never)));
    expect(props.VPCConfig).toBeUndefined();
    template.resourceCountIs('AWS::EC2::SecurityGroup', 0);
    template.resourceCountIs('AWS::EC2::VPC', 0);
  });

  test('artifacts: SSE-KMS with the logs key, under canary/ in its own bucket', () => {
    const [props] = Object.values(template.findResources('AWS::Synthetics::Canary')).map((r) => r.Properties);
    expect(props.ArtifactConfig).toEqual({ S3Encryption: { EncryptionMode: 'SSE_KMS', KmsKeyArn: arn(ids.logsKey) } });
    expect(props.ArtifactS3Location).toEqual({ 'Fn::Join': ['', ['s3://', { Ref: ids.artifacts }, '/canary']] });
  });

  test('the artifact bucket: logs key, access logs, expiry after the retention', () => {
    const bucket = template.toJSON().Resources[ids.artifacts];
    expect(bucket.Properties.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [
        { BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: arn(ids.logsKey) } },
      ],
    });
    expect(bucket.Properties.LoggingConfiguration).toEqual({ DestinationBucketName: { Ref: ids.accessLogs }, LogFilePrefix: 'canary-artifacts/' });
    expect(bucket.Properties.LifecycleConfiguration.Rules).toEqual([
      { Id: 'expire-noncurrent-versions', NoncurrentVersionExpiration: { NoncurrentDays: 30 }, Status: 'Enabled' },
      { Id: 'abort-incomplete-uploads', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 }, Status: 'Enabled' },
      { Id: 'expire-canary-runs', ExpirationInDays: 365, Status: 'Enabled' },
    ]);
    expect(bucket.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(bucket.DeletionPolicy).toBe('Retain');
  });

  test('the role: exactly the documented canary permissions, each scoped to this canary', () => {
    const roleId = stack.getLogicalId(canary.role.node.defaultChild as never);
    const role = template.toJSON().Resources[roleId];
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
    ]);
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
      (p.Properties.Roles as unknown[]).some((r) => JSON.stringify(r) === JSON.stringify({ Ref: roleId })),
    );
    expect(policies).toHaveLength(1);
    const logGroups = {
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':logs:',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          ':log-group:/aws/lambda/cwsyn-tapstack-dev-smoke-*',
        ],
      ],
    };
    expect(policies[0]?.Properties.PolicyDocument.Statement).toEqual([
      { Action: 's3:PutObject', Effect: 'Allow', Resource: { 'Fn::Join': ['', [arn(ids.artifacts), '/canary/*']] } },
      { Action: 's3:GetBucketLocation', Effect: 'Allow', Resource: arn(ids.artifacts) },
      { Action: 's3:ListAllMyBuckets', Effect: 'Allow', Resource: '*' },
      {
        Action: 'cloudwatch:PutMetricData',
        Condition: { StringEquals: { 'cloudwatch:namespace': 'CloudWatchSynthetics' } },
        Effect: 'Allow',
        Resource: '*',
      },
      { Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Effect: 'Allow', Resource: logGroups },
      { Action: 'secretsmanager:GetSecretValue', Effect: 'Allow', Resource: { Ref: ids.secret } },
      {
        Action: 'kms:Decrypt',
        Condition: { StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } } },
        Effect: 'Allow',
        Resource: arn(ids.dataKey),
      },
      {
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Condition: { StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['s3.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } } },
        Effect: 'Allow',
        Resource: arn(ids.logsKey),
      },
    ]);
    // No permission to create the Lambda log group (see the construct's comment), nor anything else of logs.
    expect(JSON.stringify(template.toJSON())).not.toContain('logs:CreateLogGroup');
  });

  test('the alarm: Critical, SuccessPercent < 100 for 2 periods of 5 min, missing data breaching, to the notice topic and the pager', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 1);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'TapStack-dev-Canary-SmokeFailing-Critical',
      Namespace: 'CloudWatchSynthetics',
      MetricName: 'SuccessPercent',
      Dimensions: [{ Name: 'CanaryName', Value: { Ref: stack.getLogicalId(canary.canary.node.defaultChild as never) } }],
      Statistic: 'Average',
      Period: 300,
      Threshold: 100,
      ComparisonOperator: 'LessThanThreshold',
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      TreatMissingData: 'breaching',
      AlarmActions: [{ Ref: ids.topic }, { Ref: ids.pages }],
      OKActions: [{ Ref: ids.topic }, { Ref: ids.pages }],
      AlarmDescription: Match.stringLikeRegexp('smoke test of https://payments.example.com'),
    });
  });

  test('the bundle is in the layout the Puppeteer runtime loads, and runs the smoke test', () => {
    const [props] = Object.values(template.findResources('AWS::Synthetics::Canary')).map((r) => r.Properties);
    const hash = (props.Code.S3Key as string).replace(/\.zip$/, '');
    // The staged asset (the directory cdk-assets zips and uploads), named by the hash the template refers to.
    const file = path.join((stack.node.root as App).outdir, `asset.${hash}`, 'nodejs', 'node_modules', 'smoke-canary.js');
    expect(fs.existsSync(file)).toBe(true);
    const source = fs.readFileSync(file, 'utf8');
    expect(source).toContain('/health/ready');
    expect(source).toContain('/v1/payments');
    // Self-contained: it loads in a plain node process from the staged directory (outside the repository, so no
    // node_modules of ours can be found) and exports the handler.
    const probe = spawnSync(process.execPath, ['-e', "process.exit(typeof require(process.argv[1]).handler === 'function' ? 0 : 1)", file], {
      cwd: os.tmpdir(),
      encoding: 'utf8',
    });
    expect(probe.stderr).not.toMatch(/Cannot find module/);
    expect(probe.status).toBe(0);
    expect(file.startsWith(path.join(__dirname, '..'))).toBe(false);
  });
});

/** As the app synthesizes: region from config, the account unresolved (`cdk synth`) or bound (`cdk deploy`); and fully agnostic. */
const NAG_ENVS = [
  ['environment-agnostic', undefined],
  ['region only (account unresolved)', { region: 'us-east-1' }],
  ['account-bound', { account: '111111111111', region: 'us-east-1' }],
] as const;

describe.each(NAG_ENVS)('cdk-nag on the canary, %s', (_name, env) => {
  test('no unacknowledged finding in any pack', () => {
    const { stack, canary } = build({}, env);
    const under = canary.node.path + '/';
    for (const pack of compliancePacks()) {
      const findings = pack
        .validateScope(stack)
        .violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`))
        .filter((f) => (f.split(' at ')[1] ?? '').startsWith(under));
      expect(findings).toEqual([]);
    }
  });

  test('every acknowledgement on the canary silences a real finding (none stale)', () => {
    const stale = staleAcknowledgements(() => {
      const fixture = build({}, env);
      (fixture.stack.node.root as App).synth();
      return fixture.canary;
    });
    expect(stale).toEqual([]);
  });
});

describe('PaymentCanary settings', () => {
  test('rate of one minute: `rate(1 minute)`, 60 s periods, a 60 s run limit', () => {
    const { template } = build({ rateMinutes: 1, failedRunsToAlarm: 3 });
    const [props] = Object.values(template.findResources('AWS::Synthetics::Canary')).map((r) => r.Properties);
    expect(props.Schedule.Expression).toBe('rate(1 minute)');
    expect(props.RunConfig.TimeoutInSeconds).toBe(60);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { Period: 60, EvaluationPeriods: 3, DatapointsToAlarm: 3 });
  });

  test('run records are kept at most 455 days (the Synthetics limit); artifacts for the whole retention', () => {
    const { template, ids } = build({ retentionDays: 731 });
    const [props] = Object.values(template.findResources('AWS::Synthetics::Canary')).map((r) => r.Properties);
    expect(props.SuccessRetentionPeriod).toBe(455);
    expect(props.FailureRetentionPeriod).toBe(455);
    expect(template.toJSON().Resources[ids.artifacts].Properties.LifecycleConfiguration.Rules).toContainEqual({
      Id: 'expire-canary-runs',
      ExpirationInDays: 731,
      Status: 'Enabled',
    });
  });

  test('invalid settings fail the synth', () => {
    expect(() => build({ rateMinutes: 0 })).toThrow(/rateMinutes/);
    expect(() => build({ rateMinutes: 61 })).toThrow(/rateMinutes/);
    expect(() => build({ canaryName: 'Has_Upper' })).toThrow(/canaryName/);
  });

  test('canary names fit Synthetics: at most 21 lowercase characters, unique per stack name', () => {
    expect(canaryNameOf('TapStack-dev')).toBe('tapstack-dev-smoke');
    const long = canaryNameOf('TapStack-staging');
    expect(long).toMatch(/^tapstack-stagi-[0-9a-f]{6}$/);
    expect(canaryNameOf('TapStack-production')).not.toBe(canaryNameOf('TapStack-productionX'));
    for (const n of [long, canaryNameOf('A'.repeat(80))]) expect(n).toMatch(/^[0-9a-z_-]{1,21}$/);
  });
});
