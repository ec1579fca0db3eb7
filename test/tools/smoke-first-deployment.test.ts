import {
  DescribeServiceDeploymentsCommand,
  ECSClient,
  ListServiceDeploymentsCommand,
  ServiceDeployment,
  ServiceDeploymentBrief,
} from '@aws-sdk/client-ecs';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { checkFirstDeployment, FirstDeploymentOptions } from '../../tools/smoke/first-deployment';
import { handler } from '../../tools/smoke/hook-handler';
import { describeHookEvent, HookEventFields, readHookEvent } from '../../tools/smoke/hook-event';
import { getSecretString } from '../../tools/smoke/secrets';

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

const FIRST_REASON = `deployment ${DEPLOYMENT_ARN} is the first of ${SERVICE_ARN}: it has no source service revision and requests no task`;

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

  test('GIVEN empty strings THEN they count as absent, and the other place is read', () => {
    const blanks = {
      ...ECS_EVENT,
      lifecycleStage: '',
      executionDetails: { ...ECS_EVENT.executionDetails, serviceArn: '', targetServiceRevisionArn: '' },
    };
    expect(readHookEvent({ ...blanks, serviceArn: SERVICE_ARN, targetServiceRevisionArn: REVISION_ARN })).toEqual({
      lifecycleStage: undefined,
      serviceArn: SERVICE_ARN,
      targetServiceRevisionArn: REVISION_ARN,
    });
    expect(readHookEvent(blanks)).toEqual({ lifecycleStage: undefined, serviceArn: undefined, targetServiceRevisionArn: undefined });
  });

  test.each<[string, unknown]>([
    ['an array carrying the fields', Object.assign([], ECS_EVENT)],
    ['a function carrying the fields', Object.assign(() => undefined, ECS_EVENT)],
  ])('GIVEN %s instead of an object THEN every field is absent', (_what, bad) => {
    expect(readHookEvent(bad)).toEqual({ lifecycleStage: undefined, serviceArn: undefined, targetServiceRevisionArn: undefined });
  });

  test.each<[string, unknown]>([
    ['an array', Object.assign([], ECS_EVENT.executionDetails)],
    ['a function', Object.assign(() => undefined, ECS_EVENT.executionDetails)],
  ])('GIVEN executionDetails is %s carrying the fields THEN only the stage beside it is read', (_what, details) => {
    expect(readHookEvent({ ...ECS_EVENT, executionDetails: details })).toEqual({
      lifecycleStage: 'POST_TEST_TRAFFIC_SHIFT',
      serviceArn: undefined,
      targetServiceRevisionArn: undefined,
    });
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

    expect(verdict).toEqual({ first: true, reason: FIRST_REASON });
    expect(ecsMock.commandCalls(ListServiceDeploymentsCommand).map((c) => c.args[0].input)).toEqual([{ cluster: CLUSTER, service: SERVICE_ARN }]);
    expect(ecsMock.commandCalls(DescribeServiceDeploymentsCommand).map((c) => c.args[0].input)).toEqual([
      { serviceDeploymentArns: [DEPLOYMENT_ARN] },
    ]);
  });

  test('GIVEN ECS omits sourceServiceRevisions on the first deployment THEN first as well', async () => {
    const withoutSources: ServiceDeployment = { ...FIRST, sourceServiceRevisions: undefined };
    ecsAnswers([BRIEF], [withoutSources]);

    await expect(checkFirstDeployment(FIELDS, opts())).resolves.toEqual({ first: true, reason: FIRST_REASON });
  });

  test('GIVEN a release replacing a running revision THEN not first, naming the revision it replaces', async () => {
    ecsAnswers([BRIEF], [UPDATE]);

    await expect(checkFirstDeployment(FIELDS, opts())).resolves.toEqual({
      first: false,
      reason: `deployment ${DEPLOYMENT_ARN} replaces ${OLD_REVISION_ARN}`,
    });
  });

  test('GIVEN a release replacing several revisions, one of them unnamed THEN not first, naming each', async () => {
    const sources = [{ arn: OLD_REVISION_ARN, requestedTaskCount: 2 }, { requestedTaskCount: 1 }];
    ecsAnswers([BRIEF], [{ ...FIRST, sourceServiceRevisions: sources }]);

    await expect(checkFirstDeployment(FIELDS, opts())).resolves.toEqual({
      first: false,
      reason: `deployment ${DEPLOYMENT_ARN} replaces ${OLD_REVISION_ARN}, <unnamed>`,
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

    await expect(checkFirstDeployment(FIELDS, opts())).resolves.toEqual({
      first: false,
      reason:
        `deployment ${DEPLOYMENT_ARN} is the first of ${SERVICE_ARN} but requests null task(s): ` +
        'only a first deployment with no task (the firstDeploy creation) has nothing to test',
    });
  });

  test('GIVEN a service idle for longer than the 90-day deployment history (one deployment listed) THEN still not first', async () => {
    // Counting listed deployments would call this a new service; the deployment's own source revision does not lie.
    ecsMock.on(ListServiceDeploymentsCommand).resolves({ serviceDeployments: [BRIEF] });
    ecsMock.on(DescribeServiceDeploymentsCommand).resolves({ serviceDeployments: [UPDATE] });

    await expect(checkFirstDeployment(FIELDS, opts())).resolves.toEqual({
      first: false,
      reason: `deployment ${DEPLOYMENT_ARN} replaces ${OLD_REVISION_ARN}`,
    });
    expect(ecsMock.commandCalls(DescribeServiceDeploymentsCommand)).toHaveLength(1);
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

  const SHORT_SERVICE_ARN = 'arn:aws:ecs:eu-west-1:123456789012:service/payments';
  const OTHER_SERVICE_REVISION = REVISION_ARN.replace('/payments/', '/other/');
  const OTHER_ACCOUNT_REVISION = REVISION_ARN.replace('123456789012', '210987654321');
  test.each<[string, HookEventFields, string]>([
    ['no serviceArn', { ...FIELDS, serviceArn: undefined }, 'the event has no valid serviceArn, got: null'],
    ['a service ARN of another form', { ...FIELDS, serviceArn: SHORT_SERVICE_ARN }, `the event has no valid serviceArn, got: "${SHORT_SERVICE_ARN}"`],
    [
      'a service in another cluster',
      { ...FIELDS, serviceArn: SERVICE_ARN.replace(CLUSTER, 'other') },
      "the event's service is in cluster other, not tap-cluster",
    ],
    ['no target revision', { ...FIELDS, targetServiceRevisionArn: undefined }, 'the event has no valid targetServiceRevisionArn, got: null'],
    [
      'a revision of another service',
      { ...FIELDS, targetServiceRevisionArn: OTHER_SERVICE_REVISION },
      `the revision ${OTHER_SERVICE_REVISION} is not a revision of ${SERVICE_ARN}`,
    ],
    [
      'a revision in another account',
      { ...FIELDS, targetServiceRevisionArn: OTHER_ACCOUNT_REVISION },
      `the revision ${OTHER_ACCOUNT_REVISION} is not a revision of ${SERVICE_ARN}`,
    ],
  ])('GIVEN an event with %s THEN not first, without asking ECS', async (_name, fields, reason) => {
    const verdict = await checkFirstDeployment(fields, opts());

    expect(verdict).toEqual({ first: false, reason });
    expect(ecsMock.calls()).toHaveLength(0);
  });

  test('GIVEN CLUSTER_NAME is not set THEN not first', async () => {
    await expect(checkFirstDeployment(FIELDS, opts({ clusterName: ' ' }))).resolves.toEqual({
      first: false,
      reason: 'CLUSTER_NAME is not set, so no deployment can be matched',
    });
  });

  const matching = (found: number): string => `expected exactly one IN_PROGRESS deployment of ${SERVICE_ARN} to ${REVISION_ARN}, found ${found}`;
  test.each<[string, ServiceDeploymentBrief[], { nextToken?: string }, string]>([
    ['no deployment in progress', [], {}, matching(0)],
    ['only a deployment to another revision', [{ ...BRIEF, targetServiceRevisionArn: OLD_REVISION_ARN }], {}, matching(0)],
    ['only a deployment of another service', [{ ...BRIEF, serviceArn: SERVICE_ARN.replace('/payments', '/other') }], {}, matching(0)],
    ['only a finished deployment to this revision', [{ ...BRIEF, status: 'SUCCESSFUL' }], {}, matching(0)],
    ['only a stopped deployment to this revision', [{ ...BRIEF, status: 'STOPPED' }], {}, matching(0)],
    ['two matching deployments', [BRIEF, { ...BRIEF, serviceDeploymentArn: `${DEPLOYMENT_ARN}2` }], {}, matching(2)],
    ['a match on a page with more to come', [BRIEF], { nextToken: 'more' }, `${SERVICE_ARN} has earlier deployments (more than one page listed)`],
  ])('GIVEN ListServiceDeployments shows %s THEN not first', async (_name, briefs, extra, reason) => {
    ecsAnswers(briefs, [FIRST], extra);

    const verdict = await checkFirstDeployment(FIELDS, opts());

    expect(verdict).toEqual({ first: false, reason });
    expect(ecsMock.commandCalls(DescribeServiceDeploymentsCommand)).toHaveLength(0);
  });

  const mismatch = `deployment ${DEPLOYMENT_ARN} does not match the event (service, target revision or status IN_PROGRESS)`;
  test.each<[string, ServiceDeployment[], object[], string]>([
    [
      'a failure',
      [FIRST],
      [{ arn: DEPLOYMENT_ARN, reason: 'MISSING' }],
      `DescribeServiceDeployments ${DEPLOYMENT_ARN} answered 1 deployment(s), 1 failure(s)`,
    ],
    ['no deployment', [], [], `DescribeServiceDeployments ${DEPLOYMENT_ARN} answered 0 deployment(s), 0 failure(s)`],
    ['two deployments', [FIRST, FIRST], [], `DescribeServiceDeployments ${DEPLOYMENT_ARN} answered 2 deployment(s), 0 failure(s)`],
    ['another deployment', [{ ...FIRST, serviceDeploymentArn: `${DEPLOYMENT_ARN}-other` }], [], mismatch],
    ['a deployment that has finished', [{ ...FIRST, status: 'SUCCESSFUL' }], [], mismatch],
    ['a deployment to another revision', [{ ...FIRST, targetServiceRevision: { arn: OLD_REVISION_ARN } }], [], mismatch],
    ['a deployment of another service', [{ ...FIRST, serviceArn: SERVICE_ARN.replace('payments', 'other') }], [], mismatch],
  ])('GIVEN DescribeServiceDeployments answers %s THEN not first', async (_name, deployments, failures, reason) => {
    ecsAnswers([BRIEF], deployments, { failures });

    await expect(checkFirstDeployment(FIELDS, opts())).resolves.toEqual({ first: false, reason });
  });

  test('GIVEN the role may not read deployments THEN not first, with a hint', async () => {
    ecsMock.on(ListServiceDeploymentsCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));

    await expect(checkFirstDeployment(FIELDS, opts())).resolves.toEqual({
      first: false,
      reason:
        "cannot read the service deployments (AccessDeniedException); check the hook role's ecs:ListServiceDeployments and ecs:DescribeServiceDeployments",
    });
  });

  test('GIVEN ECS fails with something other than an Error THEN not first, calling it an error', async () => {
    ecsMock.on(ListServiceDeploymentsCommand).callsFake(() => Promise.reject({ message: 'denied' }));

    await expect(checkFirstDeployment(FIELDS, opts())).resolves.toEqual({
      first: false,
      reason: "cannot read the service deployments (error); check the hook role's ecs:ListServiceDeployments and ecs:DescribeServiceDeployments",
    });
  });

  test('GIVEN ECS keeps throttling and no retry is configured THEN two retries by default, then not first', async () => {
    // Full jitter drawn at 0: the retries wait no time.
    const random = jest.spyOn(Math, 'random').mockReturnValue(0);
    ecsMock.on(ListServiceDeploymentsCommand).rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));

    try {
      await expect(checkFirstDeployment(FIELDS, opts({ retry: undefined }))).resolves.toEqual({
        first: false,
        reason:
          "cannot read the service deployments (ThrottlingException); check the hook role's ecs:ListServiceDeployments and ecs:DescribeServiceDeployments",
      });
    } finally {
      random.mockRestore();
    }
    expect(ecsMock.commandCalls(ListServiceDeploymentsCommand).map((c) => c.args[0].input)).toEqual([
      { cluster: CLUSTER, service: SERVICE_ARN },
      { cluster: CLUSTER, service: SERVICE_ARN },
      { cluster: CLUSTER, service: SERVICE_ARN },
    ]);
  });

  test('GIVEN ECS throttles once THEN the call is retried and the answer stands', async () => {
    ecsMock
      .on(ListServiceDeploymentsCommand)
      .rejectsOnce(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }))
      .resolves({ serviceDeployments: [BRIEF] });
    ecsMock.on(DescribeServiceDeploymentsCommand).resolves({ serviceDeployments: [FIRST] });

    await expect(checkFirstDeployment(FIELDS, opts({ retry: { retries: 1, sleep: async () => undefined } }))).resolves.toEqual({
      first: true,
      reason: FIRST_REASON,
    });
    expect(ecsMock.commandCalls(ListServiceDeploymentsCommand)).toHaveLength(2);
    expect(ecsMock.commandCalls(DescribeServiceDeploymentsCommand)).toHaveLength(1);
  });
});

