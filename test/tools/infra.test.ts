import {
  CloudFormationClient,
  CreateChangeSetCommand,
  DeleteChangeSetCommand,
  DescribeChangeSetCommand,
  DescribeStackEventsCommand,
  DescribeStackResourcesCommand,
  DescribeStacksCommand,
  ExecuteChangeSetCommand,
  GetTemplateCommand,
  StackStatus,
  ResourceChange,
} from '@aws-sdk/client-cloudformation';
import { DescribeRulesCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { CodePipelineClient, StartPipelineExecutionCommand } from '@aws-sdk/client-codepipeline';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyInfrastructure, StaleChangeSetError } from '../../tools/infra/apply';
import { blueGreenRouting, plannedChanges, PROTECTED_TYPES, reviewChangeSet, shortSummary } from '../../tools/infra/change-set';
import { main, readStackArtifact, shellQuote } from '../../tools/infra/cli';
import { changeSetNameOf, planInfrastructure, PlanRefusedError } from '../../tools/infra/plan';
import { checkRecoveryStack, RecoveryStackError, resourceDrift } from '../../tools/infra/recovery';
import { rootCause, waitUntilUpdatable } from '../../tools/infra/stack';
import { Template } from 'aws-cdk-lib/assertions';
import { buildEnv, synthEnv } from '../helpers';
import { fakeRuntime } from './fake-runtime';

const cfnMock = mockClient(CloudFormationClient);
const elbMock = mockClient(ElasticLoadBalancingV2Client);
const snsMock = mockClient(SNSClient);
const ssmMock = mockClient(SSMClient);
const pipelineMock = mockClient(CodePipelineClient);
const IMAGE_PARAM = '/tap/prod/app/image-uri';

const STACK = 'TapStack-prod';
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const CS = 'pipeline-0123456789ab-4f7e2c1a';
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:alarms';
const RULE_ARN = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/tap/1/2/3';
const BLUE = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tap-blue/aaa';
const GREEN = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tap-green/bbb';

/** A template shaped as the stack synthesizes it: an ECS blue/green service, its two rules and target groups. */
function template(priority = 1): Record<string, unknown> {
  const rule = (p: number) => ({
    Type: 'AWS::ElasticLoadBalancingV2::ListenerRule',
    Properties: { ListenerArn: { Ref: 'Listener' }, Priority: p, Actions: [{ Type: 'forward', TargetGroupArn: { Ref: 'BlueTG' } }] },
  });
  return {
    Resources: {
      Service: {
        Type: 'AWS::ECS::Service',
        Properties: {
          LoadBalancers: [
            {
              TargetGroupArn: { Ref: 'BlueTG' },
              AdvancedConfiguration: {
                AlternateTargetGroupArn: { Ref: 'GreenTG' },
                ProductionListenerRule: { Ref: 'ProdRule' },
                TestListenerRule: { Ref: 'TestRule' },
                RoleArn: { 'Fn::GetAtt': ['Role', 'Arn'] },
              },
            },
          ],
        },
      },
      ProdRule: rule(priority),
      TestRule: rule(10),
      BlueTG: { Type: 'AWS::ElasticLoadBalancingV2::TargetGroup' },
      GreenTG: { Type: 'AWS::ElasticLoadBalancingV2::TargetGroup' },
      Alarm: { Type: 'AWS::CloudWatch::Alarm' },
    },
    Parameters: {
      SsmParameterValuetapprodappimageuriC96584B6F00A464EAD1953AFF4B05118Parameter: {
        Type: 'AWS::SSM::Parameter::Value<String>',
        Default: IMAGE_PARAM,
      },
      BootstrapVersion: { Type: 'AWS::SSM::Parameter::Value<String>', Default: '/cdk-bootstrap/hnb659fds/version' },
    },
  };
}

function change(
  logicalId: string,
  type: string,
  action: string,
  replacement?: string,
  props: string[] = [],
  cause: { source: string; entity?: string } = { source: 'DirectModification' },
): { ResourceChange: ResourceChange } {
  return {
    ResourceChange: {
      LogicalResourceId: logicalId,
      ResourceType: type,
      Action: action as ResourceChange['Action'],
      Replacement: replacement as ResourceChange['Replacement'],
      Details: props.map((name) => ({
        Target: { Attribute: 'Properties', Name: name },
        ChangeSource: cause.source as never,
        CausingEntity: cause.entity,
      })),
    },
  };
}

function liveWeights(blue: number, green: number): void {
  elbMock.on(DescribeRulesCommand).resolves({
    Rules: [
      {
        RuleArn: RULE_ARN,
        Actions: [
          {
            Type: 'forward',
            ForwardConfig: {
              TargetGroups: [
                { TargetGroupArn: BLUE, Weight: blue },
                { TargetGroupArn: GREEN, Weight: green },
              ],
            },
          },
        ],
      },
    ],
  });
}

/** The deployed stack: its template and the physical ids the listener guard resolves. */
function deployedStack(deployed: object = template(1)): void {
  cfnMock.on(GetTemplateCommand, { StackName: STACK, TemplateStage: 'Original' }).resolves({ TemplateBody: JSON.stringify(deployed) });
  const ids: Record<string, string> = { ProdRule: RULE_ARN, BlueTG: BLUE, GreenTG: GREEN };
  for (const [id, arn] of Object.entries(ids)) {
    cfnMock.on(DescribeStackResourcesCommand, { StackName: STACK, LogicalResourceId: id }).resolves({
      StackResources: [
        { PhysicalResourceId: arn, LogicalResourceId: id, ResourceType: 'x', ResourceStatus: 'UPDATE_COMPLETE', Timestamp: new Date() },
      ],
    });
  }
}

/** A recovery stack's template: what the assembly holds and, unless a test changes it, what is deployed. */
const RECOVERY = 'TapStack-prod-recovery';
const RECOVERY_TEMPLATE = {
  Resources: {
    Key961B73FD: { Type: 'AWS::KMS::Key', Properties: { EnableKeyRotation: true } },
    CDKMetadata: { Type: 'AWS::CDK::Metadata', Properties: { Analytics: 'v2:deflate64:abc' } },
  },
};

beforeEach(() => {
  cfnMock.reset();
  elbMock.reset();
  snsMock.reset();
  ssmMock.reset();
  pipelineMock.reset();
});

