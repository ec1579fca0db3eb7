import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { notifyBySeverity, Severity } from './topics';

/**
 * Automated review of the audit trail (PCI DSS v4.0.1 requirement 10.4.1.1: audit logs are reviewed by automated
 * mechanisms): one CloudWatch Logs metric filter and one alarm per control of the CIS AWS Foundations Benchmark
 * monitoring section, as AWS Security Hub checks them (controls CloudWatch.1 to CloudWatch.14), plus WAF configuration
 * changes; and the saved Logs Insights queries the runbooks ask.
 *
 * Source of the CIS patterns: the Security Hub user guide, "Security Hub controls for Amazon CloudWatch",
 *   https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html
 * whose text (remediation step "Copy the following pattern") is kept in the awsdocs repository:
 *   https://github.com/awsdocs/aws-security-hub-user-guide/blob/bda5bf7ddbdf498557b2ac6a538577528004e6d5/doc_source/cloudwatch-controls.md
 * Security Hub passes these controls only for the exact patterns ("This control fails if the exact metric filters
 * prescribed by CIS are not used. Additional fields or terms cannot be added to the metric filters."), so they are
 * copied character for character, spacing included, and must not be "improved" here.
 */

/**
 * `Critical` pages; `Warning` is looked at. As the app's other alarms, every alarm goes to the notice topic and a
 * Critical one to the page topic as well ({@link notifyBySeverity}).
 */
export type AuditSeverity = Severity;

export interface AuditLogControl {
  /** Security Hub control id (`CloudWatch.1`…), or this app's own id for a control Security Hub does not have. */
  readonly id: string;
  /** PascalCase, unique: the metric name, and the part of the alarm name that says what it watches. */
  readonly name: string;
  readonly title: string;
  /** CloudWatch Logs filter pattern, applied to the CloudTrail log group. */
  readonly pattern: string;
  readonly severity: AuditSeverity;
  /** Where the pattern comes from. */
  readonly source: string;
}

const SECURITY_HUB = 'https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html';
const WAF_CLOUDTRAIL = 'https://docs.aws.amazon.com/waf/latest/developerguide/understanding-waf-entries.html';

/** Namespace of the audit metrics: the service's own metrics are in `TapPayments`; these are apart from them. */
export const AUDIT_METRIC_NAMESPACE = 'TapPayments/AuditLogReview';

/**
 * The controls, in Security Hub order. Exported as data for the documentation generator and the tests.
 *
 * CloudWatch.2 (unauthorized API calls) is kept although it is noisy (the console probes for optional read
 * permissions and fails gracefully): failed access attempts are what PCI DSS 10.2.1.4 asks to record and review. It is
 * a Warning to the notice topic, never a page.
 */