describe('reading the API key secret', () => {
  const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tap/api-key';
  const client = (): SecretsManagerClient => new SecretsManagerClient({ region: 'eu-west-1' });

  test('GIVEN a string secret THEN its value, read by the ARN', async () => {
    secretsMock.on(GetSecretValueCommand).resolves({ SecretString: 'smoke-test-key-not-a-real-secret-000000' });

    await expect(getSecretString(SECRET_ARN, client())).resolves.toBe('smoke-test-key-not-a-real-secret-000000');
    expect(secretsMock.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input)).toEqual([{ SecretId: SECRET_ARN }]);
  });

  test.each<[string, { SecretString?: string; SecretBinary?: Uint8Array }]>([
    ['an empty string', { SecretString: '' }],
    ['only a binary value', { SecretBinary: new Uint8Array([1, 2, 3]) }],
  ])('GIVEN a secret with %s THEN refused, naming the ARN', async (_what, answer) => {
    secretsMock.on(GetSecretValueCommand).resolves(answer);

    await expect(getSecretString(SECRET_ARN, client())).rejects.toStrictEqual(
      new Error(`secret ${SECRET_ARN} has no string value (binary secrets are not supported)`),
    );
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
      `smoke hook SUCCEEDED without a smoke test, first deployment of the service: ${FIRST_REASON}`,
    ]);
  });

  /** A local URL nothing listens on: a port the OS just handed out and that was closed again (port 1 would be refused by fetch itself as a "bad port"). */
  async function closedUrl(): Promise<string> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return `http://127.0.0.1:${port}`;
  }

  test('GIVEN a release THEN the smoke test runs (and fails here: nothing listens on the test URL)', async () => {
    const testUrl = await closedUrl();
    process.env = {
      ...saved,
      CLUSTER_NAME: CLUSTER,
      TEST_URL: testUrl,
      API_KEY_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:k',
    };
    ecsAnswers([BRIEF], [UPDATE]);
    secretsMock.on(GetSecretValueCommand).resolves({ SecretString: 'smoke-test-key-not-a-real-secret-000000' });

    await expect(handler(ECS_EVENT)).resolves.toEqual({ hookStatus: 'FAILED' });

    // The FAILED must come from the smoke test reaching for the test URL, after the key was read: not from an earlier step.
    expect(secretsMock.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input)).toEqual([
      { SecretId: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:k' },
    ]);
    expect(lines[1]).toBe(`smoke test required: deployment ${DEPLOYMENT_ARN} replaces ${OLD_REVISION_ARN}`);
    expect(lines[2]?.replace(/ +\d+ms/, ' <ms>')).toBe(
      `smoke test against ${testUrl}:\nFAIL ${'GET /health/live'.padEnd(22)} - <ms>  unreachable (ECONNREFUSED)`,
    );
    expect(lines.at(-1)).toBe('smoke hook FAILED');
    expect(lines.join('\n')).not.toContain('smoke-test-key-not-a-real-secret-000000');
  });
});
