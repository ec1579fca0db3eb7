import { Aws, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as backup from 'aws-cdk-lib/aws-backup';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { acknowledge, PCI_NIST } from '../compliance/acknowledge';
import { EnvironmentConfig, RECOVERY_NAMES } from '../config';
import { DeploymentEventRule } from '../monitoring/deployment-events';
import { notifyBySeverity, SeverityTopics } from '../monitoring/topics';

/** A bucket to replicate, and the key its objects are encrypted with (none for SSE-S3). */
export interface ReplicatedBucket {
  readonly bucket: s3.Bucket;
  /** The replica's fixed name in the recovery region. */
  readonly replicaName: string;
  /** SSE-KMS source: its key (the replication role decrypts with it), and the replica is encrypted with the recovery key. */
  readonly key?: kms.IKey;
}

export interface DisasterRecoveryProps {
  readonly config: EnvironmentConfig;
  /** The audit-log buckets: the CloudTrail bucket and the access-log bucket. */
  readonly buckets: { readonly auditLogs: s3.Bucket; readonly auditLogsKey: kms.IKey; readonly accessLogs: s3.Bucket };
  /** The database whose snapshots are copied to the recovery region. */
  readonly cluster: rds.DatabaseCluster;
  /** Encrypts this region's backup vault (the database's own key). */
  readonly dataKey: kms.IKey;
  readonly topics: SeverityTopics;
  /**
   * Secrets whose values a rebuilt environment must carry over, replicated to the recovery region under the recovery
   * key: the API key clients hold, and the tokenization key every stored token was computed with.
   */
  readonly replicatedSecrets: readonly secretsmanager.Secret[];
}

/** Minutes within which S3 Replication Time Control replicates 99.99 % of new objects (its SLA; the only value S3 accepts). */
export const REPLICATION_TIME_MINUTES = 15;
/** Hours AWS Backup may take to start a scheduled job before it counts as missed. */
export const BACKUP_START_WINDOW_HOURS = 1;

/**
 * The first hour and step of the backup schedule: every `every` hours, starting at the first hour whose start window
 * overlaps neither the database's automated backup window nor its maintenance window (AWS Backup may delay a job that
 * starts inside them). `windows` are `HH:MM-HH:MM` (a maintenance window's `ddd:` prefix is dropped: any day).
 * Hourly backups cannot avoid them and start at 0.
 */
export function backupStartHour(every: number, windows: readonly string[]): number {
  const DAY = 24 * 60;
  const minutes = (t: string): number => {
    const [h = 0, m = 0] = t
      .replace(/^[a-z]{3}:/, '')
      .split(':')
      .map(Number);
    return h * 60 + m;
  };
  // Each window as [from, to) minutes of the day; one that crosses midnight is also tried a day earlier.
  const busy = windows.flatMap((w): [number, number][] => {
    const [from = 0, to = 0] = w.split('-').map(minutes);
    const end = to <= from ? to + DAY : to;
    return [
      [from, end],
      [from - DAY, end - DAY],
    ];
  });
  const clashes = (hour: number) => busy.some(([from, to]) => hour * 60 < to && from < (hour + BACKUP_START_WINDOW_HOURS) * 60);
  for (let first = 0; first < every; first++) {
    const hours = Array.from({ length: 24 / every }, (_, i) => first + i * every);
    if (!hours.some(clashes)) return first;
  }
  return 0;
}

/**
 * Disaster recovery of one environment, in its main stack: the audit-log buckets replicate to the recovery stack's
 * replicas (S3 Replication Time Control, replica encrypted with the recovery region's key, deletions not replicated),
 * and AWS Backup snapshots the database every `recovery.backupEveryHours` and copies each snapshot to the recovery
 * vault, re-encrypted with that vault's key. Failures notify: a replication failure alarm per bucket, and an
 * EventBridge rule on failed backup and copy jobs. docs/runbooks/disaster-recovery.md has the recovery points and times.
 */
export class DisasterRecovery extends Construct {
  public readonly replicationRole: iam.Role;
  public readonly vault: backup.BackupVault;
  public readonly plan: backup.BackupPlan;
  public readonly selection: backup.BackupSelection;
  /** One per replicated bucket: operations S3 could not replicate. */
  public readonly replicationAlarms: cloudwatch.Alarm[] = [];
  /**
   * A failed backup job and a failed copy job, each told to the notice topic; delivered by the deployment events
   * (lib/monitoring/deployment-events.ts), with their role and failed-delivery alarm.
   */
  public readonly eventRules: DeploymentEventRule[];

  constructor(scope: Construct, id: string, props: DisasterRecoveryProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { config } = props;
    const env = config.envName;
    const recoveryRegion = config.recovery.region;
    const account = Aws.ACCOUNT_ID;

    // --- S3 replication of the audit logs ---
    this.replicationRole = new iam.Role(this, 'ReplicationRole', {
      assumedBy: new iam.ServicePrincipal('s3.amazonaws.com'),
      description: `${stack.stackName}: S3 replicates the audit-log buckets to ${recoveryRegion}`,
    });
    const replicated: ReplicatedBucket[] = [
      { bucket: props.buckets.auditLogs, key: props.buckets.auditLogsKey, replicaName: RECOVERY_NAMES.auditLogReplica(env, account, recoveryRegion) },
      { bucket: props.buckets.accessLogs, replicaName: RECOVERY_NAMES.accessLogReplica(env, account, recoveryRegion) },
    ];
    // https://docs.aws.amazon.com/AmazonS3/latest/userguide/setting-repl-config-perm-overview.html
    const policy = new iam.Policy(this, 'ReplicationPolicy', { roles: [this.replicationRole] });
    for (const r of replicated) {
      const replicaArn = `arn:${Aws.PARTITION}:s3:::${r.replicaName}`;
      policy.addStatements(
        new iam.PolicyStatement({ actions: ['s3:GetReplicationConfiguration', 's3:ListBucket'], resources: [r.bucket.bucketArn] }),
        new iam.PolicyStatement({
          actions: ['s3:GetObjectVersionForReplication', 's3:GetObjectVersionAcl', 's3:GetObjectVersionTagging'],
          resources: [r.bucket.arnForObjects('*')],
        }),
        // ReplicateObject and ReplicateTags only: deletions and delete markers are never replicated, so deleting a log
        // in the source leaves its replica (PCI DSS 10.3.3: audit logs promptly backed up to a store hard to alter).
        new iam.PolicyStatement({ actions: ['s3:ReplicateObject', 's3:ReplicateTags'], resources: [`${replicaArn}/*`] }),
      );
      const cfn = r.bucket.node.defaultChild as s3.CfnBucket;
      cfn.replicationConfiguration = {
        role: this.replicationRole.roleArn,
        rules: [
          {
            id: 'to-recovery-region',
            status: 'Enabled',
            priority: 0,
            filter: { prefix: '' },
            deleteMarkerReplication: { status: 'Disabled' },
            sourceSelectionCriteria: r.key ? { sseKmsEncryptedObjects: { status: 'Enabled' } } : undefined,
            destination: {
              bucket: replicaArn,
              // The alias ARN: the key's id is generated in the other region. S3 resolves it in this account.
              encryptionConfiguration: r.key
                ? { replicaKmsKeyId: `arn:${Aws.PARTITION}:kms:${recoveryRegion}:${account}:${RECOVERY_NAMES.keyAlias(env)}` }
                : undefined,
              replicationTime: { status: 'Enabled', time: { minutes: REPLICATION_TIME_MINUTES } },
              metrics: { status: 'Enabled', eventThreshold: { minutes: REPLICATION_TIME_MINUTES } },
            },
          },
        ],
      };
      // Replication needs versioning on the source, which every SecureBucket has; S3 refuses the configuration otherwise.
      if (r.key) {
        // With S3 Bucket Keys the encryption context is the bucket's ARN, without them the object's: both are allowed.
        policy.addStatements(
          new iam.PolicyStatement({
            actions: ['kms:Decrypt'],
            resources: [r.key.keyArn],
            conditions: {
              StringEquals: { 'kms:ViaService': `s3.${stack.region}.amazonaws.com` },
              StringLike: { 'kms:EncryptionContext:aws:s3:arn': [r.bucket.bucketArn, r.bucket.arnForObjects('*')] },
            },
          }),
          new iam.PolicyStatement({
            actions: ['kms:Encrypt', 'kms:GenerateDataKey'],
            resources: [`arn:${Aws.PARTITION}:kms:${recoveryRegion}:${account}:key/*`],
            conditions: {
              StringEquals: { 'kms:ViaService': `s3.${recoveryRegion}.amazonaws.com` },
              StringLike: { 'kms:EncryptionContext:aws:s3:arn': [replicaArn, `${replicaArn}/*`] },
            },
          }),
        );
      }
      const logical = r.bucket === props.buckets.auditLogs ? 'AuditLogs' : 'AccessLogs';
      const alarm = new cloudwatch.Alarm(this, `${logical}ReplicationFailed`, {
        alarmName: `${stack.stackName}-Recovery-${logical}ReplicationFailed-Warning`,
        alarmDescription: `Objects of the ${logical === 'AuditLogs' ? 'CloudTrail' : 'access-log'} bucket that S3 could not replicate to ${recoveryRegion}. Runbook: docs/runbooks/disaster-recovery.md#replication-or-backup-copy-failed`,
        metric: new cloudwatch.Metric({
          namespace: 'AWS/S3',
          metricName: 'OperationsFailedReplication',
          dimensionsMap: { SourceBucket: r.bucket.bucketName, DestinationBucket: r.replicaName, RuleId: 'to-recovery-region' },
          statistic: 'Sum',
          period: Duration.minutes(5),
        }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      notifyBySeverity(alarm, 'Warning', props.topics);
      this.replicationAlarms.push(alarm);
    }
    acknowledge(
      policy,
      ['AwsSolutions'],
      `IAM5[Resource::arn:<AWS::Partition>:kms:${recoveryRegion}:<AWS::AccountId>:key/*]`,
      `kms:Encrypt and kms:GenerateDataKey on the keys of ${recoveryRegion}: the recovery key's id is generated there and no cross-region reference carries it here; only through S3 in that region and only for the audit-log replica (kms:ViaService, kms:EncryptionContext:aws:s3:arn)`,
    );
    for (const r of replicated) {
      acknowledge(
        policy,
        ['AwsSolutions'],
        `IAM5[Resource::<${stack.getLogicalId(r.bucket.node.defaultChild as s3.CfnBucket)}.Arn>/*]`,
        's3:GetObjectVersionForReplication, s3:GetObjectVersionAcl and s3:GetObjectVersionTagging on the objects of this one bucket: S3 replication reads every object version of the bucket it replicates',
      );
      acknowledge(
        policy,
        ['AwsSolutions'],
        `IAM5[Resource::arn:<AWS::Partition>:s3:::${r.replicaName.replace(account, '<AWS::AccountId>')}/*]`,
        's3:ReplicateObject and s3:ReplicateTags on the objects of this one replica: S3 replication writes every object of the source into it',
      );
    }
    acknowledge(
      policy,
      PCI_NIST,
      'IAMNoInlinePolicy',
      'S3 replication role: the statements S3 documents for replicating two named buckets, for this role alone',
    );

    // --- The secrets a rebuilt environment carries over ---
    // Secrets Manager keeps a read-only replica in the recovery region, encrypted with the recovery key (an alias is
    // resolved in the replica's region), and replicates every new version, so a rotation reaches it too.
    // https://docs.aws.amazon.com/secretsmanager/latest/userguide/create-manage-multi-region-secrets.html
    for (const secret of props.replicatedSecrets) {
      (secret.node.defaultChild as secretsmanager.CfnSecret).replicaRegions = [{ region: recoveryRegion, kmsKeyId: RECOVERY_NAMES.keyAlias(env) }];
    }

    // --- AWS Backup of the database, copied to the recovery region ---
    this.vault = new backup.BackupVault(this, 'BackupVault', {
      encryptionKey: props.dataKey,
      // Kept on stack deletion with its recovery points (AWS Backup deletes no vault that holds any); its name is
      // generated, so a kept vault never blocks a retry.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const every = config.recovery.backupEveryHours;
    const first = backupStartHour(every, [config.database.backupWindow, config.database.maintenanceWindow]);
    this.plan = new backup.BackupPlan(this, 'BackupPlan', { backupVault: this.vault });
    this.plan.addRule(
      new backup.BackupPlanRule({
        ruleName: 'database-to-recovery-region',
        scheduleExpression: events.Schedule.cron({ minute: '0', hour: every === 24 ? String(first) : `${first}/${every}` }),
        startWindow: Duration.hours(BACKUP_START_WINDOW_HOURS),
        completionWindow: Duration.hours(Math.max(2, Math.min(every, 8))),
        deleteAfter: Duration.days(config.recovery.backupRetentionDays),
        copyActions: [
          {
            destinationBackupVault: backup.BackupVault.fromBackupVaultArn(
              this,
              'RecoveryVault',
              `arn:${Aws.PARTITION}:backup:${recoveryRegion}:${account}:backup-vault:${RECOVERY_NAMES.backupVault(env)}`,
            ),
            deleteAfter: Duration.days(config.recovery.copyRetentionDays),
          },
        ],
      }),
    );
    this.selection = this.plan.addSelection('Database', { resources: [backup.BackupResource.fromRdsDatabaseCluster(props.cluster)] });
    acknowledge(
      this.selection.node.findChild('Role'),
      ['AwsSolutions'],
      'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]',
      "AWS Backup's own service-role policy: AWS keeps it current with what each resource type's backup and cross-region copy needs (snapshots, KMS grants for AWS resources). It allows those actions on every resource type AWS Backup supports; the role is assumed only by AWS Backup, for this plan's selection, which names the one cluster",
    );

    // A failed, aborted or expired backup job, or a failed copy: the recovery point in the second region is older than
    // the runbook promises until the next one succeeds. Backup job events name the vault, copy job events its ARN.
    // https://docs.aws.amazon.com/aws-backup/latest/devguide/eventbridge.html
    const runbook = 'Runbook: docs/runbooks/disaster-recovery.md#replication-or-backup-copy-failed';
    const field = (path: string) => events.EventField.fromPath(path);
    const failure = (what: string) =>
      events.RuleTargetInput.fromText(
        `[${env}] ${what} ${field('$.detail.state')} at ${field('$.time')}: ${field('$.detail.statusMessage')}. The database's copy in ${recoveryRegion} is older than planned until the next one succeeds. ${runbook}`,
      );
    this.eventRules = [
      {
        id: 'BackupJobFailed',
        pattern: {
          source: ['aws.backup'],
          detailType: ['Backup Job State Change'],
          detail: { backupVaultName: [this.vault.backupVaultName], state: ['FAILED', 'ABORTED', 'EXPIRED'] },
        },
        message: failure('database snapshot'),
        topics: [props.topics.notice],
      },
      {
        id: 'CopyJobFailed',
        pattern: {
          source: ['aws.backup'],
          detailType: ['Copy Job State Change'],
          detail: { sourceBackupVaultArn: [this.vault.backupVaultArn], state: ['FAILED', 'PARTIAL'] },
        },
        message: failure(`copy of the database snapshot to ${recoveryRegion}`),
        topics: [props.topics.notice],
      },
    ];
  }
}
