import { CfnOutput, Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as backup from 'aws-cdk-lib/aws-backup';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { EnvironmentConfig, RECOVERY_NAMES } from '../config';
import { SecureBucket } from '../common/secure-bucket';

export interface RecoveryStackProps extends StackProps {
  /** The validated configuration of the environment this stack recovers. */
  readonly config: EnvironmentConfig;
}

/**
 * The environment's copy of record in its second region (config `recovery.region`): replicas of the two audit-log
 * buckets and the AWS Backup vault that receives the database's copies, all under one customer-managed key of that
 * region. Its names are fixed (lib/config/names.ts), so the main stack points at them without a cross-region reference;
 * it is deployed before the main stack (`cdk deploy TapStack-<env>` deploys it first: the main stack depends on it).
 * Nothing here runs or costs while nothing fails: it holds data, and the runbook rebuilds the rest from the pipeline
 * (docs/runbooks/disaster-recovery.md).
 */
export class RecoveryStack extends Stack {
  public readonly key: kms.Key;
  /** Replica of the CloudTrail bucket (SSE-KMS with the recovery key). */
  public readonly auditLogReplica: s3.Bucket;
  /** Replica of the access-log bucket (ALB and S3 server access logs, SSE-S3 like its source). */
  public readonly accessLogReplica: s3.Bucket;
  /** Receives the replicas' own S3 server access logs. */
  public readonly replicaAccessLogs: s3.Bucket;
  public readonly vault: backup.BackupVault;

  constructor(scope: Construct, id: string, props: RecoveryStackProps) {
    super(scope, id, props);
    const { config } = props;
    const env = config.envName;
    const retention = Duration.days(config.logs.retentionDays);
    const copyOfRecord =
      'This bucket is the copy in the recovery region: a replica of it would be a third copy, which no recovery objective here needs';

    this.key = new kms.Key(this, 'Key', {
      description: `${this.stackName}: audit-log replicas and database backup copies`,
      enableKeyRotation: true,
      pendingWindow: Duration.days(30),
      // Always kept, whatever removal.keys says: the replicas and the vault it encrypts are kept on stack deletion, and
      // without the key they could never be read again.
      removalPolicy: RemovalPolicy.RETAIN,
      alias: RECOVERY_NAMES.keyAlias(env),
    });

    this.replicaAccessLogs = new SecureBucket(this, 'ReplicaAccessLogs', {
      noncurrentVersionExpiration: Duration.days(30),
      notReplicatedBecause: copyOfRecord,
      sseS3Because:
        'Access-log sink of the replicas: S3 server access logs can only be delivered to SSE-S3 buckets (docs/deployments.md, trap 14); it holds no cardholder data',
    });
    this.replicaAccessLogs.addLifecycleRule({ id: 'expire-access-logs', expiration: retention });

    // Both replicas: fixed names (the main stack's replication rules name them), empty until the main stack turns
    // replication on, so a rolled-back first create deletes them and a retry is not blocked by "already exists".
    this.auditLogReplica = new SecureBucket(this, 'AuditLogReplica', {
      bucketName: RECOVERY_NAMES.auditLogReplica(env, this.account, this.region),
      encryptionKey: this.key,
      serverAccessLogsBucket: this.replicaAccessLogs,
      serverAccessLogsPrefix: 'audit-log-replica/',
      noncurrentVersionExpiration: retention,
      notReplicatedBecause: copyOfRecord,
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    });
    this.accessLogReplica = new SecureBucket(this, 'AccessLogReplica', {
      bucketName: RECOVERY_NAMES.accessLogReplica(env, this.account, this.region),
      serverAccessLogsBucket: this.replicaAccessLogs,
      serverAccessLogsPrefix: 'access-log-replica/',
      noncurrentVersionExpiration: Duration.days(30),
      notReplicatedBecause: copyOfRecord,
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
      sseS3Because:
        'Replica of the access-log bucket, whose objects are SSE-S3 (ALB and S3 server access logs cannot be delivered to SSE-KMS); S3 replicates SSE-S3 objects as SSE-S3. It holds no cardholder data',
    });
    // The source expires access logs after the retention; S3 does not replicate lifecycle expirations, so the replica
    // expires them itself, on the same schedule.
    this.accessLogReplica.addLifecycleRule({ id: 'expire-access-logs', expiration: retention });

    // A vault whose recovery points are kept on stack deletion; its name is fixed (the main stack's copy rule names it)
    // and it is empty when its own creation could roll back.
    this.vault = new backup.BackupVault(this, 'BackupVault', {
      backupVaultName: RECOVERY_NAMES.backupVault(env),
      encryptionKey: this.key,
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
      // The vault's access policy denies every principal the deletion of a copy and any change of its lifecycle: a
      // copy leaves when its lifecycle ends. Removing that policy is itself a recorded management event.
      blockRecoveryPointDeletion: true,
    });

    new CfnOutput(this, 'AuditLogReplicaBucket', { value: this.auditLogReplica.bucketName, description: 'Replica of the CloudTrail bucket' });
    new CfnOutput(this, 'AccessLogReplicaBucket', { value: this.accessLogReplica.bucketName, description: 'Replica of the access-log bucket' });
    new CfnOutput(this, 'BackupVaultName', { value: this.vault.backupVaultName, description: 'Vault of the database backup copies' });
  }
}
