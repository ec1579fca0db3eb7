import { App, Duration, Stack } from 'aws-cdk-lib';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildApp } from '../lib/app';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { EnvironmentConfig, EnvironmentName, recoveryStackNameOf, validateEnvironmentConfig } from '../lib/config';
import { SecureBucket } from '../lib/common/secure-bucket';
import { listAcknowledgements } from '../lib/compliance/packs';
import { backupStartHour, RecoveryStack, REPLICATION_TIME_MINUTES } from '../lib/recovery';
import { TapStack } from '../lib/tap-stack';
import { CDK_CONTEXT, ENVS, shippedConfigs, synthEnv, writeConfigDir } from './helpers';

type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string; UpdateReplacePolicy?: string };
type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };

const ACCOUNT = { Ref: 'AWS::AccountId' };
const PARTITION = { Ref: 'AWS::Partition' };

function recoveryOf(stack: TapStack, env: EnvironmentName): { stack: RecoveryStack; template: Template } {
  const recovery = stack.node.scope!.node.findChild(recoveryStackNameOf(env)) as RecoveryStack;
  return { stack: recovery, template: Template.fromStack(recovery) };
}

function only(template: Template, type: string): [string, Resource] {
  const found = Object.entries(template.findResources(type));
  expect(found).toHaveLength(1);
  return found[0] as [string, Resource];
}

function replicaArn(kind: 'audit' | 'access', env: EnvironmentName) {
  return { 'Fn::Join': ['', ['arn:', PARTITION, `:s3:::tap-${env}-${kind}-replica-`, ACCOUNT, '-us-west-2']] };
}

function validateChanged(env: EnvironmentName, change: (c: Mutable<EnvironmentConfig>) => void): EnvironmentConfig {
  const config = structuredClone(shippedConfigs()[env]) as Mutable<EnvironmentConfig>;
  change(config);
  return validateEnvironmentConfig(config, env, `config/${env}.json`);
}

