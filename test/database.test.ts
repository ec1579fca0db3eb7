import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as fs from 'fs';
import * as path from 'path';
import { ENV } from '../app/src/contract';
import { cidrsOverlap, parseCidr } from '../lib/config';
import {
  APP_USERNAME,
  AURORA_POSTGRES_VERSION,
  CLUSTER_PARAMETERS,
  DATABASE_NAME,
  MASTER_USERNAME,
  MIGRATION_CONTAINER_NAME,
  MigrationTarget,
} from '../lib/database';
import { S3_PREFIX_LIST_IDS } from '../lib/network/network';
import { compliancePacks } from '../lib/compliance/packs';
import { staleAcknowledgements } from '../lib/compliance/stale';
import { buildEnv, ENVS, shippedConfigs, synthEnv } from './helpers';

type Resource = { Type: string; Properties: Record<string, unknown>; DependsOn?: string[]; DeletionPolicy?: string; UpdateReplacePolicy?: string };
type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };
type Rule = { IpProtocol: string; FromPort: number; ToPort: number; peer: unknown };

const ref = (id: string) => ({ Ref: id });
const getAtt = (id: string, attribute: string) => ({ 'Fn::GetAtt': [id, attribute] });
const VIA_SECRETS_MANAGER = { StringEquals: { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com' } };
/** The characters the generated database passwords leave out, as the secrets were created with (never changed since). */
const PASSWORD_EXCLUDE_CHARACTERS = ' %+~`#$&*()|[]{}:;<>?!\'/@"\\';

describe.each(ENVS)('the payments database in %s', (env) => {
  const config = shippedConfigs()[env];
  const db = config.database;
  const { stack, template } = synthEnv(env);
  const json = template.toJSON() as { Resources: Record<string, Resource>; Transform?: unknown; Parameters: Record<string, unknown> };
  const resources = json.Resources;
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  const idOf = (type: string, prefix: string): string => {
    const found = ofType(type).filter(([id]) => id.startsWith(prefix));
    expect(found.map(([id]) => id)).toHaveLength(1);
    return found[0]![0];
  };
  const clusterId = idOf('AWS::RDS::DBCluster', 'DatabaseCluster');
  const cluster = resources[clusterId]!;
  const dataKey = getAtt(idOf('AWS::KMS::Key', 'KeysDataKey'), 'Arn');
  const logsKey = getAtt(idOf('AWS::KMS::Key', 'KeysLogsKey'), 'Arn');
  const dbSg = idOf('AWS::EC2::SecurityGroup', 'DatabaseSecurityGroup');
  const rotationSg = idOf('AWS::EC2::SecurityGroup', 'DatabaseRotationSecurityGroup');
  const migrationSg = idOf('AWS::EC2::SecurityGroup', 'MigrationSecurityGroup');
  const serviceSg = idOf('AWS::EC2::SecurityGroup', 'PaymentServiceSecurityGroup');
  const endpointSg = idOf('AWS::EC2::SecurityGroup', 'NetworkEndpointSecurityGroup');
  const masterSecret = idOf('AWS::SecretsManager::Secret', 'DatabaseMasterSecret');
  const appSecret = idOf('AWS::SecretsManager::Secret', 'DatabaseAppUserSecret');
  const subnetIds = (tier: string) =>
    ofType('AWS::EC2::Subnet')
      .filter(([id]) => id.startsWith(`NetworkVpc${tier}Subnet`))
      .map(([id]) => id);
  const instances = ofType('AWS::RDS::DBInstance');
  const rotations = ofType('AWS::SecretsManager::RotationSchedule').map(([id, r]) => ({ id, ...r }));
  const rotationOf = (type: string) => rotations.find((r) => (r.Properties.HostedRotationLambda as { RotationType: string }).RotationType === type)!;
  const ingressOf = (sg: string): Rule[] =>
    ofType('AWS::EC2::SecurityGroupIngress')
      .filter(([, r]) => JSON.stringify(r.Properties.GroupId) === JSON.stringify(getAtt(sg, 'GroupId')))
      .map(([, r]) => ({
        IpProtocol: r.Properties.IpProtocol as string,
        FromPort: r.Properties.FromPort as number,
        ToPort: r.Properties.ToPort as number,
        peer: r.Properties.SourceSecurityGroupId,
      }));
  const egressOf = (sg: string): Rule[] =>
    ofType('AWS::EC2::SecurityGroupEgress')
      .filter(([, r]) => JSON.stringify(r.Properties.GroupId) === JSON.stringify(getAtt(sg, 'GroupId')))
      .map(([, r]) => ({
        IpProtocol: r.Properties.IpProtocol as string,
        FromPort: r.Properties.FromPort as number,
        ToPort: r.Properties.ToPort as number,
        peer: r.Properties.DestinationSecurityGroupId ?? r.Properties.DestinationPrefixListId ?? r.Properties.CidrIp,
      }));
  const sort = (rules: Rule[]) => [...rules].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  const tcp = (port: number, peer: unknown): Rule => ({ IpProtocol: 'tcp', FromPort: port, ToPort: port, peer });
  /** CDK's inline placeholder of a group that allows no egress at all. */
  const NO_INLINE_EGRESS = [{ CidrIp: '255.255.255.255/32', Description: 'Disallow all traffic', FromPort: 252, IpProtocol: 'icmp', ToPort: 86 }];
  const statementsOf = (roleId: string): Statement[] =>
    ofType('AWS::IAM::Policy')
      .filter(([, p]) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
      .flatMap(([, p]) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
  const taskDefinitionOf = (prefix: string) => resources[idOf('AWS::ECS::TaskDefinition', prefix)]!;
  const containerOf = (prefix: string) => (taskDefinitionOf(prefix).Properties.ContainerDefinitions as Record<string, unknown>[])[0]!;

  test('Aurora PostgreSQL 16 Serverless v2 within the configured capacity, a writer and the configured readers', () => {
    expect(cluster.Properties).toMatchObject({
      Engine: 'aurora-postgresql',
      EngineVersion: '16.9',
      ServerlessV2ScalingConfiguration: { MinCapacity: db.minCapacityAcu, MaxCapacity: db.maxCapacityAcu },
      DatabaseName: DATABASE_NAME,
      Port: 5432,
      DBClusterIdentifier: `tapstack-${env}-payments`,
    });
    expect(AURORA_POSTGRES_VERSION.auroraPostgresMajorVersion).toBe('16');
    expect(instances).toHaveLength(1 + db.readers);
    for (const [, instance] of instances) {
      expect(instance.Properties).toMatchObject({
        DBInstanceClass: 'db.serverless',
        DBClusterIdentifier: ref(clusterId),
        PubliclyAccessible: false,
        AutoMinorVersionUpgrade: true,
      });
    }
    // Readers scale with the writer (promotion tier 0 or 1), so a failover lands on an instance of the writer's size.
    for (const [, instance] of instances) expect(instance.Properties.PromotionTier as number).toBeLessThanOrEqual(1);
  });

  test('in the isolated subnets, which have no route out of the VPC', () => {
    const isolated = subnetIds('isolated');
    expect(isolated).toHaveLength(config.network.availabilityZones.length);
    const subnetGroup = resources[(cluster.Properties.DBSubnetGroupName as { Ref: string }).Ref]!;
    expect((subnetGroup.Properties.SubnetIds as { Ref: string }[]).map((s) => s.Ref).sort()).toEqual(isolated.sort());
    const tables = ofType('AWS::EC2::SubnetRouteTableAssociation')
      .filter(([, a]) => isolated.includes((a.Properties.SubnetId as { Ref: string }).Ref))
      .map(([, a]) => JSON.stringify(a.Properties.RouteTableId));
    expect(tables).toHaveLength(isolated.length);
    expect(ofType('AWS::EC2::Route').filter(([, r]) => tables.includes(JSON.stringify(r.Properties.RouteTableId)))).toEqual([]);
  });

  test('the checkov skips on the database name the check and the reason, on the cluster and on each instance', () => {
    const skips = (r: Resource) =>
      ((r as { Metadata?: { checkov?: { skip: { id: string; comment: string }[] } } }).Metadata?.checkov?.skip ?? []).map((k) => k.id);
    expect(skips(cluster)).toEqual(['CKV_AWS_162']);
    for (const [, instance] of instances) expect(skips(instance)).toEqual(['CKV_AWS_118']);
  });

  test('storage encrypted with the data key; IAM authentication off; snapshots carry the tags', () => {
    expect(cluster.Properties).toMatchObject({
      StorageEncrypted: true,
      KmsKeyId: dataKey,
      EnableIAMDatabaseAuthentication: false,
      CopyTagsToSnapshot: true,
    });
  });

  test('the cluster parameter group forces TLS and logs connections, never statements', () => {
    const group = resources[(cluster.Properties.DBClusterParameterGroupName as { Ref: string }).Ref]!;
    expect(group.Type).toBe('AWS::RDS::DBClusterParameterGroup');
    expect(group.Properties.Family).toBe('aurora-postgresql16');
    expect(group.Properties.Parameters).toEqual(CLUSTER_PARAMETERS);
    expect(CLUSTER_PARAMETERS).toMatchObject({
      'rds.force_ssl': '1',
      log_connections: '1',
      log_disconnections: '1',
      log_statement: 'none',
      log_min_duration_statement: '-1',
      log_min_error_statement: 'panic',
    });
  });

  test('backups, windows, deletion protection and removal as configured', () => {
    expect(cluster.Properties).toMatchObject({
      BackupRetentionPeriod: db.backupRetentionDays,
      PreferredBackupWindow: db.backupWindow,
      PreferredMaintenanceWindow: db.maintenanceWindow,
      DeletionProtection: db.deletionProtection,
    });
    const kept = db.removal === 'retain' ? 'Retain' : 'Snapshot';
    expect([cluster.DeletionPolicy, cluster.UpdateReplacePolicy]).toEqual([kept, kept]);
    // Retained, the cluster keeps its instances and subnet group; snapshotted, they go with it.
    const subnetGroup = resources[(cluster.Properties.DBSubnetGroupName as { Ref: string }).Ref]!;
    for (const r of [...instances.map(([, i]) => i), subnetGroup])
      expect(r.DeletionPolicy ?? 'Delete').toBe(db.removal === 'retain' ? 'Retain' : 'Delete');
  });

  test("PostgreSQL logs go to the group the stack creates under RDS's name for them, encrypted and kept, created first", () => {
    expect(cluster.Properties.EnableCloudwatchLogsExports).toEqual(['postgresql']);
    const groupId = idOf('AWS::Logs::LogGroup', 'DatabasePostgresqlLogGroup');
    expect(resources[groupId]!.Properties).toMatchObject({
      LogGroupName: `/aws/rds/cluster/${String(cluster.Properties.DBClusterIdentifier)}/postgresql`,
      KmsKeyId: logsKey,
      RetentionInDays: config.logs.retentionDays,
    });
    expect(config.logs.retentionDays).toBeGreaterThanOrEqual(365);
    expect(cluster.DependsOn).toContain(groupId);
  });

  test('5432 is open only to the service, the migration task and the rotation functions; the database has no egress', () => {
    expect(sort(ingressOf(dbSg))).toEqual(sort([serviceSg, migrationSg, rotationSg].map((sg) => tcp(5432, getAtt(sg, 'GroupId')))));
    expect(resources[dbSg]!.Properties.SecurityGroupIngress).toBeUndefined();
    expect(resources[dbSg]!.Properties.SecurityGroupEgress).toEqual(NO_INLINE_EGRESS);
    expect(egressOf(dbSg)).toEqual([]);
    expect(cluster.Properties.VpcSecurityGroupIds).toEqual([getAtt(dbSg, 'GroupId')]);
  });

  test('the rotation functions reach the database and the Secrets Manager endpoint, nothing else', () => {
    expect(resources[rotationSg]!.Properties.SecurityGroupEgress).toBeUndefined();
    expect(sort(egressOf(rotationSg))).toEqual(sort([tcp(5432, getAtt(dbSg, 'GroupId')), tcp(443, getAtt(endpointSg, 'GroupId'))]));
    expect(ingressOf(rotationSg)).toEqual([]);
  });

  test('the endpoint security group admits the rotation functions: HTTPS from the VPC range, where their private subnets are', () => {
    expect(resources[endpointSg]!.Properties.SecurityGroupIngress).toEqual([
      expect.objectContaining({ CidrIp: config.network.cidr, FromPort: 443, ToPort: 443, IpProtocol: 'tcp' }),
    ]);
    const vpc = parseCidr(config.network.cidr)!;
    for (const r of rotations) {
      const subnets = JSON.stringify((r.Properties.HostedRotationLambda as { VpcSubnetIds: unknown }).VpcSubnetIds);
      const used = subnetIds('private').filter((id) => subnets.includes(`"${id}"`));
      expect(used.sort()).toEqual(subnetIds('private').sort());
      for (const id of used) {
        const cidr = resources[id]!.Properties.CidrBlock as string;
        expect(cidrsOverlap(cidr, config.network.cidr) && parseCidr(cidr)!.prefix >= vpc.prefix).toBe(true);
      }
    }
    const secretsManager = ofType('AWS::EC2::VPCEndpoint').find(([, e]) => e.Properties.ServiceName === 'com.amazonaws.us-east-1.secretsmanager')!;
    expect(secretsManager[1].Properties).toMatchObject({ PrivateDnsEnabled: true, SecurityGroupIds: [getAtt(endpointSg, 'GroupId')] });
  });

  test('the master secret: generated, encrypted with the data key, attached to the cluster, which logs in with it', () => {
    const secret = resources[masterSecret]!.Properties;
    expect(secret.KmsKeyId).toEqual(dataKey);
    // Exactly: a change to any field makes CloudFormation generate a new password at the next deploy.
    expect(secret.GenerateSecretString).toEqual({
      SecretStringTemplate: JSON.stringify({ username: MASTER_USERNAME, dbname: DATABASE_NAME }),
      GenerateStringKey: 'password',
      PasswordLength: 32,
      ExcludeCharacters: PASSWORD_EXCLUDE_CHARACTERS,
    });
    template.hasResourceProperties('AWS::SecretsManager::SecretTargetAttachment', {
      SecretId: ref(masterSecret),
      TargetId: ref(clusterId),
      TargetType: 'AWS::RDS::DBCluster',
    });
    expect(JSON.stringify(cluster.Properties.MasterUserPassword)).toContain(`{"Ref":"${masterSecret}"},":SecretString:password::}}`);
  });

  test('the app user secret: `payments`, with the master secret ARN for multi-user rotation, encrypted with the data key, attached', () => {
    const secret = resources[appSecret]!.Properties;
    expect(secret.KmsKeyId).toEqual(dataKey);
    expect(secret.GenerateSecretString).toEqual({
      SecretStringTemplate: {
        'Fn::Join': ['', [`{"username":"${APP_USERNAME}","dbname":"${DATABASE_NAME}","masterarn":"`, ref(masterSecret), '"}']],
      },
      GenerateStringKey: 'password',
      PasswordLength: 32,
      ExcludeCharacters: PASSWORD_EXCLUDE_CHARACTERS,
    });
    template.hasResourceProperties('AWS::SecretsManager::SecretTargetAttachment', { SecretId: ref(appSecret), TargetId: ref(clusterId) });
  });

  test('both secrets rotate on the configured schedule through hosted functions: master single user, app user alternating users', () => {
    expect(json.Transform).toEqual(['AWS::SecretsManager-2024-09-16']);
    expect(rotations).toHaveLength(2);
    const attachment = (secretId: string) =>
      ofType('AWS::SecretsManager::SecretTargetAttachment').find(
        ([, a]) => a.Properties.SecretId && JSON.stringify(a.Properties.SecretId) === JSON.stringify(ref(secretId)),
      )![0];
    // In the private subnets (they reach Secrets Manager through its endpoint), comma-separated as the transform wants.
    const privateSubnets = subnetIds('private');
    expect(privateSubnets).toHaveLength(config.network.availabilityZones.length);
    const hosted = {
      KmsKeyArn: dataKey,
      VpcSecurityGroupIds: getAtt(rotationSg, 'GroupId'),
      VpcSubnetIds: { 'Fn::Join': ['', privateSubnets.flatMap((id, i) => [...(i > 0 ? [','] : []), ref(id)])] },
      ExcludeCharacters: PASSWORD_EXCLUDE_CHARACTERS,
    };
    expect(rotationOf('PostgreSQLSingleUser').Properties).toEqual({
      SecretId: ref(attachment(masterSecret)),
      RotationRules: { ScheduleExpression: `rate(${db.rotationDays} days)` },
      RotateImmediatelyOnUpdate: true,
      HostedRotationLambda: {
        ...hosted,
        RotationType: 'PostgreSQLSingleUser',
        RotationLambdaName: `TapStack-${env}-db-master-rotation`,
      },
    });
    expect(rotationOf('PostgreSQLMultiUser').Properties).toEqual({
      SecretId: ref(attachment(appSecret)),
      RotationRules: { ScheduleExpression: `rate(${db.rotationDays} days)` },
      // The login user is created by the first migration, after the stack: nothing to rotate at creation.
      RotateImmediatelyOnUpdate: false,
      HostedRotationLambda: {
        ...hosted,
        RotationType: 'PostgreSQLMultiUser',
        RotationLambdaName: `TapStack-${env}-db-app-user-rotation`,
        MasterSecretArn: ref(masterSecret),
        MasterSecretKmsKeyArn: dataKey,
      },
    });
  });

  test('each rotation function logs into an encrypted group kept like the others, created before it, and runs after the instances', () => {
    for (const r of rotations) {
      const name = (r.Properties.HostedRotationLambda as { RotationLambdaName: string }).RotationLambdaName;
      const [groupId, group] = ofType('AWS::Logs::LogGroup').find(([, g]) => g.Properties.LogGroupName === `/aws/lambda/${name}`)!;
      expect(group.Properties).toMatchObject({ KmsKeyId: logsKey, RetentionInDays: config.logs.retentionDays });
      expect(r.DependsOn).toEqual(expect.arrayContaining([groupId, ...instances.map(([id]) => id)]));
    }
  });

  test('the service reads the app user secret itself: plain connection settings, no database secret injected by ECS', () => {
    const container = containerOf('PaymentServiceTaskDefinition');
    const environment = Object.fromEntries((container.Environment as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]));
    expect(environment).toMatchObject({
      [ENV.databaseHost]: getAtt(clusterId, 'Endpoint.Address'),
      [ENV.databasePort]: '5432',
      [ENV.databaseName]: DATABASE_NAME,
      [ENV.databaseSslMode]: 'verify-full',
      [ENV.databaseSecretArn]: ref(appSecret),
      [ENV.databasePoolMax]: String(db.poolMaxPerTask),
    });
    expect(environment[ENV.databaseCredentials]).toBeUndefined();
    expect((container.Secrets as { Name: string }[]).map((s) => s.Name).sort()).toEqual([ENV.apiKey, ENV.tokenizationKey].sort());
  });

  test('the service task role reads the app user secret and nothing else, decrypting only through Secrets Manager', () => {
    const role = (taskDefinitionOf('PaymentServiceTaskDefinition').Properties.TaskRoleArn as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]!;
    // Besides sending traces to X-Ray where tracing is on (test/operations.test.ts asserts that statement).
    const traces = (s: { Action: unknown }) => JSON.stringify(s.Action).includes('xray:');
    expect(statementsOf(role).filter((s) => !traces(s as { Action: unknown }))).toEqual([
      { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: ref(appSecret) },
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: dataKey, Condition: VIA_SECRETS_MANAGER },
    ]);
  });

  test('the migration task: its family, one `migrate` container of the service image running dist/migrate.js, read-only, non-root', () => {
    const task = taskDefinitionOf('MigrationTaskDefinition');
    expect(task.Properties).toMatchObject({ Family: `TapStack-${env}-migrate`, RequiresCompatibilities: ['FARGATE'], NetworkMode: 'awsvpc' });
    expect(task.Properties.ContainerDefinitions).toHaveLength(1);
    const container = containerOf('MigrationTaskDefinition');
    expect(container).toMatchObject({
      Name: MIGRATION_CONTAINER_NAME,
      Command: ['dist/migrate.js'],
      Essential: true,
      ReadonlyRootFilesystem: true,
      User: '65532:65532',
      Image: containerOf('PaymentServiceTaskDefinition').Image,
    });
    expect(MIGRATION_CONTAINER_NAME).toBe('migrate');
    expect(container.Secrets).toBeUndefined();
    expect((container.LogConfiguration as { Options: Record<string, unknown> }).Options).toMatchObject({
      'awslogs-group': (containerOf('PaymentServiceTaskDefinition').LogConfiguration as { Options: Record<string, unknown> }).Options[
        'awslogs-group'
      ],
      'awslogs-stream-prefix': 'migrate',
    });
  });

  test('the migration task logs in as the master user and is told the app user secret; both as ARNs, never values', () => {
    const environment = Object.fromEntries(
      (containerOf('MigrationTaskDefinition').Environment as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]),
    );
    expect(environment).toEqual({
      NODE_ENV: 'production',
      [ENV.logLevel]: 'info',
      [ENV.databaseHost]: getAtt(clusterId, 'Endpoint.Address'),
      [ENV.databasePort]: '5432',
      [ENV.databaseName]: DATABASE_NAME,
      [ENV.databaseSslMode]: 'verify-full',
      [ENV.databaseSecretArn]: ref(masterSecret),
      [ENV.databaseAppSecretArn]: ref(appSecret),
    });
  });

  test('the migration task role reads exactly the two database secrets; its execution role reads none', () => {
    const task = taskDefinitionOf('MigrationTaskDefinition');
    const role = (task.Properties.TaskRoleArn as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]!;
    expect(statementsOf(role)).toEqual([
      { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: [ref(appSecret), ref(masterSecret)] },
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: dataKey, Condition: VIA_SECRETS_MANAGER },
    ]);
    const execution = (task.Properties.ExecutionRoleArn as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]!;
    expect(JSON.stringify(statementsOf(execution))).not.toMatch(/secretsmanager|kms:/);
    expect(role).not.toEqual(
      (taskDefinitionOf('PaymentServiceTaskDefinition').Properties.TaskRoleArn as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0],
    );
  });

  test('the migration task reaches the database, the endpoints and S3 (image layers), nothing else; nothing reaches it', () => {
    expect(resources[migrationSg]!.Properties.SecurityGroupEgress).toBeUndefined();
    expect(sort(egressOf(migrationSg))).toEqual(
      sort([tcp(5432, getAtt(dbSg, 'GroupId')), tcp(443, getAtt(endpointSg, 'GroupId')), tcp(443, S3_PREFIX_LIST_IDS['us-east-1'])]),
    );
    expect(ingressOf(migrationSg)).toEqual([]);
    expect(resources[migrationSg]!.Properties.SecurityGroupIngress).toBeUndefined();
  });

  test('the stack hands the pipeline a MigrationTarget: the service cluster, the migration task, its group and the private subnets', () => {
    const target: MigrationTarget = stack.migration;
    expect(target.cluster).toBe(stack.paymentService.cluster);
    expect(target.taskDefinition.family).toBe(`TapStack-${env}-migrate`);
    expect(target.securityGroup).toBe(stack.migration.securityGroup);
    expect(target.subnets.map((s) => s.subnetId)).toEqual(stack.network.vpc.privateSubnets.map((s) => s.subnetId));
  });
});

