import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';

/**
 * What the pipeline needs to run the schema migrations as a one-off Fargate task with the image it is about to
 * deploy, before the new revision takes traffic.
 */
export interface MigrationTarget {
  /** The cluster the migration task runs in (the service's cluster). */
  readonly cluster: ecs.ICluster;
  /** Family `<stack>-migrate`, one container named {@link MIGRATION_CONTAINER_NAME}, command `dist/migrate.js`. */
  readonly taskDefinition: ecs.FargateTaskDefinition;
  /** The migration task's own security group (the database admits it on 5432). */
  readonly securityGroup: ec2.ISecurityGroup;
  /** Private subnets the task runs in (no public IP). */
  readonly subnets: readonly ec2.ISubnet[];
}

/** The migration task definition's only container; the pipeline replaces its image. */
export const MIGRATION_CONTAINER_NAME = 'migrate';