describe('reviewChangeSet', () => {
  const review = (...changes: ReturnType<typeof change>[]) => reviewChangeSet(plannedChanges(changes), template());

  test('finds what ECS blue/green owns from the synthesized stack itself', () => {
    const { template: t } = synthEnv('prod');
    expect(blueGreenRouting(t.toJSON())).toEqual({
      listenerRules: ['LoadBalancerProductionRule1971DB67', 'LoadBalancerTestRule392350BF'],
      targetGroups: ['LoadBalancerBlueTargetGroupCEE54ADF', 'LoadBalancerGreenTargetGroup903EF8E6'],
      services: [expect.stringMatching(/^PaymentService/)],
    });
  });

  test('reads ECS-owned rules and groups referenced by Ref or Fn::GetAtt', () => {
    const t = template();
    const service = (t.Resources as Record<string, { Properties: { LoadBalancers: Record<string, unknown>[] } }>).Service!;
    service.Properties.LoadBalancers[0]!.TargetGroupArn = { 'Fn::GetAtt': ['BlueTG', 'TargetGroupArn'] };
    expect(blueGreenRouting(t)).toEqual({ listenerRules: ['ProdRule', 'TestRule'], targetGroups: ['BlueTG', 'GreenTG'], services: ['Service'] });
  });

  test('GIVEN changes that touch nothing ECS owns THEN nothing refused and no live check needed', () => {
    const r = review(change('Alarm', 'AWS::CloudWatch::Alarm', 'Modify', 'False', ['Threshold']), change('NewTopic', 'AWS::SNS::Topic', 'Add'));
    expect(r).toMatchObject({
      refusals: [],
      listenerRulesTouched: [],
      changesPipeline: false,
      headline: '1 to add, 1 to modify (0 replaced), 0 to remove',
    });
  });

  test('GIVEN a modify of an ECS-owned listener rule THEN it is not refused but must be checked live', () => {
    const r = review(change('ProdRule', 'AWS::ElasticLoadBalancingV2::ListenerRule', 'Modify', 'False', ['Priority']));
    expect(r.refusals).toEqual([]);
    expect(r.listenerRulesTouched).toEqual(['ProdRule']);
    expect(r.headline).toContain('touches ECS listener rules ProdRule');
  });

  test.each([
    ['a replaced target group ECS routes to', change('GreenTG', 'AWS::ElasticLoadBalancingV2::TargetGroup', 'Modify', 'True', ['Port'])],
    ['a removed ECS listener rule', change('TestRule', 'AWS::ElasticLoadBalancingV2::ListenerRule', 'Remove')],
    ['a conditionally replaced listener rule', change('ProdRule', 'AWS::ElasticLoadBalancingV2::ListenerRule', 'Modify', 'Conditional')],
    ['the service load balancer wiring', change('Service', 'AWS::ECS::Service', 'Modify', 'False', ['LoadBalancers'])],
    ['a replaced database cluster', change('Db', 'AWS::RDS::DBCluster', 'Modify', 'True', ['DatabaseName'])],
    ['a removed key', change('Key', 'AWS::KMS::Key', 'Remove')],
    ['a replaced pipeline', change('Pipeline', 'AWS::CodePipeline::Pipeline', 'Modify', 'Conditional', ['Name'])],
    ['an import', change('Bucket', 'AWS::S3::Bucket', 'Import')],
    ['an action this code does not know', change('Bucket', 'AWS::S3::Bucket', 'SyncWithActual')],
    ['a dynamic change', change('Fn', 'AWS::Lambda::Function', 'Dynamic')],
    ['a removed DNS record clients use', change('Alias', 'AWS::Route53::RecordSet', 'Remove')],
    ['a replaced alarm topic', change('Topic', 'AWS::SNS::Topic', 'Modify', 'True', ['TopicName'])],
    ['a replaced security group', change('Sg', 'AWS::EC2::SecurityGroup', 'Modify', 'True', ['GroupDescription'])],
    ['a replaced role', change('Role', 'AWS::IAM::Role', 'Modify', 'True', ['RoleName'])],
  ])('GIVEN %s THEN refused, naming the resource', (_what, c) => {
    const r = review(c);
    expect(r.refusals).toHaveLength(1);
    expect(r.refusals[0]).toContain(c.ResourceChange.LogicalResourceId!);
    expect(r.headline).toContain('REFUSED (1)');
  });

  test('GIVEN a plain modify of a protected type, or a task definition change of the service THEN allowed', () => {
    const r = review(
      change('Db', 'AWS::RDS::DBCluster', 'Modify', 'False', ['ServerlessV2ScalingConfiguration']),
      change('Service', 'AWS::ECS::Service', 'Modify', 'False', ['TaskDefinition']),
    );
    expect(r.refusals).toEqual([]);
  });

  test('every protected type has a reason', () => {
    for (const [type, reason] of Object.entries(PROTECTED_TYPES)) expect({ type, ok: reason.length > 20 }).toEqual({ type, ok: true });
  });

  test('GIVEN the pipeline resource changes THEN the review says the pipeline restarts', () => {
    const r = review(change('Pipeline', 'AWS::CodePipeline::Pipeline', 'Modify', 'False', ['Stages']));
    expect(r.changesPipeline).toBe(true);
    expect(review(change('P', 'AWS::CodeBuild::Project', 'Modify', 'False', ['Source'])).changesPipeline).toBe(false);
  });

  test('the short summary names what is replaced or removed and fits the bound', () => {
    const r = review(change('OldAlarm', 'AWS::CloudWatch::Alarm', 'Remove'), change('Fn', 'AWS::Lambda::Function', 'Modify', 'True'));
    expect(shortSummary(r)).toBe('0 to add, 1 to modify (1 replaced), 1 to remove; -OldAlarm ~Fn');
    const many = review(...Array.from({ length: 50 }, (_, i) => change(`Alarm${i}WithAVeryLongLogicalId`, 'AWS::CloudWatch::Alarm', 'Remove')));
    expect(shortSummary(many, 120)).toHaveLength(120);
    expect(shortSummary(many, 120).endsWith('...')).toBe(true);
  });
});

