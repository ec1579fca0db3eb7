import { RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface EncryptedLogGroupProps {
  /** Key that encrypts the log events (its policy must allow the CloudWatch Logs service principal). */
  readonly key: kms.IKey;
  /** Retention in days, one of CloudWatch's values; validated >= 365 in config. */
  readonly retentionDays: number;
  /** What happens to the group when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
  /**
   * Physical name, needed where another service is configured with it (WAF requires the `aws-waf-logs-` prefix).
   * @default - a generated name
   */
  readonly logGroupName?: string;
}

/** A log group that is always KMS-encrypted and kept at least a year: the only way this app creates log groups. */
export class EncryptedLogGroup extends logs.LogGroup {
  constructor(scope: Construct, id: string, props: EncryptedLogGroupProps) {
    super(scope, id, {
      encryptionKey: props.key,
      retention: props.retentionDays as logs.RetentionDays,
      removalPolicy: props.removalPolicy,
      logGroupName: props.logGroupName,
    });
  }
}
