import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { MonitoringFacade, SnsAlarmActionStrategy } from 'cdk-monitoring-constructs';
import { Construct } from 'constructs';

export interface ServiceMonitoringProps {
  readonly service: ecs.FargateService;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly webAcl: wafv2.CfnWebACL;
  readonly smokeTest: lambda.IFunction;
  /** Every alarm (and its recovery) is sent here. */
  readonly topic: sns.ITopic;
  /** The fewest running tasks the service may have before it pages (the autoscaling minimum). */
  readonly minTasks: number;
}

/** Severities, as the alarm names carry them (`...-Critical`, `...-Warning`): Critical pages, Warning is looked at. */
export const SEVERITY = { critical: 'Critical', warning: 'Warning' } as const;

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
    const action = new SnsAlarmActionStrategy({ onAlarmTopic: props.topic, onOkTopic: props.topic });
    this.facade = new MonitoringFacade(this, 'Facade', {
      alarmFactoryDefaults: { alarmNamePrefix: prefix, actionsEnabled: true, action, datapointsToAlarm: 3, evaluationPeriods: 5 },
      metricFactoryDefaults: { namespace: 'TapPayments' },
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
        addBlockedRequestsRateAlarm: { [SEVERITY.warning]: { maxErrorRate: 0.2 } },
      })
      .monitorLambdaFunction({
        lambdaFunction: props.smokeTest,
        humanReadableName: 'Smoke-test hook',
        alarmFriendlyName: 'SmokeTestHook',
        addFaultCountAlarm: { [SEVERITY.warning]: { maxErrorCount: 0 } },
      });
  }
}