describe('planInfrastructure', () => {
  const opts = {
    stackName: STACK,
    templateUrl: 'https://cdk-hnb659fds-assets-123456789012-us-east-1.s3.us-east-1.amazonaws.com/abc.json',
    executionRoleArn: 'arn:aws:iam::123456789012:role/cdk-hnb659fds-cfn-exec-role-123456789012-us-east-1',
    changeSetName: CS,
    description: `commit ${COMMIT}`,
    template: template(2),
    imageParameterName: IMAGE_PARAM,
    timeoutMs: 600_000,
  };
  const deps = (checked: string[] = [], verdict = { safe: true, reason: 'ok' }) => {
    const f = fakeRuntime(0);
    return {
      f,
      deps: {
        ...f.runtime,
        cfn: new CloudFormationClient({}),
        checkListenerRule: async (id: string) => {
          checked.push(id);
          return verdict;
        },
      },
    };
  };

  test('GIVEN an updatable stack THEN creates the change set with the bootstrap role and every capability, reads all pages', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: STACK, StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date() }] });
    cfnMock.on(CreateChangeSetCommand).resolves({ Id: 'arn:cs' });
    cfnMock
      .on(DescribeChangeSetCommand)
      .resolvesOnce({ Status: 'CREATE_IN_PROGRESS' })
      .resolvesOnce({
        Status: 'CREATE_COMPLETE',
        ChangeSetId: 'arn:cs',
        Changes: [change('Alarm', 'AWS::CloudWatch::Alarm', 'Modify', 'False')],
        NextToken: 't',
      })
      .resolvesOnce({ Status: 'CREATE_COMPLETE', ChangeSetId: 'arn:cs', Changes: [change('Topic', 'AWS::SNS::Topic', 'Add')] });
    const checked: string[] = [];
    const { deps: d } = deps(checked);

    const plan = await planInfrastructure(opts, d);

    expect(plan).toMatchObject({ changeSetName: CS, changeSetId: 'arn:cs' });
    expect(plan.review.changes.map((c) => c.logicalId)).toEqual(['Alarm', 'Topic']);
    expect(checked).toEqual([]);
    expect(cfnMock.commandCalls(CreateChangeSetCommand)[0]!.args[0].input).toEqual({
      StackName: STACK,
      ChangeSetName: CS,
      ChangeSetType: 'UPDATE',
      TemplateURL: opts.templateUrl,
      RoleARN: opts.executionRoleArn,
      Capabilities: ['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM', 'CAPABILITY_AUTO_EXPAND'],
      Description: opts.description,
    });
    expect(cfnMock.commandCalls(DeleteChangeSetCommand)).toHaveLength(0);
  });

  test('GIVEN no changes THEN no change set is left and the plan says so', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: STACK, StackStatus: 'UPDATE_ROLLBACK_COMPLETE', CreationTime: new Date() }] });
    cfnMock.on(CreateChangeSetCommand).resolves({ Id: 'arn:cs' });
    cfnMock.on(DescribeChangeSetCommand).resolves({
      Status: 'FAILED',
      StatusReason: "The submitted information didn't contain changes. Submit different information to create a change set.",
    });
    const plan = await planInfrastructure(opts, deps().deps);
    expect(plan.changeSetName).toBeUndefined();
    expect(plan.review.headline).toBe('no infrastructure changes');
    expect(cfnMock.commandCalls(DeleteChangeSetCommand)[0]!.args[0].input).toEqual({ StackName: STACK, ChangeSetName: CS });
  });

  const IMAGE_SSM = 'SsmParameterValuetapprodappimageuriC96584B6F00A464EAD1953AFF4B05118Parameter';
  const imageDriven = [
    change('TaskDef', 'AWS::ECS::TaskDefinition', 'Modify', 'True', ['ContainerDefinitions'], { source: 'ParameterReference', entity: IMAGE_SSM }),
    change('MigrationTaskDef', 'AWS::ECS::TaskDefinition', 'Modify', 'True', ['ContainerDefinitions'], {
      source: 'ParameterReference',
      entity: IMAGE_SSM,
    }),
    change('Service', 'AWS::ECS::Service', 'Modify', 'False', ['TaskDefinition'], { source: 'ResourceReference', entity: 'TaskDef' }),
  ];

  test('GIVEN a change set that only follows the image parameter the deploy step rewrote THEN nothing to apply, change set deleted', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: STACK, StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date() }] });
    cfnMock.on(CreateChangeSetCommand).resolves({ Id: 'arn:cs' });
    cfnMock.on(DescribeChangeSetCommand).resolves({ Status: 'CREATE_COMPLETE', Changes: imageDriven });
    const { f, deps: d } = deps();
    const plan = await planInfrastructure(opts, d);
    expect(plan.changeSetName).toBeUndefined();
    expect(plan.review.headline).toBe('no infrastructure changes (only the recorded image moved, which the deploy step keeps)');
    expect(cfnMock.commandCalls(DeleteChangeSetCommand)).toHaveLength(1);
    expect(f.logs.join('\n')).toContain(`only follows the new value of ${IMAGE_PARAM}`);
  });

  test.each([
    ['a real change beside it', [...imageDriven, change('Alarm', 'AWS::CloudWatch::Alarm', 'Modify', 'False', ['Threshold'])]],
    [
      'a task definition changed in the template too',
      [change('TaskDef', 'AWS::ECS::TaskDefinition', 'Modify', 'True', ['Cpu']), ...imageDriven.slice(1)],
    ],
    [
      'another parameter',
      [change('X', 'AWS::Lambda::Function', 'Modify', 'False', ['Code'], { source: 'ParameterReference', entity: 'BootstrapVersion' })],
    ],
  ])('GIVEN %s THEN the whole change set is planned', async (_what, changes) => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: STACK, StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date() }] });
    cfnMock.on(CreateChangeSetCommand).resolves({ Id: 'arn:cs' });
    cfnMock.on(DescribeChangeSetCommand).resolves({ Status: 'CREATE_COMPLETE', Changes: changes });
    const plan = await planInfrastructure(opts, deps().deps);
    expect(plan.changeSetName).toBe(CS);
    expect(plan.review.changes).toHaveLength(changes.length);
  });

  test('GIVEN a task definition changed both by the image parameter and in the template THEN the change set is planned', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: STACK, StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date() }] });
    cfnMock.on(CreateChangeSetCommand).resolves({ Id: 'arn:cs' });
    const both: ResourceChange = {
      LogicalResourceId: 'TaskDef',
      ResourceType: 'AWS::ECS::TaskDefinition',
      Action: 'Modify',
      Replacement: 'True',
      Details: [
        { Target: { Attribute: 'Properties', Name: 'ContainerDefinitions' }, ChangeSource: 'ParameterReference', CausingEntity: IMAGE_SSM },
        { Target: { Attribute: 'Properties', Name: 'Cpu' }, ChangeSource: 'DirectModification' },
      ],
    };
    cfnMock.on(DescribeChangeSetCommand).resolves({ Status: 'CREATE_COMPLETE', Changes: [{ ResourceChange: both }, ...imageDriven.slice(1)] });
    await expect(planInfrastructure(opts, deps().deps)).resolves.toMatchObject({ changeSetName: CS });
    expect(cfnMock.commandCalls(DeleteChangeSetCommand)).toHaveLength(0);
  });

  test('GIVEN a change set with no resource change (outputs only) THEN it is planned, not dropped', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: STACK, StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date() }] });
    cfnMock.on(CreateChangeSetCommand).resolves({ Id: 'arn:cs' });
    cfnMock.on(DescribeChangeSetCommand).resolves({ Status: 'CREATE_COMPLETE', Changes: [] });
    const plan = await planInfrastructure(opts, deps().deps);
    expect(plan.changeSetName).toBe(CS);
    expect(plan.review.headline).toBe('no resource changes (outputs only)');
  });

  test('GIVEN the no-changes change set cannot be deleted THEN the plan still stands and says so', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: STACK, StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date() }] });
    cfnMock.on(CreateChangeSetCommand).resolves({ Id: 'arn:cs' });
    cfnMock.on(DescribeChangeSetCommand).resolves({ Status: 'FAILED', StatusReason: "The submitted information didn't contain changes." });
    cfnMock.on(DeleteChangeSetCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied' }));
    const { f, deps: d } = deps();
    await expect(planInfrastructure(opts, d)).resolves.toMatchObject({ review: { headline: 'no infrastructure changes' } });
    expect(f.logs.join('\n')).toContain('could not delete change set');
  });

  test('GIVEN a template URL that is not https THEN refused before any AWS call', async () => {
    await expect(planInfrastructure({ ...opts, templateUrl: 's3://bucket/key.json' }, deps().deps)).rejects.toThrow(/must be an https S3 URL/);
    expect(cfnMock.calls()).toHaveLength(0);
  });

  test('GIVEN CloudFormation fails the change set for another reason THEN fails with that reason', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: STACK, StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date() }] });
    cfnMock.on(CreateChangeSetCommand).resolves({ Id: 'arn:cs' });
    cfnMock.on(DescribeChangeSetCommand).resolves({ Status: 'FAILED', StatusReason: 'Template format error: Unresolved resource dependencies [X]' });
    await expect(planInfrastructure(opts, deps().deps)).rejects.toThrow(/could not create change set .*Unresolved resource dependencies \[X\]/);
  });

  test('GIVEN a touched ECS listener rule whose live split differs THEN refused and the change set deleted', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: STACK, StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date() }] });
    cfnMock.on(CreateChangeSetCommand).resolves({ Id: 'arn:cs' });
    cfnMock
      .on(DescribeChangeSetCommand)
      .resolves({ Status: 'CREATE_COMPLETE', Changes: [change('ProdRule', 'AWS::ElasticLoadBalancingV2::ListenerRule', 'Modify', 'False')] });
    const checked: string[] = [];
    const { deps: d } = deps(checked, { safe: false, reason: 'would reset the forward to blue while live traffic is on green' });

    const error = await planInfrastructure(opts, d).catch((e) => e);

    expect(error).toBeInstanceOf(PlanRefusedError);
    expect(error.message).toContain('Modify ProdRule: would reset the forward to blue while live traffic is on green');
    expect(checked).toEqual(['ProdRule']);
    expect(cfnMock.commandCalls(DeleteChangeSetCommand)).toHaveLength(1);
  });

  test('GIVEN another operation holds the stack THEN waits for it, then plans', async () => {
    cfnMock
      .on(DescribeStacksCommand)
      .resolvesOnce({ Stacks: [{ StackName: STACK, StackStatus: 'UPDATE_IN_PROGRESS', CreationTime: new Date() }] })
      .resolves({ Stacks: [{ StackName: STACK, StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date() }] });
    cfnMock.on(CreateChangeSetCommand).resolves({ Id: 'arn:cs' });
    cfnMock.on(DescribeChangeSetCommand).resolves({ Status: 'CREATE_COMPLETE', Changes: [] });
    const { f, deps: d } = deps();
    await planInfrastructure(opts, d);
    expect(f.logs[0]).toMatch(/UPDATE_IN_PROGRESS: another operation is running, waiting/);
  });

  test.each([
    ['UPDATE_ROLLBACK_FAILED', /continue-update-rollback/],
    ['ROLLBACK_COMPLETE', /never created successfully: it must be deleted/],
    ['DELETE_FAILED', /delete of the stack failed/],
  ])('GIVEN the stack is %s THEN no change set is made and the message says what to do', async (status, advice) => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: STACK, StackStatus: status as never, CreationTime: new Date() }] });
    await expect(planInfrastructure(opts, deps().deps)).rejects.toThrow(advice);
    expect(cfnMock.commandCalls(CreateChangeSetCommand)).toHaveLength(0);
  });

  test('GIVEN the stack does not exist THEN points at the first-deploy runbook', async () => {
    cfnMock.on(DescribeStacksCommand).rejects(Object.assign(new Error(`Stack with id ${STACK} does not exist`), { name: 'ValidationError' }));
    await expect(planInfrastructure(opts, deps().deps)).rejects.toThrow(/first-deploy\.md/);
  });

  test('GIVEN the stack stays busy THEN gives up after the bound, naming the status', async () => {
    cfnMock
      .on(DescribeStacksCommand)
      .resolves({ Stacks: [{ StackName: STACK, StackStatus: 'UPDATE_ROLLBACK_IN_PROGRESS', CreationTime: new Date() }] });
    const f = fakeRuntime(0);
    await expect(waitUntilUpdatable({ ...f.runtime, cfn: new CloudFormationClient({}) }, STACK, 60_000, 15_000)).rejects.toThrow(
      /still UPDATE_ROLLBACK_IN_PROGRESS after 1m0s/,
    );
  });

  test('change set names carry the commit and the execution, and bad input is refused', () => {
    expect(changeSetNameOf(COMMIT, '4f7e2c1a-1111-2222-3333-444444444444')).toBe(CS);
    expect(() => changeSetNameOf('main', 'x')).toThrow(/40-character/);
    expect(() => changeSetNameOf(COMMIT, '---')).toThrow(/execution id/);
  });
});

