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
    for (const d of dims)
      expect(d).toEqual(
        expect.arrayContaining([
          { Name: 'WebACL', Value: aclMetric },
          { Name: 'Rule', Value: 'ALL' },
        ]),
      );
  });
  const topicId = Object.keys(resources).find((id) => id.startsWith('AlarmsTopic') && resources[id]!.Type === 'AWS::SNS::Topic')!;
  const topicRef = { Ref: topicId };

  test('one dashboard for the service', () => {
    expect(Object.values(resources).filter((r) => r.Type === 'AWS::CloudWatch::Dashboard').length).toBeGreaterThanOrEqual(1);
  });

  test('every alarm in the stack notifies the topic when it fires and when it clears', () => {
    expect(alarms.length).toBeGreaterThan(6);
    for (const [id, alarm] of alarms) {
      expect({ id, actions: alarm.Properties.AlarmActions }).toEqual({ id, actions: [topicRef] });
      expect({ id, ok: alarm.Properties.OKActions }).toEqual({ id, ok: [topicRef] });
    }
  });

  test('operational alarms carry a severity in their name', () => {
    const names = alarms.map(([, a]) => a.Properties.AlarmName as string).filter((n) => !n.includes('-deploy-'));
    expect(names.length).toBeGreaterThanOrEqual(6);
    for (const name of names) expect(name).toMatch(/-(Critical|Warning)$/);
  });

  test('losing tasks below the autoscaling minimum is critical', () => {
    const running = alarms.find(([, a]) => String(a.Properties.AlarmName).includes('RunningTasks'))![1].Properties;
    expect(running).toMatchObject({
      MetricName: 'RunningTaskCount',
      Threshold: shippedConfigs()[env].service.minCapacity,
      ComparisonOperator: 'LessThanThreshold',
    });
  });

  // The topic policy and the data key admit CloudWatch for `alarm:<stack name>-*` only: an alarm named otherwise
  // would be denied SNS:Publish and nobody would be told.
  test("every alarm's name starts with the stack name, so the topic admits it", () => {
    for (const [id, alarm] of alarms)
      expect({ id, name: alarm.Properties.AlarmName }).toEqual({ id, name: expect.stringMatching(`^${stack.stackName}-`) });
  });

  // A topic policy replaces SNS's default one: whoever it does not name cannot publish. Without these statements the
  // alarms' SNS:Publish was denied and only the pipeline's notification rule could reach the on-call.
  test("the alarm topic admits exactly its publishers: this stack's alarms and CodeStar Notifications of this account", () => {
    const policies = Object.values(resources).filter((r) => r.Type === 'AWS::SNS::TopicPolicy');
    expect(policies).toHaveLength(1);
    const { Topics, PolicyDocument } = policies[0]!.Properties as { Topics: unknown; PolicyDocument: { Statement: Statement[] } };
    expect(Topics).toEqual([topicRef]);
    const publish = (sid: string, service: string, condition?: Statement): Statement => ({
      Sid: sid,
      Effect: 'Allow',
      Principal: { Service: service },
      Action: 'sns:Publish',
      Resource: topicRef,
      ...(condition ? { Condition: condition } : {}),
    });
    expect(PolicyDocument.Statement).toEqual([
      {
        Sid: 'AllowPublishThroughSSLOnly',
        Effect: 'Deny',
        Principal: '*',
        Action: 'sns:Publish',
        Resource: topicRef,
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
      publish('AllowCloudWatchAlarmsOfThisStack', 'cloudwatch.amazonaws.com', {
        StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
        ArnLike: { 'aws:SourceArn': arnInThisAccount('cloudwatch', `:alarm:${stack.stackName}-*`) },
      }),
      publish('AllowCodeStarNotificationsOfThisAccount', 'codestar-notifications.amazonaws.com', {
        StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
      }),
    ]);
  });

  test('the pipeline notification rule targets the topic (CodeStar Notifications is its publisher)', () => {
    const rules = Object.values(resources).filter((r) => r.Type === 'AWS::CodeStarNotifications::NotificationRule');
    expect(rules.map((r) => r.Properties.Targets)).toEqual([[{ TargetType: 'SNS', TargetAddress: topicRef }]]);
  });
});
