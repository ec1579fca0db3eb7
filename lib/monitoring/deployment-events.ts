import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { acknowledge, acknowledgeGrantPolicy } from '../compliance/acknowledge';
import { notifyBySeverity, SEVERITY } from './topics';

export interface DeploymentEventsProps {
  /** The environment's name, at the start of every message. */
  readonly envName: string;
  readonly service: ecs.FargateService;
  readonly pipeline: codepipeline.IPipeline;
  /** The pipeline's build projects: a failed build is announced with its project and log link. */
  readonly projects: readonly codebuild.IProject[];
  /** Told of every event below. */
  readonly notice: sns.ITopic;
  /** Paged: a deployment ECS rolled back, when {@link pageOnRollback}. */
  readonly page: sns.ITopic;
  /** Whether a rolled-back deployment pages (prod) or is only noticed (dev, staging). */
  readonly pageOnRollback: boolean;
  /**
   * Rules of other units delivered the same way, with the same role and the same failed-delivery alarm (the recovery
   * unit's failed backup and copy jobs).
   * @default - none
   */
  readonly moreRules?: readonly DeploymentEventRule[];
}

/** One EventBridge rule of {@link DeploymentEvents}: what it matches and who is told. */
export interface DeploymentEventRule {
  readonly id: string;
  readonly pattern: events.EventPattern;
  readonly message: events.RuleTargetInput;
  readonly topics: readonly sns.ITopic[];
}

/** The stop codes of a task that failed rather than was stopped on purpose (deployments and scale-in stop tasks too). */
export const TASK_FAILURE_STOP_CODES = ['TaskFailedToStart', 'EssentialContainerExited'] as const;

const field = (path: string): string => events.EventField.fromPath(path);

/**
 * Deployment events, delivered by EventBridge to the environment's topics with input transformers that say what
 * happened, where, and the console page to look at:
 * - ECS service deployments started, completed (notice) and failed, which ECS rolls back (notice, and page where
 *   `pageOnRollback`);
 * - tasks of the cluster that failed to start or whose essential container exited, with ECS's stopped reason;
 * - pipeline runs that failed or succeeded, approvals waiting for a person, and failed builds.
 *
 * EventBridge publishes through one role of this stack (an identity of this account, granted `sns:Publish` and the
 * topics' key by IAM), so the topic policies admit no EventBridge service principal. Only principals of this account
 * allowed to pass the role can put it on a rule. Event shapes: docs/aws-contracts.md, "Operations".
 */
