import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct, IDependable } from 'constructs';
import { EncryptedLogGroup } from '../common/encrypted-log-group';

export interface HostedRotationProps {
  /** The secret to rotate, attached to the cluster (its JSON carries engine, host and port). */
  readonly secret: secretsmanager.ISecret;
  /**
   * For the alternating-users scheme: the master secret that clones the user and sets its passwords.
   * @default - single user: the secret's own user changes its password
   */
  readonly masterSecret?: secretsmanager.ISecret;
  /** Days between rotations. */
  readonly every: Duration;
  /**
   * Rotate when the schedule is created or changed, not only on the schedule.
   * @default true
   */
  readonly rotateImmediately?: boolean;
  /** Name of the generated function: its log group is created here under Lambda's fixed name for it. */
  readonly functionName: string;
  readonly vpc: ec2.IVpc;
  /** The rotation functions' security group (database and Secrets Manager endpoint only). */
  readonly securityGroup: ec2.ISecurityGroup;
  readonly logsKey: kms.IKey;
  readonly logRetentionDays: number;
  /** The log group's name is fixed: `fixedNameRemovalPolicyOf`. */
  readonly logRemovalPolicy: RemovalPolicy;
  /** What must exist before the first rotation runs (the cluster's instances). */
  readonly after: IDependable;
}

/**
 * A Secrets Manager hosted rotation (the `AWS::SecretsManager` transform builds AWS's rotation function for the
 * engine) in the private subnets, with its log group created beforehand under the name Lambda writes to,
 * `/aws/lambda/<function name>`, so it is KMS-encrypted and kept like every other log group
 * (docs/aws-contracts.md, "Database").
 */
export class HostedDatabaseRotation extends Construct {
  public readonly schedule: secretsmanager.RotationSchedule;
  public readonly logGroup: EncryptedLogGroup;

  constructor(scope: Construct, id: string, props: HostedRotationProps) {
    super(scope, id);
    if (props.functionName.length > 64) throw new Error(`HostedDatabaseRotation: function name over 64 characters: ${props.functionName}`);
    this.logGroup = new EncryptedLogGroup(this, 'LogGroup', {
      key: props.logsKey,
      retentionDays: props.logRetentionDays,
      removalPolicy: props.logRemovalPolicy,
      logGroupName: `/aws/lambda/${props.functionName}`,
    });
    const options = {
      functionName: props.functionName,
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [props.securityGroup],
    };
    const hostedRotation = props.masterSecret
      ? secretsmanager.HostedRotation.postgreSqlMultiUser({ ...options, masterSecret: props.masterSecret })
      : secretsmanager.HostedRotation.postgreSqlSingleUser(options);
    this.schedule = new secretsmanager.RotationSchedule(this, 'Schedule', {
      secret: props.secret,
      hostedRotation,
      automaticallyAfter: props.every,
      rotateImmediatelyOnUpdate: props.rotateImmediately ?? true,
    });
    // The function writes to its log group from its first run on; the first run needs the instances.
    this.schedule.node.addDependency(this.logGroup, props.after);
  }
}
