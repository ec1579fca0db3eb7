import { CloudFormationClient, DescribeStackResourcesCommand, GetTemplateCommand } from '@aws-sdk/client-cloudformation';
import { DescribeRulesCommand, ElasticLoadBalancingV2Client, Rule } from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, RUNBOOK } from '../../tools/listener-guard/cli';
import {
  canonicalJson,
  checkListenerRule,
  ListenerRuleProperties,
  liveForwardWeights,
  sameTrafficSplit,
  templateForwardWeights,
} from '../../tools/listener-guard/listener-guard';
import { inputs } from './mock-inputs';

const elbMock = mockClient(ElasticLoadBalancingV2Client);
const cfnMock = mockClient(CloudFormationClient);

const RULE_ARN = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/tap/1/2/3';
const BLUE = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/tap-blue/aaa';
const GREEN = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/tap-green/bbb';
const OTHER_RULE_ARN = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/tap/1/2/4';
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

/** DescribeRules answers with these rules, in this order. */
function liveRules(...rules: Rule[]): void {
  elbMock.on(DescribeRulesCommand).resolves({ Rules: rules });
}

const UNSAFE_TAIL = '; deploying now would move production traffic';

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

  test.each([
    ['live traffic is on green', 0, 100, '[tap-blue 0%, tap-green 100%]'],
    ['every live weight is 0 (each target group described as 0%)', 0, 0, '[tap-blue 0%, tap-green 0%]'],
  ])('GIVEN the rule changes and %s THEN unsafe, explaining the reset', async (_what, blue, green, live) => {
    liveWeights(blue, green);

    const result = await checkListenerRule(
      { ruleArn: RULE_ARN, templateRule: rule(2), deployedTemplateRule: rule(1), targetGroupArns: ARNS },
      deps(),
    );

    expect(result.safe).toBe(false);
    expect(result.reason).toBe(
      `CloudFormation will update the rule and reset its forward to [tap-blue 100%] while live traffic is ${live}${UNSAFE_TAIL}`,
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

  test('GIVEN keys in a different order at every depth THEN the rule counts as unchanged', async () => {
    liveWeights(0, 100);
    const deployed = rule(1, {
      ForwardConfig: { TargetGroups: [{ TargetGroupArn: { Ref: 'BlueTG' }, Weight: 1 }], TargetGroupStickinessConfig: { Enabled: false } },
    });
    const reordered: ListenerRuleProperties = {
      Priority: 1,
      ListenerArn: { Ref: 'Listener' },
      Actions: [
        {
          ForwardConfig: { TargetGroupStickinessConfig: { Enabled: false }, TargetGroups: [{ Weight: 1, TargetGroupArn: { Ref: 'BlueTG' } }] },
          Type: 'forward',
        },
      ],
      Conditions: [{ PathPatternConfig: { Values: ['/*'] }, Field: 'path-pattern' }],
    };

    await expect(
      checkListenerRule({ ruleArn: RULE_ARN, templateRule: reordered, deployedTemplateRule: deployed, targetGroupArns: ARNS }, deps()),
    ).resolves.toEqual({
      safe: true,
      reason: 'rule unchanged in the template, CloudFormation will not update it (live: tap-blue 0%, tap-green 100%)',
      liveWeights: [
        { targetGroupArn: BLUE, weight: 0 },
        { targetGroupArn: GREEN, weight: 100 },
      ],
      templateWeights: [{ targetGroupArn: BLUE, weight: 1 }],
    });
  });

  test('GIVEN list values that differ only in where one element ends and the next begins THEN the rule counts as changed', async () => {
    liveWeights(0, 100);
    const withValues = (values: number[]): ListenerRuleProperties => ({
      ...rule(),
      Conditions: [{ Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'X-Api-Version', Values: values } }],
    });

    const result = await checkListenerRule(
      { ruleArn: RULE_ARN, templateRule: withValues([12, 3]), deployedTemplateRule: withValues([1, 23]), targetGroupArns: ARNS },
      deps(),
    );

    expect(result.safe).toBe(false);
    expect(result.reason).toBe(
      `CloudFormation will update the rule and reset its forward to [tap-blue 100%] while live traffic is [tap-blue 0%, tap-green 100%]${UNSAFE_TAIL}`,
    );
  });

  test('GIVEN the template forwards to Fn::GetAtt of a deployed target group THEN resolves it to that ARN', async () => {
    liveWeights(0, 100);
    const templateRule = rule(2, { TargetGroupArn: { 'Fn::GetAtt': ['GreenTG', 'TargetGroupArn'] } });

    await expect(
      checkListenerRule({ ruleArn: RULE_ARN, templateRule, deployedTemplateRule: rule(1), targetGroupArns: ARNS }, deps()),
    ).resolves.toEqual({
      safe: true,
      liveWeights: [
        { targetGroupArn: BLUE, weight: 0 },
        { targetGroupArn: GREEN, weight: 100 },
      ],
      templateWeights: [{ targetGroupArn: GREEN, weight: 1 }],
      reason: 'rule changes, but the live split already matches the template (tap-blue 0%, tap-green 100%)',
    });
  });

  test('GIVEN a target group reference the guard cannot resolve THEN names it in canonical JSON and calls the deploy unsafe', async () => {
    liveWeights(100, 0);
    const templateRule = rule(2, {
      ForwardConfig: {
        TargetGroups: [
          { TargetGroupArn: { 'Fn::FindInMap': ['TargetGroups', { Ref: 'AWS::Region' }, 'blue'] }, Weight: 1 },
          { TargetGroupArn: { 'Fn::GetAtt': 'GreenTG.TargetGroupArn' }, Weight: 1 },
        ],
      },
    });

    const result = await checkListenerRule({ ruleArn: RULE_ARN, templateRule, deployedTemplateRule: rule(1), targetGroupArns: ARNS }, deps());

    const blue = '(unresolvable {"Fn::FindInMap":["TargetGroups",{"Ref":"AWS::Region"},"blue"]})';
    const green = '(unresolvable {"Fn::GetAtt":"GreenTG.TargetGroupArn"})';
    expect(result.templateWeights).toEqual([
      { targetGroupArn: blue, weight: 1 },
      { targetGroupArn: green, weight: 1 },
    ]);
    expect(result.safe).toBe(false);
    expect(result.reason).toBe(
      `CloudFormation will update the rule and reset its forward to [${blue} 50%, ${green} 50%] while live traffic is [tap-blue 100%, tap-green 0%]${UNSAFE_TAIL}`,
    );
  });

  test('GIVEN other actions before the forward action THEN reads the forward action of both the live rule and the template', async () => {
    liveRules({
      RuleArn: RULE_ARN,
      Actions: [
        {
          Type: 'authenticate-cognito',
          Order: 1,
          AuthenticateCognitoConfig: { UserPoolArn: 'pool', UserPoolClientId: 'client', UserPoolDomain: 'tap' },
        },
        { Type: 'forward', Order: 2, ForwardConfig: { TargetGroups: [{ TargetGroupArn: GREEN, Weight: 1 }] } },
      ],
    });
    const templateRule: ListenerRuleProperties = {
      ...rule(2),
      Actions: [
        {
          Type: 'authenticate-cognito',
          Order: 1,
          AuthenticateCognitoConfig: { UserPoolArn: 'pool', UserPoolClientId: 'client', UserPoolDomain: 'tap' },
        },
        { Type: 'forward', Order: 2, TargetGroupArn: { Ref: 'GreenTG' } },
      ],
    };

    await expect(
      checkListenerRule({ ruleArn: RULE_ARN, templateRule, deployedTemplateRule: rule(1), targetGroupArns: ARNS }, deps()),
    ).resolves.toEqual({
      safe: true,
      liveWeights: [{ targetGroupArn: GREEN, weight: 1 }],
      templateWeights: [{ targetGroupArn: GREEN, weight: 1 }],
      reason: 'rule changes, but the live split already matches the template (tap-green 100%)',
    });
  });

  test('GIVEN the template forward action names no target group THEN unsafe: the reset leaves no forward action', async () => {
    liveWeights(100, 0);
    const templateRule: ListenerRuleProperties = { ...rule(2), Actions: [{ Type: 'forward' }] };

    const result = await checkListenerRule({ ruleArn: RULE_ARN, templateRule, deployedTemplateRule: rule(1), targetGroupArns: ARNS }, deps());

    expect(result.templateWeights).toEqual([]);
    expect(result.safe).toBe(false);
    expect(result.reason).toBe(
      `CloudFormation will update the rule and reset its forward to [no forward action] while live traffic is [tap-blue 100%, tap-green 0%]${UNSAFE_TAIL}`,
    );
  });

  test('GIVEN the live rule does not forward and the template does THEN unsafe', async () => {
    liveRules({ RuleArn: RULE_ARN, Actions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '503' } }] });

    const result = await checkListenerRule(
      { ruleArn: RULE_ARN, templateRule: rule(2), deployedTemplateRule: rule(1), targetGroupArns: ARNS },
      deps(),
    );

    expect(result.liveWeights).toEqual([]);
    expect(result.safe).toBe(false);
    expect(result.reason).toBe(
      `CloudFormation will update the rule and reset its forward to [tap-blue 100%] while live traffic is [no forward action]${UNSAFE_TAIL}`,
    );
  });

  test('GIVEN the same target groups with different shares THEN unsafe', async () => {
    liveWeights(90, 10);
    const templateRule = rule(2, {
      ForwardConfig: {
        TargetGroups: [
          { TargetGroupArn: { Ref: 'BlueTG' }, Weight: 1 },
          { TargetGroupArn: { Ref: 'GreenTG' }, Weight: 1 },
        ],
      },
    });

    const result = await checkListenerRule({ ruleArn: RULE_ARN, templateRule, deployedTemplateRule: rule(1), targetGroupArns: ARNS }, deps());

    expect(result.safe).toBe(false);
    expect(result.reason).toBe(
      `CloudFormation will update the rule and reset its forward to [tap-blue 50%, tap-green 50%] while live traffic is [tap-blue 90%, tap-green 10%]${UNSAFE_TAIL}`,
    );
  });

  test('GIVEN DescribeRules returns several rules THEN checks the one with the requested ARN, not the first', async () => {
    liveRules(
      { RuleArn: OTHER_RULE_ARN, Actions: [{ Type: 'forward', TargetGroupArn: BLUE }] },
      { RuleArn: RULE_ARN, Actions: [{ Type: 'forward', TargetGroupArn: GREEN }] },
    );
    const templateRule = rule(2, { TargetGroupArn: { Ref: 'GreenTG' } });

    await expect(
      checkListenerRule({ ruleArn: RULE_ARN, templateRule, deployedTemplateRule: rule(1), targetGroupArns: ARNS }, deps()),
    ).resolves.toEqual({
      safe: true,
      liveWeights: [{ targetGroupArn: GREEN, weight: 1 }],
      templateWeights: [{ targetGroupArn: GREEN, weight: 1 }],
      reason: 'rule changes, but the live split already matches the template (tap-green 100%)',
    });
    expect(inputs(elbMock, DescribeRulesCommand)).toEqual([{ RuleArns: [RULE_ARN] }]);
  });

  test('GIVEN DescribeRules returns no rule THEN fails naming the rule', async () => {
    const check = (): Promise<unknown> =>
      checkListenerRule({ ruleArn: RULE_ARN, templateRule: rule(2), deployedTemplateRule: rule(1), targetGroupArns: ARNS }, deps());
    liveRules();
    await expect(check()).rejects.toStrictEqual(new Error(`listener rule ${RULE_ARN} not found by DescribeRules`));
    elbMock.on(DescribeRulesCommand).resolves({});
    await expect(check()).rejects.toStrictEqual(new Error(`listener rule ${RULE_ARN} not found by DescribeRules`));
    expect(inputs(elbMock, DescribeRulesCommand)).toEqual([{ RuleArns: [RULE_ARN] }, { RuleArns: [RULE_ARN] }]);
  });

  test('sameTrafficSplit compares shares within a tolerance of 1e-9', () => {
    const split = (blue: number, green: number, red: number): { targetGroupArn: string; weight: number }[] => [
      { targetGroupArn: BLUE, weight: blue },
      { targetGroupArn: GREEN, weight: green },
      { targetGroupArn: 'red', weight: red },
    ];
    // Blue's share moves by exactly 1e-9 (1e-9 -> 2e-9), green's and red's by about 5e-10 each.
    expect(sameTrafficSplit(split(1, 5e8, 5e8 - 1), split(2, 5e8 - 0.5, 5e8 - 1.5))).toBe(true);
    // Blue's share moves by just over 1e-9 (3e-9 -> 4e-9).
    expect(sameTrafficSplit(split(3, 5e8, 5e8 - 3), split(4, 5e8 - 0.5, 5e8 - 3.5))).toBe(false);
  });

  test('sameTrafficSplit adds up the shares of a target group listed twice', () => {
    expect(
      sameTrafficSplit(
        [
          { targetGroupArn: BLUE, weight: 1 },
          { targetGroupArn: GREEN, weight: 2 },
          { targetGroupArn: BLUE, weight: 1 },
        ],
        [
          { targetGroupArn: BLUE, weight: 1 },
          { targetGroupArn: GREEN, weight: 1 },
        ],
      ),
    ).toBe(true);
  });

  test('sameTrafficSplit is false when only the second split forwards to a target group', () => {
    expect(sameTrafficSplit([], [{ targetGroupArn: BLUE, weight: 1 }])).toBe(false);
    expect(sameTrafficSplit([{ targetGroupArn: BLUE, weight: 0 }], [{ targetGroupArn: BLUE, weight: 1 }])).toBe(false);
  });
});

