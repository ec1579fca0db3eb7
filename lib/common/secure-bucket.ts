import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge, PCI_NIST } from '../compliance/acknowledge';
import { checkovSkip } from '../compliance/checkov';

export interface SecureBucketProps {
  /**
   * Key for SSE-KMS.
   * @default - SSE-S3, for the destinations AWS requires it (ALB access logs, S3 server access logs)
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Where S3 server access logs of this bucket go.
   * @default - none: only for the access-log bucket itself (logging it into itself would loop)
   */
  readonly serverAccessLogsBucket?: s3.IBucket;
  /** Prefix of this bucket's server access logs in the log bucket. */
  readonly serverAccessLogsPrefix?: string;
  /** How long noncurrent object versions are kept. */
  readonly noncurrentVersionExpiration: Duration;
}

/** Versioned, TLS-only (TLS 1.2+), private bucket with owner-enforced objects: every bucket of this app is one. */
export class SecureBucket extends s3.Bucket {
  constructor(scope: Construct, id: string, props: SecureBucketProps) {
    super(scope, id, {
      encryption: props.encryptionKey ? s3.BucketEncryption.KMS : s3.BucketEncryption.S3_MANAGED,
      encryptionKey: props.encryptionKey,
      bucketKeyEnabled: props.encryptionKey ? true : undefined,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: props.serverAccessLogsBucket,
      serverAccessLogsPrefix: props.serverAccessLogsPrefix,
      // Always a plain Retain, whatever the config says: a bucket gets objects as soon as it exists (the ALB's test
      // object, CloudTrail's files, access logs) and S3 deletes no bucket that holds any, so a Delete or a
      // RetainExceptOnCreate would fail the stack's deletion, or turn a rolled-back first create into ROLLBACK_FAILED.
      // Its name is generated, so a kept bucket never blocks a retry (docs/aws-contracts.md).
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        { id: 'expire-noncurrent-versions', noncurrentVersionExpiration: props.noncurrentVersionExpiration },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(7) },
      ],
    });
    acknowledge(
      this,
      PCI_NIST,
      'S3BucketReplicationEnabled',
      'Single-region platform (us-east-1): durability comes from S3, versioning and retention; cross-region replication is a DR decision recorded in docs/pci-dss-controls.md',
    );
    if (!props.encryptionKey) {
      acknowledge(
        this,
        PCI_NIST,
        'S3DefaultEncryptionKMS',
        'Access-log sink: ALB access logs and S3 server access logs can only be delivered to SSE-S3 buckets (docs/deployments.md, trap 14); it holds no cardholder data',
      );
    }
    if (!props.serverAccessLogsBucket) {
      checkovSkip(this, 'CKV_AWS_18', 'This is the access-log sink itself; logging it into itself would loop');
    }
  }
}