describe('applyInfrastructure', () => {
  const opts = {
    envName: 'prod',
    stackName: STACK,
    changeSetName: CS,
    commit: COMMIT,
    executionId: '4f7e2c1a-1111',
    listenerRulesTouched: [] as string[],
    topicArn: TOPIC,
    imageParameterName: IMAGE_PARAM,
    timeoutMs: 3_600_000,
  };
  const deps = (verdict = { safe: true, reason: 'ok' }) => {
    const f = fakeRuntime(Date.parse('2026-11-30T12:00:00Z'));
    return {
      f,
      deps: {
        ...f.runtime,
        cfn: new CloudFormationClient({}),
        sns: new SNSClient({}),
        ssm: new SSMClient({}),
        codepipeline: new CodePipelineClient({}),
        checkListenerRule: async () => verdict,
      },
    };
  };
  const available = (changes = [change('Alarm', 'AWS::CloudWatch::Alarm', 'Modify', 'False')]) =>
    cfnMock.on(DescribeChangeSetCommand).resolves({ Status: 'CREATE_COMPLETE', ExecutionStatus: 'AVAILABLE', Changes: changes });
  const stackStatuses = (...statuses: string[]) => {
    let m = cfnMock.on(DescribeStacksCommand);
    for (const s of statuses.slice(0, -1)) m = m.resolvesOnce({ Stacks: [{ StackName: STACK, StackStatus: s as never, CreationTime: new Date() }] });
    m.resolves({ Stacks: [{ StackName: STACK, StackStatus: statuses[statuses.length - 1] as never, CreationTime: new Date() }] });
  };

  test('GIVEN the plan found nothing THEN nothing is called', async () => {
    await expect(applyInfrastructure({ ...opts, changeSetName: 'none' }, deps().deps)).resolves.toEqual({ status: 'nothing-to-apply' });
    expect(cfnMock.calls()).toHaveLength(0);
  });

  test('GIVEN an available change set THEN executes it once, follows the stack and announces the result', async () => {
    available();
    stackStatuses('UPDATE_COMPLETE', 'UPDATE_IN_PROGRESS', 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', 'UPDATE_COMPLETE');
    const result = await applyInfrastructure(opts, deps().deps);
    expect(result).toEqual({ status: 'applied', changesPipeline: false });
    expect(cfnMock.commandCalls(ExecuteChangeSetCommand).map((c) => c.args[0].input)).toEqual([
      { StackName: STACK, ChangeSetName: CS, ClientRequestToken: `apply-${CS}`, DisableRollback: false },
    ]);
    const published = snsMock.commandCalls(PublishCommand)[0]!.args[0].input;
    expect(published.Subject).toBe('[prod] infrastructure change applied');
    expect(published.Message).toContain(`Commit: ${COMMIT}`);
    expect(published.Message).toContain('Modify AWS::CloudWatch::Alarm Alarm');
  });

  test('GIVEN the update fails THEN fails with the event that caused it, not its consequences, and announces it', async () => {
    available();
    stackStatuses('UPDATE_COMPLETE', 'UPDATE_IN_PROGRESS', 'UPDATE_ROLLBACK_IN_PROGRESS', 'UPDATE_ROLLBACK_COMPLETE');
    const at = (s: number) => new Date(Date.parse('2026-11-30T12:00:00Z') + s * 1000);
    cfnMock.on(DescribeStackEventsCommand).resolves({
      StackEvents: [
        {
          StackId: 's',
          EventId: '4',
          StackName: STACK,
          Timestamp: at(40),
          LogicalResourceId: STACK,
          ResourceType: 'AWS::CloudFormation::Stack',
          ResourceStatus: 'UPDATE_ROLLBACK_IN_PROGRESS',
          ResourceStatusReason: 'The following resource(s) failed to update: [Alarm]',
        },
        {
          StackId: 's',
          EventId: '3',
          StackName: STACK,
          Timestamp: at(30),
          LogicalResourceId: 'Topic',
          ResourceType: 'AWS::SNS::Topic',
          ResourceStatus: 'UPDATE_FAILED',
          ResourceStatusReason: 'Resource update cancelled',
        },
        {
          StackId: 's',
          EventId: '2',
          StackName: STACK,
          Timestamp: at(20),
          LogicalResourceId: 'Alarm',
          ResourceType: 'AWS::CloudWatch::Alarm',
          ResourceStatus: 'UPDATE_FAILED',
          ResourceStatusReason: 'Threshold must be positive',
        },
        {
          StackId: 's',
          EventId: '1',
          StackName: STACK,
          Timestamp: new Date(Date.parse('2026-11-30T11:00:00Z')),
          LogicalResourceId: 'Old',
          ResourceType: 'AWS::SNS::Topic',
          ResourceStatus: 'UPDATE_FAILED',
          ResourceStatusReason: 'an older failure',
        },
      ],
    });
    const error = await applyInfrastructure(opts, deps().deps).catch((e) => e);
    expect(error.name).toBe('ApplyFailedError');
    expect(error.message).toContain('Cause: Alarm (AWS::CloudWatch::Alarm) UPDATE_FAILED: Threshold must be positive');
    expect(error.message).toContain('rolled the stack back');
    const published = snsMock.commandCalls(PublishCommand)[0]!.args[0].input;
    expect(published.Subject).toBe('[prod] infrastructure change FAILED (UPDATE_ROLLBACK_COMPLETE)');
    expect(published.Message).toContain('Threshold must be positive');
  });

  test('GIVEN the change set is gone (another was executed) THEN stale, and nothing executes', async () => {
    cfnMock
      .on(DescribeChangeSetCommand)
      .rejects(Object.assign(new Error(`ChangeSet [${CS}] does not exist`), { name: 'ChangeSetNotFoundException' }));
    const error = await applyInfrastructure(opts, deps().deps).catch((e) => e);
    expect(error).toBeInstanceOf(StaleChangeSetError);
    expect(error.message).toMatch(/no longer exists.*Run the pipeline again/);
    expect(cfnMock.commandCalls(ExecuteChangeSetCommand)).toHaveLength(0);
  });

  test('GIVEN the change set is OBSOLETE THEN stale, and nothing executes', async () => {
    cfnMock.on(DescribeChangeSetCommand).resolves({ Status: 'CREATE_COMPLETE', ExecutionStatus: 'OBSOLETE' });
    await expect(applyInfrastructure(opts, deps().deps)).rejects.toThrow(/CREATE_COMPLETE\/OBSOLETE, not CREATE_COMPLETE\/AVAILABLE/);
    expect(cfnMock.commandCalls(ExecuteChangeSetCommand)).toHaveLength(0);
  });

  test('GIVEN a touched listener rule whose live split moved since the plan THEN refused before executing', async () => {
    available();
    stackStatuses('UPDATE_COMPLETE');
    await expect(
      applyInfrastructure({ ...opts, listenerRulesTouched: ['ProdRule'] }, deps({ safe: false, reason: 'traffic on green' }).deps),
    ).rejects.toThrow(/ProdRule: traffic on green/);
    expect(cfnMock.commandCalls(ExecuteChangeSetCommand)).toHaveLength(0);
  });

  test('GIVEN the change set changes the pipeline THEN, once the update completed, starts the pipeline again and says so', async () => {
    available([change('Pipeline', 'AWS::CodePipeline::Pipeline', 'Modify', 'False', ['Stages'])]);
    cfnMock
      .on(DescribeStacksCommand)
      .resolvesOnce({ Stacks: [{ StackName: STACK, StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date() }] })
      .resolvesOnce({ Stacks: [{ StackName: STACK, StackStatus: 'UPDATE_IN_PROGRESS', CreationTime: new Date() }] })
      .resolves({
        Stacks: [
          {
            StackName: STACK,
            StackStatus: 'UPDATE_COMPLETE',
            CreationTime: new Date(),
            Outputs: [{ OutputKey: 'PipelineName', OutputValue: 'tap-prod-pipeline' }],
          },
        ],
      });
    pipelineMock.on(StartPipelineExecutionCommand).resolves({ pipelineExecutionId: 'exec-2' });
    const { f, deps: d } = deps();
    await expect(applyInfrastructure(opts, d)).resolves.toEqual({ status: 'applied', changesPipeline: true, restartedExecutionId: 'exec-2' });
    expect(pipelineMock.commandCalls(StartPipelineExecutionCommand).map((c) => c.args[0].input)).toEqual([
      { name: 'tap-prod-pipeline', clientRequestToken: `restart-${CS}` },
    ]);
    expect(f.logs.join('\n')).toMatch(/started execution exec-2 of tap-prod-pipeline on the new definition/);
    expect(snsMock.commandCalls(PublishCommand).map((c) => c.args[0].input.Subject)).toEqual([
      '[prod] infrastructure change applied',
      '[prod] pipeline restarted on its new definition',
    ]);
  });

  test('GIVEN a change of the pipeline that rolls back THEN the pipeline is not started again (no restart loop)', async () => {
    available([change('Pipeline', 'AWS::CodePipeline::Pipeline', 'Modify', 'False', ['Stages'])]);
    stackStatuses('UPDATE_COMPLETE', 'UPDATE_ROLLBACK_COMPLETE');
    cfnMock.on(DescribeStackEventsCommand).resolves({ StackEvents: [] });
    await expect(applyInfrastructure(opts, deps().deps)).rejects.toThrow(/ended UPDATE_ROLLBACK_COMPLETE/);
    expect(pipelineMock.commandCalls(StartPipelineExecutionCommand)).toHaveLength(0);
  });

  test('GIVEN a newer image was deployed after the plan THEN stale: executing would put the service back on the older image', async () => {
    cfnMock.on(DescribeChangeSetCommand).resolves({
      Status: 'CREATE_COMPLETE',
      ExecutionStatus: 'AVAILABLE',
      Parameters: [{ ParameterKey: 'SsmImage', ParameterValue: IMAGE_PARAM, ResolvedValue: 'repo@sha256:old' }],
      Changes: [change('Alarm', 'AWS::CloudWatch::Alarm', 'Modify', 'False')],
    });
    ssmMock.on(GetParameterCommand, { Name: IMAGE_PARAM }).resolves({ Parameter: { Value: 'repo@sha256:new' } });
    stackStatuses('UPDATE_COMPLETE');
    await expect(applyInfrastructure(opts, deps().deps)).rejects.toThrow(
      /planned when \/tap\/prod\/app\/image-uri was repo@sha256:old; it is repo@sha256:new now/,
    );
    expect(cfnMock.commandCalls(ExecuteChangeSetCommand)).toHaveLength(0);
  });

  test('GIVEN the image the change set froze is still the one running THEN it executes', async () => {
    cfnMock.on(DescribeChangeSetCommand).resolves({
      Status: 'CREATE_COMPLETE',
      ExecutionStatus: 'AVAILABLE',
      Parameters: [{ ParameterKey: 'SsmImage', ParameterValue: IMAGE_PARAM, ResolvedValue: 'repo@sha256:same' }],
      Changes: [change('Alarm', 'AWS::CloudWatch::Alarm', 'Modify', 'False')],
    });
    ssmMock.on(GetParameterCommand, { Name: IMAGE_PARAM }).resolves({ Parameter: { Value: 'repo@sha256:same' } });
    stackStatuses('UPDATE_COMPLETE', 'UPDATE_COMPLETE');
    await expect(applyInfrastructure(opts, deps().deps)).resolves.toMatchObject({ status: 'applied' });
    expect(cfnMock.commandCalls(ExecuteChangeSetCommand)).toHaveLength(1);
  });

  test('GIVEN the update outlasts the bound THEN fails saying CloudFormation goes on', async () => {
    available();
    stackStatuses('UPDATE_COMPLETE', 'UPDATE_IN_PROGRESS');
    await expect(applyInfrastructure({ ...opts, timeoutMs: 60_000 }, deps().deps)).rejects.toThrow(/still UPDATE_IN_PROGRESS .*rolls back by itself/);
  });

  test('GIVEN the announcement cannot be published THEN the outcome still stands', async () => {
    available();
    stackStatuses('UPDATE_COMPLETE', 'UPDATE_COMPLETE');
    snsMock.on(PublishCommand).rejects(Object.assign(new Error('denied'), { name: 'AuthorizationErrorException' }));
    const { f, deps: d } = deps();
    await expect(applyInfrastructure(opts, d)).resolves.toMatchObject({ status: 'applied' });
    expect(f.logs.join('\n')).toContain('could not announce');
  });

  test('rootCause prefers the failure over a cancellation, whichever came first', () => {
    const ev = (id: string, seconds: number, reason: string) => ({
      StackId: 's',
      EventId: id,
      StackName: STACK,
      Timestamp: new Date(1_000_000 + seconds * 1000),
      LogicalResourceId: id,
      ResourceType: 'AWS::SNS::Topic',
      ResourceStatus: 'UPDATE_FAILED' as const,
      ResourceStatusReason: reason,
    });
    expect(rootCause([ev('Cancelled', 1, 'Resource update cancelled'), ev('Real', 2, 'Topic name taken')])?.LogicalResourceId).toBe('Real');
    expect(rootCause([ev('OnlyCancelled', 1, 'Resource update cancelled')])?.LogicalResourceId).toBe('OnlyCancelled');
  });

  test('GIVEN the stack has no PipelineName output after a change of the pipeline THEN fails saying to start it by hand', async () => {
    available([change('Pipeline', 'AWS::CodePipeline::Pipeline', 'Modify', 'False', ['Stages'])]);
    stackStatuses('UPDATE_COMPLETE', 'UPDATE_COMPLETE');
    await expect(applyInfrastructure(opts, deps().deps)).rejects.toThrow(/no PipelineName output: start the pipeline by hand/);
    expect(pipelineMock.commandCalls(StartPipelineExecutionCommand)).toHaveLength(0);
  });

  test('rootCause skips the stack and cancelled resources', () => {
    expect(
      rootCause([
        {
          StackId: 's',
          EventId: '1',
          StackName: STACK,
          Timestamp: new Date(),
          ResourceType: 'AWS::CloudFormation::Stack',
          ResourceStatus: 'UPDATE_FAILED',
        },
      ]),
    ).toBeUndefined();
  });
});

describe('tools/infra CLI, with only the AWS API replaced', () => {
  function assembly(): string {
    const dir = mkdtempSync(join(tmpdir(), 'infra-assembly-'));
    writeFileSync(join(dir, `${STACK}.template.json`), JSON.stringify(template(2)));
    writeFileSync(join(dir, `${RECOVERY}.template.json`), JSON.stringify(RECOVERY_TEMPLATE));
    writeFileSync(
      join(dir, 'manifest.json'),
      JSON.stringify({
        artifacts: {
          [RECOVERY]: { type: 'aws:cloudformation:stack', properties: { templateFile: `${RECOVERY}.template.json` } },
          [STACK]: {
            type: 'aws:cloudformation:stack',
            properties: {
              templateFile: `${STACK}.template.json`,
              stackTemplateAssetObjectUrl: 's3://cdk-hnb659fds-assets-${AWS::AccountId}-us-east-1/0e69.json',
              cloudFormationExecutionRoleArn:
                'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-hnb659fds-cfn-exec-role-${AWS::AccountId}-us-east-1',
            },
          },
        },
      }),
    );
    return dir;
  }
  const env = (dir: string, planDir: string) => ({
    STACK_NAME: STACK,
    DEPLOY_ENV: 'prod',
    ASSEMBLY_DIR: dir,
    ACCOUNT_ID: '123456789012',
    AWS_REGION: 'us-east-1',
    COMMIT_SHA: COMMIT,
    PIPELINE_EXECUTION_ID: '4f7e2c1a-1111-2222-3333-444444444444',
    IMAGE_PARAMETER_NAME: IMAGE_PARAM,
    RECOVERY_STACK_NAME: RECOVERY,
    RECOVERY_REGION: 'us-west-2',
    PLAN_DIR: planDir,
  });
  /** What the pipeline gives Infra-Apply besides the plan's variables. */
  const APPLY_ENV = {
    STACK_NAME: STACK,
    DEPLOY_ENV: 'prod',
    COMMIT_SHA: COMMIT,
    PIPELINE_EXECUTION_ID: 'abc',
    TOPIC_ARN: TOPIC,
    IMAGE_PARAMETER_NAME: IMAGE_PARAM,
  };
  // The recovery stack is there and current, unless a test says otherwise.
  beforeEach(() => {
    cfnMock.on(GetTemplateCommand, { StackName: RECOVERY, TemplateStage: 'Original' }).resolves({ TemplateBody: JSON.stringify(RECOVERY_TEMPLATE) });
  });
  const clients = () => ({
    cfn: new CloudFormationClient({}),
    elbv2: new ElasticLoadBalancingV2Client({}),
    sns: new SNSClient({}),
    ssm: new SSMClient({}),
    codepipeline: new CodePipelineClient({}),
  });

  test('readStackArtifact resolves the placeholders into the URL and role CloudFormation is given', () => {
    expect(readStackArtifact(assembly(), STACK, '123456789012', 'us-east-1')).toMatchObject({
      templateUrl: 'https://cdk-hnb659fds-assets-123456789012-us-east-1.s3.us-east-1.amazonaws.com/0e69.json',
      executionRoleArn: 'arn:aws:iam::123456789012:role/cdk-hnb659fds-cfn-exec-role-123456789012-us-east-1',
    });
  });

  test('plan: a changed production rule with live traffic already on the template target group passes the real listener guard', async () => {
    const dir = assembly();
    const planDir = mkdtempSync(join(tmpdir(), 'infra-plan-'));
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: STACK, StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date() }] });
    cfnMock.on(CreateChangeSetCommand).resolves({ Id: 'arn:aws:cloudformation:us-east-1:123456789012:changeSet/x/y' });
    cfnMock.on(DescribeChangeSetCommand).resolves({
      Status: 'CREATE_COMPLETE',
      ChangeSetId: 'arn:aws:cloudformation:us-east-1:123456789012:changeSet/x/y',
      Changes: [change('ProdRule', 'AWS::ElasticLoadBalancingV2::ListenerRule', 'Modify', 'False', ['Priority'])],
    });
    deployedStack(template(1));
    liveWeights(100, 0);
    const { runtime, logs } = fakeRuntime(0);

    expect(await main(['plan'], env(dir, planDir), clients(), runtime)).toBe(0);

    expect(logs.join('\n')).toMatch(/listener rule ProdRule: safe/);
    const vars = execFileSync(
      'bash',
      ['-c', `set -a; . "${planDir}/infra-plan.env"; printf '%s|%s|%s' "$CHANGE_SET_NAME" "$LISTENER_RULES_TOUCHED" "$CHANGE_SUMMARY"`],
      {
        encoding: 'utf8',
      },
    );
    expect(vars).toBe(`${CS}|ProdRule|0 to add, 1 to modify (0 replaced), 0 to remove, touches ECS listener rules ProdRule`);
    expect(readFileSync(join(planDir, 'infra-plan.txt'), 'utf8')).toContain('Modify AWS::ElasticLoadBalancingV2::ListenerRule ProdRule [Priority]');
  });

  test('plan: GIVEN the recovery stack is missing THEN exits 1 before any change set is created', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: STACK, StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date() }] });
    cfnMock
      .on(DescribeStacksCommand, { StackName: RECOVERY })
      .rejects(Object.assign(new Error(`Stack with id ${RECOVERY} does not exist`), { name: 'ValidationError' }));
    const errors: string[] = [];
    const spy = jest.spyOn(console, 'error').mockImplementation((line: string) => void errors.push(line));
    try {
      expect(await main(['plan'], env(assembly(), mkdtempSync(join(tmpdir(), 'infra-plan-'))), clients(), fakeRuntime(0).runtime)).toBe(1);
    } finally {
      spy.mockRestore();
    }
    expect(errors.join('\n')).toContain(`RecoveryStackError: the recovery stack ${RECOVERY} does not exist in us-west-2`);
    expect(cfnMock.commandCalls(CreateChangeSetCommand)).toHaveLength(0);
  });

  test('plan: no changes exports none, and links the approver to the stack', async () => {
    const planDir = mkdtempSync(join(tmpdir(), 'infra-plan-'));
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: STACK, StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date() }] });
    cfnMock.on(CreateChangeSetCommand).resolves({ Id: 'arn:cs' });
    cfnMock.on(DescribeChangeSetCommand).resolves({ Status: 'FAILED', StatusReason: "The submitted information didn't contain changes." });
    expect(await main(['plan'], env(assembly(), planDir), clients(), fakeRuntime(0).runtime)).toBe(0);
    const vars = execFileSync(
      'bash',
      ['-c', `set -a; . "${planDir}/infra-plan.env"; printf '%s|%s|%s' "$CHANGE_SET_NAME" "$CHANGE_SUMMARY" "$CHANGE_SET_URL"`],
      {
        encoding: 'utf8',
      },
    );
    expect(vars).toBe(
      'none|no infrastructure changes|https://us-east-1.console.aws.amazon.com/cloudformation/home?region=us-east-1#/stacks/stackinfo?stackId=TapStack-prod',
    );
    // AND the variables, as the pipeline passes them on, are what apply accepts: it does nothing and exits 0
    const passed = Object.fromEntries(
      execFileSync('bash', ['-c', `set -a; . "${planDir}/infra-plan.env"; env`], { encoding: 'utf8', env: {} })
        .split('\n')
        .filter((l) => /^(CHANGE_SET_NAME|LISTENER_RULES_TOUCHED)=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(passed).toEqual({ CHANGE_SET_NAME: 'none', LISTENER_RULES_TOUCHED: 'none' });
    cfnMock.reset();
    expect(await main(['apply'], { ...APPLY_ENV, ...passed }, clients(), fakeRuntime(0).runtime)).toBe(0);
    expect(cfnMock.calls()).toHaveLength(0);
  });

  test('apply: a touched rule missing from the change set template is refused, nothing executes', async () => {
    cfnMock.on(DescribeChangeSetCommand).resolves({
      Status: 'CREATE_COMPLETE',
      ExecutionStatus: 'AVAILABLE',
      Changes: [change('ProdRule', 'AWS::ElasticLoadBalancingV2::ListenerRule', 'Modify', 'False')],
    });
    const withoutRule = template(2);
    delete (withoutRule.Resources as Record<string, unknown>).ProdRule;
    deployedStack(template(1));
    cfnMock
      .on(GetTemplateCommand, { StackName: STACK, ChangeSetName: CS, TemplateStage: 'Original' })
      .resolves({ TemplateBody: JSON.stringify(withoutRule) });
    const { code, errors } = await runCli(['apply'], { ...APPLY_ENV, CHANGE_SET_NAME: CS, LISTENER_RULES_TOUCHED: 'ProdRule' }, clients());
    expect(code).toBe(1);
    expect(errors.join('\n')).toMatch(/rule ProdRule is not in the planned template/);
    expect(cfnMock.commandCalls(ExecuteChangeSetCommand)).toHaveLength(0);
  });

  test('plan: the same change while live traffic is on green exits 1 and leaves no change set', async () => {
    const dir = assembly();
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: STACK, StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date() }] });
    cfnMock.on(CreateChangeSetCommand).resolves({ Id: 'arn:cs' });
    cfnMock.on(DescribeChangeSetCommand).resolves({
      Status: 'CREATE_COMPLETE',
      Changes: [change('ProdRule', 'AWS::ElasticLoadBalancingV2::ListenerRule', 'Modify', 'False', ['Priority'])],
    });
    deployedStack(template(1));
    liveWeights(0, 100);
    const errors: string[] = [];
    const spy = jest.spyOn(console, 'error').mockImplementation((m) => errors.push(String(m)));
    try {
      expect(await main(['plan'], env(dir, mkdtempSync(join(tmpdir(), 'p-'))), clients(), fakeRuntime(0).runtime)).toBe(1);
    } finally {
      spy.mockRestore();
    }
    expect(errors.join('\n')).toMatch(
      /PlanRefusedError: .*reset its forward to \[tap-blue 100%\] while live traffic is \[tap-blue 0%, tap-green 100%\]/s,
    );
    expect(cfnMock.commandCalls(DeleteChangeSetCommand)).toHaveLength(1);
  });

  test('apply: re-checks the touched rule against the change set template before executing', async () => {
    cfnMock.on(DescribeChangeSetCommand).resolves({
      Status: 'CREATE_COMPLETE',
      ExecutionStatus: 'AVAILABLE',
      Changes: [change('ProdRule', 'AWS::ElasticLoadBalancingV2::ListenerRule', 'Modify', 'False')],
    });
    deployedStack(template(1));
    // Registered after the deployed template's mock, whose partial input match would also answer a change set request.
    cfnMock
      .on(GetTemplateCommand, { StackName: STACK, ChangeSetName: CS, TemplateStage: 'Original' })
      .resolves({ TemplateBody: JSON.stringify(template(2)) });
    liveWeights(0, 100);
    const { code, errors } = await runCli(['apply'], { ...APPLY_ENV, CHANGE_SET_NAME: CS, LISTENER_RULES_TOUCHED: 'ProdRule' }, clients());
    expect(code).toBe(1);
    expect(errors.join('\n')).toMatch(/StaleChangeSetError: listener rule ProdRule: .*live traffic is \[tap-blue 0%, tap-green 100%\]/);
    expect(cfnMock.commandCalls(ExecuteChangeSetCommand)).toHaveLength(0);
  });

  test.each([
    [{ DEPLOY_ENV: 'Prod' }, /DEPLOY_ENV must be dev, staging or prod, got: "Prod"/],
    [{ COMMIT_SHA: 'main' }, /COMMIT_SHA must be a full 40-character/],
    [{ ACCOUNT_ID: '12345' }, /ACCOUNT_ID must be a 12-digit/],
    [{ ASSEMBLY_DIR: '/nonexistent' }, /ASSEMBLY_DIR \/nonexistent has no readable manifest\.json/],
  ])('bad configuration %j exits 2 naming the value', async (override, message) => {
    const errors: string[] = [];
    const spy = jest.spyOn(console, 'error').mockImplementation((m) => errors.push(String(m)));
    try {
      expect(await main(['plan'], { ...env(assembly(), tmpdir()), ...override }, clients(), fakeRuntime(0).runtime)).toBe(2);
    } finally {
      spy.mockRestore();
    }
    expect(errors.join('\n')).toMatch(message);
    expect(cfnMock.calls()).toHaveLength(0);
  });

  test('shellQuote survives quotes, newlines and $ for bash', () => {
    const value = 'it\'s $HOME `x` "y"\nz';
    const out = execFileSync('bash', ['-c', `V=${shellQuote(value)}; printf '%s' "$V"`], { encoding: 'utf8' });
    expect(out).toBe('it\'s $HOME `x` "y" z');
  });
});

