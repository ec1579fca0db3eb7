import { compliancePacks } from '../lib/compliance/packs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DEFAULT_OTLP_ENDPOINT, ENV, METRICS } from '../app/src/contract';
import { buildApp } from '../lib/app';
import { TASK_FAILURE_STOP_CODES } from '../lib/monitoring/deployment-events';
import { COLLECTOR, collectorConfig, CONTAINER_NAME, publicEcrCachePrefixOf } from '../lib/service/payment-service';
import { CDK_CONTEXT, ENVS, shippedConfigs, synthEnv, writeConfigDir } from './helpers';

type Resource = { Type: string; Properties: Record<string, unknown>; DependsOn?: string[] };
type Target = { Arn: unknown; RoleArn: unknown; InputTransformer: { InputPathsMap: Record<string, string>; InputTemplate: unknown } };

const ofType = (resources: Record<string, Resource>, type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
/** The input template as one string, CloudFormation references shown as `${LogicalId}`. */
const templateText = (t: unknown): string =>
  typeof t === 'string'
    ? t
    : ((t as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1] ?? []).map((p) => (typeof p === 'string' ? p : `\${${JSON.stringify(p)}}`)).join('');

describe.each(ENVS)('operations in %s', (env) => {
  const { stack, template } = synthEnv(env);
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const config = shippedConfigs()[env];
  const refOf = (prefix: string, type: string) => ({
    Ref: Object.keys(resources).find((id) => id.startsWith(prefix) && resources[id]!.Type === type)!,
  });
  const notice = refOf('AlarmsTopic', 'AWS::SNS::Topic');
  const page = refOf('PagesTopic', 'AWS::SNS::Topic');
  const service = refOf('PaymentService', 'AWS::ECS::Service');
  const rules = Object.fromEntries(
    ofType(resources, 'AWS::Events::Rule').map(([, r]) => [String(r.Properties.Name).replace(`${stack.stackName}-`, ''), r.Properties]),
  );
  const roleId = Object.keys(resources).find((id) => id.startsWith('DeploymentEventsPublisherRole') && resources[id]!.Type === 'AWS::IAM::Role')!;
  const targetsOf = (name: string) => (rules[name]!.Targets as Target[]).map((t) => ({ topic: t.Arn, role: t.RoleArn }));

  describe('deployment events through EventBridge', () => {
    test('exactly these rules, each named after the stack', () => {
      expect(Object.keys(rules).sort()).toEqual([
        'ApprovalWaiting',
        'BackupJobFailed',
        'BuildFailed',
        'CopyJobFailed',
        'DeploymentProgress',
        'DeploymentRolledBack',
        'PipelineOutcome',
        'TaskFailed',
      ]);
    });

    test('ECS deployments of this service: started and completed are noticed; a rollback (FAILED) pages only where config says so', () => {
      const deployment = { source: ['aws.ecs'], 'detail-type': ['ECS Deployment State Change'], resources: [service] };
      expect(rules.DeploymentProgress!.EventPattern).toEqual({
        ...deployment,
        detail: { eventName: ['SERVICE_DEPLOYMENT_IN_PROGRESS', 'SERVICE_DEPLOYMENT_COMPLETED'] },
      });
      expect(rules.DeploymentRolledBack!.EventPattern).toEqual({ ...deployment, detail: { eventName: ['SERVICE_DEPLOYMENT_FAILED'] } });
      const role = { 'Fn::GetAtt': [roleId, 'Arn'] };
      expect(targetsOf('DeploymentProgress')).toEqual([{ topic: notice, role }]);
      expect(targetsOf('DeploymentRolledBack')).toEqual(
        config.monitoring.pageOnRollback
          ? [
              { topic: notice, role },
              { topic: page, role },
            ]
          : [{ topic: notice, role }],
      );
      expect(config.monitoring.pageOnRollback).toBe(env === 'prod');
    });

    test('tasks of this cluster that failed to start or whose essential container exited, not those stopped on purpose', () => {
      expect(rules.TaskFailed!.EventPattern).toEqual({
        source: ['aws.ecs'],
        'detail-type': ['ECS Task State Change'],
        detail: {
          clusterArn: [{ 'Fn::GetAtt': [refOf('PaymentServiceCluster', 'AWS::ECS::Cluster').Ref, 'Arn'] }],
          // Only the service's tasks: a migration task that succeeded also stops with EssentialContainerExited.
          group: [{ 'Fn::Join': ['', ['service:', { 'Fn::GetAtt': [service.Ref, 'Name'] }]] }],
          lastStatus: ['STOPPED'],
          stopCode: ['TaskFailedToStart', 'EssentialContainerExited'],
        },
      });
      expect(TASK_FAILURE_STOP_CODES).not.toContain('ServiceSchedulerInitiated');
    });

    test("this pipeline's outcomes, approvals waiting, and failed builds of its own projects, all to the notice topic only", () => {
      const pipelineArn = {
        'Fn::Join': [
          '',
          ['arn:aws:codepipeline:us-east-1:', { Ref: 'AWS::AccountId' }, ':', refOf('DeliveryPipeline', 'AWS::CodePipeline::Pipeline')],
        ],
      };
      expect(rules.PipelineOutcome!.EventPattern).toEqual({
        source: ['aws.codepipeline'],
        resources: [pipelineArn],
        'detail-type': ['CodePipeline Pipeline Execution State Change'],
        detail: { state: ['FAILED', 'SUCCEEDED'] },
      });
      expect(rules.ApprovalWaiting!.EventPattern).toEqual({
        source: ['aws.codepipeline'],
        resources: [pipelineArn],
        'detail-type': ['CodePipeline Action Execution State Change'],
        detail: { state: ['STARTED'], type: { category: ['Approval'] } },
      });
      const projects = ofType(resources, 'AWS::CodeBuild::Project').map(([id]) => ({ Ref: id }));
      expect(projects.length).toBeGreaterThan(5);
      expect(rules.BuildFailed!.EventPattern).toEqual({
        source: ['aws.codebuild'],
        'detail-type': ['CodeBuild Build State Change'],
        detail: { 'build-status': ['FAILED'], 'project-name': expect.arrayContaining(projects) },
      });
      expect((rules.BuildFailed!.EventPattern as { detail: { 'project-name': unknown[] } }).detail['project-name'].length).toBe(projects.length);
      for (const name of ['PipelineOutcome', 'ApprovalWaiting', 'BuildFailed', 'TaskFailed'])
        expect({ name, topics: targetsOf(name).map((t) => t.topic) }).toEqual({ name, topics: [notice] });
    });

    // The message is what the on-call reads: the environment, what happened, the reason, where to look.
    test.each([
      [
        'DeploymentProgress',
        ['<detail-eventName>', '<detail-deploymentId>', '<detail-reason>', '/ecs/v2/clusters/'],
        { 'detail-reason': '$.detail.reason' },
      ],
      [
        'DeploymentRolledBack',
        ['ROLLED BACK', '<detail-reason>', 'docs/runbooks/rollback.md', '/ecs/v2/clusters/'],
        { 'detail-reason': '$.detail.reason' },
      ],
      [
        'TaskFailed',
        ['TASK FAILED', '<detail-stopCode>', '<detail-stoppedReason>', '<detail-taskArn>'],
        { 'detail-stoppedReason': '$.detail.stoppedReason' },
      ],
      [
        'PipelineOutcome',
        ['PIPELINE <detail-state>', '<detail-execution-id>', '/codesuite/codepipeline/pipelines/'],
        { 'detail-state': '$.detail.state' },
      ],
      [
        'ApprovalWaiting',
        ['APPROVAL WAITING', '<detail-stage>', '<detail-action>', 'docs/runbooks/infrastructure-change.md'],
        { 'detail-action': '$.detail.action' },
      ],
      [
        'BuildFailed',
        ['BUILD FAILED', '<detail-project-name>', '<detail-additional-information-logs-deep-link>'],
        { 'detail-build-id': '$.detail.build-id' },
      ],
    ])('%s: the input transformer says what happened, where, and the link to look at', (name, phrases, paths) => {
      for (const target of rules[name]!.Targets as Target[]) {
        const text = templateText(target.InputTransformer.InputTemplate);
        expect(text.startsWith(`"[${env}] `)).toBe(true);
        for (const phrase of phrases) expect({ name, text: text.includes(phrase) ? phrase : text }).toEqual({ name, text: phrase });
        expect(target.InputTransformer.InputPathsMap).toEqual(expect.objectContaining(paths));
        // Every placeholder used is mapped, and every mapping is used.
        const used = [...text.matchAll(/<([a-z0-9-]+)>/gi)].map((m) => m[1]);
        expect(new Set(used)).toEqual(new Set(Object.keys(target.InputTransformer.InputPathsMap)));
      }
    });

    test('a message EventBridge fails to deliver raises a Warning on the notice topic (CloudWatch, not EventBridge, tells it)', () => {
      const alarm = ofType(resources, 'AWS::CloudWatch::Alarm').find(
        ([, a]) => a.Properties.AlarmName === `${stack.stackName}-DeploymentEvents-FailedDeliveries-Warning`,
      )![1].Properties;
      expect(alarm).toMatchObject({
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
        AlarmActions: [notice],
        OKActions: [notice],
      });
      const metrics = alarm.Metrics as {
        Id: string;
        Expression?: string;
        MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions: unknown[] }; Stat: string };
      }[];
      const names = Object.keys(rules).map((r) => `${stack.stackName}-${r}`);
      expect(metrics.find((m) => m.Expression)!.Expression).toBe(`SUM([${names.map((_, i) => `r${i}`).join(',')}])`);
      expect(
        metrics
          .filter((m) => m.MetricStat)
          .map((m) => [m.MetricStat!.Metric.Namespace, m.MetricStat!.Metric.MetricName, m.MetricStat!.Metric.Dimensions, m.MetricStat!.Stat]),
      ).toEqual(names.map((n) => ['AWS/Events', 'FailedInvocations', [{ Name: 'RuleName', Value: n }], 'Sum']));
    });

    test('EventBridge publishes as one role of this stack: sns:Publish on the topics it targets and their key, nothing else', () => {
      const role = resources[roleId]!.Properties;
      expect(role.AssumeRolePolicyDocument).toEqual({
        Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' } }],
        Version: '2012-10-17',
      });
      const policies = ofType(resources, 'AWS::IAM::Policy').filter(
        ([, p]) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: roleId }]),
      );
      expect(policies).toHaveLength(1);
      const statements = (policies[0]![1].Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement;
      const dataKey = { 'Fn::GetAtt': [Object.keys(resources).find((id) => id.startsWith('KeysDataKey'))!, 'Arn'] };
      const topics = config.monitoring.pageOnRollback ? [notice, page] : [notice];
      // Action -> the resources it is allowed on, whatever way CDK merges the statements.
      const grants: Record<string, unknown[]> = {};
      for (const st of statements) {
        expect(st.Effect).toBe('Allow');
        expect(st.Condition).toBeUndefined();
        for (const action of [st.Action].flat() as string[]) grants[action] = [...(grants[action] ?? []), ...[st.Resource].flat()];
      }
      expect(grants).toEqual({ 'sns:Publish': topics, 'kms:Decrypt': [dataKey], 'kms:GenerateDataKey*': [dataKey] });
    });
  });

  // Whoever publishes to a topic must be admitted, or the message is silently lost: CloudWatch by the topic policy
  // (alarms named after the stack), every identity of this account by its own IAM grant on that topic.
  test('every publisher of each topic is admitted: alarms by the topic policy, rules, builds and the approval by IAM', () => {
    const topicIds = ofType(resources, 'AWS::SNS::Topic').map(([id]) => id);
    const publishes = (roleRef: unknown, topicId: string) =>
      ofType(resources, 'AWS::IAM::Policy')
        .filter(([, p]) => JSON.stringify(p.Properties.Roles).includes(JSON.stringify(roleRef)))
        .flatMap(([, p]) => (p.Properties.PolicyDocument as { Statement: { Action: unknown; Resource: unknown; Effect: string }[] }).Statement)
        .some(
          (st) =>
            st.Effect === 'Allow' &&
            [st.Action].flat().includes('sns:Publish') &&
            [st.Resource].flat().some((r) => JSON.stringify(r) === JSON.stringify({ Ref: topicId })),
        );
    const roleOf = (arn: unknown) => ({ Ref: (arn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0] });
    const seen: string[] = [];
    for (const [id, r] of Object.entries(resources)) {
      for (const topicId of topicIds) {
        if (id === topicId || !JSON.stringify(r.Properties ?? {}).includes(JSON.stringify({ Ref: topicId }))) continue;
        if (['AWS::SNS::TopicPolicy', 'AWS::SNS::Subscription', 'AWS::IAM::Policy'].includes(r.Type)) continue;
        seen.push(r.Type);
        if (r.Type === 'AWS::CloudWatch::Alarm') {
          expect(String(r.Properties.AlarmName).startsWith(`${stack.stackName}-`)).toBe(true);
        } else if (r.Type === 'AWS::Events::Rule') {
          for (const target of (r.Properties.Targets as Target[]).filter((t) => JSON.stringify(t.Arn) === JSON.stringify({ Ref: topicId })))
            expect({ id, topicId, admitted: publishes(roleOf(target.RoleArn), topicId) }).toEqual({ id, topicId, admitted: true });
        } else if (r.Type === 'AWS::CodeBuild::Project') {
          expect({ id, topicId, admitted: publishes(roleOf(r.Properties.ServiceRole), topicId) }).toEqual({ id, topicId, admitted: true });
        } else if (r.Type === 'AWS::CodePipeline::Pipeline') {
          const approvals = (r.Properties.Stages as { Actions: { RoleArn: unknown; Configuration?: { NotificationArn?: unknown } }[] }[])
            .flatMap((st) => st.Actions)
            .filter((a) => JSON.stringify(a.Configuration?.NotificationArn) === JSON.stringify({ Ref: topicId }));
          expect(approvals.length).toBe(env === 'prod' ? 1 : 0);
          for (const a of approvals) expect({ id, admitted: publishes(roleOf(a.RoleArn), topicId) }).toEqual({ id, admitted: true });
        } else {
          throw new Error(`${id} (${r.Type}) refers to topic ${topicId}: add how it is admitted to publish`);
        }
      }
    }
    expect(new Set(seen)).toEqual(
      new Set(['AWS::CloudWatch::Alarm', 'AWS::Events::Rule', 'AWS::CodeBuild::Project', ...(env === 'prod' ? ['AWS::CodePipeline::Pipeline'] : [])]),
    );
  });

  describe('payment metrics from the service (Embedded Metric Format) and their alarms', () => {
    const alarms = Object.fromEntries(ofType(resources, 'AWS::CloudWatch::Alarm').map(([, a]) => [String(a.Properties.AlarmName), a.Properties]));
    const t = config.monitoring.thresholds;
    const single = (metricName: string) => ({
      Metrics: [
        {
          Id: 'm1',
          Label: expect.any(String),
          MetricStat: {
            Metric: { Namespace: METRICS.namespace, MetricName: metricName, Dimensions: [{ Name: 'Environment', Value: env }] },
            Period: 300,
            Stat: 'Sum',
          },
          ReturnData: true,
        },
      ],
    });

    test.each([
      ['AuthFailures', 'Warning', METRICS.names.authFailures, t.authFailuresPer5Minutes],
      ['DatabaseErrors', 'Critical', METRICS.names.databaseErrors, t.databaseErrorsPer5Minutes],
    ])('%s: %s at the configured count in 5 minutes, quiet when there is no traffic', (friendly, severity, metricName, threshold) => {
      const alarm = alarms[`${stack.stackName}-Payments-${friendly}-${severity}`];
      expect(alarm).toMatchObject({
        ...single(metricName),
        Threshold: threshold,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        EvaluationPeriods: 1,
        DatapointsToAlarm: 1,
        TreatMissingData: 'notBreaching',
      });
    });

    test('DeclineRate: Warning when the declined share of created payments passes the configured percent, above the minimum volume', () => {
      const alarm = alarms[`${stack.stackName}-Payments-DeclineRate-Warning`]!;
      expect(alarm).toMatchObject({
        Threshold: t.declineRatePercent,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 1,
        DatapointsToAlarm: 1,
        TreatMissingData: 'notBreaching',
      });
      const metrics = alarm.Metrics as {
        Id: string;
        Expression?: string;
        MetricStat?: { Metric: Record<string, unknown>; Stat: string; Period: number };
      }[];
      const expression = metrics.find((m) => m.Expression)!;
      expect(expression.Expression).toBe(`IF(created >= ${t.declineRateMinPayments}, 100 * declined / created, 0)`);
      const stat = (id: string) => metrics.find((m) => m.Id === id)!.MetricStat;
      expect(stat('created')).toEqual({
        Metric: { Namespace: METRICS.namespace, MetricName: METRICS.names.paymentsCreated, Dimensions: [{ Name: 'Environment', Value: env }] },
        Stat: 'Sum',
        Period: 300,
      });
      expect(stat('declined')).toEqual({
        Metric: { Namespace: METRICS.namespace, MetricName: METRICS.names.paymentsDeclined, Dimensions: [{ Name: 'Environment', Value: env }] },
        Stat: 'Sum',
        Period: 300,
      });
    });

    test('the service is told its environment, which is the dimension the alarms read', () => {
      const task = ofType(resources, 'AWS::ECS::TaskDefinition').find(([id]) => id.startsWith('PaymentServiceTaskDefinition'))![1];
      const app = (task.Properties.ContainerDefinitions as { Name: string; Environment: { Name: string; Value: unknown }[] }[]).find(
        (c) => c.Name === CONTAINER_NAME,
      )!;
      expect(app.Environment).toContainEqual({ Name: ENV.environmentName, Value: env });
    });
  });

  test('the dashboard has rows for payments, latency by route, the database and deployment events', () => {
    type Widget = { type: string; properties: { markdown?: string; title?: string; metrics?: unknown[][] } };
    const widgets = ofType(resources, 'AWS::CloudWatch::Dashboard').flatMap(([, d]) => {
      // The body is a Fn::Join of JSON text and references: references become a placeholder string.
      const parts = (d.Properties.DashboardBody as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
      return (JSON.parse(parts.map((p) => (typeof p === 'string' ? p : 'REF')).join('')) as { widgets: Widget[] }).widgets;
    });
    const headings = widgets.filter((w) => w.type === 'text').map((w) => w.properties.markdown);
    expect(headings).toEqual(expect.arrayContaining(['# Payments', '# Database', '# Deployments']));
    const byTitle = (title: string) => widgets.find((w) => w.properties.title === title)!.properties.metrics!;
    expect(byTitle('Latency by route (p99, ms)')).toEqual([
      [
        {
          expression: `SEARCH('{${METRICS.namespace},Environment,Route} MetricName="${METRICS.names.requestLatency}" Environment="${env}"', 'p99', 60)`,
          period: 60,
        },
      ],
    ]);
    expect(byTitle('Deployment events (matches per rule)').map((m) => m.slice(0, 4))).toEqual(
      Object.keys(rules).map((rule) => ['AWS/Events', 'MatchedEvents', 'RuleName', `${stack.stackName}-${rule}`]),
    );
    expect(byTitle('Payments by outcome').map((m) => m.slice(0, 6))).toEqual([
      [METRICS.namespace, METRICS.names.paymentsCreated, 'Environment', env, 'Status', 'approved'],
      [METRICS.namespace, METRICS.names.paymentsCreated, 'Environment', env, 'Status', 'declined'],
    ]);
  });

  describe('tracing (off in the shipped configs; on: below)', () => {
    const task = ofType(resources, 'AWS::ECS::TaskDefinition').find(([id]) => id.startsWith('PaymentServiceTaskDefinition'))![1];
    const containers = task.Properties.ContainerDefinitions as Container[];

    test('follows config: the service is told tracing is off, and no collector, X-Ray endpoint or X-Ray permission exists', () => {
      expect(config.monitoring.tracing.enabled).toBe(false);
      expect(containers.map((c) => c.Name)).toEqual([CONTAINER_NAME]);
      const app = envOf(containers[0]!);
      expect(app[ENV.tracingEnabled]).toBe('false');
      expect(app[ENV.tracingSampleRatio]).toBe(String(config.monitoring.tracing.sampleRatio));
      expect(app[ENV.otlpEndpoint]).toBeUndefined();
      expect(xrayEndpoints(resources)).toEqual([]);
      expect(xrayActionsOfTaskRole(resources, task)).toEqual([]);
    });

    // Cached in every environment, whether tracing is on or not: the change that turns tracing on starts tasks that
    // pull the collector, and only a pipeline build (with a NAT route) can make the first pull through the cache.
    test('the pull-through cache exists and the Deploy step pulls the collector through it first: that one repository only', () => {
      template.hasResourceProperties('AWS::ECR::PullThroughCacheRule', {
        EcrRepositoryPrefix: publicEcrCachePrefixOf(env),
        UpstreamRegistryUrl: 'public.ecr.aws',
      });
      const repository = `${publicEcrCachePrefixOf(env)}/${COLLECTOR.upstreamRepository}`;
      const [, deploy] = ofType(resources, 'AWS::CodeBuild::Project').find(([id]) => id.startsWith('DeliveryDeployProject'))!;
      const variables = (deploy.Properties.Environment as { EnvironmentVariables: { Name: string; Value: unknown }[] }).EnvironmentVariables;
      expect(variables).toEqual(
        expect.arrayContaining([
          { Name: 'COLLECTOR_IMAGE_REPOSITORY', Type: 'PLAINTEXT', Value: repository },
          { Name: 'COLLECTOR_IMAGE_TAG', Type: 'PLAINTEXT', Value: COLLECTOR.version },
        ]),
      );
      const role = (deploy.Properties.ServiceRole as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
      const statements = ofType(resources, 'AWS::IAM::Policy')
        .filter(([, p]) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: role }]))
        .flatMap(([, p]) => (p.Properties.PolicyDocument as { Statement: { Action: unknown; Resource: unknown }[] }).Statement);
      expect(statements.filter((st) => JSON.stringify(st.Action).includes('BatchImportUpstreamImage'))).toEqual([
        {
          Action: ['ecr:BatchGetImage', 'ecr:BatchImportUpstreamImage', 'ecr:CreateRepository'],
          Effect: 'Allow',
          Resource: { 'Fn::Join': ['', ['arn:aws:ecr:us-east-1:', { Ref: 'AWS::AccountId' }, `:repository/${repository}`]] },
        },
      ]);
      // Nothing else may import into the cache: the tasks pull the cached copy only.
      const importers = ofType(resources, 'AWS::IAM::Policy').filter(([, p]) =>
        JSON.stringify(p.Properties).includes('ecr:BatchImportUpstreamImage'),
      );
      expect(importers).toHaveLength(1);
    });
  });
});

