import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';

/** Severities, as the alarm names carry them (`...-Critical`, `...-Warning`): Critical pages, Warning is looked at. */
export const SEVERITY = { critical: 'Critical', warning: 'Warning' } as const;
export type Severity = (typeof SEVERITY)[keyof typeof SEVERITY];

/** The environment's two topics: the notice topic is told of everything, the page topic pages. */
export interface SeverityTopics {
  readonly notice: sns.ITopic;
  readonly page: sns.ITopic;
}

/**
 * Sends the alarm and its recovery to the notice topic, and to the page topic as well when it is Critical. For alarms
 * made outside cdk-monitoring-constructs, which routes its own by {@link SeverityActionStrategy}.
 */
export function notifyBySeverity(alarm: cloudwatch.IAlarm & cloudwatch.Alarm, severity: Severity, topics: SeverityTopics): void {
  const targets = severity === SEVERITY.critical ? [topics.notice, topics.page] : [topics.notice];
  for (const topic of targets) {
    alarm.addAlarmAction(new cloudwatchActions.SnsAction(topic));
    alarm.addOkAction(new cloudwatchActions.SnsAction(topic));
  }
}
