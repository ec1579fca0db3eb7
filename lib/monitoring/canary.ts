import { ArnFormat, Duration, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cxapi from 'aws-cdk-lib/cx-api';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as synthetics from 'aws-cdk-lib/aws-synthetics';
import { Construct } from 'constructs';
import { buildSync } from 'esbuild';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { acknowledge, acknowledgeGrantPolicy, arnToken, nagAccount } from '../compliance/acknowledge';
import { SecureBucket } from '../common/secure-bucket';
import { notifyBySeverity, SEVERITY, SeverityTopics } from './topics';

/** Source of the canary: tested on its own in test/tools/canary*.test.ts against a real HTTP server. */
export const CANARY_ENTRY = path.join(__dirname, '..', '..', 'tools', 'canary', 'canary.ts');
/** File (under nodejs/node_modules/, where every Puppeteer runtime looks) and export of the bundled canary. */
export const CANARY_HANDLER = 'smoke-canary.handler';
/**
 * Node.js 22 (Lambda deprecation April 2027), in aws-cdk-lib 2.276's enum and not deprecated. The script needs no
 * browser (it calls the API with Node's global fetch); the browser-less `syn-nodejs-*` runtimes of the enum run on
 * Node.js 20, deprecated by Lambda since April 2026. (docs/aws-contracts.md, "Operations").
 */
export const CANARY_RUNTIME = synthetics.Runtime.SYNTHETICS_NODEJS_PUPPETEER_13_0;
/** Key prefix of the run artifacts in the bucket. */
export const ARTIFACTS_PREFIX = 'canary';
/** Longest run: the secret read and four calls of SMOKE_TIMEOUT_MS (10 s) each, with room for a cold start. */
const MAX_RUN_SECONDS = 60;
/** Synthetics keeps run records at most 455 days. */
const MAX_RUN_RETENTION_DAYS = 455;

export interface PaymentCanaryProps {
  /** The environment's public URL, e.g. `https://payments.example.com` (what customers call). */
  readonly baseUrl: string;
  /** The service's API key secret (JSON `{"current","previous"}` or a plain key); read at every run. */
  readonly apiKey: secretsmanager.ISecret;
  /** The key the API key secret is encrypted with (the canary may decrypt with it through Secrets Manager only). */
  readonly dataKey: kms.IKey;
  /** Encrypts the run artifacts (the canary's log file and step report): the key of this app's logs. */
  readonly logsKey: kms.IKey;
  /** How long run artifacts and run records are kept, in days (config's log retention, >= 365). */
  readonly retentionDays: number;
  /** Where the artifact bucket's S3 server access logs go. */
  readonly accessLogsBucket: s3.IBucket;
  /** Minutes between runs, 1 to 60. */
  readonly rateMinutes: number;
  /** The alarm is Critical: its ALARM and OK go to the notice topic and page (notifyBySeverity). */
  readonly topics: SeverityTopics;
  /** The stack name: the alarm is `<alarmNamePrefix>-Canary-SmokeFailing-Critical` (the topics admit `<stack name>-*` only). */
  readonly alarmNamePrefix: string;
  /**
   * Consecutive failed (or missing) runs, one per period of `rateMinutes`, before the alarm fires.
   * @default 2
   */
  readonly failedRunsToAlarm?: number;
  /**
   * Canary name (lowercase letters, digits, `-`, `_`; at most 21 characters; unique in the account and region).
   * @default - `<stack name>-smoke`, lowercased, shortened with a hash when longer than 21 characters
   */
  readonly canaryName?: string;
}

/** A pseudo parameter as cdk-nag prints it in a finding: `<AWS::Region>` when unresolved, else the value itself. */
function nagToken(value: string, pseudo: string): string {
  return Token.isUnresolved(value) ? `<${pseudo}>` : value;
}

/** The canary's default name, from the stack name: `<stack>-smoke`, or `<first 14>-<hash of 6>` when that is too long. */
export function canaryNameOf(stackName: string): string {
  const base = stackName.toLowerCase().replace(/[^0-9a-z_-]/g, '-');
  const name = `${base}-smoke`;
  if (name.length <= 21) return name;
  return `${base.slice(0, 14)}-${createHash('sha256').update(name).digest('hex').slice(0, 6)}`;
}

/**
 * Bundles tools/canary/canary.ts (with tools/smoke and the AWS SDK client it uses) into `<dir>/nodejs/node_modules/smoke-canary.js`
 * with esbuild, locally: `cdk synth` needs no Docker. Done at construction, into a fresh temporary directory, so the
 * asset exists whatever stacks a command selects (CDK would skip its own bundling for unselected stacks, and the
 * canary checks the handler file at synth). The asset hash is the output's.
 */
export function bundleCanary(outDir: string = fs.mkdtempSync(path.join(os.tmpdir(), 'tap-canary-'))): string {
  const target = path.join(outDir, 'nodejs', 'node_modules', `${CANARY_HANDLER.split('.')[0]}.js`);
  buildSync({
    entryPoints: [CANARY_ENTRY],
    outfile: target,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  return outDir;
}

/**
 * A CloudWatch Synthetics canary that runs the pipeline's smoke test (liveness, readiness, a test-card payment and
 * reading it back) against the environment's public URL every `rateMinutes`, and an alarm on its SuccessPercent.
 *
 * - Outside any VPC: it tests the public URL from the internet, as a customer does (Synthetics' default).
 * - Artifacts (the run's log file and step report) in a SecureBucket encrypted with the logs key (SSE-KMS), expiring
 *   after `retentionDays`.
 * - Its own role: objects under `canary/` in that bucket, PutMetricData in CloudWatchSynthetics only, the one API key
 *   secret (and the data key through Secrets Manager only), the logs key through S3 only, and the log streams of its
 *   own Lambda log group.
 * - The Lambda log group: Synthetics names it `/aws/lambda/cwsyn-<canary name>-<id chosen by Synthetics>`, which no
 *   template can know, so it cannot be created here with the logs key and a retention. The role is therefore NOT
 *   allowed logs:CreateLogGroup: no unencrypted, never-expiring log group comes into existence; the run's log goes to
 *   the encrypted, expiring artifact bucket. Whoever creates that group (with the logs key and retention) gets the
 *   logs there too, with no change to the role. (docs/aws-contracts.md, "Operations").
 */
export class PaymentCanary extends Construct {
  public readonly canary: synthetics.Canary;
  public readonly role: iam.Role;
  public readonly artifactsBucket: SecureBucket;
  public readonly alarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: PaymentCanaryProps) {
    super(scope, id);
    const stack = Stack.of(this);
    if (!Number.isInteger(props.rateMinutes) || props.rateMinutes < 1 || props.rateMinutes > 60) {
      throw new Error(`PaymentCanary: rateMinutes must be an integer from 1 to 60, got ${props.rateMinutes}`);
    }
    if (!Number.isInteger(props.retentionDays) || props.retentionDays < 1) {
      throw new Error(`PaymentCanary: retentionDays must be a positive integer, got ${props.retentionDays}`);
    }
    const failedRunsToAlarm = props.failedRunsToAlarm ?? 2;
    if (!Number.isInteger(failedRunsToAlarm) || failedRunsToAlarm < 1) {
      throw new Error(`PaymentCanary: failedRunsToAlarm must be a positive integer, got ${failedRunsToAlarm}`);
    }
    if (Token.isUnresolved(stack.stackName) && props.canaryName === undefined)
      throw new Error('PaymentCanary: pass canaryName when the stack name is a token');
    const canaryName = props.canaryName ?? canaryNameOf(stack.stackName);
    if (!/^[0-9a-z_-]{1,21}$/.test(canaryName)) {
      throw new Error(`PaymentCanary: canaryName must be 1-21 lowercase letters, digits, "-" or "_", got ${JSON.stringify(canaryName)}`);
    }

    this.artifactsBucket = new SecureBucket(this, 'Artifacts', {
      encryptionKey: props.logsKey,
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: 'canary-artifacts/',
      noncurrentVersionExpiration: Duration.days(30),
      notReplicatedBecause:
        "Screenshots and logs of the synthetic check's runs: operational diagnostics, not audit evidence; each run's pass or fail is in CloudWatch metrics and alarms",
    });
    this.artifactsBucket.addLifecycleRule({ id: 'expire-canary-runs', expiration: Duration.days(props.retentionDays) });

    // The permissions Synthetics documents for a canary, each scoped to this canary:
    // https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Synthetics_Canaries_CanaryPermissions.html
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Synthetics canary ${canaryName}: smoke test of the public URL`,
    });
    const statements = [
      new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [this.artifactsBucket.arnForObjects(`${ARTIFACTS_PREFIX}/*`)] }),
      new iam.PolicyStatement({ actions: ['s3:GetBucketLocation'], resources: [this.artifactsBucket.bucketArn] }),
      new iam.PolicyStatement({ actions: ['s3:ListAllMyBuckets'], resources: ['*'] }),
      new iam.PolicyStatement({
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': 'CloudWatchSynthetics' } },
      }),
      new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [this.logGroupArns(canaryName)] }),
      new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [props.apiKey.secretArn] }),
      new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [props.dataKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${stack.region}.amazonaws.com` } },
      }),
      // SSE-KMS artifacts: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Synthetics_artifact_encryption.html
      new iam.PolicyStatement({
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [props.logsKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${stack.region}.amazonaws.com` } },
      }),
    ];
    for (const statement of statements) this.role.addToPolicy(statement);

    const bundle = bundleCanary();
    this.canary = new synthetics.Canary(this, 'Canary', {
      canaryName,
      runtime: CANARY_RUNTIME,
      test: synthetics.Test.custom({ code: synthetics.Code.fromAsset(bundle), handler: CANARY_HANDLER }),
      schedule: synthetics.Schedule.rate(Duration.minutes(props.rateMinutes)),
      role: this.role,
      artifactsBucketLocation: { bucket: this.artifactsBucket, prefix: ARTIFACTS_PREFIX },
      environmentVariables: { BASE_URL: props.baseUrl, API_KEY_SECRET_ARN: props.apiKey.secretArn, SMOKE_TIMEOUT_MS: '10000' },
      // No environmentEncryption (the canary's KmsKeyArn): the variables hold no secret (the URL and the secret's ARN;
      // the key itself is read at run time), and which principal must be allowed to decrypt them with a customer key
      // is not documented for Synthetics; a guess wrong there fails every run. AWS encrypts them at rest with its key.
      timeout: Duration.seconds(Math.min(MAX_RUN_SECONDS, props.rateMinutes * 60)),
      successRetentionPeriod: Duration.days(Math.min(props.retentionDays, MAX_RUN_RETENTION_DAYS)),
      failureRetentionPeriod: Duration.days(Math.min(props.retentionDays, MAX_RUN_RETENTION_DAYS)),
      // Deleting the canary deletes the Lambda function and layers Synthetics created for it.
      provisionedResourceCleanup: true,
      startAfterCreation: true,
    });
    // The canary has copied the bundle into the cloud assembly (asset.<hash>); the temporary build is not needed,
    // unless staging is off (SAM local), where the assembly points at it.
    if (!this.node.tryGetContext(cxapi.DISABLE_ASSET_STAGING_CONTEXT)) fs.rmSync(bundle, { recursive: true, force: true });
    // SSE-KMS with the logs key, set on the resource: the L2's artifactS3KmsKey would also grant kms:Encrypt and
    // kms:ReEncrypt*, which the canary does not need (the statement above grants what Synthetics documents).
    (this.canary.node.defaultChild as synthetics.CfnCanary).artifactConfig = {
      s3Encryption: { encryptionMode: synthetics.ArtifactsEncryptionMode.KMS, kmsKeyArn: props.logsKey.keyArn },
    };

    // Every run publishes SuccessPercent (0 or 100); a period without a run publishes nothing. Missing data is
    // breaching: a canary that stops running (stopped, crashed before publishing, its runtime retired) must page
    // like one that fails, or the service would go unwatched in silence.
    this.alarm = new cloudwatch.Alarm(this, 'FailingAlarm', {
      alarmName: `${props.alarmNamePrefix}-Canary-SmokeFailing-${SEVERITY.critical}`,
      alarmDescription:
        `The scheduled smoke test of ${props.baseUrl} (Synthetics canary ${canaryName}) failed or did not run ${failedRunsToAlarm} period(s) of ` +
        `${props.rateMinutes} min in a row. The failing step is in the canary's run report (artifact bucket, smoke-steps.txt).`,
      metric: this.canary.metricSuccessPercent({ period: Duration.minutes(props.rateMinutes), statistic: 'Average' }),
      threshold: 100,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: failedRunsToAlarm,
      datapointsToAlarm: failedRunsToAlarm,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    // Production does not answer from outside: customers see it before any other alarm.
    notifyBySeverity(this.alarm, SEVERITY.critical, props.topics);

    acknowledgeGrantPolicy(this.role, 'Synthetics canary role: its artifacts, its metrics namespace, its log streams, one secret');
    const wildcard = (resource: string, reason: string) => acknowledge(this.role, ['AwsSolutions'], `IAM5[Resource::${resource}]`, reason);
    wildcard(
      '*',
      's3:ListAllMyBuckets (required by Synthetics), which AWS authorizes on no resource type; cloudwatch:PutMetricData, whose only resource type is ' +
        'an optional CloudWatch dataset that the canary never names, bound to the CloudWatchSynthetics namespace by condition',
    );
    wildcard(
      `${arnToken(this.artifactsBucket)}/${ARTIFACTS_PREFIX}/*`,
      's3:PutObject of run artifacts, whose keys Synthetics generates, under one prefix of this canary’s own bucket',
    );
    wildcard(
      `arn:${nagToken(stack.partition, 'AWS::Partition')}:logs:${nagToken(stack.region, 'AWS::Region')}:${nagAccount(this)}:log-group:/aws/lambda/cwsyn-${canaryName}-*`,
      'logs:CreateLogStream and logs:PutLogEvents on the streams of this canary’s Lambda log group, whose name ends in an id Synthetics chooses at creation',
    );
  }

  private logGroupArns(canaryName: string): string {
    return Stack.of(this).formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: `/aws/lambda/cwsyn-${canaryName}-*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }
}
