import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct, IConstruct } from 'constructs';

export interface KeysProps {
  /** What happens to the keys when the stack is deleted (scheduled deletion after 30 days when destroyed). */
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The ARN pattern of every CloudWatch alarm of this stack: `arn:aws:cloudwatch:<region>:<account>:alarm:<stack name>-*`.
 * Every alarm name starts with the stack name (the monitoring facade's prefix, the deployment alarms' names), so the
 * alarm topic and the data key admit exactly this stack's alarms (`aws:SourceArn`).
 */
export function stackAlarmArns(scope: IConstruct): string {
  const stack = Stack.of(scope);
  return stack.formatArn({
    service: 'cloudwatch',
    resource: 'alarm',
    resourceName: `${stack.stackName}-*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/**
 * One customer-managed key per purpose, each rotating yearly, so a key policy names only the services of that purpose:
 * - data: secrets, container images, the alarm topic (and the services that publish to it);
 * - logs: every CloudWatch log group and the CloudTrail trail;
 * - artifacts: the pipeline's artifact bucket and build outputs.
 */
export class Keys extends Construct {
  public readonly data: kms.Key;
  public readonly logs: kms.Key;
  public readonly artifacts: kms.Key;

  constructor(scope: Construct, id: string, props: KeysProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const common = { enableKeyRotation: true, pendingWindow: Duration.days(30), removalPolicy: props.removalPolicy };

    this.data = new kms.Key(this, 'DataKey', { ...common, description: `${stack.stackName}: secrets, images and notifications` });
    this.logs = new kms.Key(this, 'LogsKey', { ...common, description: `${stack.stackName}: CloudWatch Logs and CloudTrail` });
    this.artifacts = new kms.Key(this, 'ArtifactsKey', { ...common, description: `${stack.stackName}: pipeline artifacts` });

    // The services that publish to the KMS-encrypted alarm topic need the key (SNS encrypts each message for them):
    // https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
    // CloudWatch alarms of this stack only: CloudWatch passes aws:SourceAccount and aws:SourceArn (the alarm).
    // https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-and-encryption
    this.data.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account }, ArnLike: { 'aws:SourceArn': stackAlarmArns(this) } },
      }),
    );
    // Every other publisher of the topics (the pipeline's steps, EventBridge's publisher role) is an identity of this
    // account, allowed the key by its own IAM grant (lib/monitoring/alarm-topic.ts).
    // CloudWatch Logs encrypts with the key only for log groups of this account and region.
    // https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
    this.logs.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchLogsOfThisAccount',
        principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${stack.partition}:logs:${stack.region}:${stack.account}:log-group:*` } },
      }),
    );
    // CloudTrail encrypts log files for trails of this account only.
    // https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html
    this.logs.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudTrailOfThisAccount',
        principals: [new iam.ServicePrincipal('cloudtrail.amazonaws.com')],
        actions: ['kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          StringLike: { 'kms:EncryptionContext:aws:cloudtrail:arn': `arn:${stack.partition}:cloudtrail:*:${stack.account}:trail/*` },
        },
      }),
    );
    this.logs.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudTrailDescribeKey',
        principals: [new iam.ServicePrincipal('cloudtrail.amazonaws.com')],
        actions: ['kms:DescribeKey'],
        resources: ['*'],
      }),
    );
  }
}
