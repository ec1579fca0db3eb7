import {
  DescribeServiceDeploymentsCommand,
  ECSClient,
  ListServiceDeploymentsCommand,
  ServiceDeployment,
  ServiceDeploymentBrief,
} from '@aws-sdk/client-ecs';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { checkFirstDeployment, FirstDeploymentOptions } from '../../tools/smoke/first-deployment';
import { handler } from '../../tools/smoke/hook-handler';
import { describeHookEvent, HookEventFields, readHookEvent } from '../../tools/smoke/hook-event';

const ecsMock = mockClient(ECSClient);
const secretsMock = mockClient(SecretsManagerClient);

const CLUSTER = 'tap-cluster';
const SERVICE_ARN = `arn:aws:ecs:eu-west-1:123456789012:service/${CLUSTER}/payments`;
const REVISION_ARN = `arn:aws:ecs:eu-west-1:123456789012:service-revision/${CLUSTER}/payments/01275892`;
const OLD_REVISION_ARN = `arn:aws:ecs:eu-west-1:123456789012:service-revision/${CLUSTER}/payments/78652123`;
const DEPLOYMENT_ARN = `arn:aws:ecs:eu-west-1:123456789012:service-deployment/${CLUSTER}/payments/NCWGC2ZR-taawPAYrIaU5`;

/**
 * POST_TEST_TRAFFIC_SHIFT as ECS sends it: the developer guide's payload for that stage (Lifecycle payloads: both
 * weight maps empty) inside `executionDetails`, the stage beside it, as AWS's sample hooks read it.
 */
const ECS_EVENT = {
  executionDetails: { serviceArn: SERVICE_ARN, targetServiceRevisionArn: REVISION_ARN, testTrafficWeights: {}, productionTrafficWeights: {} },
  lifecycleStage: 'POST_TEST_TRAFFIC_SHIFT',
};
const FIELDS: HookEventFields = { lifecycleStage: 'POST_TEST_TRAFFIC_SHIFT', serviceArn: SERVICE_ARN, targetServiceRevisionArn: REVISION_ARN };

const BRIEF: ServiceDeploymentBrief = {
  serviceDeploymentArn: DEPLOYMENT_ARN,
  serviceArn: SERVICE_ARN,
  clusterArn: `arn:aws:ecs:eu-west-1:123456789012:cluster/${CLUSTER}`,
  targetServiceRevisionArn: REVISION_ARN,
  status: 'IN_PROGRESS',
};
/** The deployment CreateService starts: nothing runs yet, so no source revision. */
const FIRST: ServiceDeployment = {
  serviceDeploymentArn: DEPLOYMENT_ARN,
  serviceArn: SERVICE_ARN,
  clusterArn: BRIEF.clusterArn,
  sourceServiceRevisions: [],
  targetServiceRevision: { arn: REVISION_ARN, requestedTaskCount: 0, runningTaskCount: 0, pendingTaskCount: 0 },
  status: 'IN_PROGRESS',
  lifecycleStage: 'POST_TEST_TRAFFIC_SHIFT',
};
/** A release: the running revision is the source. */
const UPDATE: ServiceDeployment = {
  ...FIRST,
  sourceServiceRevisions: [{ arn: OLD_REVISION_ARN, requestedTaskCount: 2, runningTaskCount: 2, pendingTaskCount: 0 }],
};

const opts = (overrides: Partial<FirstDeploymentOptions> = {}): FirstDeploymentOptions => ({
  clusterName: CLUSTER,
  ecs: new ECSClient({ region: 'eu-west-1' }),
  retry: { retries: 0 },
  ...overrides,
});

function ecsAnswers(
  briefs: ServiceDeploymentBrief[],
  deployments: ServiceDeployment[],
  extra: { nextToken?: string; failures?: object[] } = {},
): void {
  ecsMock.on(ListServiceDeploymentsCommand).resolves({ serviceDeployments: briefs, nextToken: extra.nextToken });
  ecsMock.on(DescribeServiceDeploymentsCommand).resolves({ serviceDeployments: deployments, failures: extra.failures ?? [] });
}

beforeEach(() => {
  ecsMock.reset();
  secretsMock.reset();
});