describe('rule parsing', () => {
  test('canonicalJson sorts object keys at every depth and separates entries and elements with commas', () => {
    expect(canonicalJson({ c: [3, 12], b: { z: null, y: 'x' }, a: 1 })).toBe('{"a":1,"b":{"y":"x","z":null},"c":[3,12]}');
    expect(canonicalJson([{ b: 2, a: 1 }, 'x', true])).toBe('[{"a":1,"b":2},"x",true]');
  });

  test('templateForwardWeights defaults null, missing and non-numeric weights to 1 and reads numeric strings', () => {
    const templateRule: ListenerRuleProperties = {
      Actions: [
        {
          Type: 'forward',
          ForwardConfig: {
            TargetGroups: [
              { TargetGroupArn: { Ref: 'BlueTG' }, Weight: null },
              { TargetGroupArn: { Ref: 'GreenTG' } },
              { TargetGroupArn: 'tg-3', Weight: '3' },
              { TargetGroupArn: 'tg-4', Weight: 'heavy' },
              { TargetGroupArn: 'tg-5', Weight: 0 },
            ],
          },
        },
      ],
    };

    expect(templateForwardWeights(templateRule, ARNS)).toEqual([
      { targetGroupArn: BLUE, weight: 1 },
      { targetGroupArn: GREEN, weight: 1 },
      { targetGroupArn: 'tg-3', weight: 3 },
      { targetGroupArn: 'tg-4', weight: 1 },
      { targetGroupArn: 'tg-5', weight: 0 },
    ]);
  });

  test('templateForwardWeights falls back to the action TargetGroupArn when ForwardConfig lists no target group', () => {
    const forward = { Type: 'forward', TargetGroupArn: { Ref: 'BlueTG' }, ForwardConfig: { TargetGroups: [] } };
    expect(templateForwardWeights({ Actions: [forward] }, ARNS)).toEqual([{ targetGroupArn: BLUE, weight: 1 }]);
  });

  test('templateForwardWeights is empty for a rule without actions', () => {
    expect(templateForwardWeights({ Priority: 1 }, ARNS)).toEqual([]);
    expect(templateForwardWeights({ Actions: { Type: 'forward', TargetGroupArn: BLUE } }, ARNS)).toEqual([]);
  });

  test('templateForwardWeights reads only plain objects as actions and ForwardConfig', () => {
    const groups = { TargetGroups: [{ TargetGroupArn: GREEN, Weight: 1 }] };
    const forwardWith = (forwardConfig: unknown): ListenerRuleProperties => ({
      Actions: [{ Type: 'forward', TargetGroupArn: BLUE, ForwardConfig: forwardConfig }],
    });
    // A list or a function that happens to carry the same keys is not a ForwardConfig, nor is null.
    expect(templateForwardWeights(forwardWith(Object.assign([], groups)), ARNS)).toEqual([{ targetGroupArn: BLUE, weight: 1 }]);
    expect(templateForwardWeights(forwardWith(Object.assign(() => undefined, groups)), ARNS)).toEqual([{ targetGroupArn: BLUE, weight: 1 }]);
    expect(templateForwardWeights(forwardWith(null), ARNS)).toEqual([{ targetGroupArn: BLUE, weight: 1 }]);
    expect(templateForwardWeights({ Actions: [Object.assign([], { Type: 'forward', TargetGroupArn: GREEN })] }, ARNS)).toEqual([]);
  });

  test('liveForwardWeights names a target group without an ARN (unknown) and defaults its weight to 1', () => {
    expect(liveForwardWeights([{ Type: 'forward', ForwardConfig: { TargetGroups: [{ Weight: 2 }, { TargetGroupArn: GREEN }] } }])).toEqual([
      { targetGroupArn: '(unknown)', weight: 2 },
      { targetGroupArn: GREEN, weight: 1 },
    ]);
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
