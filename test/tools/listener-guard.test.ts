import { CloudFormationClient, DescribeStackResourcesCommand, GetTemplateCommand } from '@aws-sdk/client-cloudformation';
import { DescribeRulesCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, RUNBOOK } from '../../tools/listener-guard/cli';
import { checkListenerRule, ListenerRuleProperties, sameTrafficSplit } from '../../tools/listener-guard/listener-guard';
import { inputs } from './mock-inputs';

const elbMock = mockClient(ElasticLoadBalancingV2Client);
const cfnMock = mockClient(CloudFormationClient);

const RULE_ARN = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/tap/1/2/3';
const BLUE = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/tap-blue/aaa';
const GREEN = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/tap-green/bbb';
const ARNS = { BlueTG: BLUE, GreenTG: GREEN };

/** The rule as CDK synthesizes it: forward to blue. */
function rule(priority = 1, forward: object = { TargetGroupArn: { Ref: 'BlueTG' } }): ListenerRuleProperties {
  return {
    ListenerArn: { Ref: 'Listener' },
    Priority: priority,
    Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/*'] } }],
    Actions: [{ Type: 'forward', ...forward }],
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

const deps = (): { elbv2: ElasticLoadBalancingV2Client; retry: { sleep: () => Promise<void> } } => ({
  elbv2: new ElasticLoadBalancingV2Client({}),
  retry: { sleep: async () => undefined },
});

beforeEach(() => {
  elbMock.reset();
  cfnMock.reset();
});

describe('checkListenerRule', () => {
  test('GIVEN the rule is unchanged THEN safe even though ECS moved traffic to green', async () => {
    liveWeights(0, 100);

    const result = await checkListenerRule({ ruleArn: RULE_ARN, templateRule: rule(), deployedTemplateRule: rule(), targetGroupArns: ARNS }, deps());

    expect(result.safe).toBe(true);
    expect(result.liveWeights).toEqual([
      { targetGroupArn: BLUE, weight: 0 },
      { targetGroupArn: GREEN, weight: 100 },
    ]);
    expect(result.reason).toBe('rule unchanged in the template, CloudFormation will not update it (live: tap-blue 0%, tap-green 100%)');
    expect(inputs(elbMock, DescribeRulesCommand)).toEqual([{ RuleArns: [RULE_ARN] }]);
  });

  test('GIVEN only key order differs THEN the rule counts as unchanged', async () => {
    liveWeights(0, 100);
    const reordered = Object.fromEntries(Object.entries(rule()).reverse());

    await expect(
      checkListenerRule({ ruleArn: RULE_ARN, templateRule: reordered, deployedTemplateRule: rule(), targetGroupArns: ARNS }, deps()),
    ).resolves.toMatchObject({
      safe: true,
      reason: 'rule unchanged in the template, CloudFormation will not update it (live: tap-blue 0%, tap-green 100%)',
    });
  });

  test('GIVEN the rule changes and live traffic is on green THEN unsafe, explaining the reset', async () => {
    liveWeights(0, 100);

    const result = await checkListenerRule(
      { ruleArn: RULE_ARN, templateRule: rule(2), deployedTemplateRule: rule(1), targetGroupArns: ARNS },
      deps(),
    );

    expect(result.safe).toBe(false);
    expect(result.reason).toBe(
      'CloudFormation will update the rule and reset its forward to [tap-blue 100%] while live traffic is [tap-blue 0%, tap-green 100%]; deploying now would move production traffic',
    );
    expect(result.templateWeights).toEqual([{ targetGroupArn: BLUE, weight: 1 }]);
    expect(inputs(elbMock, DescribeRulesCommand)).toEqual([{ RuleArns: [RULE_ARN] }]);
  });

  test('GIVEN the rule changes during a shift (50/50) THEN unsafe', async () => {
    liveWeights(50, 50);
    const result = await checkListenerRule(
      { ruleArn: RULE_ARN, templateRule: rule(2), deployedTemplateRule: rule(1), targetGroupArns: ARNS },
      deps(),
    );
    expect(result.safe).toBe(false);
    expect(result.reason).toBe(
      'CloudFormation will update the rule and reset its forward to [tap-blue 100%] while live traffic is [tap-blue 50%, tap-green 50%]; deploying now would move production traffic',
    );
  });

  test('GIVEN the rule changes and all live traffic is on the template target group THEN safe', async () => {
    liveWeights(100, 0);
    const result = await checkListenerRule(
      { ruleArn: RULE_ARN, templateRule: rule(2), deployedTemplateRule: rule(1), targetGroupArns: ARNS },
      deps(),
    );
    expect(result).toMatchObject({
      safe: true,
      reason: 'rule changes, but the live split already matches the template (tap-blue 100%, tap-green 0%)',
    });
  });

  test('GIVEN a weighted ForwardConfig in the template THEN compares shares, not raw weights', async () => {
    liveWeights(100, 0);
    const weighted = rule(2, {
      ForwardConfig: {
        TargetGroups: [
          { TargetGroupArn: { Ref: 'BlueTG' }, Weight: 1 },
          { TargetGroupArn: { Ref: 'GreenTG' }, Weight: 0 },
        ],
      },
    });
    await expect(
      checkListenerRule({ ruleArn: RULE_ARN, templateRule: weighted, deployedTemplateRule: rule(1), targetGroupArns: ARNS }, deps()),
    ).resolves.toEqual({
      safe: true,
      liveWeights: [
        { targetGroupArn: BLUE, weight: 100 },
        { targetGroupArn: GREEN, weight: 0 },
      ],
      templateWeights: [
        { targetGroupArn: BLUE, weight: 1 },
        { targetGroupArn: GREEN, weight: 0 },
      ],
      reason: 'rule changes, but the live split already matches the template (tap-blue 100%, tap-green 0%)',
    });
  });

  test('GIVEN the template forwards to a target group not deployed yet THEN unsafe', async () => {
    liveWeights(100, 0);
    const result = await checkListenerRule(
      { ruleArn: RULE_ARN, templateRule: rule(1, { TargetGroupArn: { Ref: 'NewTG' } }), deployedTemplateRule: rule(1), targetGroupArns: ARNS },
      deps(),
    );
    expect(result).toMatchObject({
      safe: false,
      templateWeights: [{ targetGroupArn: '(NewTG, not deployed)', weight: 1 }],
      reason:
        'CloudFormation will update the rule and reset its forward to [(NewTG, not deployed) 100%] while live traffic is [tap-blue 100%, tap-green 0%]; ' +
        'deploying now would move production traffic',
    });
  });

  test('GIVEN throttling THEN retries DescribeRules', async () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { httpStatusCode: 400 } });
    elbMock
      .on(DescribeRulesCommand)
      .rejectsOnce(throttled)
      .resolves({ Rules: [{ RuleArn: RULE_ARN, Actions: [{ Type: 'forward', TargetGroupArn: BLUE }] }] });

    await expect(
      checkListenerRule({ ruleArn: RULE_ARN, templateRule: rule(2), deployedTemplateRule: rule(1), targetGroupArns: ARNS }, deps()),
    ).resolves.toMatchObject({
      safe: true,
      reason: 'rule changes, but the live split already matches the template (tap-blue 100%)',
    });
    expect(inputs(elbMock, DescribeRulesCommand)).toEqual([{ RuleArns: [RULE_ARN] }, { RuleArns: [RULE_ARN] }]);
  });

  test('sameTrafficSplit ignores zero-weight groups', () => {
    expect(
      sameTrafficSplit(
        [{ targetGroupArn: BLUE, weight: 5 }],
        [
          { targetGroupArn: BLUE, weight: 1 },
          { targetGroupArn: GREEN, weight: 0 },
        ],
      ),
    ).toBe(true);
    expect(sameTrafficSplit([{ targetGroupArn: BLUE, weight: 1 }], [])).toBe(false);
  });
});

describe('listener-guard CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'listener-guard-'));
  const templateOf = (r: ListenerRuleProperties): object => ({
    Resources: {
      ProdRule: { Type: 'AWS::ElasticLoadBalancingV2::ListenerRule', Properties: r },
      BlueTG: { Type: 'AWS::ElasticLoadBalancingV2::TargetGroup', Properties: {} },
    },
  });
  const writeTemplate = (r: ListenerRuleProperties): string => {
    const path = join(dir, `template-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(path, JSON.stringify(templateOf(r)));
    return path;
  };
  const clients = (): { cfn: CloudFormationClient; elbv2: ElasticLoadBalancingV2Client } => ({
    cfn: new CloudFormationClient({}),
    elbv2: new ElasticLoadBalancingV2Client({}),
  });
  let errors: string[];
  let printed: string[];
  beforeEach(() => {
    errors = [];
    printed = [];
    jest.spyOn(console, 'log').mockImplementation((line: string) => void printed.push(line));
    jest.spyOn(console, 'error').mockImplementation((line: string) => void errors.push(line));
    const resources: [string, string, string][] = [
      ['ProdRule', RULE_ARN, 'AWS::ElasticLoadBalancingV2::ListenerRule'],
      ['BlueTG', BLUE, 'AWS::ElasticLoadBalancingV2::TargetGroup'],
    ];
    for (const [id, arn, type] of resources) {
      cfnMock.on(DescribeStackResourcesCommand, { LogicalResourceId: id }).resolves({
        StackResources: [
          { LogicalResourceId: id, PhysicalResourceId: arn, ResourceType: type, Timestamp: new Date(), ResourceStatus: 'UPDATE_COMPLETE' },
        ],
      });
    }
  });
  afterEach(() => jest.restoreAllMocks());

  test('GIVEN a changed rule and traffic on green THEN exits 1 pointing at the runbook', async () => {
    cfnMock.on(GetTemplateCommand).resolves({ TemplateBody: JSON.stringify(templateOf(rule(1))) });
    liveWeights(0, 100);

    const code = await main({ STACK_NAME: 'tap-prod', RULE_LOGICAL_ID: 'ProdRule', TEMPLATE_PATH: writeTemplate(rule(2)) }, clients());

    expect(code).toBe(1);
    expect(errors).toEqual([
      'listener-guard: UNSAFE: CloudFormation will update the rule and reset its forward to [tap-blue 100%] while live traffic is ' +
        `[tap-blue 0%, tap-green 100%]; deploying now would move production traffic (rule ${RULE_ARN})\nSee ${RUNBOOK} before deploying.`,
    ]);
    expect(printed).toEqual([]);
    expect(inputs(cfnMock, GetTemplateCommand)).toEqual([{ StackName: 'tap-prod', TemplateStage: 'Original' }]);
    expect(inputs(elbMock, DescribeRulesCommand)).toEqual([{ RuleArns: [RULE_ARN] }]);
  });

  test('GIVEN an unchanged rule THEN exits 0', async () => {
    cfnMock.on(GetTemplateCommand).resolves({ TemplateBody: JSON.stringify(templateOf(rule(1))) });
    liveWeights(0, 100);

    await expect(main({ STACK_NAME: 'tap-prod', RULE_LOGICAL_ID: 'ProdRule', TEMPLATE_PATH: writeTemplate(rule(1)) }, clients())).resolves.toBe(0);
    expect(printed).toEqual([
      'listener-guard: safe: rule unchanged in the template, CloudFormation will not update it (live: tap-blue 0%, tap-green 100%)',
    ]);
    expect(errors).toEqual([]);
    expect(inputs(cfnMock, DescribeStackResourcesCommand)).toEqual([
      { StackName: 'tap-prod', LogicalResourceId: 'ProdRule' },
      { StackName: 'tap-prod', LogicalResourceId: 'BlueTG' },
    ]);
  });

  test('GIVEN the stack does not exist yet THEN exits 0', async () => {
    cfnMock.on(GetTemplateCommand).rejects(Object.assign(new Error('Stack with id tap-prod does not exist'), { name: 'ValidationError' }));

    await expect(main({ STACK_NAME: 'tap-prod', RULE_LOGICAL_ID: 'ProdRule', TEMPLATE_PATH: writeTemplate(rule(1)) }, clients())).resolves.toBe(0);
    expect(printed).toEqual(['listener-guard: stack tap-prod is not deployed yet, nothing to protect']);
    expect(errors).toEqual([]);
    expect(elbMock.calls()).toHaveLength(0);
  });

  test('GIVEN the live rule cannot be read THEN exits 1: a check that could not run is not a pass', async () => {
    cfnMock.on(GetTemplateCommand).resolves({ TemplateBody: JSON.stringify(templateOf(rule(1))) });
    elbMock.on(DescribeRulesCommand).rejects(Object.assign(new Error('User is not authorized'), { name: 'AccessDeniedException' }));

    await expect(main({ STACK_NAME: 'tap-prod', RULE_LOGICAL_ID: 'ProdRule', TEMPLATE_PATH: writeTemplate(rule(2)) }, clients())).resolves.toBe(1);
    expect(errors).toEqual([
      `listener-guard: could not check the rule (AccessDeniedException): User is not authorized\nSee ${RUNBOOK} before deploying.`,
    ]);
    expect(printed).toEqual([]);
  });

  test('GIVEN the rule is missing from the synthesized template THEN exits 1', async () => {
    await expect(main({ STACK_NAME: 'tap-prod', RULE_LOGICAL_ID: 'OtherRule', TEMPLATE_PATH: writeTemplate(rule(1)) }, clients())).resolves.toBe(1);
    expect(errors).toEqual([
      `listener-guard: rule OtherRule is not in the synthesized template: the deploy would delete the production listener rule\nSee ${RUNBOOK} before deploying.`,
    ]);
    expect(cfnMock.calls()).toHaveLength(0);
  });

  test('GIVEN the logical id is not a listener rule THEN exits 2 naming it', async () => {
    const path = writeTemplate(rule(1));
    await expect(main({ STACK_NAME: 'tap-prod', RULE_LOGICAL_ID: 'BlueTG', TEMPLATE_PATH: path }, clients())).resolves.toBe(2);
    expect(errors).toEqual([
      `listener-guard: bad configuration: BlueTG in ${path} is AWS::ElasticLoadBalancingV2::TargetGroup, expected AWS::ElasticLoadBalancingV2::ListenerRule`,
    ]);
  });

  test('GIVEN a missing variable or template THEN exits 2 naming it', async () => {
    await expect(main({ RULE_LOGICAL_ID: 'ProdRule', TEMPLATE_PATH: 'x' }, clients())).resolves.toBe(2);
    expect(errors).toEqual(['listener-guard: bad configuration: environment variable STACK_NAME must be set (non-empty)']);
    errors.length = 0;
    const missing = join(dir, 'nope.json');
    await expect(main({ STACK_NAME: 's', RULE_LOGICAL_ID: 'ProdRule', TEMPLATE_PATH: missing }, clients())).resolves.toBe(2);
    expect(errors).toEqual([
      expect.stringMatching(new RegExp(`^listener-guard: bad configuration: TEMPLATE_PATH ${missing} cannot be read: ENOENT`)),
    ]);
    expect(cfnMock.calls()).toHaveLength(0);
  });
});
