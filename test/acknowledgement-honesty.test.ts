import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildApp } from '../lib/app';
import { acknowledge } from '../lib/compliance/acknowledge';
import { CDK_CONTEXT, ENVS, shippedConfigs, synthEnv, writeConfigDir } from './helpers';
import { asArray, identityStatements, normalizeStatement, shortNames, UNSCOPED_ACTIONS, wildcardAcknowledgementProblems } from './iam-policies';

/**
 * An acknowledgement of a wildcard finding is a claim about the statements it silences. Held here to what it says:
 * each statement it covers allows only actions its reason names as `service:Action` (exactly: `xray:Put*` names
 * `xray:Put*`, not every action it matches), and the reason names nothing those statements do not hold. Separately,
 * no identity policy allows on "*" an action that AWS can authorize on a resource.
 */

describe('the acknowledgement check itself, on a role with two actions on "*"', () => {
  const build = (reason: string, actions = ['xray:PutTraceSegments', 'xray:PutTelemetryRecords']) => {
    const stack = new Stack(new App(), 'S');
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    role.addToPolicy(new iam.PolicyStatement({ actions, resources: ['*'] }));
    acknowledge(role, ['AwsSolutions'], 'IAM5[Resource::*]', reason);
    return wildcardAcknowledgementProblems(stack);
  };

  test('GIVEN a reason naming both actions THEN no problem', () => {
    expect(build('xray:PutTraceSegments and xray:PutTelemetryRecords: AWS authorizes them on no resource type')).toEqual({
      problems: [],
      checked: 1,
    });
  });

  test('GIVEN a third action on the role THEN the problem names the role, the action and the acknowledgement', () => {
    const { problems } = build('xray:PutTraceSegments and xray:PutTelemetryRecords: no resource type', [
      'xray:PutTraceSegments',
      'xray:PutTelemetryRecords',
      'xray:GetSamplingRules',
    ]);
    expect(problems).toEqual([
      expect.stringMatching(/^S: Role may xray:GetSamplingRules on \*, acknowledged by AwsSolutions-IAM5\[Resource::\*\] on S\/Role,/),
    ]);
  });

  test('GIVEN a reason naming no action THEN it fails for that alone, and for each action it leaves out', () => {
    const { problems } = build('X-Ray PutTraceSegments/PutTelemetryRecords have no resource-level permissions');
    expect(problems).toHaveLength(3);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('names no action in its reason'),
        expect.stringContaining('may xray:PutTelemetryRecords on *'),
        expect.stringContaining('may xray:PutTraceSegments on *'),
      ]),
    );
  });

  test('GIVEN a prefix in the reason THEN it names only itself: xray:Put* covers neither action', () => {
    const { problems } = build('xray:Put*: no resource type');
    expect(problems).toHaveLength(3);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('may xray:PutTelemetryRecords on *'),
        expect.stringContaining('may xray:PutTraceSegments on *'),
        expect.stringContaining('names xray:Put*, which no statement it acknowledges holds'),
      ]),
    );
  });

  test('GIVEN a reason naming an action the role does not hold THEN it is wider than what it silences', () => {
    const { problems } = build('xray:PutTraceSegments, xray:PutTelemetryRecords and ecr:GetAuthorizationToken: no resource type');
    expect(problems).toEqual([expect.stringContaining('names ecr:GetAuthorizationToken, which no statement it acknowledges holds')]);
  });
});