describe.each(ENVS)('recovery stack (%s)', (env) => {
  const { stack } = synthEnv(env);
  const config = shippedConfigs()[env];
  const { stack: recovery, template } = recoveryOf(stack, env);

  test('lives in the configured second region, is named after the main stack, and the main stack depends on it', () => {
    expect(recovery.region).toBe(config.recovery.region);
    expect(recovery.region).not.toBe(stack.region);
    expect(recovery.stackName).toBe(`TapStack-${env}-recovery`);
    expect(stack.dependencies).toEqual([recovery]);
    expect(recovery.terminationProtection).toBe(env === 'prod');
  });

  test('one rotating key, with the alias the main stack names as the replica key', () => {
    const [keyId, key] = only(template, 'AWS::KMS::Key');
    expect(key.Properties.EnableKeyRotation).toBe(true);
    // Kept in every environment (dev's removal.keys is destroy): the retained replicas and vault need it.
    expect(key.DeletionPolicy).toBe('Retain');
    expect(key.UpdateReplacePolicy).toBe('Retain');
    const [, alias] = only(template, 'AWS::KMS::Alias');
    expect(alias.Properties).toEqual({ AliasName: `alias/tap-${env}-recovery`, TargetKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } });
  });

  test('the audit-log replica: fixed name, SSE-KMS with the recovery key, versioned, private, TLS only, kept but removed by a failed create', () => {
    const [keyId] = only(template, 'AWS::KMS::Key');
    const buckets = Object.entries(template.findResources('AWS::S3::Bucket'));
    const audit = buckets.find(([, b]) => JSON.stringify(b.Properties.BucketName ?? '').includes('audit-replica'))!;
    const p = (audit[1] as Resource).Properties;
    expect(p.BucketName).toEqual({ 'Fn::Join': ['', [`tap-${env}-audit-replica-`, ACCOUNT, '-us-west-2']] });
    expect(p.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [
        { BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [keyId, 'Arn'] } } },
      ],
    });
    expect(p.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(p.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect((audit[1] as Resource).DeletionPolicy).toBe('RetainExceptOnCreate');
    expect((audit[1] as Resource).UpdateReplacePolicy).toBe('Retain');
    expect(p.LoggingConfiguration).toMatchObject({ LogFilePrefix: 'audit-log-replica/' });
  });

  test('the access-log replica expires logs on the same schedule as its source (S3 replicates no expiration)', () => {
    const buckets = Object.values(template.findResources('AWS::S3::Bucket')) as Resource[];
    const access = buckets.find((b) => JSON.stringify(b.Properties.BucketName ?? '').includes('access-replica'))!;
    expect(access.Properties.BucketName).toEqual({ 'Fn::Join': ['', [`tap-${env}-access-replica-`, ACCOUNT, '-us-west-2']] });
    const rules = (access.Properties.LifecycleConfiguration as { Rules: { Id: string; ExpirationInDays?: number }[] }).Rules;
    expect(rules.find((r) => r.Id === 'expire-access-logs')?.ExpirationInDays).toBe(config.logs.retentionDays);
    expect(access.DeletionPolicy).toBe('RetainExceptOnCreate');
  });

  test('every bucket denies plain HTTP and TLS below 1.2', () => {
    const policies = Object.values(template.findResources('AWS::S3::BucketPolicy')) as Resource[];
    expect(policies).toHaveLength(3);
    for (const policy of policies) {
      const statements = (policy.Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement;
      expect(statements).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          expect.objectContaining({ Effect: 'Deny', Action: 's3:*', Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } }),
        ]),
      );
    }
  });

  test('the backup vault: fixed name, the recovery key, no deletion of a copy and no lifecycle change by anyone', () => {
    const [keyId] = only(template, 'AWS::KMS::Key');
    const [, vault] = only(template, 'AWS::Backup::BackupVault');
    expect(vault.Properties.BackupVaultName).toBe(`tap-${env}-recovery`);
    expect(vault.Properties.EncryptionKeyArn).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    expect(vault.DeletionPolicy).toBe('RetainExceptOnCreate');
    expect(vault.Properties.AccessPolicy).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: ['backup:DeleteRecoveryPoint', 'backup:UpdateRecoveryPointLifecycle'],
          Resource: '*',
        },
      ],
    });
  });

  test('holds nothing that runs: keys, buckets, their policies and the vault only', () => {
    const types = new Set(Object.values(template.toJSON().Resources as Record<string, Resource>).map((r) => r.Type));
    types.delete('AWS::CDK::Metadata');
    expect([...types].sort()).toEqual(['AWS::Backup::BackupVault', 'AWS::KMS::Alias', 'AWS::KMS::Key', 'AWS::S3::Bucket', 'AWS::S3::BucketPolicy']);
  });
});

