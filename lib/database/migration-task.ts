import { Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { ENV } from '../../app/src/contract';
import { acknowledge, acknowledgeGrantPolicy } from '../compliance/acknowledge';
import { allowEgress, PrivateAwsAccess } from '../network/egress';
import { databaseEnvironment, PaymentsDatabase } from './database';
import { MIGRATION_CONTAINER_NAME, MigrationTarget } from './migration-target';

export interface MigrationTaskProps {
  readonly vpc: ec2.IVpc;
  /** The service's cluster: the pipeline runs the task there. */
  readonly cluster: ecs.ICluster;
  readonly database: PaymentsDatabase;
  /** The SSM parameter the service's task definition takes its image from (docs/deployments.md, trap 1). */
  readonly imageParameterName: string;
  /** The repository the image comes from (the execution role may pull from it). */
  readonly repository: ecr.IRepository;
  /** The service's log group; the task writes under its own stream prefix, `migrate/`. */
  readonly logGroup: logs.ILogGroup;
  /** The interface endpoints (ECR, CloudWatch Logs, Secrets Manager) and S3's prefix list (ECR serves layers from S3). */
  readonly network: PrivateAwsAccess;
}

/**
 * The schema migrations as a one-off Fargate task (`node dist/migrate.js`) of the same image as the service, which the
 * pipeline runs with the image it is about to deploy, before the new revision takes traffic (docs/deployments.md,
 * trap 28). It logs in as the master user, and ensures the app login named in the app user secret exists. Its own
 * role reads exactly those two secrets; its own security group reaches the database and the AWS endpoints only.
 */
export class MigrationTask extends Construct implements MigrationTarget {
  public readonly cluster: ecs.ICluster;
  public readonly taskDefinition: ecs.FargateTaskDefinition;
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly subnets: readonly ec2.ISubnet[];

  constructor(scope: Construct, id: string, props: MigrationTaskProps) {
    super(scope, id);
    const db = props.database;
    this.cluster = props.cluster;
    this.subnets = props.vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }).subnets;

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Migration task: PostgreSQL to the database, HTTPS to the AWS endpoints and S3, nothing else',
      allowAllOutbound: false,
    });
    db.allowConnectionsFrom(this.securityGroup, 'Migration task');
    allowEgress(this.securityGroup, props.network, [
      { to: 'aws-endpoints', why: 'ECR, CloudWatch Logs and Secrets Manager endpoints' },
      { to: 's3', why: 'Image layers from S3 through the gateway endpoint' },
    ]);

    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      family: `${Stack.of(this).stackName}-migrate`,
      cpu: 256,
      memoryLimitMiB: 512,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    this.taskDefinition.addVolume({ name: 'tmp' });
    const container = this.taskDefinition.addContainer(MIGRATION_CONTAINER_NAME, {
      image: ecs.ContainerImage.fromRegistry(ssm.StringParameter.valueForStringParameter(this, props.imageParameterName)),
      command: ['dist/migrate.js'],
      essential: true,
      readonlyRootFilesystem: true,
      user: '65532:65532',
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'migrate', logGroup: props.logGroup, mode: ecs.AwsLogDriverMode.BLOCKING }),
      // Connection settings and the ARNs of the two secrets; the task reads the values itself (no ECS secrets).
      environment: {
        NODE_ENV: 'production',
        [ENV.logLevel]: 'info',
        ...databaseEnvironment(db),
        [ENV.databaseSecretArn]: db.masterSecret.secretArn,
        [ENV.databaseAppSecretArn]: db.appUserSecret.secretArn,
      },
    });
    container.addMountPoints({ containerPath: '/tmp', sourceVolume: 'tmp', readOnly: false });
    db.masterSecret.grantGetValue(this.taskDefinition.taskRole);
    db.appUserSecret.grantGetValue(this.taskDefinition.taskRole);
    const executionRole = this.taskDefinition.obtainExecutionRole();
    props.repository.grantPull(executionRole);

    acknowledge(
      this.taskDefinition,
      ['AwsSolutions'],
      'ECS2',
      'Only non-secret settings are environment variables: host, port, database name, TLS mode and the ARNs of the two secrets the task reads itself',
    );
    acknowledgeGrantPolicy(this.taskDefinition.taskRole, 'Migration task role: read the master and app user secrets');
    acknowledgeGrantPolicy(executionRole, 'Migration task execution role: pull this image, write this log group');
    acknowledge(
      executionRole,
      ['AwsSolutions'],
      'IAM5[Resource::*]',
      'ecr:GetAuthorizationToken has no resource-level permissions (it returns a registry login)',
    );
  }
}