export const AUDIT_LOG_CONTROLS: readonly AuditLogControl[] = [
  {
    id: 'CloudWatch.1',
    name: 'RootUserUse',
    title: 'Usage of the "root" user',
    pattern: '{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType !="AwsServiceEvent"}',
    severity: 'Critical',
    source: `${SECURITY_HUB}#cloudwatch-1`,
  },
  {
    id: 'CloudWatch.2',
    name: 'UnauthorizedApiCalls',
    title: 'Unauthorized API calls',
    pattern: '{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}',
    severity: 'Warning',
    source: `${SECURITY_HUB}#cloudwatch-2`,
  },
  {
    id: 'CloudWatch.3',
    name: 'ConsoleSignInWithoutMfa',
    title: 'Management Console sign-in without MFA (IAM users)',
    pattern:
      '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && ($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }',
    severity: 'Critical',
    source: `${SECURITY_HUB}#cloudwatch-3`,
  },
  {
    id: 'CloudWatch.4',
    name: 'IamPolicyChanges',
    title: 'IAM policy changes',
    pattern:
      '{($.eventName=DeleteGroupPolicy) || ($.eventName=DeleteRolePolicy) || ($.eventName=DeleteUserPolicy) || ($.eventName=PutGroupPolicy) || ($.eventName=PutRolePolicy) || ($.eventName=PutUserPolicy) || ($.eventName=CreatePolicy) || ($.eventName=DeletePolicy) || ($.eventName=CreatePolicyVersion) || ($.eventName=DeletePolicyVersion) || ($.eventName=AttachRolePolicy) || ($.eventName=DetachRolePolicy) || ($.eventName=AttachUserPolicy) || ($.eventName=DetachUserPolicy) || ($.eventName=AttachGroupPolicy) || ($.eventName=DetachGroupPolicy)}',
    severity: 'Warning',
    source: `${SECURITY_HUB}#cloudwatch-4`,
  },
  {
    id: 'CloudWatch.5',
    name: 'CloudTrailChanges',
    title: 'CloudTrail configuration changes',
    pattern:
      '{($.eventName=CreateTrail) || ($.eventName=UpdateTrail) || ($.eventName=DeleteTrail) || ($.eventName=StartLogging) || ($.eventName=StopLogging)}',
    severity: 'Critical',
    source: `${SECURITY_HUB}#cloudwatch-5`,
  },
  {
    id: 'CloudWatch.6',
    name: 'ConsoleAuthenticationFailures',
    title: 'Management Console authentication failures',
    pattern: '{($.eventName=ConsoleLogin) && ($.errorMessage="Failed authentication")}',
    severity: 'Warning',
    source: `${SECURITY_HUB}#cloudwatch-6`,
  },
  {
    id: 'CloudWatch.7',
    name: 'KmsKeyDisableOrDeletion',
    title: 'Disabling or scheduled deletion of customer managed keys',
    pattern: '{($.eventSource=kms.amazonaws.com) && (($.eventName=DisableKey) || ($.eventName=ScheduleKeyDeletion))}',
    severity: 'Critical',
    source: `${SECURITY_HUB}#cloudwatch-7`,
  },
  {
    id: 'CloudWatch.8',
    name: 'S3BucketPolicyChanges',
    title: 'S3 bucket policy changes',
    pattern:
      '{($.eventSource=s3.amazonaws.com) && (($.eventName=PutBucketAcl) || ($.eventName=PutBucketPolicy) || ($.eventName=PutBucketCors) || ($.eventName=PutBucketLifecycle) || ($.eventName=PutBucketReplication) || ($.eventName=DeleteBucketPolicy) || ($.eventName=DeleteBucketCors) || ($.eventName=DeleteBucketLifecycle) || ($.eventName=DeleteBucketReplication))}',
    severity: 'Warning',
    source: `${SECURITY_HUB}#cloudwatch-8`,
  },
  {
    id: 'CloudWatch.9',
    name: 'ConfigChanges',
    title: 'AWS Config configuration changes',
    pattern:
      '{($.eventSource=config.amazonaws.com) && (($.eventName=StopConfigurationRecorder) || ($.eventName=DeleteDeliveryChannel) || ($.eventName=PutDeliveryChannel) || ($.eventName=PutConfigurationRecorder))}',
    severity: 'Warning',
    source: `${SECURITY_HUB}#cloudwatch-9`,
  },
  {
    id: 'CloudWatch.10',
    name: 'SecurityGroupChanges',
    title: 'Security group changes',
    pattern:
      '{($.eventName=AuthorizeSecurityGroupIngress) || ($.eventName=AuthorizeSecurityGroupEgress) || ($.eventName=RevokeSecurityGroupIngress) || ($.eventName=RevokeSecurityGroupEgress) || ($.eventName=CreateSecurityGroup) || ($.eventName=DeleteSecurityGroup)}',
    severity: 'Warning',
    source: `${SECURITY_HUB}#cloudwatch-10`,
  },
  {
    id: 'CloudWatch.11',
    name: 'NetworkAclChanges',
    title: 'Network access control list (NACL) changes',
    pattern:
      '{($.eventName=CreateNetworkAcl) || ($.eventName=CreateNetworkAclEntry) || ($.eventName=DeleteNetworkAcl) || ($.eventName=DeleteNetworkAclEntry) || ($.eventName=ReplaceNetworkAclEntry) || ($.eventName=ReplaceNetworkAclAssociation)}',
    severity: 'Warning',
    source: `${SECURITY_HUB}#cloudwatch-11`,
  },
  {
    id: 'CloudWatch.12',
    name: 'NetworkGatewayChanges',
    title: 'Network gateway changes',
    pattern:
      '{($.eventName=CreateCustomerGateway) || ($.eventName=DeleteCustomerGateway) || ($.eventName=AttachInternetGateway) || ($.eventName=CreateInternetGateway) || ($.eventName=DeleteInternetGateway) || ($.eventName=DetachInternetGateway)}',
    severity: 'Warning',
    source: `${SECURITY_HUB}#cloudwatch-12`,
  },
  {
    id: 'CloudWatch.13',
    name: 'RouteTableChanges',
    title: 'Route table changes',
    pattern:
      '{($.eventName=CreateRoute) || ($.eventName=CreateRouteTable) || ($.eventName=ReplaceRoute) || ($.eventName=ReplaceRouteTableAssociation) || ($.eventName=DeleteRouteTable) || ($.eventName=DeleteRoute) || ($.eventName=DisassociateRouteTable)}',
    severity: 'Warning',
    source: `${SECURITY_HUB}#cloudwatch-13`,
  },
  {
    id: 'CloudWatch.14',
    name: 'VpcChanges',
    title: 'VPC changes',
    pattern:
      '{($.eventName=CreateVpc) || ($.eventName=DeleteVpc) || ($.eventName=ModifyVpcAttribute) || ($.eventName=AcceptVpcPeeringConnection) || ($.eventName=CreateVpcPeeringConnection) || ($.eventName=DeleteVpcPeeringConnection) || ($.eventName=RejectVpcPeeringConnection) || ($.eventName=AttachClassicLinkVpc) || ($.eventName=DetachClassicLinkVpc) || ($.eventName=DisableVpcClassicLink) || ($.eventName=EnableVpcClassicLink)}',
    severity: 'Warning',
    source: `${SECURITY_HUB}#cloudwatch-14`,
  },
  {
    // Not a CIS control: the web ACL in front of the payment API is a PCI DSS 6.4.2 control, so changes to it, its
    // rule groups and IP sets are reviewed too. WAFv2 records its API calls with eventSource wafv2.amazonaws.com
    // (example CreateWebACL entry in the source). Put* is included beyond Create/Update/Delete/(Dis)associate:
    // PutLoggingConfiguration redirects the WAF logs and PutPermissionPolicy shares a rule group with other accounts.
    id: 'TAP.WAF.1',
    name: 'WafConfigurationChanges',
    title: 'WAF web ACL, rule group, IP set and logging changes',
    pattern:
      '{ ($.eventSource = "wafv2.amazonaws.com") && (($.eventName = "Create*") || ($.eventName = "Update*") || ($.eventName = "Delete*") || ($.eventName = "Associate*") || ($.eventName = "Disassociate*") || ($.eventName = "Put*")) }',
    severity: 'Warning',
    source: WAF_CLOUDTRAIL,
  },
];