describe.each(ENVS)('replication and backup copies in the main stack (%s)', (env) => {
  const { stack, template } = synthEnv(env);
  const config = shippedConfigs()[env];
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const trailBucketId = stack.getLogicalId(stack.auditTrail.bucket.node.defaultChild as never);
  const accessBucketId = stack.getLogicalId(stack.accessLogs.bucket.node.defaultChild as never);
  const roleId = stack.getLogicalId(stack.recovery.replicationRole.node.defaultChild as never);
  const logsKeyId = stack.getLogicalId(stack.keys.logs.node.defaultChild as never);

  const rule = (kind: 'audit' | 'access', encrypted: boolean) => ({
    Id: 'to-recovery-region',
    Status: 'Enabled',
    Priority: 0,
    Filter: { Prefix: '' },
    DeleteMarkerReplication: { Status: 'Disabled' },
    ...(encrypted ? { SourceSelectionCriteria: { SseKmsEncryptedObjects: { Status: 'Enabled' } } } : {}),
    Destination: {
      Bucket: replicaArn(kind, env),
      ...(encrypted
        ? {
            EncryptionConfiguration: {
              ReplicaKmsKeyID: { 'Fn::Join': ['', ['arn:', PARTITION, ':kms:us-west-2:', ACCOUNT, `:alias/tap-${env}-recovery`]] },
            },
          }
        : {}),
      ReplicationTime: { Status: 'Enabled', Time: { Minutes: REPLICATION_TIME_MINUTES } },
      Metrics: { Status: 'Enabled', EventThreshold: { Minutes: REPLICATION_TIME_MINUTES } },
    },
  });

  test('the CloudTrail bucket replicates every object to the audit-log replica, re-encrypted with the recovery key, deletions not replicated', () => {
    expect(resources[trailBucketId]!.Properties.ReplicationConfiguration).toEqual({
      Role: { 'Fn::GetAtt': [roleId, 'Arn'] },
      Rules: [rule('audit', true)],
    });
  });

  test('the access-log bucket replicates every object to the access-log replica (SSE-S3 stays SSE-S3)', () => {
    expect(resources[accessBucketId]!.Properties.ReplicationConfiguration).toEqual({
      Role: { 'Fn::GetAtt': [roleId, 'Arn'] },
      Rules: [rule('access', false)],
    });
  });

  test('no other bucket replicates, and each of them says why it needs no copy', () => {
    const replicating = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::S3::Bucket' && r.Properties.ReplicationConfiguration);
    expect(replicating.map(([id]) => id).sort()).toEqual([accessBucketId, trailBucketId].sort());
    const acks = listAcknowledgements(stack).filter((a) => a.id.endsWith('S3BucketReplicationEnabled'));
    const ackedBuckets = new Set(acks.map((a) => a.path));
    const others = stack.node.findAll().filter((c) => c instanceof SecureBucket && c !== stack.auditTrail.bucket && c !== stack.accessLogs.bucket);
    expect(others.length).toBeGreaterThan(0);
    expect([...ackedBuckets].sort()).toEqual(others.map((c) => c.node.path).sort());
    for (const a of acks) expect(a.reason.length).toBeGreaterThan(60);
  });

  test('the replication role: S3 only, and exactly the documented actions on the two buckets, their replicas and the two keys', () => {
    expect(resources[roleId]!.Properties.AssumeRolePolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 's3.amazonaws.com' } }],
    });
    const policies = Object.values(resources).filter(
      (r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles) === JSON.stringify([{ Ref: roleId }]),
    );
    expect(policies).toHaveLength(1);
    const statements = (policies[0]!.Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement;
    const objects = (id: string) => ({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [id, 'Arn'] }, '/*']] });
    const replicaObjects = (kind: 'audit' | 'access') => ({
      'Fn::Join': ['', ['arn:', PARTITION, `:s3:::tap-${env}-${kind}-replica-`, ACCOUNT, '-us-west-2/*']],
    });
    const both = <T>(f: (id: string) => T) => [f(accessBucketId), f(trailBucketId)];
    expect(statements).toEqual([
      { Action: ['s3:GetReplicationConfiguration', 's3:ListBucket'], Effect: 'Allow', Resource: both((id) => ({ 'Fn::GetAtt': [id, 'Arn'] })) },
      {
        Action: ['s3:GetObjectVersionAcl', 's3:GetObjectVersionForReplication', 's3:GetObjectVersionTagging'],
        Effect: 'Allow',
        Resource: both(objects),
      },
      { Action: ['s3:ReplicateObject', 's3:ReplicateTags'], Effect: 'Allow', Resource: [replicaObjects('access'), replicaObjects('audit')] },
      {
        Action: 'kms:Decrypt',
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [logsKeyId, 'Arn'] },
        Condition: {
          StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' },
          StringLike: { 'kms:EncryptionContext:aws:s3:arn': [{ 'Fn::GetAtt': [trailBucketId, 'Arn'] }, objects(trailBucketId)] },
        },
      },
      {
        Action: ['kms:Encrypt', 'kms:GenerateDataKey'],
        Effect: 'Allow',
        Resource: { 'Fn::Join': ['', ['arn:', PARTITION, ':kms:us-west-2:', ACCOUNT, ':key/*']] },
        Condition: {
          StringEquals: { 'kms:ViaService': 's3.us-west-2.amazonaws.com' },
          StringLike: { 'kms:EncryptionContext:aws:s3:arn': [replicaArn('audit', env), replicaObjects('audit')] },
        },
      },
    ]);
  });

  test('AWS Backup snapshots the database on the configured schedule, keeps the snapshots, and copies each to the recovery vault', () => {
    const [, plan] = only(template, 'AWS::Backup::BackupPlan');
    const rules = (plan.Properties.BackupPlan as { BackupPlanRule: Record<string, unknown>[] }).BackupPlanRule;
    const every = config.recovery.backupEveryHours;
    // Written out per environment (not recomputed): the shipped windows are 03:00-03:30 and Sunday 04:00-04:30 in each.
    const schedule = { dev: 'cron(0 0 * * ? *)', staging: 'cron(0 0 * * ? *)', prod: 'cron(0 1/4 * * ? *)' }[env];
    const vaultId = stack.getLogicalId(stack.recovery.vault.node.defaultChild as never);
    expect(rules).toEqual([
      {
        RuleName: 'database-to-recovery-region',
        TargetBackupVault: { 'Fn::GetAtt': [vaultId, 'BackupVaultName'] },
        ScheduleExpression: schedule,
        StartWindowMinutes: 60,
        CompletionWindowMinutes: Math.max(2, Math.min(every, 8)) * 60,
        Lifecycle: { DeleteAfterDays: config.recovery.backupRetentionDays },
        CopyActions: [
          {
            DestinationBackupVaultArn: { 'Fn::Join': ['', ['arn:', PARTITION, ':backup:us-west-2:', ACCOUNT, `:backup-vault:tap-${env}-recovery`]] },
            Lifecycle: { DeleteAfterDays: config.recovery.copyRetentionDays },
          },
        ],
      },
    ]);
    const [, selection] = only(template, 'AWS::Backup::BackupSelection');
    const clusterId = stack.getLogicalId(stack.database.cluster.node.defaultChild as never);
    expect((selection.Properties.BackupSelection as { Resources: unknown[] }).Resources).toEqual([
      { 'Fn::Join': ['', ['arn:aws:rds:us-east-1:', ACCOUNT, ':cluster:', { Ref: clusterId }]] },
    ]);
  });

  test("this region's vault is encrypted with the data key and kept on stack deletion", () => {
    const [, vault] = only(template, 'AWS::Backup::BackupVault');
    expect(vault.Properties.EncryptionKeyArn).toEqual({ 'Fn::GetAtt': [stack.getLogicalId(stack.keys.data.node.defaultChild as never), 'Arn'] });
    expect(vault.DeletionPolicy).toBe('Retain');
  });

  test('a failed backup or copy job notifies the notice topic; a replication failure raises a Warning alarm per bucket', () => {
    const rules = Object.values(resources).filter(
      (r) => r.Type === 'AWS::Events::Rule' && JSON.stringify(r.Properties.EventPattern).includes('aws.backup'),
    );
    const patterns = rules.map((r) => r.Properties.EventPattern as { 'detail-type': string[]; detail: Record<string, unknown> });
    const vaultId = stack.getLogicalId(stack.recovery.vault.node.defaultChild as never);
    expect(patterns).toEqual([
      {
        source: ['aws.backup'],
        'detail-type': ['Backup Job State Change'],
        detail: { backupVaultName: [{ 'Fn::GetAtt': [vaultId, 'BackupVaultName'] }], state: ['FAILED', 'ABORTED', 'EXPIRED'] },
      },
      {
        source: ['aws.backup'],
        'detail-type': ['Copy Job State Change'],
        detail: { sourceBackupVaultArn: [{ 'Fn::GetAtt': [vaultId, 'BackupVaultArn'] }], state: ['FAILED', 'PARTIAL'] },
      },
    ]);
    // Delivered like the deployment events: named after the stack, through their publisher role, to the notice topic.
    expect(rules.map((r) => r.Properties.Name)).toEqual([`TapStack-${env}-BackupJobFailed`, `TapStack-${env}-CopyJobFailed`]);
    for (const r of rules) {
      const targets = r.Properties.Targets as { Arn: unknown; RoleArn: unknown }[];
      expect(targets.map((t) => [t.Arn, t.RoleArn])).toEqual([
        [
          { Ref: stack.getLogicalId(stack.alarms.topic.node.defaultChild as never) },
          { 'Fn::GetAtt': [stack.getLogicalId(stack.deploymentEvents.role.node.defaultChild as never), 'Arn'] },
        ],
      ]);
    }
    const alarms = Object.values(resources).filter(
      (r) => r.Type === 'AWS::CloudWatch::Alarm' && r.Properties.MetricName === 'OperationsFailedReplication',
    );
    expect(alarms.map((a) => a.Properties.AlarmName).sort()).toEqual(
      [`TapStack-${env}-Recovery-AccessLogsReplicationFailed-Warning`, `TapStack-${env}-Recovery-AuditLogsReplicationFailed-Warning`].sort(),
    );
    for (const a of alarms) {
      expect(a.Properties).toMatchObject({
        Namespace: 'AWS/S3',
        Statistic: 'Sum',
        Period: 300,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 1,
      });
      const source = String(a.Properties.AlarmName).includes('AuditLogs') ? trailBucketId : accessBucketId;
      const replica = String(a.Properties.AlarmName).includes('AuditLogs') ? 'audit' : 'access';
      expect(a.Properties.Dimensions).toEqual([
        { Name: 'DestinationBucket', Value: { 'Fn::Join': ['', [`tap-${env}-${replica}-replica-`, ACCOUNT, '-us-west-2']] } },
        { Name: 'RuleId', Value: 'to-recovery-region' },
        { Name: 'SourceBucket', Value: { Ref: source } },
      ]);
    }
  });
});

