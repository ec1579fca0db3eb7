import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { stackAlarmArns } from '../security/keys';

export interface AlarmTopicProps {
  /** Encrypts messages at rest; its policy admits CloudWatch alarms of this stack (see Keys). */
  readonly key: kms.IKey;
  /** Who is told. Validated non-empty in prod. */
  readonly emails: readonly string[];
  /** What the subscribers see as the sender. */
  readonly displayName: string;
}

/**
 * A topic alarms and deployment events go to: KMS-encrypted, TLS-only publishing. Each environment has two
 * (lib/monitoring/topics.ts): the notice topic, told of everything, and the page topic, which pages.
 *
 * `enforceSSL` gives the topic a policy, and a topic policy replaces SNS's default one (which let the account's own
 * services publish): CloudWatch is therefore admitted by name, for this stack's alarms only. Every other publisher is
 * an identity of this account and publishes through its own IAM grant: the pipeline's steps, and the role EventBridge
 * assumes for this stack's rules (lib/monitoring/deployment-events.ts). No EventBridge service principal is admitted:
 * SNS cannot tell whose rule is calling, so such a statement would let a rule in any account publish here.
 * https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html
 */
export class AlarmTopic extends Construct {
  public readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: AlarmTopicProps) {
    super(scope, id);
    const { account } = Stack.of(this);
    this.topic = new sns.Topic(this, 'Topic', { masterKey: props.key, enforceSSL: true, displayName: props.displayName });
    for (const email of props.emails) this.topic.addSubscription(new subscriptions.EmailSubscription(email));

    // CloudWatch alarms of this stack (every alarm name starts with the stack name).
    // https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsOfThisStack',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: { StringEquals: { 'aws:SourceAccount': account }, ArnLike: { 'aws:SourceArn': stackAlarmArns(this) } },
      }),
    );
  }
}
