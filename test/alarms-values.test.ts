import { CfnElement } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { METRICS } from '../app/src/contract';
import { loadConfig } from '../lib/config';
import { AUDIT_LOG_CONTROLS } from '../lib/monitoring/log-review';
import { ENVS, synthEnv } from './helpers';

type Props = Record<string, unknown>;
type Resource = { Type: string; Properties: Props };
type Dimensions = Record<string, unknown>;

/**
 * Every CloudWatch alarm of every environment, written out by value: what it watches (namespace, metric, dimensions,
 * statistic, period), when it fires (threshold, comparison, evaluation periods, datapoints, missing data) and whom it
 * tells. Values that config sets are read from `loadConfig(env)`; the rest are the values the alarm's claim rests on,
 * so a changed threshold, operator or statistic in lib/ fails here. The table is complete: an alarm it does not
 * describe fails too. (Only the free-text description and the tags are left out.)
 */
describe.each(ENVS)('every alarm of %s, by value', (env) => {
  const config = loadConfig(env);
  const { stack, template } = synthEnv(env);
  const prefix = stack.stackName;
  const resources = template.toJSON().Resources as Record<string, Resource>;

  const idOf = (c: IConstruct) => stack.getLogicalId(c.node.defaultChild as CfnElement);
  const ref = (c: IConstruct) => ({ Ref: idOf(c) });
  const att = (c: IConstruct, attribute: string) => ({ 'Fn::GetAtt': [idOf(c), attribute] });
  const dims = (d: Dimensions) => Object.entries(d).map(([Name, Value]) => ({ Name, Value }));

  const notice = ref(stack.alarms.topic);
  const page = ref(stack.pages.topic);
  /** Critical alarms page as well; Warning ones and the rollback alarms only tell the notice topic. */
  const tell = (severity: 'Critical' | 'Warning' | 'Rollback') => {
    const topics = severity === 'Critical' ? [notice, page] : [notice];
    return { AlarmActions: topics, OKActions: topics };
  };
  /** An alarm on one metric, as CloudFormation carries it. */
  const metric = (Namespace: string, MetricName: string, d: Dimensions | undefined, statistic: string, Period: number) => ({
    Namespace,
    MetricName,
    ...(d ? { Dimensions: dims(d) } : {}),
    ...(/^p\d+/.test(statistic) ? { ExtendedStatistic: statistic } : { Statistic: statistic }),
    Period,
  });
  /** One metric of a `Metrics` array (a math expression's input, or the single metric cdk-monitoring-constructs writes). */
  const query = (
    Id: string,
    Label: string | undefined,
    Namespace: string,
    MetricName: string,
    d: Dimensions,
    Stat: string,
    Period: number,
    ReturnData: boolean,
  ) => ({
    Id,
    ...(Label === undefined ? {} : { Label }),
    MetricStat: { Metric: { Dimensions: dims(d), MetricName, Namespace }, Period, Stat },
    ReturnData,
  });
  const expression = (Expression: string, Label: string) => ({ Expression, Id: 'expr_1', Label, ReturnData: true });
  /** cdk-monitoring-constructs' defaults of this app (service-monitoring.ts): 3 of 5 periods, actions on. */
  const facade = { ActionsEnabled: true, DatapointsToAlarm: 3, EvaluationPeriods: 5 };

  const expected: Record<string, Props> = {};

  // Deployment rollback alarms (lib/service/deployment-alarms.ts): ECS watches them by name during a deployment.
  const d = config.deployment;
  const targetGroups: Record<string, elbv2.ApplicationTargetGroup> = {
    blue: stack.loadBalancer.blueTargetGroup,
    green: stack.loadBalancer.greenTargetGroup,
  };
  for (const [color, tg] of Object.entries(targetGroups)) {
    const tgDims = { LoadBalancer: stack.resolve(tg.firstLoadBalancerFullName), TargetGroup: stack.resolve(tg.targetGroupFullName) };
    const window = { EvaluationPeriods: d.alarmEvaluationPeriods, DatapointsToAlarm: d.alarmEvaluationPeriods, TreatMissingData: 'notBreaching' };
    expected[`deploy-${color}-5xx-rate`] = {
      ...window,
      Metrics: [
        expression('100 * FILL(errors, 0) / MAX([FILL(requests, 0), 1])', `${color} target 5xx %`),
        query('errors', undefined, 'AWS/ApplicationELB', 'HTTPCode_Target_5XX_Count', tgDims, 'Sum', d.alarmPeriodSeconds, false),
        query('requests', undefined, 'AWS/ApplicationELB', 'RequestCount', tgDims, 'Sum', d.alarmPeriodSeconds, false),
      ],
      Threshold: d.error5xxThresholdPercent,
      ComparisonOperator: 'GreaterThanThreshold',
      ...tell('Rollback'),
    };
    expected[`deploy-${color}-unhealthy-hosts`] = {
      ...window,
      ...metric('AWS/ApplicationELB', 'UnHealthyHostCount', tgDims, 'Maximum', d.alarmPeriodSeconds),
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      ...tell('Rollback'),
    };
    expected[`deploy-${color}-p99-latency`] = {
      ...window,
      ...metric('AWS/ApplicationELB', 'TargetResponseTime', tgDims, 'p99', d.alarmPeriodSeconds),
      Threshold: d.latencyP99ThresholdMs / 1000,
      ComparisonOperator: 'GreaterThanThreshold',
      ...tell('Rollback'),
    };
  }

  // The operational view (lib/monitoring/service-monitoring.ts).
  const service = stack.paymentService.service;
  const serviceDims = { ClusterName: ref(stack.paymentService.cluster), ServiceName: att(service, 'Name') };
  const albDims = { LoadBalancer: att(stack.loadBalancer.alb, 'LoadBalancerFullName') };
  const dbDims = { DBClusterIdentifier: ref(stack.database.cluster) };
  expected['PaymentTasks-CPU-Usage-Warning'] = {
    ...facade,
    Metrics: [query('m1', 'Cluster CPU Utilization Average', 'AWS/ECS', 'CPUUtilization', serviceDims, 'Average', 300, true)],
    Threshold: 85,
    ComparisonOperator: 'GreaterThanThreshold',
    TreatMissingData: 'missing',
    ...tell('Warning'),
  };
  expected['PaymentTasks-Memory-Usage-Warning'] = {
    ...facade,
    Metrics: [query('m1', 'Cluster Memory Utilization Average', 'AWS/ECS', 'MemoryUtilization', serviceDims, 'Average', 300, true)],
    Threshold: 85,
    ComparisonOperator: 'GreaterThanThreshold',
    TreatMissingData: 'missing',
    ...tell('Warning'),
  };
  expected['PaymentApi-RunningTasks-Critical'] = {
    ...facade,
    ...metric('ECS/ContainerInsights', 'RunningTaskCount', serviceDims, 'Minimum', 60),
    Threshold: config.service.minCapacity,
    ComparisonOperator: 'LessThanThreshold',
    TreatMissingData: 'missing',
    ...tell('Critical'),
  };
  expected['PaymentApi-Target5xx-Critical'] = {
    ...facade,
    ...metric('AWS/ApplicationELB', 'HTTPCode_Target_5XX_Count', albDims, 'Sum', 60),
    Threshold: 25,
    ComparisonOperator: 'GreaterThanThreshold',
    TreatMissingData: 'missing',
    ...tell('Critical'),
  };
  expected['PaymentApi-Elb5xx-Critical'] = {
    ...facade,
    ...metric('AWS/ApplicationELB', 'HTTPCode_ELB_5XX_Count', albDims, 'Sum', 60),
    Threshold: 25,
    ComparisonOperator: 'GreaterThanThreshold',
    TreatMissingData: 'missing',
    ...tell('Critical'),
  };
  expected['PaymentApi-LatencyP99-Warning'] = {
    ...facade,
    ...metric('AWS/ApplicationELB', 'TargetResponseTime', albDims, 'p99', 60),
    Threshold: 1,
    ComparisonOperator: 'GreaterThanThreshold',
    TreatMissingData: 'missing',
    ...tell('Warning'),
  };
  const wafDims = { Region: config.region, Rule: 'ALL', WebACL: `${prefix}-web-acl` };
  expected['Waf-Blocked-Rate-Warning'] = {
    ...facade,
    Metrics: [
      expression('100 * (blocked / (allowed + blocked))', 'Blocked (rate)'),
      query('allowed', 'Allowed', 'AWS/WAFV2', 'AllowedRequests', wafDims, 'Sum', 300, false),
      query('blocked', 'Blocked', 'AWS/WAFV2', 'BlockedRequests', wafDims, 'Sum', 300, false),
    ],
    // Percent of the requests WAF saw.
    Threshold: 5,
    ComparisonOperator: 'GreaterThanThreshold',
    TreatMissingData: 'notBreaching',
    ...tell('Warning'),
  };
  expected['SmokeTestHook-Fault-Count-Warning'] = {
    ...facade,
    Metrics: [query('m1', 'Faults', 'AWS/Lambda', 'Errors', { FunctionName: ref(stack.paymentService.smokeTest.function) }, 'Sum', 300, true)],
    Threshold: 0,
    ComparisonOperator: 'GreaterThanThreshold',
    TreatMissingData: 'notBreaching',
    ...tell('Warning'),
  };
  const t = config.monitoring.thresholds;
  const envDims = { [METRICS.dimensions.environment]: env };
  const paymentWindow = { ActionsEnabled: true, EvaluationPeriods: 1, DatapointsToAlarm: 1, TreatMissingData: 'notBreaching' };
  expected['Payments-DeclineRate-Warning'] = {
    ...paymentWindow,
    Metrics: [
      expression(`IF(created >= ${t.declineRateMinPayments}, 100 * declined / created, 0)`, 'Declined %'),
      query('created', 'Created', METRICS.namespace, METRICS.names.paymentsCreated, envDims, 'Sum', 300, false),
      query('declined', 'Declined', METRICS.namespace, METRICS.names.paymentsDeclined, envDims, 'Sum', 300, false),
    ],
    Threshold: t.declineRatePercent,
    ComparisonOperator: 'GreaterThanThreshold',
    ...tell('Warning'),
  };
  expected['Payments-AuthFailures-Warning'] = {
    ...paymentWindow,
    Metrics: [query('m1', 'Auth failures', METRICS.namespace, METRICS.names.authFailures, envDims, 'Sum', 300, true)],
    Threshold: t.authFailuresPer5Minutes,
    ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    ...tell('Warning'),
  };
  expected['Payments-DatabaseErrors-Critical'] = {
    ...paymentWindow,
    Metrics: [query('m1', 'Database errors', METRICS.namespace, METRICS.names.databaseErrors, envDims, 'Sum', 300, true)],
    Threshold: t.databaseErrorsPer5Minutes,
    ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    ...tell('Critical'),
  };
  expected['PaymentsDatabase-CPU-Usage-Warning'] = {
    ...facade,
    Metrics: [query('m1', 'CPU Usage', 'AWS/RDS', 'CPUUtilization', dbDims, 'Average', 300, true)],
    Threshold: 85,
    ComparisonOperator: 'GreaterThanThreshold',
    TreatMissingData: 'missing',
    ...tell('Warning'),
  };
  expected['PaymentsDatabase-Usage-Count-Warning'] = {
    ...facade,
    Metrics: [query('m1', 'Serverless Database Capacity', 'AWS/RDS', 'ServerlessDatabaseCapacity', dbDims, 'Average', 300, true)],
    // 90 % of the configured maximum capacity.
    Threshold: config.database.maxCapacityAcu * 0.9,
    ComparisonOperator: 'GreaterThanThreshold',
    TreatMissingData: 'missing',
    ...tell('Warning'),
  };

  // The synthetic check (lib/monitoring/canary.ts): two failed or missing runs in a row page.
  expected['Canary-SmokeFailing-Critical'] = {
    ...metric(
      'CloudWatchSynthetics',
      'SuccessPercent',
      { CanaryName: ref(stack.canary.canary) },
      'Average',
      config.monitoring.canaryRateMinutes * 60,
    ),
    Threshold: 100,
    ComparisonOperator: 'LessThanThreshold',
    EvaluationPeriods: 2,
    DatapointsToAlarm: 2,
    TreatMissingData: 'breaching',
    ...tell('Critical'),
  };

  // The automated review of the audit trail (lib/monitoring/log-review.ts; the severities are pinned in test/log-review.test.ts).
  for (const control of AUDIT_LOG_CONTROLS) {
    expected[`AuditLogReview-${control.name}-${control.severity}`] = {
      ...metric('TapPayments/AuditLogReview', control.name, undefined, 'Sum', 300),
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      DatapointsToAlarm: 1,
      TreatMissingData: 'notBreaching',
      ...tell(control.severity),
    };
  }
  expected['AuditLogReview-TrailDeliveryStopped-Critical'] = {
    ...metric('AWS/Logs', 'IncomingLogEvents', { LogGroupName: ref(stack.auditTrail.logGroup) }, 'Sum', 900),
    Threshold: 1,
    ComparisonOperator: 'LessThanThreshold',
    EvaluationPeriods: 4,
    DatapointsToAlarm: 4,
    TreatMissingData: 'breaching',
    ...tell('Critical'),
  };

  // DNS Firewall (lib/network/dns-firewall.ts): a name outside the allow list pages in prod.
  const dnsSeverity = env === 'prod' ? 'Critical' : 'Warning';
  expected[`egress-dns-blocked-${dnsSeverity}`] = {
    ...metric('TAP/Egress', 'BlockedDnsQueries', undefined, 'Sum', 300),
    Threshold: 1,
    ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    EvaluationPeriods: 1,
    TreatMissingData: 'notBreaching',
    ...tell(dnsSeverity),
  };

  // EventBridge deliveries (lib/monitoring/deployment-events.ts): one failed delivery of any rule of the stack.
  const ruleNames = stack.deploymentEvents.ruleNames;
  expected['DeploymentEvents-FailedDeliveries-Warning'] = {
    Metrics: [
      expression(`SUM([${ruleNames.map((_, i) => `r${i}`).join(',')}])`, 'Failed deliveries'),
      ...ruleNames.map((RuleName, i) => query(`r${i}`, undefined, 'AWS/Events', 'FailedInvocations', { RuleName }, 'Sum', 300, false)),
    ],
    Threshold: 1,
    ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    EvaluationPeriods: 1,
    TreatMissingData: 'notBreaching',
    ...tell('Warning'),
  };

  // Replication to the recovery region (lib/recovery/disaster-recovery.ts): any failed object.
  const replicas = { AuditLogs: [stack.auditTrail.bucket, 'audit'], AccessLogs: [stack.accessLogs.bucket, 'access'] } as const;
  for (const [logical, [bucket, kind]] of Object.entries(replicas)) {
    const replica = { 'Fn::Join': ['', [`tap-${env}-${kind}-replica-`, { Ref: 'AWS::AccountId' }, `-${config.recovery.region}`]] };
    expected[`Recovery-${logical}ReplicationFailed-Warning`] = {
      ...metric(
        'AWS/S3',
        'OperationsFailedReplication',
        { DestinationBucket: replica, RuleId: 'to-recovery-region', SourceBucket: ref(bucket) },
        'Sum',
        300,
      ),
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      ...tell('Warning'),
    };
  }

  /** The template's alarms by name without `<stack>-`, each without its description and tags. */
  const alarms = Object.values(resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
  const actual: Record<string, Props> = {};
  for (const { Properties } of alarms) {
    const rest = { ...Properties };
    for (const left of ['AlarmName', 'AlarmDescription', 'Tags']) delete rest[left];
    actual[String(Properties.AlarmName).slice(prefix.length + 1)] = rest;
  }

  test('the alarms are exactly the described ones: none missing, none undescribed, no name twice', () => {
    expect(alarms.length).toBe(Object.keys(actual).length);
    expect(alarms.every((a) => String(a.Properties.AlarmName).startsWith(`${prefix}-`))).toBe(true);
    expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  });

  test('the failed-delivery alarm covers every EventBridge rule of the stack', () => {
    const rules = Object.values(resources).filter((r) => r.Type === 'AWS::Events::Rule');
    expect(rules.length).toBeGreaterThan(0);
    expect([...ruleNames].sort()).toEqual(rules.map((r) => r.Properties.Name).sort());
  });

  test('ECS rolls back on exactly the deployment alarms', () => {
    const ecs = Object.values(resources).find((r) => r.Type === 'AWS::ECS::Service')!.Properties;
    const watched = (ecs.DeploymentConfiguration as { Alarms: { AlarmNames: string[] } }).Alarms.AlarmNames;
    expect([...watched].sort()).toEqual(
      Object.keys(expected)
        .filter((name) => name.startsWith('deploy-'))
        .map((name) => `${prefix}-${name}`)
        .sort(),
    );
  });

  test.each(Object.keys(expected).sort())('%s', (name) => {
    expect(actual[name]).toEqual(expected[name]);
  });
});