describe('setup flags carried from the deployed stack', () => {
  const run = async (outputs: { OutputKey: string; OutputValue: string }[]) => {
    cfnMock
      .on(DescribeStacksCommand)
      .resolves({ Stacks: [{ StackName: STACK, StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date(), Outputs: outputs }] });
    let out = '';
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      out += String(chunk);
      return true;
    });
    const errors: string[] = [];
    const err = jest.spyOn(console, 'error').mockImplementation((m) => errors.push(String(m)));
    try {
      const code = await main(
        ['context'],
        { STACK_NAME: STACK },
        {
          cfn: new CloudFormationClient({}),
          elbv2: new ElasticLoadBalancingV2Client({}),
          sns: new SNSClient({}),
          ssm: new SSMClient({}),
          codepipeline: new CodePipelineClient({}),
        },
        fakeRuntime(0).runtime,
      );
      return { code, out, errors };
    } finally {
      write.mockRestore();
      err.mockRestore();
    }
  };

  test('GIVEN a first deploy THEN the synth keeps both flags', async () => {
    await expect(run([{ OutputKey: 'PendingSetup', OutputValue: 'firstDeploy,newDatabase' }])).resolves.toMatchObject({
      code: 0,
      out: '-c firstDeploy=true -c newDatabase=true',
    });
  });

  test('GIVEN none, or a stack from before the output THEN no flags', async () => {
    await expect(run([{ OutputKey: 'PendingSetup', OutputValue: 'none' }])).resolves.toMatchObject({ code: 0, out: '' });
    await expect(run([])).resolves.toMatchObject({ code: 0, out: '' });
  });

  test('GIVEN a value it does not know THEN fails naming it, and prints no flags', async () => {
    const r = await run([{ OutputKey: 'PendingSetup', OutputValue: 'firstDeploy,synthOnly' }]);
    expect(r).toMatchObject({ code: 1, out: '' });
    expect(r.errors.join('\n')).toContain('names unknown flags: "synthOnly"');
  });

  test('the stack writes what the pipeline reads', () => {
    const outputs = (f: Record<string, string>) => synthEnvWith(f).toJSON().Outputs.PendingSetup.Value;
    expect(outputs({})).toBe('none');
    expect(outputs({ firstDeploy: 'true', newDatabase: 'true' })).toBe('firstDeploy,newDatabase');
    expect(outputs({ newDatabase: 'true' })).toBe('newDatabase');
  });
});