export class DeploymentEvents extends Construct {
  public readonly rules: events.Rule[] = [];
  /** The rules' names (`<stack name>-<id>`), known at synth: the dashboard plots their matches. */
  public readonly ruleNames: string[] = [];
  public readonly role: iam.Role;
  /** Warning when EventBridge fails to deliver any of the rules' messages. */
  public readonly failedDeliveries: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: DeploymentEventsProps) {
    super(scope, id);
    const { region, stackName } = Stack.of(this);
    this.role = new iam.Role(this, 'PublisherRole', {
      assumedBy: new iam.ServicePrincipal('events.amazonaws.com'),
      description: `${stackName}: EventBridge publishes deployment events to the environment's topics`,
    });
    // Each SnsTopic target below grants this role sns:Publish on its topic and the topic's key (CDK's target binding).
    acknowledgeGrantPolicy(this.role, 'EventBridge publisher role: publish to the notice and page topics');
    acknowledge(
      this.role,
      ['AwsSolutions'],
      'IAM5[Action::kms:GenerateDataKey*]',
      "kms:GenerateDataKey* on the topics' one key alone (CDK's target binding): SNS encrypts each message with it on the publisher's behalf",
    );

    const env = `[${props.envName}]`;
    const console = `https://${region}.console.aws.amazon.com`;
    const serviceLink = `${console}/ecs/v2/clusters/${props.service.cluster.clusterName}/services/${props.service.serviceName}/deployments?region=${region}`;
    const executionLink = `${console}/codesuite/codepipeline/pipelines/${props.pipeline.pipelineName}/executions/${field('$.detail.execution-id')}/timeline?region=${region}`;
    const deployment = {
      source: ['aws.ecs'],
      detailType: ['ECS Deployment State Change'],
      resources: [props.service.serviceArn],
    };
    const pipeline = { source: ['aws.codepipeline'], resources: [props.pipeline.pipelineArn] };

    const rules: DeploymentEventRule[] = [
      {
        id: 'DeploymentProgress',
        pattern: { ...deployment, detail: { eventName: ['SERVICE_DEPLOYMENT_IN_PROGRESS', 'SERVICE_DEPLOYMENT_COMPLETED'] } },
        message: events.RuleTargetInput.fromText(
          `${env} ${field('$.detail.eventName')}: payment service deployment ${field('$.detail.deploymentId')} at ${field('$.time')}. ${field('$.detail.reason')} See ${serviceLink}`,
        ),
        topics: [props.notice],
      },
      {
        id: 'DeploymentRolledBack',
        pattern: { ...deployment, detail: { eventName: ['SERVICE_DEPLOYMENT_FAILED'] } },
        message: events.RuleTargetInput.fromText(
          `${env} ROLLED BACK: payment service deployment ${field('$.detail.deploymentId')} failed at ${field('$.time')} and ECS returns traffic to the previous revision. Reason: ${field('$.detail.reason')}. Runbook: docs/runbooks/rollback.md. See ${serviceLink}`,
        ),
        topics: props.pageOnRollback ? [props.notice, props.page] : [props.notice],
      },
      {
        id: 'TaskFailed',
        // The service's tasks only: the migration task shares the cluster and ends with EssentialContainerExited when it
        // succeeds; a failed migration fails the pipeline's Deploy step, which BuildFailed and PipelineOutcome report.
        pattern: {
          source: ['aws.ecs'],
          detailType: ['ECS Task State Change'],
          detail: {
            clusterArn: [props.service.cluster.clusterArn],
            group: [`service:${props.service.serviceName}`],
            lastStatus: ['STOPPED'],
            stopCode: [...TASK_FAILURE_STOP_CODES],
          },
        },
        message: events.RuleTargetInput.fromText(
          `${env} TASK FAILED (${field('$.detail.stopCode')}): ${field('$.detail.group')} task ${field('$.detail.taskArn')} stopped at ${field('$.time')}. Reason: ${field('$.detail.stoppedReason')}. See ${serviceLink}`,
        ),
        topics: [props.notice],
      },
      {
        id: 'PipelineOutcome',
        pattern: { ...pipeline, detailType: ['CodePipeline Pipeline Execution State Change'], detail: { state: ['FAILED', 'SUCCEEDED'] } },
        message: events.RuleTargetInput.fromText(
          `${env} PIPELINE ${field('$.detail.state')}: ${field('$.detail.pipeline')} execution ${field('$.detail.execution-id')} at ${field('$.time')}. See ${executionLink}`,
        ),
        topics: [props.notice],
      },
      {
        id: 'ApprovalWaiting',
        pattern: {
          ...pipeline,
          detailType: ['CodePipeline Action Execution State Change'],
          detail: { state: ['STARTED'], type: { category: ['Approval'] } },
        },
        message: events.RuleTargetInput.fromText(
          `${env} APPROVAL WAITING: ${field('$.detail.pipeline')} stage ${field('$.detail.stage')} action ${field('$.detail.action')} waits for a person (execution ${field('$.detail.execution-id')}). Review the change set summary first (docs/runbooks/infrastructure-change.md). Approve at ${executionLink}`,
        ),
        topics: [props.notice],
      },
      {
        id: 'BuildFailed',
        pattern: {
          source: ['aws.codebuild'],
          detailType: ['CodeBuild Build State Change'],
          detail: { 'build-status': ['FAILED'], 'project-name': props.projects.map((p) => p.projectName) },
        },
        message: events.RuleTargetInput.fromText(
          `${env} BUILD FAILED: project ${field('$.detail.project-name')} build ${field('$.detail.build-id')} at ${field('$.time')}. Logs: ${field('$.detail.additional-information.logs.deep-link')}`,
        ),
        topics: [props.notice],
      },
    ];

    for (const r of [...rules, ...(props.moreRules ?? [])]) {
      const ruleName = `${stackName}-${r.id}`;
      const rule = new events.Rule(this, r.id, {
        ruleName,
        description: `${stackName}: ${r.id} to ${r.topics.length === 2 ? 'the notice and page topics' : 'the notice topic'}`,
        eventPattern: r.pattern,
      });
      for (const topic of r.topics) rule.addTarget(new targets.SnsTopic(topic, { message: r.message, role: this.role }));
      this.rules.push(rule);
      this.ruleNames.push(ruleName);
    }

    // A message EventBridge could not deliver (a role or key permission lost, a throttled topic) is otherwise silent:
    // CloudWatch tells the notice topic, on its own path, when any rule fails to deliver.
    // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html
    const failed = Object.fromEntries(
      this.ruleNames.map((ruleName, i) => [
        `r${i}`,
        new cloudwatch.Metric({
          namespace: 'AWS/Events',
          metricName: 'FailedInvocations',
          dimensionsMap: { RuleName: ruleName },
          statistic: 'Sum',
          period: Duration.minutes(5),
        }),
      ]),
    );
    this.failedDeliveries = new cloudwatch.Alarm(this, 'FailedDeliveries', {
      alarmName: `${stackName}-DeploymentEvents-FailedDeliveries-${SEVERITY.warning}`,
      alarmDescription: 'EventBridge could not deliver a deployment or backup event to the topics: check the publisher role and the topic key',
      metric: new cloudwatch.MathExpression({
        expression: `SUM([${Object.keys(failed).join(',')}])`,
        usingMetrics: failed,
        period: Duration.minutes(5),
        label: 'Failed deliveries',
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    notifyBySeverity(this.failedDeliveries, SEVERITY.warning, { notice: props.notice, page: props.page });
  }
}