describe('backup schedule', () => {
  test('starts at the first hour whose start window clears the database backup and maintenance windows', () => {
    // Backup 03:00-03:30 and maintenance 04:00-04:30 (the shipped windows): every 4 h from 00:00 would start at 04:00.
    expect(backupStartHour(4, ['03:00-03:30', 'sun:04:00-sun:04:30'])).toBe(1);
    expect(backupStartHour(24, ['00:00-00:30', 'sun:01:00-sun:01:30'])).toBe(2);
    expect(backupStartHour(24, ['03:00-03:30'])).toBe(0);
    // A window across midnight blocks both its hours.
    expect(backupStartHour(24, ['23:30-00:30'])).toBe(1);
    expect(backupStartHour(12, ['23:30-00:30'])).toBe(1);
    // Hourly backups cannot avoid any window.
    expect(backupStartHour(1, ['03:00-03:30'])).toBe(0);
  });
});

describe('recovery configuration', () => {
  test('an environment rebuilt in the recovery region: everything regional must name that region', () => {
    const rebuilt = (c: Mutable<EnvironmentConfig>) => {
      c.region = 'us-west-2';
      c.recovery.region = 'us-east-1';
    };
    const problems = () => validateChanged('prod', rebuilt);
    expect(problems).toThrow('network.availabilityZones.0: must be an availability zone of us-west-2, got: "us-east-1a"');
    expect(problems).toThrow(
      /source\.connectionArn: must be a connection in us-west-2, where the pipeline is, got: "arn:aws:codeconnections:us-east-1:/,
    );
    const moved = validateChanged('prod', (c) => {
      rebuilt(c);
      c.network.availabilityZones = ['us-west-2a', 'us-west-2b', 'us-west-2c'];
      c.source.connectionArn = c.source.connectionArn.replace(':us-east-1:', ':us-west-2:');
    });
    expect(moved.region).toBe('us-west-2');
    expect(() =>
      validateChanged('staging', (c) => {
        rebuilt(c);
        c.network.availabilityZones = ['us-west-2a', 'us-west-2b'];
        c.source.connectionArn = c.source.connectionArn.replace(':us-east-1:', ':us-west-2:');
        c.tls = {
          certificateArn: `arn:aws:acm:us-east-1:${c.account}:certificate/00000000-0000-0000-0000-000000000000`,
          domainName: 'pay.staging.example.com',
        };
      }),
    ).toThrow(
      'tls.certificateArn: must be in us-west-2, where the load balancer is (an ALB can only use a certificate from its own region), got: "arn:aws:acm:us-east-1:222222222222:certificate/00000000-0000-0000-0000-000000000000"',
    );
  });
  test('a region without a known S3 prefix list is refused by validation', () => {
    expect(() => validateChanged('dev', (c) => ((c as { region: string }).region = 'eu-west-1'))).toThrow(
      'region: must be us-east-1, or us-west-2 when rebuilt after a regional outage',
    );
  });
  test('the second region must differ from the primary one', () => {
    expect(() => validateChanged('dev', (c) => (c.recovery.region = 'us-east-1'))).toThrow(
      'recovery.region: must differ from the environment\'s region us-east-1: a copy in the same region survives no regional outage, got: "us-east-1"',
    );
    expect(() => validateChanged('dev', (c) => (c.recovery.region = 'mars-1'))).toThrow('recovery.region: must be an AWS region name like us-west-2');
  });
  test('the backup interval must divide a day', () => {
    expect(() => validateChanged('dev', (c) => ((c.recovery as { backupEveryHours: number }).backupEveryHours = 5))).toThrow(
      'recovery.backupEveryHours: must divide a day: one of 1, 2, 3, 4, 6, 8, 12, 24',
    );
  });
  test('prod keeps its copies at least 35 days', () => {
    expect(() => validateChanged('prod', (c) => (c.recovery.copyRetentionDays = 34))).toThrow(
      'recovery.copyRetentionDays: prod keeps its second-region copies at least 35 days, got: 34',
    );
    expect(validateChanged('staging', (c) => (c.recovery.copyRetentionDays = 1)).recovery.copyRetentionDays).toBe(1);
  });
  test('prod copies the database to the second region at least twice a day', () => {
    expect(() => validateChanged('prod', (c) => (c.recovery.backupEveryHours = 24))).toThrow(
      'recovery.backupEveryHours: prod copies the database to the second region at least twice a day, got: 24',
    );
    expect(validateChanged('prod', (c) => (c.recovery.backupEveryHours = 12)).recovery.backupEveryHours).toBe(12);
  });
  test('the Compliance tag names the standard assessed', () => {
    expect(() => validateChanged('dev', (c) => ((c.tags as { compliance: string }).compliance = 'PCI-DSS-3.2.1'))).toThrow(
      'tags.compliance: must be PCI-DSS-4.0.1',
    );
  });
});

