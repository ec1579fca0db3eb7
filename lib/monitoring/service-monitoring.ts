import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { AlarmActionStrategyProps, IAlarmActionStrategy, MonitoringFacade, SnsAlarmActionStrategy } from 'cdk-monitoring-constructs';
import { Construct } from 'constructs';
import { METRICS } from '../../app/src/contract';
import type { EnvironmentConfig } from '../config';
import { SEVERITY } from './topics';

export interface ServiceMonitoringProps {
  readonly service: ecs.FargateService;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly webAcl: wafv2.CfnWebACL;
  readonly smokeTest: lambda.IFunction;
  /** Every alarm (and its recovery) is sent here. */
  readonly topic: sns.ITopic;
  /** Critical alarms (and their recovery) are also sent here: it pages. */
  readonly pageTopic: sns.ITopic;
  /** The fewest running tasks the service may have before it pages (the autoscaling minimum). */
  readonly minTasks: number;
  /** The `Environment` dimension the service writes its metrics with. */
  readonly envName: string;
  /** Thresholds of the payment alarms. */
  readonly thresholds: EnvironmentConfig['monitoring']['thresholds'];
  /** The Aurora cluster the service writes to (a dashboard row; its errors alarm through the service's metric). */
  readonly databaseCluster: rds.IDatabaseCluster;
  /** The cluster's maximum capacity: running near it is the warning before payments queue for the database. */
  readonly databaseMaxCapacityAcu: number;
  /** The deployment-event rules whose matches the dashboard plots. */
  readonly deploymentEventRules: readonly string[];
}

export { SEVERITY } from './topics';

/**
 * Sends every alarm and its recovery to the notice topic, and Critical ones to the page topic as well: the severity
 * key of an alarm (`addAlarm: { Critical: ... }`) is its disambiguator and the suffix of its name.
 */
export class SeverityActionStrategy implements IAlarmActionStrategy {
  private readonly notice: SnsAlarmActionStrategy;
  private readonly page: SnsAlarmActionStrategy;

  constructor(notice: sns.ITopic, page: sns.ITopic) {
    this.notice = new SnsAlarmActionStrategy({ onAlarmTopic: notice, onOkTopic: notice });
    this.page = new SnsAlarmActionStrategy({ onAlarmTopic: page, onOkTopic: page });
  }

  public addAlarmActions(props: AlarmActionStrategyProps): void {
    if (props.disambiguator !== SEVERITY.critical && props.disambiguator !== SEVERITY.warning) {
      throw new Error(`alarm ${props.alarm.node.path} has no severity (Critical or Warning), got: ${String(props.disambiguator)}`);
    }
    this.notice.addAlarmActions(props);
    if (props.disambiguator === SEVERITY.critical) this.page.addAlarmActions(props);
  }
}

/** Share of requests, in percent, the WAF may block before its alarm (Warning) fires. */
export const WAF_BLOCKED_PERCENT = 5;

/** The window the payment alarms count over. */
const PAYMENT_ALARM_PERIOD = Duration.minutes(5);

/**
 * The operational view outside deployments, built with cdk-monitoring-constructs: one dashboard and alarms with a
 * severity on the service's own members (tasks, CPU and memory, load-balancer errors and latency, WAF blocks, the
 * smoke-test function), all to the environment's topic. Deployment rollback alarms live with the service
 * (lib/service/deployment-alarms.ts) because ECS must reference them by name.
 */
export class ServiceMonitoring extends Construct {
  public readonly facade: MonitoringFacade;