describe('reading the hook payload', () => {
  test('GIVEN the payload as ECS sends it THEN the fields come from executionDetails and the stage from the top', () => {
    expect(readHookEvent(ECS_EVENT)).toEqual(FIELDS);
    expect(describeHookEvent(readHookEvent(ECS_EVENT))).toBe(`stage POST_TEST_TRAFFIC_SHIFT service ${SERVICE_ARN} revision ${REVISION_ARN}`);
  });

  test('GIVEN both places carry a field THEN executionDetails (where ECS sends it) wins over the top level', () => {
    const both = { ...ECS_EVENT, serviceArn: SERVICE_ARN.replace('/payments', '/decoy'), targetServiceRevisionArn: 'decoy' };
    expect(readHookEvent(both)).toEqual({
      lifecycleStage: 'POST_TEST_TRAFFIC_SHIFT',
      serviceArn: SERVICE_ARN,
      targetServiceRevisionArn: REVISION_ARN,
    });
  });

  test('GIVEN the fields unwrapped, as the developer guide prints them THEN they are read too', () => {
    const flat = { serviceArn: SERVICE_ARN, targetServiceRevisionArn: REVISION_ARN, testTrafficWeights: {}, productionTrafficWeights: {} };
    expect(readHookEvent(flat)).toEqual({ lifecycleStage: undefined, serviceArn: SERVICE_ARN, targetServiceRevisionArn: REVISION_ARN });
  });

  test.each([[null], ['text'], [[1, 2]], [{ executionDetails: 'x', serviceArn: 42 }]])(
    'GIVEN %j THEN every field is absent, said so in the log',
    (bad) => {
      expect(readHookEvent(bad)).toEqual({ lifecycleStage: undefined, serviceArn: undefined, targetServiceRevisionArn: undefined });
      expect(describeHookEvent(readHookEvent(bad))).toBe('stage <absent> service <absent> revision <absent>');
    },
  );
});