describe.each(ENVS)('IAM wildcards of %s (main and recovery stacks)', (env) => {
  const { stack } = synthEnv(env);
  const root = stack.node.root;
  const stacks = root.node.children.filter((c): c is Stack => c instanceof Stack);
  const templates = stacks.map((s) => {
    const template = Template.fromStack(s);
    return { stack: s, template, name: shortNames(template) };
  });

  test('both stacks are checked', () => {
    expect(stacks.map((s) => s.stackName).sort()).toEqual([`TapStack-${env}`, `TapStack-${env}-recovery`]);
  });

  test('every acknowledgement of a wildcard names each action of each statement it silences, and nothing those statements do not hold', () => {
    const { problems, checked } = wildcardAcknowledgementProblems(root);
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(50);
  });

  test('every statement on the resource * allows only actions AWS authorizes on no resource type (UNSCOPED_ACTIONS)', () => {
    const offending = templates.flatMap(({ stack: s, template, name }) =>
      identityStatements(template)
        .filter((p) => p.statement.Effect === 'Allow' && asArray(p.statement.Resource as unknown[]).includes('*'))
        .flatMap((p) =>
          asArray(p.statement.Action)
            .filter((a) => !Object.prototype.hasOwnProperty.call(UNSCOPED_ACTIONS, a))
            .map((a) => `${s.stackName}: ${p.roles.map(name).join(', ') || name(p.policy)} may ${a} on "*" (${name(p.policy.split('#')[0]!)})`),
        ),
    );
    expect(offending).toEqual([]);
  });

  test('no statement allows with NotAction or NotResource (a wildcard by exclusion)', () => {
    const inverted = templates.flatMap(({ template }) =>
      identityStatements(template).filter((p) => p.statement.Effect === 'Allow' && (p.statement.NotAction || p.statement.NotResource)),
    );
    expect(inverted).toEqual([]);
  });

  test('the statements on the resource * that a condition narrows are these: the canary publishes only in its own namespace', () => {
    const conditioned = templates.flatMap(({ template, name }) =>
      identityStatements(template)
        .filter((p) => p.statement.Effect === 'Allow' && asArray(p.statement.Resource as unknown[]).includes('*') && p.statement.Condition)
        .map((p) => ({ roles: p.roles.map(name), ...normalizeStatement(p.statement, name) })),
    );
    expect(conditioned).toEqual([
      {
        roles: ['SmokeCanaryRole'],
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': 'CloudWatchSynthetics' } },
      },
    ]);
  });
});

describe('IAM wildcards of prod with tracing switched on (the collector and its X-Ray grants)', () => {
  const configs = shippedConfigs();
  configs.prod.monitoring.tracing.enabled = true;
  const app = new App({ context: { ...CDK_CONTEXT, env: 'prod' }, outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'tap-synth-')) });
  const template = Template.fromStack(buildApp(app, { configDir: writeConfigDir(configs) }));

  test('every acknowledgement of a wildcard names each action of each statement it silences, and nothing those statements do not hold', () => {
    expect(wildcardAcknowledgementProblems(app).problems).toEqual([]);
  });

  test('the task role may do on * only what the collector needs, each action on UNSCOPED_ACTIONS', () => {
    const name = shortNames(template);
    const onAnything = identityStatements(template)
      .filter((p) => p.roles.map(name).includes('PaymentServiceTaskDefinitionTaskRole') && asArray(p.statement.Resource as unknown[]).includes('*'))
      .flatMap((p) => asArray(p.statement.Action));
    expect(onAnything.sort()).toEqual(['xray:GetSamplingRules', 'xray:GetSamplingTargets', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
    for (const action of onAnything) expect(Object.keys(UNSCOPED_ACTIONS)).toContain(action);
  });
});

describe('UNSCOPED_ACTIONS', () => {
  const contracts = fs.readFileSync(path.join(__dirname, '..', 'docs', 'aws-contracts.md'), 'utf8');
  const section = contracts.slice(contracts.indexOf('## IAM: actions on every resource'));

  test.each(Object.entries(UNSCOPED_ACTIONS))(
    '%s: one exact action, a one-line reason, and its service page in docs/aws-contracts.md',
    (action, entry) => {
      expect(action).toMatch(/^[a-z0-9-]+:[A-Z][A-Za-z]+$/);
      expect(entry.why).not.toMatch(/\n/);
      expect(entry.why.length).toBeGreaterThan(30);
      expect(entry.source).toMatch(/^https:\/\/docs\.aws\.amazon\.com\/[a-z0-9/_.-]+\.html$/);
      const row = section.split('\n').find((l) => l.startsWith('| ') && l.includes(entry.source));
      expect(row ?? `no row citing ${entry.source}`).toContain(`\`${action}\``);
    },
  );
});
