import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { EnvironmentConfig } from '../config';

export interface DeploymentAlarmsProps {
  /** Both target groups: during a deployment the new revision serves from one, the old from the other. */
  readonly targetGroups: Readonly<Record<'blue' | 'green', elbv2.ApplicationTargetGroup>>;
  readonly deployment: EnvironmentConfig['deployment'];
  /** Told when an alarm fires (a rollback is under way) and when it clears. */
  readonly topic: sns.ITopic;
}

/** The health signals of a revision that roll a deployment back (docs/deployments.md, trap 5). */
export type DeploymentSignal = '5xx-rate' | 'unhealthy-hosts' | 'p99-latency';

/**
 * Alarms on the health of whichever revision a target group serves: target 5xx rate, unhealthy hosts and p99 latency,
 * each over alarmPeriodSeconds x alarmEvaluationPeriods (validated to fit inside the bake time). ECS watches them by
 * name during a deployment and rolls back on any. Names are fixed strings (not tokens) so the service can reference
 * them without a dependency cycle.
 */
export class DeploymentAlarms extends Construct {
  public readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: DeploymentAlarmsProps) {
    super(scope, id);
    const d = props.deployment;
    const period = Duration.seconds(d.alarmPeriodSeconds);
    const stackName = Stack.of(this).stackName;
    const common = {
      evaluationPeriods: d.alarmEvaluationPeriods,
      datapointsToAlarm: d.alarmEvaluationPeriods,
      // No traffic is no evidence of a bad release: the unhealthy-host alarm covers a revision that cannot serve.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    };
    for (const [color, tg] of Object.entries(props.targetGroups)) {
      const metrics = tg.metrics;
      const errorRate = new cloudwatch.MathExpression({
        expression: '100 * FILL(errors, 0) / MAX([FILL(requests, 0), 1])',
        usingMetrics: {
          errors: metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period, statistic: 'Sum' }),
          requests: metrics.requestCount({ period, statistic: 'Sum' }),
        },
        period,
        label: `${color} target 5xx %`,
      });
      this.alarms.push(
        new cloudwatch.Alarm(this, `${color}-5xx-rate`, {
          ...common,
          alarmName: alarmNameOf(stackName, color, '5xx-rate'),
          alarmDescription: `Deployment rollback: ${color} target group 5xx rate above ${d.error5xxThresholdPercent}%`,
          metric: errorRate,
          threshold: d.error5xxThresholdPercent,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        }),
        new cloudwatch.Alarm(this, `${color}-unhealthy-hosts`, {
          ...common,
          alarmName: alarmNameOf(stackName, color, 'unhealthy-hosts'),
          alarmDescription: `Deployment rollback: ${color} target group has unhealthy targets`,
          metric: metrics.unhealthyHostCount({ period, statistic: 'Maximum' }),
          threshold: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        }),
        new cloudwatch.Alarm(this, `${color}-p99-latency`, {
          ...common,
          alarmName: alarmNameOf(stackName, color, 'p99-latency'),
          alarmDescription: `Deployment rollback: ${color} target group p99 latency above ${d.latencyP99ThresholdMs} ms`,
          metric: metrics.targetResponseTime({ period, statistic: 'p99' }),
          threshold: d.latencyP99ThresholdMs / 1000,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        }),
      );
    }
    for (const alarm of this.alarms) {
      alarm.addAlarmAction(new cloudwatchActions.SnsAction(props.topic));
      alarm.addOkAction(new cloudwatchActions.SnsAction(props.topic));
    }
  }

  /** The names ECS watches (fixed strings, known before the alarms exist). */
  public get alarmNames(): string[] {
    return this.alarms.map((a) => (a.node.defaultChild as cloudwatch.CfnAlarm).alarmName as string);
  }
}

/** `<stack>-deploy-<color>-<signal>`: stable, so runbooks and the pipeline can name them. */
export function alarmNameOf(stackName: string, color: string, signal: DeploymentSignal): string {
  return `${stackName}-deploy-${color}-${signal}`;
}
