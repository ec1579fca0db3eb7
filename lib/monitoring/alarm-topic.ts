import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

export interface AlarmTopicProps {
  /** Encrypts messages at rest; its policy admits CloudWatch alarms (see Keys). */
  readonly key: kms.IKey;
  /** Who is told: every alarm, every deployment event. Validated non-empty in prod. */
  readonly emails: readonly string[];
}

/** The one topic every alarm and deployment notification goes to: KMS-encrypted, TLS-only publishing. */
export class AlarmTopic extends Construct {
  public readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: AlarmTopicProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Topic', { masterKey: props.key, enforceSSL: true, displayName: 'Payment platform alarms' });
    for (const email of props.emails) this.topic.addSubscription(new subscriptions.EmailSubscription(email));
  }
}
