import { WAF_BLOCKED_PERCENT } from '../lib/monitoring/service-monitoring';
import { ENVS, shippedConfigs, synthEnv } from './helpers';

type Resource = { Type: string; Properties: Record<string, unknown> };
type Statement = Record<string, unknown>;

/** `arn:aws:<service>:us-east-1:<this account>:<rest>`, as CloudFormation receives it from an account-agnostic synth. */
const arnInThisAccount = (service: string, rest: string) => ({
  'Fn::Join': ['', [`arn:aws:${service}:us-east-1:`, { Ref: 'AWS::AccountId' }, rest]],
});

describe.each(ENVS)('monitoring in %s', (env) => {
  const { stack, template } = synthEnv(env);
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const alarms = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm');

  test('the WAF alarm watches the web ACL WAF publishes: its WebACL dimension is the web ACL metric name', () => {
    const acl = Object.values(resources).find((r) => r.Type === 'AWS::WAFv2::WebACL')!.Properties;
    const aclMetric = (acl.VisibilityConfig as { MetricName: string }).MetricName;
    expect(acl.Name).toBe(aclMetric);
    const waf = alarms.filter(([id]) => /Waf/.test(id));
    expect(waf.length).toBeGreaterThan(0);
    const dims = waf.flatMap(([, a]) =>
      ((a.Properties.Metrics as { MetricStat?: { Metric: { Namespace: string; Dimensions: { Name: string; Value: unknown }[] } } }[]) ?? [])
        .filter((m) => m.MetricStat?.Metric.Namespace === 'AWS/WAFV2')
        .map((m) => m.MetricStat!.Metric.Dimensions),
    );
    expect(dims.length).toBeGreaterThan(0);
    // The threshold is a percentage of the requests WAF saw (not a fraction): 5 %, over the construct's expression.
    const [, rate] = waf.find(([, a]) => String(a.Properties.AlarmName).endsWith('-Waf-Blocked-Rate-Warning'))!;
    expect(rate.Properties.Threshold).toBe(WAF_BLOCKED_PERCENT);
    expect(WAF_BLOCKED_PERCENT).toBe(5);
    expect((rate.Properties.Metrics as { Expression?: string }[]).find((m) => m.Expression)!.Expression).toBe(
      '100 * (blocked / (allowed + blocked))',
    );
    for (const d of dims)
      expect(d).toEqual(
        expect.arrayContaining([
          { Name: 'WebACL', Value: aclMetric },
          { Name: 'Rule', Value: 'ALL' },
        ]),
      );
  });
  const topicRefOf = (prefix: string) => ({
    Ref: Object.keys(resources).find((id) => id.startsWith(prefix) && resources[id]!.Type === 'AWS::SNS::Topic')!,
  });
  const notice = topicRefOf('AlarmsTopic');
  const page = topicRefOf('PagesTopic');

  test('one dashboard for the service', () => {
    expect(Object.values(resources).filter((r) => r.Type === 'AWS::CloudWatch::Dashboard')).toHaveLength(1);
  });

  // Severity decides the topic: every alarm reaches the notice topic when it fires and when it clears; Critical ones
  // page as well, Warning ones never do.
  test('every alarm notifies the notice topic; exactly the Critical ones also page', () => {
    expect(alarms.length).toBeGreaterThan(6);
    const seen = { critical: 0, warning: 0 };
    for (const [id, alarm] of alarms) {
      const name = String(alarm.Properties.AlarmName);
      const critical = name.endsWith('-Critical');
      if (critical) seen.critical += 1;
      else seen.warning += 1;
      const expected = critical ? [notice, page] : [notice];
      expect({ id, actions: alarm.Properties.AlarmActions }).toEqual({ id, actions: expected });
      expect({ id, ok: alarm.Properties.OKActions }).toEqual({ id, ok: expected });
    }
    expect(seen.critical).toBeGreaterThan(2);
    expect(seen.warning).toBeGreaterThan(2);
  });

  test('operational alarms carry a severity in their name', () => {
    const names = alarms.map(([, a]) => a.Properties.AlarmName as string).filter((n) => !n.includes('-deploy-'));
    expect(names.length).toBeGreaterThanOrEqual(6);
    for (const name of names) expect(name).toMatch(/-(Critical|Warning)$/);
  });

  test('losing tasks below the autoscaling minimum is critical', () => {
    const running = alarms.filter(([, a]) => String(a.Properties.AlarmName).includes('RunningTasks'));
    expect(running).toHaveLength(1);
    // Critical: it pages (every value of the alarm is in test/alarms-values.test.ts).
    expect(running[0]![1].Properties).toMatchObject({
      AlarmName: `${stack.stackName}-PaymentApi-RunningTasks-Critical`,
      Namespace: 'ECS/ContainerInsights',
      MetricName: 'RunningTaskCount',
      Statistic: 'Minimum',
      Threshold: shippedConfigs()[env].service.minCapacity,
      ComparisonOperator: 'LessThanThreshold',
      AlarmActions: [notice, page],
    });
  });

  // The topic policy and the data key admit CloudWatch for `alarm:<stack name>-*` only: an alarm named otherwise
  // would be denied SNS:Publish and nobody would be told.
  test("every alarm's name starts with the stack name, so the topic admits it", () => {
    for (const [id, alarm] of alarms)
      expect({ id, name: alarm.Properties.AlarmName }).toEqual({ id, name: expect.stringMatching(`^${stack.stackName}-`) });
  });

  // A topic policy replaces SNS's default one: whoever it does not name cannot publish. Without the CloudWatch statement
  // the alarms' SNS:Publish was denied. No service principal besides CloudWatch is admitted: EventBridge and the
  // pipeline publish as identities of this account, through their own IAM grants.
  test.each([
    ['notice', 'AlarmsTopic'],
    ['page', 'PagesTopic'],
  ])("the %s topic admits exactly this stack's alarms, over TLS only", (_, prefix) => {
    const ref = topicRefOf(prefix);
    const policies = Object.values(resources).filter(
      (r) => r.Type === 'AWS::SNS::TopicPolicy' && JSON.stringify(r.Properties.Topics) === JSON.stringify([ref]),
    );
    expect(policies).toHaveLength(1);
    const { PolicyDocument } = policies[0]!.Properties as { PolicyDocument: { Statement: Statement[] } };
    expect(PolicyDocument.Statement).toEqual([
      {
        Sid: 'AllowPublishThroughSSLOnly',
        Effect: 'Deny',
        Principal: '*',
        Action: 'sns:Publish',
        Resource: ref,
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
      {
        Sid: 'AllowCloudWatchAlarmsOfThisStack',
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: ref,
        Condition: {
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
          ArnLike: { 'aws:SourceArn': arnInThisAccount('cloudwatch', `:alarm:${stack.stackName}-*`) },
        },
      },
    ]);
  });

  test('no CodeStar Notifications rule: pipeline events reach the topics through EventBridge', () => {
    expect(Object.values(resources).filter((r) => r.Type === 'AWS::CodeStarNotifications::NotificationRule')).toEqual([]);
  });

  test('the page topic subscribes exactly the configured pagers, the notice topic the configured emails', () => {
    const subs = (ref: { Ref: string }) =>
      Object.values(resources)
        .filter((r) => r.Type === 'AWS::SNS::Subscription' && JSON.stringify(r.Properties.TopicArn) === JSON.stringify(ref))
        .map((r) => [r.Properties.Protocol, r.Properties.Endpoint]);
    const { alarms: configured } = shippedConfigs()[env];
    expect(subs(page)).toEqual(configured.pageEmails.map((e) => ['email', e]));
    expect(subs(notice)).toEqual(configured.emails.map((e) => ['email', e]));
  });
});
