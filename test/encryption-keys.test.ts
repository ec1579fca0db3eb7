import { CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { loadConfig, recoveryStackNameOf } from '../lib/config';
import { ENVS, synthEnv } from './helpers';
import { pathsByLogicalId } from './security-groups';

type Props = Record<string, unknown>;
type Resource = { Type: string; Properties?: Props };
/** Per resource (by construct path below its stack): what it encrypts -> which key. */
type Table = Record<string, Record<string, string>>;

/**
 * Every resource type here that can hold data at rest, or hands it to a service that does. A new resource of one of
 * these types must be described in the table below, or the test fails.
 */
const ENCRYPTABLE = [
  'AWS::Backup::BackupVault',
  'AWS::CloudTrail::Trail',
  'AWS::CodeBuild::Project',
  'AWS::CodePipeline::Pipeline',
  'AWS::DynamoDB::Table',
  'AWS::EC2::Volume',
  'AWS::ECR::Repository',
  'AWS::EFS::FileSystem',
  'AWS::Kinesis::Stream',
  'AWS::Lambda::Function',
  'AWS::Logs::LogGroup',
  'AWS::RDS::DBCluster',
  'AWS::S3::Bucket',
  'AWS::SNS::Topic',
  'AWS::SQS::Queue',
  'AWS::SecretsManager::RotationSchedule',
  'AWS::SecretsManager::Secret',
  'AWS::Synthetics::Canary',
];

/** What no customer-managed key protects: AWS-owned or AWS-managed encryption, or none. */
const NONE = 'no customer key';

/** A template value as text: `arn:<AWS::Partition>:kms:us-west-2:<AWS::AccountId>:alias/...`. */
function text(value: unknown): string {
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  const v = value as { Ref?: string; 'Fn::GetAtt'?: [string, string]; 'Fn::Join'?: [string, unknown[]] };
  if (v.Ref !== undefined) return v.Ref.startsWith('AWS::') ? `<${v.Ref}>` : `Ref ${v.Ref}`;
  if (v['Fn::GetAtt']) return `${v['Fn::GetAtt'][0]}.${v['Fn::GetAtt'][1]}`;
  if (v['Fn::Join']) return v['Fn::Join'][1].map(text).join(v['Fn::Join'][0]);
  return JSON.stringify(value);
}

/**
 * The encryption of every encryptable resource of a stack, by construct path, with each key named: `data`, `logs`,
 * `artifacts`, `recovery` for the customer-managed keys (`keyNames` maps their logical ids), `recovery (alias)` for the
 * recovery key's alias as the main stack names it, `SSE-S3`, or {@link NONE}.
 */
function encryptionTable(stack: Stack, template: Template, keyNames: ReadonlyMap<string, string>, aliases: ReadonlyMap<string, string>): Table {
  const pathOf = pathsByLogicalId(stack);
  const key = (value: unknown): string => {
    if (value === undefined) return NONE;
    const v = value as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
    const id = v.Ref ?? (v['Fn::GetAtt']?.[1] === 'Arn' ? v['Fn::GetAtt'][0] : undefined);
    if (id !== undefined && keyNames.has(id)) return keyNames.get(id)!;
    const t = text(value);
    const alias = /(?:^|:)(alias\/.+)$/.exec(t)?.[1];
    return alias !== undefined && aliases.has(alias) ? `${aliases.get(alias)} (alias)` : t;
  };
  const table: Table = {};
  const resources = template.toJSON().Resources as Record<string, Resource>;
  for (const [id, r] of Object.entries(resources)) {
    if (!ENCRYPTABLE.includes(r.Type)) continue;
    const p = (r.Properties ?? {}) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- CloudFormation properties, read by path
    const e: Record<string, string> = {};
    switch (r.Type) {
      case 'AWS::S3::Bucket': {
        const rules = (p.BucketEncryption?.ServerSideEncryptionConfiguration ?? []) as { ServerSideEncryptionByDefault: Props }[];
        const byDefault = rules.map((x) => x.ServerSideEncryptionByDefault);
        e.objects =
          byDefault.length !== 1
            ? JSON.stringify(byDefault)
            : byDefault[0]!.SSEAlgorithm === 'AES256'
              ? 'SSE-S3'
              : byDefault[0]!.SSEAlgorithm === 'aws:kms'
                ? key(byDefault[0]!.KMSMasterKeyID)
                : `${String(byDefault[0]!.SSEAlgorithm)} ${key(byDefault[0]!.KMSMasterKeyID)}`;
        for (const rule of p.ReplicationConfiguration?.Rules ?? []) {
          const replicaKey = rule.Destination?.EncryptionConfiguration?.ReplicaKmsKeyID;
          e[`replica (${String(rule.Id)})`] = replicaKey === undefined ? "the destination bucket's default" : key(replicaKey);
        }
        break;
      }
      case 'AWS::Logs::LogGroup':
      case 'AWS::SecretsManager::Secret':
        e[r.Type === 'AWS::Logs::LogGroup' ? 'events' : 'value'] = key(p.KmsKeyId);
        for (const replica of p.ReplicaRegions ?? []) e[`replica in ${String(replica.Region)}`] = key(replica.KmsKeyId);
        break;
      case 'AWS::SNS::Topic':
      case 'AWS::SQS::Queue':
        e.messages = key(p.KmsMasterKeyId);
        break;
      case 'AWS::RDS::DBCluster':
        e.storage = p.StorageEncrypted === true ? key(p.KmsKeyId) : 'unencrypted';
        break;
      case 'AWS::ECR::Repository':
        e.layers = p.EncryptionConfiguration?.EncryptionType === 'KMS' ? key(p.EncryptionConfiguration.KmsKey) : NONE;
        break;
      case 'AWS::CodeBuild::Project':
        e['build output'] = key(p.EncryptionKey);
        break;
      case 'AWS::CodePipeline::Pipeline':
        e.artifacts = p.ArtifactStore?.EncryptionKey?.Type === 'KMS' ? key(p.ArtifactStore.EncryptionKey.Id) : NONE;
        if (p.ArtifactStores !== undefined) e['artifact stores'] = JSON.stringify(p.ArtifactStores);
        break;
      case 'AWS::Backup::BackupVault':
        e['recovery points'] = key(p.EncryptionKeyArn);
        break;
      case 'AWS::CloudTrail::Trail':
        e['log files'] = key(p.KMSKeyId);
        break;
      case 'AWS::Lambda::Function':
        e['environment variables'] = key(p.KmsKeyArn);
        break;
      case 'AWS::Synthetics::Canary': {
        const s3 = p.ArtifactConfig?.S3Encryption;
        e['run artifacts'] = s3 === undefined ? NONE : s3.EncryptionMode === 'SSE_KMS' ? key(s3.KmsKeyArn) : String(s3.EncryptionMode);
        break;
      }
      case 'AWS::SecretsManager::RotationSchedule':
        e['rotation function'] = key(p.HostedRotationLambda?.KmsKeyArn);
        if (p.HostedRotationLambda?.MasterSecretArn !== undefined) e['master secret'] = key(p.HostedRotationLambda.MasterSecretKmsKeyArn);
        break;
      default:
        e.unknown = JSON.stringify(p);
    }
    table[pathOf.get(id) ?? id] = e;
  }
  return table;
}

describe.each(ENVS)('%s: every encrypted resource uses the customer-managed key meant for it', (env) => {
  const config = loadConfig(env);
  const { stack, template } = synthEnv(env);
  const recovery = stack.node.scope!.node.findChild(recoveryStackNameOf(env)) as Stack;
  const recoveryTemplate = Template.fromStack(recovery);

  const idOf = (s: Stack, c: { node: { defaultChild?: unknown } }) => s.getLogicalId(c.node.defaultChild as CfnElement);
  const recoveryKeys = Object.keys(recoveryTemplate.findResources('AWS::KMS::Key'));
  const recoveryAliases = Object.values(recoveryTemplate.findResources('AWS::KMS::Alias')).map(
    (a) => a.Properties as { AliasName: string; TargetKeyId: unknown },
  );
  // The alias the main stack names counts as the recovery key only if the recovery stack's alias of that name targets it.
  const aliases = new Map(
    recoveryAliases
      .filter((a) => recoveryKeys.length === 1 && JSON.stringify(a.TargetKeyId) === JSON.stringify({ 'Fn::GetAtt': [recoveryKeys[0], 'Arn'] }))
      .map((a) => [a.AliasName, 'recovery'] as const),
  );
  const mainKeys = new Map([
    [idOf(stack, stack.keys.data), 'data'],
    [idOf(stack, stack.keys.logs), 'logs'],
    [idOf(stack, stack.keys.artifacts), 'artifacts'],
  ]);

  test('the main stack: data, logs and artifacts each under its key; the replicas under the recovery key', () => {
    const logs = { events: 'logs' };
    const expected: Table = {
      // ALB access logs accept SSE-S3 only (test/security-logging.test.ts); the replica keeps the destination default.
      'AccessLogs/Bucket': { objects: 'SSE-S3', 'replica (to-recovery-region)': "the destination bucket's default" },
      'AuditTrail/Bucket': { objects: 'logs', 'replica (to-recovery-region)': 'recovery (alias)' },
      'AuditTrail/LogGroup': logs,
      'AuditTrail/Trail': { 'log files': 'logs' },
      'Network/FlowLogGroup': logs,
      'ArtifactStore/Bucket': { objects: 'artifacts' },
      'Images/Repository': { layers: 'data' },
      'Secrets/ApiKey': { value: 'data', [`replica in ${config.recovery.region}`]: 'recovery (alias)' },
      'Secrets/TokenizationKey': { value: 'data', [`replica in ${config.recovery.region}`]: 'recovery (alias)' },
      'Firewall/LogGroup': logs,
      'Alarms/Topic': { messages: 'data' },
      'Pages/Topic': { messages: 'data' },
      'DnsFirewall/QueryLogGroup': logs,
      'Database/Cluster': { storage: 'data' },
      'Database/MasterSecret': { value: 'data' },
      'Database/AppUserSecret': { value: 'data' },
      'Database/PostgresqlLogGroup': logs,
      'Database/MasterRotation/LogGroup': logs,
      'Database/MasterRotation/Schedule': { 'rotation function': 'data' },
      'Database/AppUserRotation/LogGroup': logs,
      'Database/AppUserRotation/Schedule': { 'rotation function': 'data', 'master secret': 'data' },
      'PaymentService/LogGroup': logs,
      'PaymentService/SmokeTest/LogGroup': logs,
      'PaymentService/SmokeTest/Function': { 'environment variables': 'data' },
      // CDK's own handler that empties the default security group: no data, no variables.
      'Custom::VpcRestrictDefaultSGCustomResourceProvider/Handler': { 'environment variables': NONE },
      'Delivery/BuildLogs': logs,
      'Delivery/Pipeline': { artifacts: 'artifacts' },
      ...Object.fromEntries(Object.keys(stack.pipeline.projects).map((step) => [`Delivery/${step}/Project`, { 'build output': 'artifacts' }])),
      'Recovery/BackupVault': { 'recovery points': 'data' },
      'SmokeCanary/Artifacts': { objects: 'logs' },
      'SmokeCanary/Canary': { 'run artifacts': 'logs' },
    };
    expect(Object.keys(stack.pipeline.projects).length).toBeGreaterThan(8);
    expect(encryptionTable(stack, template, mainKeys, aliases)).toEqual(expected);
  });

  test('the recovery stack: the audit-log replica and the backup copies under the recovery key; access logs SSE-S3', () => {
    expect(recoveryKeys).toHaveLength(1);
    expect([...aliases.keys()]).toEqual([`alias/tap-${env}-recovery`]);
    expect(encryptionTable(recovery, recoveryTemplate, new Map([[recoveryKeys[0]!, 'recovery']]), aliases)).toEqual({
      AuditLogReplica: { objects: 'recovery' },
      // The replica's own access logs and the access-log replica: S3 server access logging accepts SSE-S3 only.
      ReplicaAccessLogs: { objects: 'SSE-S3' },
      AccessLogReplica: { objects: 'SSE-S3' },
      BackupVault: { 'recovery points': 'recovery' },
    });
  });

  test('the three keys of the main stack are distinct and customer-managed, each rotating', () => {
    const keys = template.findResources('AWS::KMS::Key');
    expect(Object.keys(keys).sort()).toEqual([...mainKeys.keys()].sort());
    for (const k of Object.values(keys)) expect(k.Properties.EnableKeyRotation).toBe(true);
  });
});