function synthEnvWith(flags: Record<string, string>): Template {
  return Template.fromStack(buildEnv('dev', 'agnostic', flags));
}

/** Runs the CLI as the pipeline does, with console.error captured: the exit code and what it printed there. */
async function runCli(argv: string[], env: NodeJS.ProcessEnv, aws: Parameters<typeof main>[2]): Promise<{ code: number; errors: string[] }> {
  const errors: string[] = [];
  const spy = jest.spyOn(console, 'error').mockImplementation((m) => errors.push(String(m)));
  try {
    return { code: await main(argv, env, aws, fakeRuntime(0).runtime), errors };
  } finally {
    spy.mockRestore();
  }
}

describe('the recovery stack check before a plan (tools/infra/recovery.ts)', () => {
  const deps = () => {
    const { runtime, logs } = fakeRuntime(0);
    return { deps: { ...runtime, cfn: new CloudFormationClient({ region: 'us-west-2' }) }, logs };
  };
  const settled = (status = 'UPDATE_COMPLETE') =>
    cfnMock
      .on(DescribeStacksCommand, { StackName: RECOVERY })
      .resolves({ Stacks: [{ StackName: RECOVERY, StackStatus: status as StackStatus, CreationTime: new Date() }] });
  const deployed = (t: unknown) =>
    cfnMock.on(GetTemplateCommand, { StackName: RECOVERY, TemplateStage: 'Original' }).resolves({ TemplateBody: JSON.stringify(t) });

  test('GIVEN the stack as this commit synthesizes it THEN passes, whatever CDK metadata says', async () => {
    settled();
    deployed({
      ...RECOVERY_TEMPLATE,
      Resources: { ...RECOVERY_TEMPLATE.Resources, CDKMetadata: { Type: 'AWS::CDK::Metadata', Properties: { Analytics: 'other' } } },
    });
    const { deps: d, logs } = deps();
    await checkRecoveryStack(d, RECOVERY, 'us-west-2', RECOVERY_TEMPLATE, 'prod');
    expect(logs.join('\n')).toContain(`recovery stack ${RECOVERY} in us-west-2: UPDATE_COMPLETE`);
  });

  test('GIVEN no recovery stack THEN refused, saying which command deploys it', async () => {
    cfnMock
      .on(DescribeStacksCommand, { StackName: RECOVERY })
      .rejects(Object.assign(new Error(`Stack with id ${RECOVERY} does not exist`), { name: 'ValidationError' }));
    await expect(checkRecoveryStack(deps().deps, RECOVERY, 'us-west-2', RECOVERY_TEMPLATE, 'prod')).rejects.toThrow(
      `the recovery stack ${RECOVERY} does not exist in us-west-2; deploy it with this commit first: npm run deploy:recovery -- prod (docs/runbooks/disaster-recovery.md)`,
    );
  });

  test.each(['CREATE_IN_PROGRESS', 'ROLLBACK_COMPLETE', 'UPDATE_ROLLBACK_FAILED', 'DELETE_COMPLETE'])(
    'GIVEN the stack is %s THEN refused, naming the state',
    async (status) => {
      settled(status);
      deployed(RECOVERY_TEMPLATE);
      await expect(checkRecoveryStack(deps().deps, RECOVERY, 'us-west-2', RECOVERY_TEMPLATE, 'prod')).rejects.toStrictEqual(
        new RecoveryStackError(
          `the recovery stack ${RECOVERY} in us-west-2 is ${status}; deploy it with this commit first: npm run deploy:recovery -- prod (docs/runbooks/disaster-recovery.md)`,
        ),
      );
    },
  );

  test("GIVEN a deployed stack older than this commit's THEN refused, naming each resource that differs", async () => {
    settled();
    deployed({ Resources: { Key961B73FD: { Type: 'AWS::KMS::Key', Properties: { EnableKeyRotation: false } }, Old: { Type: 'AWS::S3::Bucket' } } });
    const synthesized = { Resources: { ...RECOVERY_TEMPLATE.Resources, Vault: { Type: 'AWS::Backup::BackupVault' } } };
    await expect(checkRecoveryStack(deps().deps, RECOVERY, 'us-west-2', synthesized, 'prod')).rejects.toThrow(
      `the recovery stack ${RECOVERY} in us-west-2 differs from this commit's in Key961B73FD, Old, Vault;`,
    );
  });

  test('resourceDrift: equal templates have none; key order does not matter', () => {
    expect(
      resourceDrift({ Resources: { A: { Type: 'x', Properties: { a: 1, b: 2 } } } }, { Resources: { A: { Properties: { b: 2, a: 1 }, Type: 'x' } } }),
    ).toEqual([]);
    expect(resourceDrift({ Resources: { A: { Type: 'x' } } }, { Resources: { A: { Type: 'y' } } })).toEqual(['A']);
  });
});
