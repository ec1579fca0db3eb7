import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { acknowledgePart, arnToken, nagAccount } from '../compliance/acknowledge';
import { MIGRATION_CONTAINER_NAME, MigrationTarget } from '../database/migration-target';
import { BuildProject } from './build-project';

/**
 * What tools/migrate reads from the Deploy project's environment: names, ARNs and ids of the migration target, never a
 * credential (the migration task reads its database secrets itself, with its own task role). The MIGRATION_ prefix
 * keeps them apart from tools/deploy's CLUSTER_NAME and CONTAINER_NAME in the same environment.
 */
export function migrationEnvironment(target: MigrationTarget): Record<string, string> {
  if (target.subnets.length === 0) throw new Error('the migration target has no subnets: the migration task could not be placed');
  return {
    MIGRATION_CLUSTER: target.cluster.clusterArn,
    MIGRATION_TASK_FAMILY: target.taskDefinition.family,
    MIGRATION_CONTAINER_NAME,
    MIGRATION_SUBNET_IDS: target.subnets.map((s) => s.subnetId).join(','),
    MIGRATION_SECURITY_GROUP_IDS: target.securityGroup.securityGroupId,
  };
}

/**
 * What tools/migrate calls, each scoped as far as ECS allows (docs/aws-contracts.md, "Migrations in the pipeline";
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html):
 * - RegisterTaskDefinition on revisions of the migration family (its resource type is task-definition), and
 *   TagResource there only while registering (the copy keeps the family's tags);
 * - RunTask of those revisions, and only in the migration target's cluster (`ecs:cluster`);
 * - DescribeTasks and StopTask on that cluster's tasks;
 * - iam:PassRole for the migration task's own task and execution roles, to ECS tasks only (RegisterTaskDefinition and
 *   RunTask both pass them);
 * - DescribeTaskDefinition, which has no resource-level permission (`*`).
 */
export function grantMigration(project: BuildProject, target: MigrationTarget): void {
  const stack = Stack.of(project);
  const role = project.project.role!;
  const family = target.taskDefinition.family;
  const revisions = stack.formatArn({ service: 'ecs', resource: 'task-definition', resourceName: `${family}:*` });
  const tasks = stack.formatArn({ service: 'ecs', resource: 'task', resourceName: `${target.cluster.clusterName}/*` });
  const inCluster = { ArnEquals: { 'ecs:cluster': target.cluster.clusterArn } };
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['ecs:RegisterTaskDefinition'], resources: [revisions] }));
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['ecs:TagResource'],
      resources: [revisions],
      conditions: { StringEquals: { 'ecs:CreateAction': 'RegisterTaskDefinition' } },
    }),
  );
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['ecs:RunTask'], resources: [revisions], conditions: inCluster }));
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['ecs:DescribeTasks', 'ecs:StopTask'], resources: [tasks], conditions: inCluster }));
  const executionRole = target.taskDefinition.executionRole;
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['iam:PassRole'],
      resources: [target.taskDefinition.taskRole.roleArn, ...(executionRole ? [executionRole.roleArn] : [])],
      conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
    }),
  );
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['ecs:DescribeTaskDefinition'], resources: ['*'] }));

  const account = nagAccount(project);
  acknowledgePart(
    project,
    `IAM5[Resource::arn:aws:ecs:${stack.region}:${account}:task-definition/${family}:*]`,
    'ecs:RegisterTaskDefinition, ecs:TagResource (only while registering, ecs:CreateAction) and ecs:RunTask (only in the migration cluster) ' +
      'on revisions of the one migration task definition family: the pipeline registers a new revision per release and runs it; ECS numbers the revision',
  );
  acknowledgePart(
    project,
    `IAM5[Resource::arn:aws:ecs:${stack.region}:${account}:task/${arnToken(target.cluster).replace('.Arn>', '>')}/*]`,
    'ecs:DescribeTasks and ecs:StopTask on the tasks of the one cluster the migration runs in (also conditioned on that cluster): ' +
      'ECS names each task at RunTask, so the id takes a wildcard',
  );
}