type Container = { Name: string; Image: unknown; Essential?: boolean; Environment?: { Name: string; Value: unknown }[]; DependsOn?: unknown };
const envOf = (c: Container) => Object.fromEntries((c.Environment ?? []).map((e) => [e.Name, e.Value]));
const xrayEndpoints = (resources: Record<string, Resource>) =>
  ofType(resources, 'AWS::EC2::VPCEndpoint').filter(([, e]) => JSON.stringify(e.Properties.ServiceName).includes('.xray'));
const statementsOfTaskRole = (resources: Record<string, Resource>, task: Resource) => {
  const taskRole = (task.Properties.TaskRoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  return ofType(resources, 'AWS::IAM::Policy')
    .filter(([, p]) => JSON.stringify(p.Properties.Roles).includes(taskRole))
    .flatMap(([, p]) => (p.Properties.PolicyDocument as { Statement: { Action: unknown; Resource: unknown }[] }).Statement);
};
const xrayActionsOfTaskRole = (resources: Record<string, Resource>, task: Resource) =>
  statementsOfTaskRole(resources, task).filter((st) => JSON.stringify(st.Action).includes('xray:'));

describe.each(['dev', 'prod'] as const)('tracing switched on in config (%s)', (env) => {
  const configs = shippedConfigs();
  configs[env].monitoring.tracing.enabled = true;
  const app = new App({ context: { ...CDK_CONTEXT, env }, outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'tap-synth-')) });
  const template = Template.fromStack(buildApp(app, { configDir: writeConfigDir(configs) }));
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const task = ofType(resources, 'AWS::ECS::TaskDefinition').find(([id]) => id.startsWith('PaymentServiceTaskDefinition'))![1];
  const containers = task.Properties.ContainerDefinitions as Container[];
  const app0 = containers.find((c) => c.Name === CONTAINER_NAME)!;

  test('the service samples the configured share and exports to the collector beside it, started after it', () => {
    expect(envOf(app0)).toMatchObject({
      [ENV.tracingEnabled]: 'true',
      [ENV.tracingSampleRatio]: String(configs[env].monitoring.tracing.sampleRatio),
      [ENV.otlpEndpoint]: DEFAULT_OTLP_ENDPOINT,
    });
    expect(app0.DependsOn).toEqual([{ ContainerName: COLLECTOR.containerName, Condition: 'START' }]);
  });

  test('every compliance pack passes with tracing on: zero unacknowledged findings (the collector runs as an unprivileged user)', () => {
    const findings = compliancePacks().flatMap((pack) =>
      pack.validateScope(app).violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} ${r.constructPath ?? ''}`)),
    );
    expect(findings).toEqual([]);
  });

  test('the collector: not essential, read-only, capped, pinned version from the pull-through cache, our config only', () => {
    const collector = containers.find((c) => c.Name === COLLECTOR.containerName)!;
    expect(collector).toMatchObject({ Essential: false, ReadonlyRootFilesystem: true, User: '10001:10001', MemoryReservation: 64, Memory: 128 });
    expect(JSON.stringify(collector.Image)).toContain('.dkr.ecr.us-east-1.');
    expect(JSON.stringify(collector.Image)).toContain(`/${publicEcrCachePrefixOf(env)}/aws-observability/aws-otel-collector:${COLLECTOR.version}`);
    expect(envOf(collector)).toEqual({ AOT_CONFIG_CONTENT: collectorConfig('us-east-1') });
    expect(collectorConfig('us-east-1')).toContain('  awsxray:\n    region: us-east-1\n');
    // Loopback only: nothing outside the task can send spans in.
    expect(collectorConfig('us-east-1')).toContain('endpoint: 127.0.0.1:4318');
    expect(collectorConfig('us-east-1')).not.toMatch(/0\.0\.0\.0|grpc|4317|health_check|pprof|zpages/);
  });

  test('the execution role pulls the cached collector and imports nothing; the task role may send traces and nothing more on *', () => {
    const repository = `${publicEcrCachePrefixOf(env)}/${COLLECTOR.upstreamRepository}`;
    const execRole = (task.Properties.ExecutionRoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const execStatements = ofType(resources, 'AWS::IAM::Policy')
      .filter(([, p]) => JSON.stringify(p.Properties.Roles).includes(execRole))
      .flatMap(([, p]) => (p.Properties.PolicyDocument as { Statement: { Action: unknown; Resource: unknown }[] }).Statement);
    // CDK merges it with the service image's pull statement (same actions): the service repository and the cached one.
    expect(execStatements.filter((st) => JSON.stringify(st.Resource).includes(repository))).toEqual([
      {
        Action: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
        Effect: 'Allow',
        Resource: [
          {
            'Fn::GetAtt': [
              Object.keys(resources).find((id) => id.startsWith('ImagesRepository') && resources[id]!.Type === 'AWS::ECR::Repository')!,
              'Arn',
            ],
          },
          { 'Fn::Join': ['', ['arn:aws:ecr:us-east-1:', { Ref: 'AWS::AccountId' }, `:repository/${repository}`]] },
        ],
      },
    ]);
    expect(JSON.stringify(execStatements)).not.toContain('BatchImportUpstreamImage');
    expect(statementsOfTaskRole(resources, task).filter((st) => st.Resource === '*')).toEqual([
      {
        Action: ['xray:GetSamplingRules', 'xray:GetSamplingTargets', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments'],
        Effect: 'Allow',
        Resource: '*',
      },
    ]);
    expect(xrayEndpoints(resources)).toHaveLength(1);
  });
});
