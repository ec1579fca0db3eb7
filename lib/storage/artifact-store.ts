import { Duration } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { SecureBucket } from '../common/secure-bucket';

export interface ArtifactStoreProps {
  /** Key that encrypts every object. */
  readonly key: kms.IKey;
  /** Receives this bucket's S3 server access logs. */
  readonly accessLogsBucket: s3.IBucket;
  /**
   * How long superseded versions of build artifacts are kept.
   * @default - 90 days
   */
  readonly noncurrentRetention?: Duration;
}

/** Encrypted, versioned, TLS-only, access-logged bucket for pipeline artifacts (sources, SBOMs, scan reports). */
export class ArtifactStore extends Construct {
  /** The bucket the pipeline writes to. */
  public readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: ArtifactStoreProps) {
    super(scope, id);
    this.bucket = new SecureBucket(this, 'Bucket', {
      encryptionKey: props.key,
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: 'artifact-bucket/',
      notReplicatedBecause:
        'Pipeline artifacts (sources, build outputs, scan reports, SBOMs) are rebuilt by re-running the pipeline on the commit; reads and writes of them are recorded by the trail, whose bucket is replicated to the recovery region',
      noncurrentVersionExpiration: props.noncurrentRetention ?? Duration.days(90),
    });
  }
}
