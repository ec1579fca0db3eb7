import { ENVS, shippedConfigs, synthEnv } from './helpers';

type Resource = { Type: string; Properties: Record<string, unknown> };

describe.each(ENVS)('monitoring in %s', (env) => {
  const { template } = synthEnv(env);
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const alarms = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm');
  const topicRef = { Ref: Object.keys(resources).find((id) => id.startsWith('AlarmsTopic') && resources[id]!.Type === 'AWS::SNS::Topic') };

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
});
