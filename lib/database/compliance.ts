import * as rds from 'aws-cdk-lib/aws-rds';
import { acknowledge } from '../compliance/acknowledge';
import { checkovSkip } from '../compliance/checkov';
import { EnvironmentConfig } from '../config';
import { PaymentsDatabase } from './database';

/** The database's acknowledged findings, each on the construct it concerns, each only where it exists. */
export function acknowledgeDatabase(db: PaymentsDatabase, config: EnvironmentConfig['database'], appLoginPending: boolean): void {
  if (appLoginPending) {
    const pending =
      'Only while the app login does not exist yet (first deploy, or the deploy that adds the database): the first migration creates it, and the infrastructure deploy that follows adds this rotation schedule (docs/runbooks/first-deploy.md, step 10)';
    acknowledge(db.appUserSecret, ['NIST.800.53.R5'], 'SecretsManagerRotationEnabled', pending);
    acknowledge(db.appUserSecret, ['AwsSolutions'], 'SMG4', pending);
  }
  const noIamAuth =
    'IAM database authentication is not used by design: logins are passwords held in Secrets Manager, encrypted with the data key and rotated on a schedule by alternating users, which the service re-reads when PostgreSQL refuses one (docs/configuration.md, "Database")';
  acknowledge(db.cluster, ['AwsSolutions'], 'RDS6', noIamAuth);
  checkovSkip(db.cluster, 'CKV_AWS_162', noIamAuth);
  const noEnhancedMonitoring =
    'CloudWatch metrics of Aurora Serverless v2 (capacity, CPU, memory, connections) cover what is watched; Enhanced Monitoring would write OS metrics to the account-wide RDSOSMetrics log group, which RDS creates outside this stack without its KMS key or retention';
  acknowledge(db.cluster, ['NIST.800.53.R5'], 'RDSEnhancedMonitoringEnabled', noEnhancedMonitoring);
  for (const instance of db.cluster.node.findAll().filter((c): c is rds.CfnDBInstance => c instanceof rds.CfnDBInstance)) {
    checkovSkip(instance, 'CKV_AWS_118', noEnhancedMonitoring);
  }
  acknowledge(
    db.cluster,
    ['NIST.800.53.R5'],
    'RDSInBackupPlan',
    `The rule looks for a backup selection naming each DB instance; Aurora is backed up per cluster, not per instance: AWS Backup selects this cluster (lib/recovery/disaster-recovery.ts) and copies each snapshot to the recovery region, besides Aurora's own point-in-time backups for database.backupRetentionDays (${config.backupRetentionDays} days here)`,
  );
  if (!config.deletionProtection) {
    const onDeletion =
      config.removal === 'snapshot' ? 'a final snapshot is taken when the cluster is deleted' : 'the cluster is kept on stack deletion';
    const why = `Deletion protection comes from database.deletionProtection, validated true in prod; this environment is rebuilt often, and ${onDeletion}`;
    acknowledge(db.cluster, ['AwsSolutions'], 'RDS10', why);
    acknowledge(db.cluster, ['NIST.800.53.R5'], 'RDSInstanceDeletionProtectionEnabled', why);
  }
}