describe('a bucket that is neither replicated nor says why', () => {
  test('fails the synth, naming the rule', () => {
    const stack = new Stack(new App(), 'S');
    new SecureBucket(stack, 'Orphan', { noncurrentVersionExpiration: Duration.days(1) });
    Template.fromStack(stack);
    Annotations.fromStack(stack).hasError(
      '/S/Orphan',
      Match.stringLikeRegexp('neither replicated to the recovery region nor given notReplicatedBecause'),
    );
  });
  test('with a reason, the reason becomes the acknowledgement of both packs', () => {
    const stack = new Stack(new App(), 'S');
    new SecureBucket(stack, 'Scratch', { noncurrentVersionExpiration: Duration.days(1), notReplicatedBecause: 'scratch space, rebuilt on demand' });
    Template.fromStack(stack);
    const acks = listAcknowledgements(stack).filter((a) => a.id.endsWith('S3BucketReplicationEnabled'));
    expect(acks.map((a) => ({ ...a, id: a.id.replace(/^Annotation::/, '') }))).toEqual([
      { path: 'S/Scratch', id: 'PCI.DSS.321-S3BucketReplicationEnabled', reason: 'scratch space, rebuilt on demand' },
      { path: 'S/Scratch', id: 'NIST.800.53.R5-S3BucketReplicationEnabled', reason: 'scratch space, rebuilt on demand' },
    ]);
  });
});