describe('checkFirstDeployment', () => {
  test('GIVEN the deployment CreateService started (no source revision) THEN first, after asking ECS about exactly that deployment', async () => {
    ecsAnswers([BRIEF], [FIRST]);

    const verdict = await checkFirstDeployment(FIELDS, opts());

    expect(verdict).toEqual({
      first: true,
      reason: `deployment ${DEPLOYMENT_ARN} is the first of ${SERVICE_ARN}: it has no source service revision and requests no task`,
    });
    expect(ecsMock.commandCalls(ListServiceDeploymentsCommand).map((c) => c.args[0].input)).toEqual([{ cluster: CLUSTER, service: SERVICE_ARN }]);
    expect(ecsMock.commandCalls(DescribeServiceDeploymentsCommand).map((c) => c.args[0].input)).toEqual([
      { serviceDeploymentArns: [DEPLOYMENT_ARN] },
    ]);
  });

  test('GIVEN ECS omits sourceServiceRevisions on the first deployment THEN first as well', async () => {
    const withoutSources: ServiceDeployment = { ...FIRST, sourceServiceRevisions: undefined };
    ecsAnswers([BRIEF], [withoutSources]);

    await expect(checkFirstDeployment(FIELDS, opts())).resolves.toMatchObject({ first: true });
  });

  test('GIVEN a release replacing a running revision THEN not first, naming the revision it replaces', async () => {
    ecsAnswers([BRIEF], [UPDATE]);

    await expect(checkFirstDeployment(FIELDS, opts())).resolves.toEqual({
      first: false,
      reason: `deployment ${DEPLOYMENT_ARN} replaces ${OLD_REVISION_ARN}`,
    });
  });

  test('GIVEN a service CloudFormation replaced (first to ECS, but it requests the configured tasks) THEN not first: it is smoke-tested', async () => {
    // A replacing property change creates the new service first: no history, no source revision, a real image.
    const replaced = { ...FIRST, targetServiceRevision: { ...FIRST.targetServiceRevision!, requestedTaskCount: 3 } };
    ecsAnswers([BRIEF], [replaced]);

    await expect(checkFirstDeployment(FIELDS, opts())).resolves.toEqual({
      first: false,
      reason:
        `deployment ${DEPLOYMENT_ARN} is the first of ${SERVICE_ARN} but requests 3 task(s): ` +
        'only a first deployment with no task (the firstDeploy creation) has nothing to test',
    });
  });

  test('GIVEN a first deployment whose task count ECS does not state THEN not first', async () => {
    const unstated = { ...FIRST, targetServiceRevision: { arn: REVISION_ARN } };
    ecsAnswers([BRIEF], [unstated]);

    await expect(checkFirstDeployment(FIELDS, opts())).resolves.toMatchObject({ first: false, reason: expect.stringMatching(/requests null task/) });
  });

  test('GIVEN a service idle for longer than the 90-day deployment history (one deployment listed) THEN still not first', async () => {
    // Counting listed deployments would call this a new service; the deployment's own source revision does not lie.
    ecsMock.on(ListServiceDeploymentsCommand).resolves({ serviceDeployments: [BRIEF] });
    ecsMock.on(DescribeServiceDeploymentsCommand).resolves({ serviceDeployments: [UPDATE] });

    await expect(checkFirstDeployment(FIELDS, opts())).resolves.toMatchObject({ first: false });
  });

  test("GIVEN an earlier deployment is listed (the pipeline's first release after a firstDeploy stack) THEN not first, even with no source revision", async () => {
    // The deployment CreateService started with 0 tasks is history now; should ECS name no source revision for a
    // revision without tasks, the listed history still marks this as a release.
    const created: ServiceDeploymentBrief = {
      ...BRIEF,
      serviceDeploymentArn: `${DEPLOYMENT_ARN}-created`,
      targetServiceRevisionArn: OLD_REVISION_ARN,
      status: 'SUCCESSFUL',
    };
    ecsAnswers([BRIEF, created], [FIRST]);

    await expect(checkFirstDeployment(FIELDS, opts())).resolves.toEqual({
      first: false,
      reason: `${SERVICE_ARN} has earlier deployments (2 listed)`,
    });
    expect(ecsMock.commandCalls(DescribeServiceDeploymentsCommand)).toHaveLength(0);
  });

  test.each<[string, HookEventFields, RegExp]>([
    ['no serviceArn', { ...FIELDS, serviceArn: undefined }, /the event has no valid serviceArn, got: null/],
    ['a service ARN of another form', { ...FIELDS, serviceArn: 'arn:aws:ecs:eu-west-1:123456789012:service/payments' }, /no valid serviceArn/],
    ['a service in another cluster', { ...FIELDS, serviceArn: SERVICE_ARN.replace(CLUSTER, 'other') }, /is in cluster other, not tap-cluster/],
    ['no target revision', { ...FIELDS, targetServiceRevisionArn: undefined }, /no valid targetServiceRevisionArn, got: null/],
    ['a revision of another service', { ...FIELDS, targetServiceRevisionArn: REVISION_ARN.replace('/payments/', '/other/') }, /is not a revision of/],
    [
      'a revision in another account',
      { ...FIELDS, targetServiceRevisionArn: REVISION_ARN.replace('123456789012', '210987654321') },
      /is not a revision of/,
    ],
  ])('GIVEN an event with %s THEN not first, without asking ECS', async (_name, fields, reason) => {
    const verdict = await checkFirstDeployment(fields, opts());

    expect(verdict.first).toBe(false);
    expect(verdict.reason).toMatch(reason);
    expect(ecsMock.calls()).toHaveLength(0);
  });

  test('GIVEN CLUSTER_NAME is not set THEN not first', async () => {
    await expect(checkFirstDeployment(FIELDS, opts({ clusterName: ' ' }))).resolves.toEqual({
      first: false,
      reason: 'CLUSTER_NAME is not set, so no deployment can be matched',
    });
  });

  test.each<[string, ServiceDeploymentBrief[], { nextToken?: string }]>([
    ['no deployment in progress', [], {}],
    ['only a deployment to another revision', [{ ...BRIEF, targetServiceRevisionArn: OLD_REVISION_ARN }], {}],
    ['two matching deployments', [BRIEF, { ...BRIEF, serviceDeploymentArn: `${DEPLOYMENT_ARN}2` }], {}],
    ['a match on a page with more to come', [BRIEF], { nextToken: 'more' }],
  ])('GIVEN ListServiceDeployments shows %s THEN not first', async (_name, briefs, extra) => {
    ecsAnswers(briefs, [FIRST], extra);

    const verdict = await checkFirstDeployment(FIELDS, opts());

    expect(verdict.first).toBe(false);
    expect(verdict.reason).toMatch(/expected exactly one IN_PROGRESS deployment|has earlier deployments \(more than one page listed\)/);
    expect(ecsMock.commandCalls(DescribeServiceDeploymentsCommand)).toHaveLength(0);
  });

  test.each<[string, ServiceDeployment[], object[]]>([
    ['a failure', [FIRST], [{ arn: DEPLOYMENT_ARN, reason: 'MISSING' }]],
    ['no deployment', [], []],
    ['a deployment that has finished', [{ ...FIRST, status: 'SUCCESSFUL' }], []],
    ['a deployment to another revision', [{ ...FIRST, targetServiceRevision: { arn: OLD_REVISION_ARN } }], []],
    ['a deployment of another service', [{ ...FIRST, serviceArn: SERVICE_ARN.replace('payments', 'other') }], []],
  ])('GIVEN DescribeServiceDeployments answers %s THEN not first', async (_name, deployments, failures) => {
    ecsAnswers([BRIEF], deployments, { failures });

    await expect(checkFirstDeployment(FIELDS, opts())).resolves.toMatchObject({ first: false });
  });

  test('GIVEN the role may not read deployments THEN not first, with a hint', async () => {
    ecsMock.on(ListServiceDeploymentsCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));

    await expect(checkFirstDeployment(FIELDS, opts())).resolves.toEqual({
      first: false,
      reason:
        "cannot read the service deployments (AccessDeniedException); check the hook role's ecs:ListServiceDeployments and ecs:DescribeServiceDeployments",
    });
  });

  test('GIVEN ECS throttles once THEN the call is retried and the answer stands', async () => {
    ecsMock
      .on(ListServiceDeploymentsCommand)
      .rejectsOnce(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }))
      .resolves({ serviceDeployments: [BRIEF] });
    ecsMock.on(DescribeServiceDeploymentsCommand).resolves({ serviceDeployments: [FIRST] });

    await expect(checkFirstDeployment(FIELDS, opts({ retry: { retries: 1, sleep: async () => undefined } }))).resolves.toMatchObject({ first: true });
  });
});

