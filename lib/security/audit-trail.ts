import { Duration, Lazy, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudtrail from 'aws-cdk-lib/aws-cloudtrail';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeGrantPolicy } from '../compliance/acknowledge';
import { EncryptedLogGroup } from '../common/encrypted-log-group';
import { SecureBucket } from '../common/secure-bucket';

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
 *
 * Object-level access (PCI DSS 10.2.1) is recorded as S3 data events, read and write, for the buckets handed to
 * {@link auditObjectAccess} only (the trail's own bucket from the start), through advanced event selectors so the
 * trail pays for those buckets' objects and nothing else. A trail takes either advanced or basic event selectors,
 * never both, so `trail.addS3EventSelector()` must not be used on it (validated at synth).
 */
export class AuditTrail extends Construct {
  public readonly trail: cloudtrail.Trail;
  public readonly bucket: s3.Bucket;
  public readonly logGroup: EncryptedLogGroup;
  private readonly objectAccessBuckets: s3.IBucket[] = [];

  constructor(scope: Construct, id: string, props: AuditTrailProps) {
    super(scope, id);
    this.bucket = new SecureBucket(this, 'Bucket', {
      encryptionKey: props.key,
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: 'cloudtrail-bucket/',
      noncurrentVersionExpiration: Duration.days(props.retentionDays),
    });
    this.logGroup = new EncryptedLogGroup(this, 'LogGroup', {
      key: props.key,
      retentionDays: props.retentionDays,
      removalPolicy: props.removalPolicy,
    });
    // No `managementEvents` here: that would write a basic event selector. Management events are the first advanced one.
    this.trail = new cloudtrail.Trail(this, 'Trail', {
      bucket: this.bucket,
      encryptionKey: props.key,
      enableFileValidation: true,
      includeGlobalServiceEvents: true,
      isMultiRegionTrail: true,
      sendToCloudWatchLogs: true,
      cloudWatchLogGroup: this.logGroup,
    });
    const cfnTrail = this.trail.node.defaultChild as cloudtrail.CfnTrail;
    cfnTrail.addPropertyDeletionOverride('EventSelectors');
    cfnTrail.advancedEventSelectors = Lazy.any({ produce: () => this.advancedEventSelectors() });
    this.node.addValidation({
      validate: () =>
        cfnTrail.eventSelectors && (cfnTrail.eventSelectors as unknown[]).length > 0
          ? ['AuditTrail: basic event selectors were added to a trail with advanced ones (CloudTrail accepts only one kind); use auditObjectAccess()']
          : [],
    });
    acknowledgeGrantPolicy(this.trail.node.findChild('LogsRole'), 'CloudTrail to CloudWatch Logs delivery role');

    // Who read, changed or deleted an audit log file is itself audit evidence (PCI DSS 10.2.1.3). Recording data events
    // on the bucket the trail delivers to also records CloudTrail's own deliveries (one PutObject per log file).
    this.auditObjectAccess(this.bucket);
  }

  /**
   * Records every read and write of the bucket's objects (S3 data events) in this trail. For the buckets that hold
   * evidence or what is deployed from: pipeline artifacts with their SBOMs and scan reports, and the audit logs.
   */
  public auditObjectAccess(bucket: s3.IBucket): void {
    if (!this.objectAccessBuckets.includes(bucket)) this.objectAccessBuckets.push(bucket);
  }

  /**
   * Management events, read and write, of every service; and the S3 object events of the audited buckets.
   * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-cloudtrail-trail-advancedeventselector.html
   */
  private advancedEventSelectors(): cloudtrail.CfnTrail.AdvancedEventSelectorProperty[] {
    return [
      { name: 'Management events', fieldSelectors: [{ field: 'eventCategory', equalTo: ['Management'] }] },
      {
        name: 'Object access of audited buckets',
        fieldSelectors: [
          { field: 'eventCategory', equalTo: ['Data'] },
          { field: 'resources.type', equalTo: ['AWS::S3::Object'] },
          { field: 'resources.ARN', startsWith: this.objectAccessBuckets.map((b) => `${b.bucketArn}/`) },
        ],
      },
    ];
  }
}