describe('the secrets a rebuilt environment carries over', () => {
  test.each(ENVS)('%s: the API key and the tokenization key replicate to the recovery region under the recovery key; no other secret does', (env) => {
    const { stack, template } = synthEnv(env);
    const secrets = template.findResources('AWS::SecretsManager::Secret');
    const replicated = Object.entries(secrets).filter(([, s]) => s.Properties.ReplicaRegions);
    expect(replicated.map(([id]) => id).sort()).toEqual(
      [stack.secrets.apiKey, stack.secrets.tokenizationKey].map((s) => stack.getLogicalId(s.node.defaultChild as never)).sort(),
    );
    for (const [, s] of replicated) expect(s.Properties.ReplicaRegions).toEqual([{ Region: 'us-west-2', KmsKeyId: `alias/tap-${env}-recovery` }]);
  });
});

describe('an environment rebuilt in the recovery region', () => {
  const SNAPSHOT = 'arn:aws:rds:us-west-2:333333333333:cluster-snapshot:awsbackup:job-0a1b2c3d-4e5f-6789-abcd-ef0123456789';
  const rebuiltProd = (snapshot: string | undefined) => {
    const all = structuredClone(shippedConfigs()) as Record<EnvironmentName, Mutable<EnvironmentConfig>>;
    const prod = all.prod;
    prod.region = 'us-west-2';
    prod.recovery.region = 'us-east-1';
    prod.network.availabilityZones = ['us-west-2a', 'us-west-2b', 'us-west-2c'];
    prod.source.connectionArn = prod.source.connectionArn.replace(':us-east-1:', ':us-west-2:');
    prod.egress.allowedDomains = prod.egress.allowedDomains.map((d) => d.replace('us-east-1', 'us-west-2'));
    if (snapshot) prod.database.restoreFromSnapshot = snapshot;
    return all;
  };

  test('synthesizes in us-west-2 from the copied snapshot, with its recovery stack back in us-east-1', () => {
    const app = new App({
      context: { ...CDK_CONTEXT, env: 'prod', firstDeploy: 'true' },
      outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'tap-rebuilt-')),
    });
    const stack = buildApp(app, { configDir: writeConfigDir(rebuiltProd(SNAPSHOT)) });
    expect(stack.region).toBe('us-west-2');
    const recovery = app.node.findChild('TapStack-prod-recovery') as Stack;
    expect(recovery.region).toBe('us-east-1');
    const template = Template.fromStack(stack);
    const clusters = Object.values(template.findResources('AWS::RDS::DBCluster')) as Resource[];
    expect(clusters).toHaveLength(1);
    expect(clusters[0]!.Properties.SnapshotIdentifier).toBe(SNAPSHOT);
    // CloudFormation's restore takes no user name (the snapshot's stays) and then sets the password: both stay.
    const fresh = Object.values(synthEnv('prod').template.findResources('AWS::RDS::DBCluster'))[0] as Resource;
    expect(clusters[0]!.Properties.MasterUsername).toEqual(fresh.Properties.MasterUsername);
    expect(clusters[0]!.Properties.MasterUserPassword).toEqual(fresh.Properties.MasterUserPassword);
    expect(clusters[0]!.Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [stack.getLogicalId(stack.keys.data.node.defaultChild as never), 'Arn'] });
    // The restored app login has the old password: its rotation exists even in a first deploy, and runs at once.
    const rotations = Object.values(template.findResources('AWS::SecretsManager::RotationSchedule')) as Resource[];
    const appRotation = rotations.find((r) => JSON.stringify(r.Properties).includes('db-app-user-rotation'));
    expect(appRotation?.Properties.RotateImmediatelyOnUpdate).toBe(true);
    // The S3 prefix list of us-west-2 in the tasks' egress.
    expect(JSON.stringify(template.toJSON())).toContain('pl-68a54001');
    expect(JSON.stringify(template.toJSON())).not.toContain('pl-63a5400a');
  });

  test.each(ENVS)('%s as shipped is built empty, from no snapshot', (env) => {
    const cluster = Object.values(synthEnv(env).template.findResources('AWS::RDS::DBCluster'))[0] as Resource;
    expect(cluster.Properties.SnapshotIdentifier).toBeUndefined();
  });

  test("the snapshot must be in the environment's region and account", () => {
    expect(() => validateChanged('prod', (c) => (c.database.restoreFromSnapshot = SNAPSHOT))).toThrow(
      `database.restoreFromSnapshot: must be a snapshot in us-east-1 (a cluster restores from its own region's snapshots), got: "${SNAPSHOT}"`,
    );
    expect(() =>
      validateChanged('prod', (c) => (c.database.restoreFromSnapshot = SNAPSHOT.replace('us-west-2:333333333333', 'us-east-1:444444444444'))),
    ).toThrow(
      `database.restoreFromSnapshot: must be a snapshot of account 333333333333, got: "${SNAPSHOT.replace('us-west-2:333333333333', 'us-east-1:444444444444')}"`,
    );
    expect(() => validateChanged('prod', (c) => (c.database.restoreFromSnapshot = 'my-snapshot'))).toThrow(
      'database.restoreFromSnapshot: must be an Aurora cluster snapshot ARN',
    );
  });
});