describe('the Lambda entry point', () => {
  const saved = { ...process.env };
  let lines: string[];
  beforeEach(() => {
    lines = [];
    jest.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
  });
  afterEach(() => {
    process.env = { ...saved };
    jest.restoreAllMocks();
  });

  test("GIVEN the service's first deployment THEN SUCCEEDED from CLUSTER_NAME and ECS alone, no secret read, no request made", async () => {
    process.env = {
      ...saved,
      CLUSTER_NAME: CLUSTER,
      TEST_URL: 'http://127.0.0.1:1',
      API_KEY_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:k',
    };
    ecsAnswers([BRIEF], [FIRST]);

    await expect(handler(ECS_EVENT)).resolves.toEqual({ hookStatus: 'SUCCEEDED' });

    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(0);
    expect(lines).toEqual([
      `smoke hook invoked: stage POST_TEST_TRAFFIC_SHIFT service ${SERVICE_ARN} revision ${REVISION_ARN}`,
      `smoke hook SUCCEEDED without a smoke test, first deployment of the service: deployment ${DEPLOYMENT_ARN} is the first of ${SERVICE_ARN}: it has no source service revision and requests no task`,
    ]);
  });

  test('GIVEN a release THEN the smoke test runs (and fails here: nothing listens on the test URL)', async () => {
    process.env = {
      ...saved,
      CLUSTER_NAME: CLUSTER,
      TEST_URL: 'http://127.0.0.1:1',
      API_KEY_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:k',
    };
    ecsAnswers([BRIEF], [UPDATE]);
    secretsMock.on(GetSecretValueCommand).resolves({ SecretString: 'smoke-test-key-not-a-real-secret-000000' });

    await expect(handler(ECS_EVENT)).resolves.toEqual({ hookStatus: 'FAILED' });

    expect(lines).toContain(`smoke test required: deployment ${DEPLOYMENT_ARN} replaces ${OLD_REVISION_ARN}`);
    expect(lines.join('\n')).not.toContain('smoke-test-key-not-a-real-secret-000000');
  });
});