/** Every alarm: at least one matching event in one 5-minute period (CIS: threshold >= 1, Sum over 300 s). */
export const AUDIT_ALARM = {
  period: Duration.minutes(5),
  threshold: 1,
  evaluationPeriods: 1,
  datapointsToAlarm: 1,
  statistic: cloudwatch.Stats.SUM,
} as const;

export interface AuditLogReviewProps {
  /** The CloudTrail log group (`AuditTrail.logGroup`). */
  readonly logGroup: logs.ILogGroup;
  /** Critical alarms go here as well: they page. */
  readonly pageTopic: sns.ITopic;
  /** Every alarm and its recovery go here. */
  readonly noticeTopic: sns.ITopic;
  /**
   * Every alarm name starts with `<alarmNamePrefix>-`: the alarm topics admit only alarms named `<stack name>-*`, so
   * pass the stack name.
   */
  readonly alarmNamePrefix: string;
  /** The payment service's log group: enables the request-by-id and decline-reason queries. */
  readonly serviceLogGroup?: logs.ILogGroup;
  /** The WAF log group (`aws-waf-logs-*`, `WebFirewall.logGroup`): enables the blocks-by-rule query. */
  readonly wafLogGroup?: logs.ILogGroup;
  /** The pipeline's CodeBuild log groups: enables the build-failure query. */
  readonly pipelineLogGroups?: readonly logs.ILogGroup[];
}

