import { Duration } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { SecureBucket } from '../common/secure-bucket';

export interface AccessLogsBucketProps {
  /** How long access logs are kept (>= 365 days). */
  readonly retentionDays: number;
  /**
   * Why the logs need no copy in a recovery region, for a stack without one.
   * @default - none: the bucket must be replicated (lib/recovery replicates the environment's)
   */
  readonly notReplicatedBecause?: string;
}

/**
 * The sink for S3 server access logs and ALB access logs. SSE-S3, not KMS: ALB access logs cannot be delivered to a
 * KMS-encrypted bucket and S3 server access logging does not support SSE-KMS targets (docs/deployments.md, trap 14).
 */
export class AccessLogsBucket extends Construct {
  public readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: AccessLogsBucketProps) {
    super(scope, id);
    this.bucket = new SecureBucket(this, 'Bucket', {
      noncurrentVersionExpiration: Duration.days(30),
      notReplicatedBecause: props.notReplicatedBecause,
      sseS3Because:
        'Access-log sink: ALB access logs and S3 server access logs can only be delivered to SSE-S3 buckets (docs/deployments.md, trap 14); it holds no cardholder data',
    });
    this.bucket.addLifecycleRule({ id: 'expire-access-logs', expiration: Duration.days(props.retentionDays) });
  }
}
