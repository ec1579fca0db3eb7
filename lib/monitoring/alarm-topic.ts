import { Stack } from 'aws-cdk-lib';
import * as notifications from 'aws-cdk-lib/aws-codestarnotifications';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { stackAlarmArns } from '../security/keys';

export interface AlarmTopicProps {
  /** Encrypts messages at rest; its policy admits the publishers below (see Keys). */
  readonly key: kms.IKey;
  /** Who is told: every alarm, every deployment event. Validated non-empty in prod. */
  readonly emails: readonly string[];
}

/**
 * A topic whose notification-rule binding adds nothing: CDK's default grants CodeStar Notifications publishing with no
 * condition (on the topic and on the key), where {@link AlarmTopic} already admits it for this account only.
 */
class PublisherScopedTopic extends sns.Topic {
  public bindAsNotificationRuleTarget(): notifications.NotificationRuleTargetConfig {
    return { targetType: 'SNS', targetAddress: this.topicArn };
  }
}

/**
 * The one topic every alarm and deployment notification goes to: KMS-encrypted, TLS-only publishing.
 *
 * `enforceSSL` gives the topic a policy, and a topic policy replaces SNS's default one (which let the account's own
 * services publish): every AWS service that publishes here is therefore admitted by name, each as narrowly as it
 * supports. Identities of this account (the pipeline's approval action) publish through their own IAM grants.
 * https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html
 */
export class AlarmTopic extends Construct {
  public readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: AlarmTopicProps) {
    super(scope, id);
    const { account } = Stack.of(this);
    this.topic = new PublisherScopedTopic(this, 'Topic', { masterKey: props.key, enforceSSL: true, displayName: 'Payment platform alarms' });
    for (const email of props.emails) this.topic.addSubscription(new subscriptions.EmailSubscription(email));

    // CloudWatch alarms of this stack (every alarm name starts with the stack name).
    // https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger
    this.allowPublish('AllowCloudWatchAlarmsOfThisStack', 'cloudwatch.amazonaws.com', {
      StringEquals: { 'aws:SourceAccount': account },
      ArnLike: { 'aws:SourceArn': stackAlarmArns(this) },
    });
    // No EventBridge publisher: no rule of this stack targets the topic, and EventBridge accepts no Condition block in
    // an SNS topic policy, so such a statement would let a rule in any account publish here. Add it together with the
    // first rule, scoped as tightly as EventBridge allows.
    // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions
    // CodeStar Notifications: the pipeline's notification rule (failures, successes, approvals), for this account only.
    // https://docs.aws.amazon.com/dtconsole/latest/userguide/troubleshooting.html#troubleshooting-no-SNS
    this.allowPublish('AllowCodeStarNotificationsOfThisAccount', 'codestar-notifications.amazonaws.com', {
      StringEquals: { 'aws:SourceAccount': account },
    });
  }

  private allowPublish(sid: string, service: string, conditions?: Record<string, Record<string, string>>): void {
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid,
        principals: [new iam.ServicePrincipal(service)],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions,
      }),
    );
  }
}