/** The saved queries, by key: their text, exported so the runbook generator and tests read the same strings. */
export const AUDIT_QUERIES = {
  /** Service log group. Replace the placeholder with the request id (response header / error body `requestId`). */
  requestById: {
    name: 'service/request-by-id',
    query: [
      'fields @timestamp, level, msg, method, route, statusCode, responseTimeMs, requestId',
      '| filter requestId = "REPLACE_WITH_REQUEST_ID"',
      '| sort @timestamp asc',
      '| limit 500',
    ].join('\n'),
  },
  /** Service log group: the EMF request lines of declined payments carry `PaymentsDeclined` and `DeclineCode`. */
  topDeclineReasons: {
    name: 'service/top-decline-reasons',
    query: ['filter ispresent(DeclineCode)', '| stats sum(PaymentsDeclined) as declines by DeclineCode', '| sort declines desc'].join('\n'),
  },
  /**
   * Trail: who deployed what, in order. ECS-native blue/green deploys through CreateService/UpdateService (CloudFormation
   * calls them), shifts traffic by modifying the listener rules (elasticloadbalancing ModifyRule/ModifyListener, called
   * by ECS with the service's infrastructure role) and is rolled back by StopServiceDeployment; CreateTaskSet,
   * UpdateServicePrimaryTaskSet and the other task-set calls are the external/CodeDeploy controllers' and are kept so
   * the timeline stays right if the controller changes.
   */
  deploymentTimeline: {
    name: 'audit/deployment-timeline',
    query: [
      'fields @timestamp, eventSource, eventName, userIdentity.arn, requestParameters.cluster, requestParameters.service, requestParameters.stackName, requestParameters.changeSetName, errorCode, errorMessage',
      '| filter (eventSource = "ecs.amazonaws.com" and eventName in ["CreateService", "UpdateService", "DeleteService", "RegisterTaskDefinition", "CreateTaskSet", "UpdateTaskSet", "DeleteTaskSet", "UpdateServicePrimaryTaskSet", "StopServiceDeployment"])',
      '    or (eventSource = "cloudformation.amazonaws.com" and eventName in ["CreateChangeSet", "ExecuteChangeSet", "CreateStack", "UpdateStack", "DeleteStack", "CancelUpdateStack", "ContinueUpdateRollback", "RollbackStack"])',
      '    or (eventSource = "elasticloadbalancing.amazonaws.com" and eventName in ["ModifyListener", "ModifyRule"])',
      '    or (eventSource = "codepipeline.amazonaws.com" and eventName in ["StartPipelineExecution", "StopPipelineExecution", "PutApprovalResult", "RetryStageExecution", "RollbackStage"])',
      '| sort @timestamp asc',
      '| limit 1000',
    ].join('\n'),
  },
  /** Trail: everything the root user did, and every IAM call that is not a read. Run it over the last day. */
  rootAndIamActivity: {
    name: 'audit/root-and-iam-activity',
    query: [
      'fields @timestamp, eventSource, eventName, userIdentity.type, userIdentity.arn, sourceIPAddress, userAgent, errorCode',
      '| filter userIdentity.type = "Root" or (eventSource = "iam.amazonaws.com" and eventName not like /^(Get|List|Generate|Simulate)/)',
      '| sort @timestamp desc',
      '| limit 1000',
    ].join('\n'),
  },
  /**
   * WAF log group: blocked requests by the rule that blocked them. For a managed rule group `terminatingRuleId` is the
   * group; the rule inside it is in `ruleGroupList`.
   */
  wafBlocksByRule: {
    name: 'waf/blocks-by-rule',
    query: ['filter action = "BLOCK"', '| stats count(*) as blocks by terminatingRuleId, terminatingRuleType', '| sort blocks desc'].join('\n'),
  },
  /** Pipeline CodeBuild log groups (one stream per build, prefixed by step): lines that say a build failed. */
  pipelineBuildFailures: {
    name: 'pipeline/build-failures',
    query: [
      'fields @timestamp, @logStream, @message',
      '| filter @message like /(?i)(error|failed|exit status [1-9])/',
      '| sort @timestamp desc',
      '| limit 500',
    ].join('\n'),
  },
} as const;

export type AuditQueryKey = keyof typeof AUDIT_QUERIES;

/**
 * Metric filters and alarms on the CloudTrail log group, one per {@link AUDIT_LOG_CONTROLS} entry, plus saved Logs
 * Insights queries named `<alarmNamePrefix>/<area>/<question>` (the console shows them as folders).
 *
 * Metric filters have no default value: a data point is a matching event, the Sum is their count, and a period without
 * one has no data point. Missing data is therefore treated as not breaching (within the threshold): the normal state of
 * an audit alarm is "nothing happened". The default, `missing`, would leave every alarm in INSUFFICIENT_DATA until its
 * first event, and `breaching` would alarm every five minutes. A default value of 0 would change nothing the alarms
 * see (0 < 1) but would write a data point for every minute the trail delivers anything.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-and-missing-data
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/MonitoringLogData.html (metric filter concepts: default value)
 *
 * These alarms cannot tell "no event" from "the trail stopped delivering": a stopped trail is CloudWatch.5's
 * StopLogging/DeleteTrail page, and a broken delivery (its role, the key, the log group) is {@link deliveryAlarm}'s:
 * the log group receiving nothing for an hour (PCI DSS v4.0.1 10.7.2, failures of audit logging detected and alerted).
 */