describe('deploying the AWS::SecretsManager transform', () => {
  test('the pinned CDK CLI deploys with CAPABILITY_AUTO_EXPAND, which a template with a transform needs', () => {
    // The bundled source of the pinned CLI: an upgrade that stops passing the capability fails here, not at a deploy.
    const cli = fs.readFileSync(path.join(__dirname, '..', 'node_modules', 'aws-cdk', 'lib', 'index.js'), 'utf8');
    expect(cli).toMatch(/Capabilities: \["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"\]/);
  });
});

describe('the app login rotation waits until the first migration has created the login', () => {
  // Secrets Manager runs the rotation function's testSecret, which logs in as the secret's user, when a schedule is
  // created; before the pipeline's first migration that user does not exist (docs/aws-contracts.md, "Database").
  const rotationTypes = (stack: Stack): string[] =>
    Object.values(Template.fromStack(stack).findResources('AWS::SecretsManager::RotationSchedule'))
      .map((r) => (r.Properties.HostedRotationLambda as { RotationType: string }).RotationType)
      .sort();

  test.each([
    [{ firstDeploy: 'true' }, ['PostgreSQLSingleUser']],
    [{ newDatabase: 'true' }, ['PostgreSQLSingleUser']],
    [{}, ['PostgreSQLMultiUser', 'PostgreSQLSingleUser']],
  ])('context %p: rotation schedules %p', (context, expected) => {
    expect(rotationTypes(buildEnv('dev', 'agnostic', context))).toEqual(expected);
  });

  test.each(['firstDeploy', 'newDatabase'])('-c %s=true: still zero unacknowledged findings, and no stale acknowledgement', (flag) => {
    const build = (): Stack => {
      const stack = buildEnv('staging', 'bound', { [flag]: 'true' });
      (stack.node.root as App).synth();
      return stack;
    };
    const stack = build();
    for (const pack of compliancePacks()) {
      expect(pack.validateScope(stack).violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`))).toEqual([]);
    }
    expect(staleAcknowledgements(build)).toEqual([]);
  });
});
