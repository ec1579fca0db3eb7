import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudtrail from 'aws-cdk-lib/aws-cloudtrail';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeGrantPolicy } from '../compliance/acknowledge';
import { EncryptedLogGroup } from '../shared/encrypted-log-group';
import { SecureBucket } from '../shared/secure-bucket';

export interface AuditTrailProps {
  /** Encrypts the trail's log files and its CloudWatch log group. */
  readonly key: kms.IKey;
  /** Receives the S3 server access logs of the trail bucket. */
  readonly accessLogsBucket: s3.IBucket;
  /** Retention of the CloudWatch copy, in days (>= 365). */
  readonly retentionDays: number;
  /** What happens to the trail bucket and log group when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
}

/**
 * PCI DSS 10.x audit trail: a multi-region CloudTrail of management events with log file validation, encrypted with
 * the logs key, into a dedicated versioned TLS-only bucket that is itself access-logged, and copied to CloudWatch Logs
 * so metric filters and alarms can watch it.
 */
export class AuditTrail extends Construct {
  public readonly trail: cloudtrail.Trail;
  public readonly bucket: s3.Bucket;
  public readonly logGroup: EncryptedLogGroup;

  constructor(scope: Construct, id: string, props: AuditTrailProps) {
    super(scope, id);
    this.bucket = new SecureBucket(this, 'Bucket', {
      encryptionKey: props.key,
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: 'cloudtrail-bucket/',
      noncurrentVersionExpiration: Duration.days(props.retentionDays),
      removalPolicy: props.removalPolicy,
    });
    this.logGroup = new EncryptedLogGroup(this, 'LogGroup', {
      key: props.key,
      retentionDays: props.retentionDays,
      removalPolicy: props.removalPolicy,
    });
    this.trail = new cloudtrail.Trail(this, 'Trail', {
      bucket: this.bucket,
      encryptionKey: props.key,
      enableFileValidation: true,
      includeGlobalServiceEvents: true,
      isMultiRegionTrail: true,
      managementEvents: cloudtrail.ReadWriteType.ALL,
      sendToCloudWatchLogs: true,
      cloudWatchLogGroup: this.logGroup,
    });
    acknowledgeGrantPolicy(this.trail.node.findChild('LogsRole'), 'CloudTrail to CloudWatch Logs delivery role');
  }
}