export class AuditLogReview extends Construct {
  public readonly metricFilters: Record<string, logs.MetricFilter> = {};
  public readonly alarms: Record<string, cloudwatch.Alarm> = {};
  public readonly queries: Partial<Record<AuditQueryKey, logs.CfnQueryDefinition>> = {};
  /** Critical when the trail's log group receives no event for an hour: the review above would be blind. */
  public readonly deliveryAlarm: cloudwatch.Alarm;
  private readonly prefix: string;

  constructor(scope: Construct, id: string, props: AuditLogReviewProps) {
    super(scope, id);
    const prefix = props.alarmNamePrefix;
    if (!/^[A-Za-z0-9][\w.-]*$/.test(prefix)) throw new Error(`AuditLogReview: alarmNamePrefix must be the stack name, got '${prefix}'`);
    this.prefix = prefix;
    const topics = { page: props.pageTopic, notice: props.noticeTopic };

    for (const control of AUDIT_LOG_CONTROLS) {
      const filter = new logs.MetricFilter(this, `${control.name}Filter`, {
        logGroup: props.logGroup,
        filterName: `${prefix}-AuditLogReview-${control.name}`,
        filterPattern: logs.FilterPattern.literal(control.pattern),
        metricNamespace: AUDIT_METRIC_NAMESPACE,
        metricName: control.name,
        metricValue: '1',
      });
      const alarm = new cloudwatch.Alarm(this, `${control.name}Alarm`, {
        alarmName: `${prefix}-AuditLogReview-${control.name}-${control.severity}`,
        alarmDescription: `${control.id} ${control.title}: at least one matching CloudTrail event in 5 minutes. Find the events with metric filter ${prefix}-AuditLogReview-${control.name} (its pattern) on the trail log group. Pattern source: ${control.source}`,
        metric: filter.metric({ statistic: AUDIT_ALARM.statistic, period: AUDIT_ALARM.period }),
        threshold: AUDIT_ALARM.threshold,
        evaluationPeriods: AUDIT_ALARM.evaluationPeriods,
        datapointsToAlarm: AUDIT_ALARM.datapointsToAlarm,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      notifyBySeverity(alarm, control.severity, topics);
      this.metricFilters[control.id] = filter;
      this.alarms[control.id] = alarm;
    }

    // An active account writes management events all the time (the canary alone reads a secret every few minutes), so
    // an hour with none means the delivery broke. Missing data is that very case, so it breaches.
    // https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CloudWatch-Logs-Monitoring-CloudWatch-Metrics.html
    this.deliveryAlarm = new cloudwatch.Alarm(this, 'TrailDeliveryAlarm', {
      alarmName: `${prefix}-AuditLogReview-TrailDeliveryStopped-Critical`,
      alarmDescription:
        'The audit trail delivered no event to its CloudWatch log group for an hour: the automated review is blind (PCI DSS 10.7.2). Check the trail status, its CloudWatch Logs role and the logs key (docs/runbooks/alarms.md#audit-log-review).',
      metric: new cloudwatch.Metric({
        namespace: 'AWS/Logs',
        metricName: 'IncomingLogEvents',
        dimensionsMap: { LogGroupName: props.logGroup.logGroupName },
        statistic: 'Sum',
        period: Duration.minutes(15),
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 4,
      datapointsToAlarm: 4,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    notifyBySeverity(this.deliveryAlarm, 'Critical', topics);

    this.addQuery('deploymentTimeline', [props.logGroup]);
    this.addQuery('rootAndIamActivity', [props.logGroup]);
    if (props.serviceLogGroup) {
      this.addQuery('requestById', [props.serviceLogGroup]);
      this.addQuery('topDeclineReasons', [props.serviceLogGroup]);
    }
    if (props.wafLogGroup) this.addQuery('wafBlocksByRule', [props.wafLogGroup]);
    if (props.pipelineLogGroups && props.pipelineLogGroups.length > 0) this.addQuery('pipelineBuildFailures', props.pipelineLogGroups);
  }

  private addQuery(key: AuditQueryKey, logGroups: readonly logs.ILogGroup[]): void {
    const { name, query } = AUDIT_QUERIES[key];
    this.queries[key] = new logs.CfnQueryDefinition(this, `${key[0]!.toUpperCase()}${key.slice(1)}Query`, {
      name: `${this.prefix}/${name}`,
      queryString: query,
      logGroupNames: logGroups.map((g) => g.logGroupName),
    });
  }
}