  constructor(scope: Construct, id: string, props: ServiceMonitoringProps) {
    super(scope, id);
    const prefix = Stack.of(this).stackName;
    const action = new SeverityActionStrategy(props.topic, props.pageTopic);
    this.facade = new MonitoringFacade(this, 'Facade', {
      alarmFactoryDefaults: { alarmNamePrefix: prefix, actionsEnabled: true, action, datapointsToAlarm: 3, evaluationPeriods: 5 },
      metricFactoryDefaults: { namespace: METRICS.namespace },
    });
    const lbMetrics = props.loadBalancer.metrics;
    const period = Duration.minutes(1);

    this.facade
      .addLargeHeader(`Payment service (${prefix})`)
      .monitorSimpleFargateService({
        fargateService: props.service,
        humanReadableName: 'Payment service tasks',
        alarmFriendlyName: 'PaymentTasks',
        addCpuUsageAlarm: { [SEVERITY.warning]: { maxUsagePercent: 85 } },
        addMemoryUsageAlarm: { [SEVERITY.warning]: { maxUsagePercent: 85 } },
      })
      .monitorCustom({
        alarmFriendlyName: 'PaymentApi',
        humanReadableName: 'Payment API at the load balancer',
        metricGroups: [
          {
            title: 'Running tasks',
            metrics: [
              {
                alarmFriendlyName: 'RunningTasks',
                metric: new cloudwatch.Metric({
                  namespace: 'ECS/ContainerInsights',
                  metricName: 'RunningTaskCount',
                  dimensionsMap: { ClusterName: props.service.cluster.clusterName, ServiceName: props.service.serviceName },
                  statistic: 'Minimum',
                  period,
                }),
                addAlarm: {
                  [SEVERITY.critical]: {
                    threshold: props.minTasks,
                    comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                    additionalDescription: 'Fewer tasks than the autoscaling minimum: capacity is lost',
                  },
                },
              },
            ],
          },
          {
            title: 'Errors',
            metrics: [
              {
                alarmFriendlyName: 'Target5xx',
                metric: lbMetrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period, statistic: 'Sum' }),
                addAlarm: {
                  [SEVERITY.critical]: {
                    threshold: 25,
                    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    additionalDescription: 'The service answers with 5xx',
                  },
                },
              },
              {
                alarmFriendlyName: 'Elb5xx',
                metric: lbMetrics.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { period, statistic: 'Sum' }),
                addAlarm: {
                  [SEVERITY.critical]: {
                    threshold: 25,
                    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    additionalDescription: 'The load balancer itself returns 5xx (no healthy target, 502 on keep-alive races)',
                  },
                },
              },
            ],
          },
          {
            title: 'Latency',
            metrics: [
              {
                alarmFriendlyName: 'LatencyP99',
                metric: lbMetrics.targetResponseTime({ period, statistic: 'p99' }),
                addAlarm: {
                  [SEVERITY.warning]: {
                    threshold: 1,
                    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    additionalDescription: 'p99 above one second',
                  },
                },
              },
            ],
          },
        ],
      })
      .monitorWebApplicationFirewallAclV2({
        acl: props.webAcl,
        region: Stack.of(this).region,
        humanReadableName: 'WAF',
        alarmFriendlyName: 'Waf',
        // In percent: the construct's expression is 100 * blocked / (allowed + blocked). Bots and scanners keep a
        // fraction of a percent blocked on any public API; 5 % is an attack or a rule blocking real clients.
        addBlockedRequestsRateAlarm: { [SEVERITY.warning]: { maxErrorRate: WAF_BLOCKED_PERCENT } },
      })
      .monitorLambdaFunction({
        lambdaFunction: props.smokeTest,
        humanReadableName: 'Smoke-test hook',
        alarmFriendlyName: 'SmokeTestHook',
        addFaultCountAlarm: { [SEVERITY.warning]: { maxErrorCount: 0 } },
      });
    this.addPayments(props);
    this.addDatabase(props);
    this.addDeployments(props);
  }

  /**
   * What the service itself reports in Embedded Metric Format (app/src/metrics.ts): payments by outcome, the decline
   * rate, latency by route, replays, and the auth and database failures, with alarms whose thresholds come from config.
   */
  private addPayments(props: ServiceMonitoringProps): void {
    const t = props.thresholds;
    const { names, dimensions } = METRICS;
    const env = { [dimensions.environment]: props.envName };
    const sum = (metricName: string, label: string, dimensionsMap: Record<string, string> = env) =>
      new cloudwatch.Metric({ namespace: METRICS.namespace, metricName, dimensionsMap, statistic: 'Sum', period: PAYMENT_ALARM_PERIOD, label });
    const created = sum(names.paymentsCreated, 'Created');
    const declined = sum(names.paymentsDeclined, 'Declined');
    const count = (threshold: number, additionalDescription: string) => ({
      threshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      // No requests, no data points: quiet is not an outage (the canary and the task alarms watch for that).
      treatMissingDataOverride: cloudwatch.TreatMissingData.NOT_BREACHING,
      additionalDescription,
    });
    this.facade.addLargeHeader('Payments').monitorCustom({
      alarmFriendlyName: 'Payments',
      humanReadableName: 'Payments (service metrics)',
      metricGroups: [
        {
          title: 'Payments by outcome',
          metrics: [
            sum(names.paymentsCreated, 'Approved', { ...env, [dimensions.status]: 'approved' }),
            sum(names.paymentsCreated, 'Declined', { ...env, [dimensions.status]: 'declined' }),
          ],
        },
        {
          title: 'Decline rate (%)',
          metrics: [
            {
              alarmFriendlyName: 'DeclineRate',
              metric: new cloudwatch.MathExpression({
                // Below the minimum volume the rate is reported as 0: three declines of five payments is not a spike.
                expression: `IF(created >= ${t.declineRateMinPayments}, 100 * declined / created, 0)`,
                usingMetrics: { created, declined },
                period: PAYMENT_ALARM_PERIOD,
                label: 'Declined %',
              }),
              addAlarm: {
                [SEVERITY.warning]: {
                  ...count(
                    t.declineRatePercent,
                    `More than ${t.declineRatePercent}% of payments declined in 5 minutes (at least ${t.declineRateMinPayments} payments)`,
                  ),
                  comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                },
              },
            },
          ],
        },
        {
          title: 'Failures',
          metrics: [
            {
              alarmFriendlyName: 'AuthFailures',
              metric: sum(names.authFailures, 'Auth failures'),
              addAlarm: {
                [SEVERITY.warning]: count(
                  t.authFailuresPer5Minutes,
                  'Requests with a missing or wrong API key: a misconfigured client, or someone guessing keys',
                ),
              },
            },
            {
              alarmFriendlyName: 'DatabaseErrors',
              metric: sum(names.databaseErrors, 'Database errors'),
              addAlarm: {
                [SEVERITY.critical]: count(
                  t.databaseErrorsPer5Minutes,
                  'Requests answered 503 because the database failed them: payments are being refused',
                ),
              },
            },
            sum(names.idempotentReplays, 'Idempotent replays'),
          ],
        },
      ],
    });
    this.facade.addWidget(
      new cloudwatch.GraphWidget({
        title: 'Latency by route (p99, ms)',
        width: 24,
        left: [
          new cloudwatch.MathExpression({
            expression: `SEARCH('{${METRICS.namespace},${dimensions.environment},${dimensions.route}} MetricName="${names.requestLatency}" ${dimensions.environment}="${props.envName}"', 'p99', 60)`,
            usingMetrics: {},
            label: '',
            period: Duration.minutes(1),
          }),
        ],
      }),
    );
  }

  /** The database the payments live in: capacity, connections and the service's database failures side by side. */
  private addDatabase(props: ServiceMonitoringProps): void {
    this.facade.addLargeHeader('Database').monitorAuroraCluster({
      cluster: props.databaseCluster,
      humanReadableName: 'Payments database (Aurora Serverless v2)',
      alarmFriendlyName: 'PaymentsDatabase',
      addMaxServerlessDatabaseCapacityAlarm: { [SEVERITY.warning]: { maxUsageCount: props.databaseMaxCapacityAcu * 0.9 } },
      addCpuUsageAlarm: { [SEVERITY.warning]: { maxUsagePercent: 85 } },
    });
  }

  /** Deployment events EventBridge matched, per rule (each also reaches the topics with its own message). */
  private addDeployments(props: ServiceMonitoringProps): void {
    this.facade.addLargeHeader('Deployments').addWidget(
      new cloudwatch.GraphWidget({
        title: 'Deployment events (matches per rule)',
        width: 24,
        stacked: true,
        left: props.deploymentEventRules.map(
          (ruleName) =>
            new cloudwatch.Metric({
              namespace: 'AWS/Events',
              metricName: 'MatchedEvents',
              dimensionsMap: { RuleName: ruleName },
              statistic: 'Sum',
              period: Duration.minutes(5),
              label: ruleName,
            }),
        ),
      }),
    );
  }
}
