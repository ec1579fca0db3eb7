import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../lib/app';
import { CDK_CONTEXT, ENVS, shippedConfigs, synthEnv } from './helpers';

type Resource = { Type: string; Properties: Record<string, unknown>; DependsOn?: string[] };
type Resources = Record<string, Resource>;

const ofType = (resources: Resources, type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const only = (resources: Resources, type: string): [string, Resource] => {
  const found = ofType(resources, type);
  expect(found).toHaveLength(1);
  return found[0]!;
};
const getAttId = (value: unknown): string | undefined => (value as { 'Fn::GetAtt'?: [string, string] } | undefined)?.['Fn::GetAtt']?.[0];
const hookFunction = (resources: Resources): [string, Resource] => {
  const service = only(resources, 'AWS::ECS::Service')[1];
  const hooks = (service.Properties.DeploymentConfiguration as { LifecycleHooks: { HookTargetArn: unknown }[] }).LifecycleHooks;
  const id = getAttId(hooks[0]!.HookTargetArn)!;
  return [id, resources[id]!];
};

describe.each(ENVS)('smoke-test hook and service creation in %s', (env) => {
  const resources = synthEnv(env).template.toJSON().Resources as Resources;

  test('the hook Lambda reserves no concurrency (Lambda keeps 100 unreserved; new accounts have reduced quotas)', () => {
    const [, fn] = hookFunction(resources);
    expect(fn.Properties).not.toHaveProperty('ReservedConcurrentExecutions');
  });

  test("the hook knows its cluster and may only list and describe that cluster's service deployments", () => {
    const [, fn] = hookFunction(resources);
    const clusterId = only(resources, 'AWS::ECS::Cluster')[0];
    expect((fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables.CLUSTER_NAME).toEqual({ Ref: clusterId });

    const roleId = getAttId(fn.Properties.Role)!;
    const policies = ofType(resources, 'AWS::IAM::Policy').filter(
      ([, p]) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: roleId }]),
    );
    const statements = policies.flatMap(([, p]) => (p.Properties.PolicyDocument as { Statement: { Action: unknown }[] }).Statement);
    const ecsStatements = statements.filter((s) => JSON.stringify(s.Action).includes('ecs:'));
    const arn = (resource: string) => ({
      'Fn::Join': ['', [`arn:aws:ecs:${shippedConfigs()[env].region}:`, { Ref: 'AWS::AccountId' }, `:${resource}/`, { Ref: clusterId }, '/*']],
    });
    expect(ecsStatements).toHaveLength(1);
    const [statement] = ecsStatements as { Action: string[]; Effect: string; Resource: unknown[]; Condition?: unknown }[];
    expect([...statement!.Action].sort()).toEqual(['ecs:DescribeServiceDeployments', 'ecs:ListServiceDeployments']);
    expect(statement!.Effect).toBe('Allow');
    expect(statement!.Condition).toBeUndefined();
    expect(statement!.Resource).toHaveLength(2);
    expect(statement!.Resource).toEqual(expect.arrayContaining([arn('service'), arn('service-deployment')]));
  });

  test('the service is created only after every policy of every role ECS uses while creating it', () => {
    // GIVEN the roles the service hands to ECS (hook invocation, listener-rule shifts, task start) and the hook's own
    const [serviceId, service] = only(resources, 'AWS::ECS::Service');
    const taskDefinition = resources[(service.Properties.TaskDefinition as { Ref: string }).Ref]!;
    const [, fn] = hookFunction(resources);
    const config = service.Properties.DeploymentConfiguration as { LifecycleHooks: { RoleArn: unknown }[] };
    const loadBalancer = (service.Properties.LoadBalancers as { AdvancedConfiguration: { RoleArn: unknown } }[])[0]!;
    const roles = [
      getAttId(config.LifecycleHooks[0]!.RoleArn),
      getAttId(loadBalancer.AdvancedConfiguration.RoleArn),
      getAttId(taskDefinition.Properties.ExecutionRoleArn),
      getAttId(taskDefinition.Properties.TaskRoleArn),
      getAttId(fn.Properties.Role),
    ];
    expect(roles.every(Boolean)).toBe(true);
    // WHEN we collect every policy attached to one of them (inline policy resources and customer-managed policies)
    const attached = [...ofType(resources, 'AWS::IAM::Policy'), ...ofType(resources, 'AWS::IAM::ManagedPolicy')]
      .filter(([, p]) => ((p.Properties.Roles as { Ref: string }[] | undefined) ?? []).some((r) => roles.includes(r.Ref)))
      .map(([id]) => id);
    // THEN the hook's invoke policy is among them, and the service depends on each one
    const invokePolicy = ofType(resources, 'AWS::IAM::ManagedPolicy').find(([, p]) =>
      JSON.stringify(p.Properties).includes('lambda:InvokeFunction'),
    )![0];
    expect(attached).toContain(invokePolicy);
    expect(attached.length).toBeGreaterThanOrEqual(3);
    expect(resources[serviceId]!.DependsOn).toEqual(expect.arrayContaining(attached));
  });

  test('autoscaling keeps the configured minimum and is not suspended (suspension is written out as false)', () => {
    const [, target] = only(resources, 'AWS::ApplicationAutoScaling::ScalableTarget');
    expect(target.Properties).toMatchObject({
      MinCapacity: shippedConfigs()[env].service.minCapacity,
      MaxCapacity: shippedConfigs()[env].service.maxCapacity,
      SuspendedState: { DynamicScalingInSuspended: false, DynamicScalingOutSuspended: false, ScheduledScalingSuspended: false },
    });
  });
});

describe('first deploy into an empty account starts no task', () => {
  test('-c firstDeploy=true: desired count 0, scalable target minimum 0, and all scaling suspended', () => {
    // GIVEN the first deploy; registering a scalable target moves the current capacity into [min, max], so a minimum
    // above 0 would start tasks of an image that does not exist yet
    const stack = buildApp(new App({ context: { ...CDK_CONTEXT, env: 'prod', firstDeploy: 'true' } }));
    const resources = Template.fromStack(stack).toJSON().Resources as Resources;
    const prod = shippedConfigs().prod.service;

    // THEN nothing asks for a task: not the service, not the scalable target, not a scaling policy
    expect(only(resources, 'AWS::ECS::Service')[1].Properties.DesiredCount).toBe(0);
    expect(only(resources, 'AWS::ApplicationAutoScaling::ScalableTarget')[1].Properties).toMatchObject({
      MinCapacity: 0,
      MaxCapacity: prod.maxCapacity,
      SuspendedState: { DynamicScalingInSuspended: true, DynamicScalingOutSuspended: true, ScheduledScalingSuspended: true },
    });
  });
});
