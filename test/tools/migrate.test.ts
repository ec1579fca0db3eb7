import {
  Container,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
  Task,
  TaskDefinition,
} from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { MIGRATION_CONTAINER_NAME } from '../../lib/database/migration-target';
import { IMAGE_URI_PATTERN as DEPLOY_IMAGE_URI_PATTERN } from '../../tools/deploy/ecs-deploy';
import { DEFAULT_CONTAINER_NAME, main as cliMain, readMigrationOptions } from '../../tools/migrate/cli';
import {
  buildMigrationTaskDefinitionInput,
  IMAGE_URI_PATTERN,
  logStreamOf,
  MigrationFailedError,
  MigrationInputError,
  MigrationOptions,
  MigrationTimeoutError,
  READ_ONLY_TASK_DEFINITION_FIELDS,
  REGISTERABLE_TASK_DEFINITION_FIELDS,
  runMigration,
  STARTED_BY,
} from '../../tools/migrate/run-migration';
import { fakeRuntime } from './fake-runtime';
import { inputs } from './mock-inputs';

const ecsMock = mockClient(ECSClient);

const DIGEST = 'c'.repeat(64);
const NEW_IMAGE = `123456789012.dkr.ecr.us-east-1.amazonaws.com/tap/dev/payment-service@sha256:${DIGEST}`;
const OLD_IMAGE = `123456789012.dkr.ecr.us-east-1.amazonaws.com/tap/dev/payment-service@sha256:${'d'.repeat(64)}`;
const FAMILY = 'TapStack-dev-migrate';
const OLD_TD = `arn:aws:ecs:us-east-1:123456789012:task-definition/${FAMILY}:4`;
const NEW_TD = `arn:aws:ecs:us-east-1:123456789012:task-definition/${FAMILY}:5`;
const CLUSTER = 'arn:aws:ecs:us-east-1:123456789012:cluster/tap-dev';
const TASK = 'arn:aws:ecs:us-east-1:123456789012:task/tap-dev/0123456789abcdef0123456789abcdef';
const TOKEN = '5f0c3d2e-8a41-4d59-9a7e-2b6f3c1d0e9a';

const MIGRATE_CONTAINER = {
  name: 'migrate',
  image: OLD_IMAGE,
  essential: true,
  command: ['dist/migrate.js'],
  environment: [
    { name: 'DATABASE_SECRET_ARN', value: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:master' },
    { name: 'DATABASE_APP_SECRET_ARN', value: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app' },
  ],
  logConfiguration: {
    logDriver: 'awslogs' as const,
    options: { 'awslogs-group': '/tap/dev/migrate', 'awslogs-stream-prefix': 'migrate', 'awslogs-region': 'us-east-1' },
  },
};

const LATEST: TaskDefinition = {
  taskDefinitionArn: OLD_TD,
  family: FAMILY,
  revision: 4,
  status: 'ACTIVE',
  taskRoleArn: 'arn:aws:iam::123456789012:role/migrate-task',
  executionRoleArn: 'arn:aws:iam::123456789012:role/migrate-exec',
  networkMode: 'awsvpc',
  cpu: '256',
  memory: '512',
  requiresCompatibilities: ['FARGATE'],
  compatibilities: ['EC2', 'FARGATE'],
  requiresAttributes: [{ name: 'com.amazonaws.ecs.capability.logging-driver.awslogs' }],
  registeredAt: new Date('2026-01-01T00:00:00Z'),
  registeredBy: 'arn:aws:sts::123456789012:assumed-role/cfn/session',
  runtimePlatform: { cpuArchitecture: 'X86_64', operatingSystemFamily: 'LINUX' },
  volumes: [],
  placementConstraints: [],
  containerDefinitions: [MIGRATE_CONTAINER],
};
const TAGS = [{ key: 'app', value: 'tap' }];

const OPTS: MigrationOptions = {
  cluster: CLUSTER,
  family: FAMILY,
  containerName: 'migrate',
  imageUri: NEW_IMAGE,
  subnetIds: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0aaaaaaaaaaaaaaa2'],
  securityGroupIds: ['sg-0bbbbbbbbbbbbbbb1'],
  timeoutMs: 600_000,
  pollIntervalMs: 5_000,
  maxPollIntervalMs: 30_000,
  clientToken: TOKEN,
};

const T0 = Date.parse('2026-03-01T10:00:00Z');

function harness(): { logs: string[]; sleeps: number[]; deps: Parameters<typeof runMigration>[1] } {
  const { runtime, logs, sleeps } = fakeRuntime(T0);
  return { logs, sleeps, deps: { ecs: new ECSClient({ region: 'us-east-1' }), ...runtime } };
}

/** A stopped migration task; the container exited 0 unless `container` says otherwise (`exitCode: undefined`: it never ran). */
function stopped(overrides: Partial<Task> = {}, container: Partial<Container> = { exitCode: 0 }): Task {
  return {
    taskArn: TASK,
    lastStatus: 'STOPPED',
    stopCode: 'EssentialContainerExited',
    stoppedReason: 'Essential container in task exited',
    containers: [{ name: 'migrate', lastStatus: 'STOPPED', ...container }],
    ...overrides,
  };
}

function givenFamily(latest: TaskDefinition = LATEST): void {
  ecsMock.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: latest, tags: TAGS });
  ecsMock.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: { ...LATEST, taskDefinitionArn: NEW_TD, revision: 5 } });
  ecsMock.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK, lastStatus: 'PROVISIONING' }], failures: [] });
}

function taskStates(...tasks: (Task | 'missing')[]): void {
  const mock = ecsMock.on(DescribeTasksCommand);
  for (const t of tasks) {
    mock.resolvesOnce(t === 'missing' ? { tasks: [], failures: [{ arn: TASK, reason: 'MISSING' }] } : { tasks: [t], failures: [] });
  }
}

function awsError(name: string, message: string, status = 400): Error {
  const error = new Error(message);
  error.name = name;
  return Object.assign(error, { $metadata: { httpStatusCode: status } });
}

beforeEach(() => {
  ecsMock.reset();
});

describe('runMigration', () => {
  test('GIVEN the task exits 0 THEN registers a copy with only the image changed, runs it privately on Fargate and polls with backoff', async () => {
    givenFamily();
    taskStates(
      { taskArn: TASK, lastStatus: 'PROVISIONING' },
      { taskArn: TASK, lastStatus: 'PENDING' },
      { taskArn: TASK, lastStatus: 'RUNNING' },
      stopped(),
    );
    const { deps, logs, sleeps } = harness();

    const result = await runMigration(OPTS, deps);

    // THEN the latest ACTIVE revision of the family is the template, with its tags
    expect(inputs(ecsMock, DescribeTaskDefinitionCommand)).toEqual([{ taskDefinition: FAMILY, include: ['TAGS'] }]);
    // AND the registered copy differs only in the migration container's image, read-only fields dropped
    expect(inputs(ecsMock, RegisterTaskDefinitionCommand)).toEqual([
      {
        family: FAMILY,
        taskRoleArn: LATEST.taskRoleArn,
        executionRoleArn: LATEST.executionRoleArn,
        networkMode: 'awsvpc',
        cpu: '256',
        memory: '512',
        requiresCompatibilities: ['FARGATE'],
        runtimePlatform: LATEST.runtimePlatform,
        volumes: [],
        placementConstraints: [],
        containerDefinitions: [{ ...MIGRATE_CONTAINER, image: NEW_IMAGE }],
        tags: TAGS,
      },
    ]);
    // AND the task runs that new revision on Fargate, in the private subnets, without a public IP, idempotently
    expect(inputs(ecsMock, RunTaskCommand)).toEqual([
      {
        cluster: CLUSTER,
        taskDefinition: NEW_TD,
        launchType: 'FARGATE',
        count: 1,
        startedBy: 'pipeline-migrate',
        clientToken: TOKEN,
        networkConfiguration: {
          awsvpcConfiguration: { subnets: OPTS.subnetIds, securityGroups: OPTS.securityGroupIds, assignPublicIp: 'DISABLED' },
        },
      },
    ]);
    expect(inputs(ecsMock, DescribeTasksCommand)).toEqual(Array(4).fill({ cluster: CLUSTER, tasks: [TASK] }));
    // AND the waits grow by half each time
    expect(sleeps).toEqual([5000, 7500, 11250]);
    expect(result).toEqual({
      taskDefinitionArn: NEW_TD,
      taskArn: TASK,
      durationMs: 23_750,
      logStream: { group: '/tap/dev/migrate', stream: 'migrate/migrate/0123456789abcdef0123456789abcdef' },
    });
    expect(ecsMock.commandCalls(StopTaskCommand)).toHaveLength(0);
    const text = logs.join('\n');
    expect(text).toContain('migration task PENDING');
    expect(text).toContain('aws logs tail /tap/dev/migrate --log-stream-names migrate/migrate/0123456789abcdef0123456789abcdef');
    expect(text).toMatch(/exited 0 after 24s/);
  });

  test('GIVEN the latest revision already runs the image (a rerun of the same release) THEN runs it without registering another', async () => {
    givenFamily({ ...LATEST, containerDefinitions: [{ ...MIGRATE_CONTAINER, image: NEW_IMAGE }] });
    taskStates(stopped());
    const { deps } = harness();

    const result = await runMigration(OPTS, deps);

    expect(ecsMock.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(0);
    expect(inputs(ecsMock, RunTaskCommand)).toEqual([expect.objectContaining({ taskDefinition: OLD_TD })]);
    expect(result.taskDefinitionArn).toBe(OLD_TD);
  });

  test('GIVEN the migration exits 1 THEN rejects with the exit code, stop code, stopped reason and log stream; nothing is stopped', async () => {
    givenFamily();
    taskStates({ taskArn: TASK, lastStatus: 'RUNNING' }, stopped({}, { exitCode: 1 }));
    const { deps } = harness();

    const error = await runMigration(OPTS, deps).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(MigrationFailedError);
    expect((error as MigrationFailedError).taskArn).toBe(TASK);
    expect((error as Error).message).toBe(
      `migration task ${TASK} did not succeed: the migration failed; container migrate exited 1; ` +
        'stopped reason: Essential container in task exited. The service was not deployed; ' +
        'logs: aws logs tail /tap/dev/migrate --log-stream-names migrate/migrate/0123456789abcdef0123456789abcdef --since 1h',
    );
    expect(ecsMock.commandCalls(StopTaskCommand)).toHaveLength(0);
  });

  test('GIVEN the container never ran (image pull failed) THEN rejects naming the stop code and the container reason', async () => {
    givenFamily();
    taskStates(
      stopped(
        { stopCode: 'TaskFailedToStart', stoppedReason: 'CannotPullContainerError: pull image manifest has been retried 5 time(s)' },
        { reason: 'CannotPullContainerError: ref not found' },
      ),
    );
    const { deps } = harness();

    await expect(runMigration(OPTS, deps)).rejects.toThrow(
      'container migrate has no exit code (it never ran); stop code TaskFailedToStart, expected EssentialContainerExited; ' +
        'container reason: CannotPullContainerError: ref not found; stopped reason: CannotPullContainerError: pull image manifest has been retried 5 time(s)',
    );
  });

  test('GIVEN the container exited 0 but someone stopped the task THEN it does not count as a migration', async () => {
    givenFamily();
    taskStates(stopped({ stopCode: 'UserInitiated', stoppedReason: 'Task stopped by user' }));
    const { deps } = harness();

    await expect(runMigration(OPTS, deps)).rejects.toThrow(
      /stop code UserInitiated, expected EssentialContainerExited; stopped reason: Task stopped by user/,
    );
  });

  test('GIVEN RunTask answers failures THEN rejects with each reason and never polls', async () => {
    givenFamily();
    ecsMock.on(RunTaskCommand).resolves({
      tasks: [],
      failures: [{ arn: CLUSTER, reason: 'Capacity is unavailable at this time. Please try again later or in a different availability zone' }],
    });
    const { deps } = harness();

    await expect(runMigration(OPTS, deps)).rejects.toThrow(
      `RunTask did not start the migration task of ${NEW_TD} in ${CLUSTER}: Capacity is unavailable at this time. ` +
        `Please try again later or in a different availability zone on ${CLUSTER}`,
    );
    expect(ecsMock.commandCalls(DescribeTasksCommand)).toHaveLength(0);
  });

  test('GIVEN RunTask starts a task but also reports failures THEN the step fails naming them and watches nothing', async () => {
    givenFamily();
    ecsMock
      .on(RunTaskCommand)
      .resolves({ tasks: [{ taskArn: TASK, lastStatus: 'PROVISIONING' }], failures: [{ arn: CLUSTER, reason: 'RESOURCE:MEMORY' }] });
    const { deps } = harness();

    await expect(runMigration(OPTS, deps)).rejects.toThrow(
      `RunTask did not start the migration task of ${NEW_TD} in ${CLUSTER}: RESOURCE:MEMORY on ${CLUSTER}`,
    );
    expect(ecsMock.commandCalls(DescribeTasksCommand)).toHaveLength(0);
  });

  test('GIVEN RunTask returns two tasks THEN the step fails rather than watch one of them', async () => {
    givenFamily();
    ecsMock.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK }, { taskArn: `${TASK}0` }], failures: [] });
    const { deps } = harness();

    await expect(runMigration(OPTS, deps)).rejects.toThrow(/: 2 task\(s\) returned$/);
    expect(ecsMock.commandCalls(DescribeTasksCommand)).toHaveLength(0);
  });

  test('GIVEN a sidecar that exited 0 listed before the migrate container, which exited 1 THEN the verdict is the migrate container', async () => {
    givenFamily();
    taskStates({
      ...stopped(),
      containers: [
        { name: 'log-router', lastStatus: 'STOPPED', exitCode: 0 },
        { name: 'migrate', lastStatus: 'STOPPED', exitCode: 1 },
      ],
    });
    const { deps } = harness();

    await expect(runMigration(OPTS, deps)).rejects.toThrow(/container migrate exited 1/);
  });

  test('GIVEN another container of the latest revision already runs the new image THEN a revision is still registered, with the new image on migrate', async () => {
    givenFamily({ ...LATEST, containerDefinitions: [{ ...MIGRATE_CONTAINER, name: 'init', image: NEW_IMAGE }, MIGRATE_CONTAINER] });
    taskStates(stopped());
    const { deps } = harness();

    await runMigration(OPTS, deps);

    const registered = inputs(ecsMock, RegisterTaskDefinitionCommand);
    expect(registered).toHaveLength(1);
    expect((registered[0] as { containerDefinitions: { name: string; image: string }[] }).containerDefinitions.map((c) => [c.name, c.image])).toEqual(
      [
        ['init', NEW_IMAGE],
        ['migrate', NEW_IMAGE],
      ],
    );
  });

  test('GIVEN the task is not visible yet (MISSING) THEN keeps polling until it is', async () => {
    givenFamily();
    taskStates('missing', { taskArn: TASK, lastStatus: 'PENDING' }, stopped());
    const { deps, logs } = harness();

    await expect(runMigration(OPTS, deps)).resolves.toMatchObject({ taskArn: TASK });
    expect(logs.join('\n')).toContain('migration task not visible yet');
  });

  test('GIVEN DescribeTasks fails for another reason THEN rejects naming it', async () => {
    givenFamily();
    ecsMock.on(DescribeTasksCommand).resolves({ tasks: [], failures: [{ arn: TASK, reason: 'ACCESS_DENIED', detail: 'not allowed' }] });
    const { deps } = harness();

    await expect(runMigration(OPTS, deps)).rejects.toThrow(`DescribeTasks ${TASK} failed: ACCESS_DENIED (not allowed)`);
  });

  test('GIVEN the task never stops THEN stops it when the timeout runs out and rejects; the waits stay inside the timeout', async () => {
    givenFamily();
    ecsMock.on(DescribeTasksCommand).resolves({ tasks: [{ taskArn: TASK, lastStatus: 'RUNNING' }], failures: [] });
    ecsMock.on(StopTaskCommand).resolves({ task: { taskArn: TASK, desiredStatus: 'STOPPED' } });
    const { deps, sleeps } = harness();

    const error = await runMigration({ ...OPTS, timeoutMs: 120_000 }, deps).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(MigrationTimeoutError);
    expect((error as MigrationTimeoutError).stopped).toBe(true);
    expect((error as Error).message).toMatch(/did not stop within 2m0s \(last state RUNNING\); it was asked to stop/);
    expect(inputs(ecsMock, StopTaskCommand)).toEqual([{ cluster: CLUSTER, task: TASK, reason: 'pipeline-migrate: no result within 2m0s' }]);
    expect(sleeps.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(120_000);
    expect(sleeps).toEqual([5000, 7500, 11250, 16875, 25313, 30000]);
  });

  test('GIVEN the timeout runs out and StopTask fails THEN says the task may still run and how to stop it', async () => {
    givenFamily();
    ecsMock.on(DescribeTasksCommand).resolves({ tasks: [{ taskArn: TASK, lastStatus: 'RUNNING' }], failures: [] });
    ecsMock.on(StopTaskCommand).rejects(awsError('AccessDeniedException', 'not allowed'));
    const { deps } = harness();

    const error = await runMigration({ ...OPTS, timeoutMs: 60_000 }, deps).catch((e: unknown) => e);

    expect((error as MigrationTimeoutError).stopped).toBe(false);
    expect((error as Error).message).toContain(
      `it may still be running. StopTask failed too (AccessDeniedException): stop it by hand with aws ecs stop-task --cluster ${CLUSTER} --task ${TASK}.`,
    );
  });

  test('GIVEN throttling THEN retries each call, and every RunTask attempt carries the same client token (one task at most)', async () => {
    givenFamily();
    ecsMock
      .on(RunTaskCommand)
      .rejectsOnce(awsError('ThrottlingException', 'Rate exceeded'))
      .rejectsOnce(awsError('ServerException', 'Service unavailable', 500))
      .resolves({ tasks: [{ taskArn: TASK }], failures: [] });
    ecsMock
      .on(DescribeTasksCommand)
      .rejectsOnce(awsError('ThrottlingException', 'Rate exceeded'))
      .resolves({ tasks: [stopped()], failures: [] });
    const { deps, logs } = harness();

    await expect(runMigration(OPTS, deps)).resolves.toMatchObject({ taskArn: TASK });

    const runs = inputs(ecsMock, RunTaskCommand) as { clientToken: string }[];
    expect(runs.map((r) => r.clientToken)).toEqual([TOKEN, TOKEN, TOKEN]);
    expect(logs.filter((l) => l.includes('transient error'))).toHaveLength(3);
  });

  test('accepts exactly the image URIs tools/deploy accepts (the same pattern, so both steps agree on IMAGE_URI)', () => {
    expect(IMAGE_URI_PATTERN).toBe(DEPLOY_IMAGE_URI_PATTERN);
  });

  test('GIVEN an image by tag, not digest THEN refuses before any AWS call', async () => {
    const { deps } = harness();
    await expect(runMigration({ ...OPTS, imageUri: '123456789012.dkr.ecr.us-east-1.amazonaws.com/tap:latest' }, deps)).rejects.toThrow(
      MigrationInputError,
    );
    expect(ecsMock.calls()).toHaveLength(0);
  });

  test.each([
    [{ cluster: 'arn:aws:ecs:us-east-1:123456789012:service/tap/x' }, /cluster must be a cluster name or ARN/],
    [{ subnetIds: [] }, /give 1-16 subnets, got: 0/],
    [{ subnetIds: ['subnet-XYZ'] }, /subnet ids must look like subnet-0123abcd, got: "subnet-XYZ"/],
    [{ securityGroupIds: Array(6).fill('sg-0bbbbbbbbbbbbbbb1') }, /give 1-5 security groups, got: 6/],
    [{ clientToken: 'has space' }, /client token must be 1-64 printable ASCII/],
    [{ family: 'tap/migrate' }, /family must be 1-255 letters/],
  ])('GIVEN %p THEN refuses with the bad value before any AWS call', async (bad, message) => {
    const { deps } = harness();
    const opts: MigrationOptions = { ...OPTS, ...bad };
    await expect(runMigration(opts, deps)).rejects.toThrow(message);
    expect(ecsMock.calls()).toHaveLength(0);
  });

  test('GIVEN the container name is not in the family THEN fails naming the containers found, before running anything', async () => {
    givenFamily();
    const { deps } = harness();
    await expect(runMigration({ ...OPTS, containerName: 'app' }, deps)).rejects.toThrow(`container "app" not found in ${OLD_TD}; it has: migrate`);
    expect(ecsMock.commandCalls(RunTaskCommand)).toHaveLength(0);
  });

  test('GIVEN the family has no ACTIVE revision THEN fails naming it', async () => {
    ecsMock.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: { ...LATEST, status: 'INACTIVE' } });
    const { deps } = harness();
    await expect(runMigration(OPTS, deps)).rejects.toThrow(`DescribeTaskDefinition ${FAMILY} answered ${OLD_TD} (INACTIVE), not an ACTIVE revision`);
  });
});

describe('the registered copy', () => {
  /** Every field of a described task definition, so nothing AWS returns can slip through unclassified. */
  const EVERYTHING: Required<TaskDefinition> = {
    family: FAMILY,
    taskRoleArn: 'arn:aws:iam::123456789012:role/migrate-task',
    executionRoleArn: 'arn:aws:iam::123456789012:role/migrate-exec',
    networkMode: 'awsvpc',
    cpu: '256',
    memory: '512',
    requiresCompatibilities: ['FARGATE'],
    runtimePlatform: { cpuArchitecture: 'X86_64', operatingSystemFamily: 'LINUX' },
    containerDefinitions: [MIGRATE_CONTAINER],
    taskDefinitionArn: OLD_TD,
    revision: 4,
    status: 'ACTIVE',
    requiresAttributes: [],
    compatibilities: ['FARGATE'],
    registeredAt: new Date(),
    registeredBy: 'someone',
    deregisteredAt: new Date(),
    deleteRequestedAt: new Date(),
    volumes: [],
    placementConstraints: [],
    pidMode: 'task',
    ipcMode: 'none',
    proxyConfiguration: { containerName: 'migrate' },
    inferenceAccelerators: [],
    ephemeralStorage: { sizeInGiB: 21 },
    enableFaultInjection: false,
  };

  test('holds exactly the fields RegisterTaskDefinition accepts, and the tags', () => {
    const input = buildMigrationTaskDefinitionInput(EVERYTHING, TAGS, 'migrate', NEW_IMAGE);
    expect(Object.keys(input).sort()).toEqual([...REGISTERABLE_TASK_DEFINITION_FIELDS, 'tags'].sort());
    for (const field of READ_ONLY_TASK_DEFINITION_FIELDS) expect(input).not.toHaveProperty(field);
  });

  test('every field DescribeTaskDefinition returns is either copied or known to be read-only (the SDK type adds one: this fails)', () => {
    const classified = new Set<string>([...REGISTERABLE_TASK_DEFINITION_FIELDS, ...READ_ONLY_TASK_DEFINITION_FIELDS]);
    expect(Object.keys(EVERYTHING).filter((k) => !classified.has(k))).toEqual([]);
    // The compiler checks the same thing for every field the SDK declares.
    type Unclassified = Exclude<
      keyof TaskDefinition,
      (typeof REGISTERABLE_TASK_DEFINITION_FIELDS)[number] | (typeof READ_ONLY_TASK_DEFINITION_FIELDS)[number]
    >;
    const none: [Unclassified] extends [never] ? true : Unclassified = true;
    expect(none).toBe(true);
  });

  test("keeps the family's own tags but never AWS's reserved aws: ones, which a caller may not set", () => {
    const tags = [...TAGS, { key: 'aws:cloudformation:stack-name', value: 'TapStack-dev' }, { key: 'owner', value: 'AWS:managed' }];
    expect(buildMigrationTaskDefinitionInput(LATEST, tags, 'migrate', NEW_IMAGE).tags).toEqual(TAGS);
    expect(buildMigrationTaskDefinitionInput(LATEST, [{ key: 'AWS:x', value: 'y' }], 'migrate', NEW_IMAGE)).not.toHaveProperty('tags');
  });

  test('leaves an empty tag list out, as tools/deploy does', () => {
    expect(buildMigrationTaskDefinitionInput(LATEST, [], 'migrate', NEW_IMAGE)).not.toHaveProperty('tags');
  });

  test('names the awslogs stream <prefix>/<container>/<task id>, and none without awslogs or a prefix', () => {
    expect(logStreamOf(MIGRATE_CONTAINER, TASK)).toEqual({ group: '/tap/dev/migrate', stream: 'migrate/migrate/0123456789abcdef0123456789abcdef' });
    expect(logStreamOf({ ...MIGRATE_CONTAINER, logConfiguration: { logDriver: 'awsfirelens' } }, TASK)).toBeUndefined();
    expect(
      logStreamOf({ ...MIGRATE_CONTAINER, logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': 'g' } } }, TASK),
    ).toBeUndefined();
  });
});

describe('tools/migrate/cli.ts', () => {
  const ENV = {
    MIGRATION_CLUSTER: CLUSTER,
    MIGRATION_TASK_FAMILY: FAMILY,
    MIGRATION_SUBNET_IDS: 'subnet-0aaaaaaaaaaaaaaa1, subnet-0aaaaaaaaaaaaaaa2',
    MIGRATION_SECURITY_GROUP_IDS: 'sg-0bbbbbbbbbbbbbbb1',
    IMAGE_URI: NEW_IMAGE,
  };

  test('reads the environment, with the migrate container and 15 minutes by default', () => {
    expect(readMigrationOptions(ENV, TOKEN)).toEqual({
      cluster: CLUSTER,
      family: FAMILY,
      containerName: 'migrate',
      imageUri: NEW_IMAGE,
      subnetIds: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0aaaaaaaaaaaaaaa2'],
      securityGroupIds: ['sg-0bbbbbbbbbbbbbbb1'],
      timeoutMs: 900_000,
      pollIntervalMs: 5000,
      maxPollIntervalMs: 30_000,
      clientToken: TOKEN,
    });
    expect(readMigrationOptions({ ...ENV, MIGRATION_TIMEOUT_SECONDS: '120', MIGRATION_CONTAINER_NAME: 'other' }, TOKEN)).toMatchObject({
      timeoutMs: 120_000,
      containerName: 'other',
    });
    // Each run gets its own token, a UUID
    expect(readMigrationOptions(ENV).clientToken).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('the default container is the one the migration task definition declares', () => {
    expect(DEFAULT_CONTAINER_NAME).toBe(MIGRATION_CONTAINER_NAME);
  });

  test.each([
    [{ ...ENV, IMAGE_URI: 'repo:latest' }, /bad configuration: image URI must be <registry>\/<repository>@sha256/],
    [{ ...ENV, MIGRATION_SUBNET_IDS: '' }, /bad configuration: environment variable MIGRATION_SUBNET_IDS must be set/],
    [{ ...ENV, MIGRATION_TIMEOUT_SECONDS: '10' }, /bad configuration: MIGRATION_TIMEOUT_SECONDS must be between 60 and 7200, got: 10/],
  ])('GIVEN a bad environment THEN exits 2 naming it, before any AWS call', async (env, message) => {
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      await expect(cliMain(env)).resolves.toBe(2);
      expect(error.mock.calls.flat().join('\n')).toMatch(message);
      expect(ecsMock.calls()).toHaveLength(0);
    } finally {
      error.mockRestore();
    }
  });

  test('GIVEN the migration fails THEN exits 1 and prints the reason', async () => {
    givenFamily();
    taskStates(stopped({}, { exitCode: 3 }));
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const { runtime } = fakeRuntime(T0);
    try {
      await expect(cliMain(ENV, runtime)).resolves.toBe(1);
      expect(error.mock.calls.flat().join('\n')).toMatch(/^migrate: FAILED: migration task .* container migrate exited 3/);
    } finally {
      error.mockRestore();
    }
  });

  test('GIVEN the migration does not stop in time THEN exits 1 (the deploy does not run), having stopped the task once', async () => {
    givenFamily();
    ecsMock.on(DescribeTasksCommand).resolves({ tasks: [{ taskArn: TASK, lastStatus: 'RUNNING' }], failures: [] });
    ecsMock.on(StopTaskCommand).resolves({ task: { taskArn: TASK, desiredStatus: 'STOPPED' } });
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const { runtime } = fakeRuntime(T0);
    try {
      await expect(cliMain({ ...ENV, MIGRATION_TIMEOUT_SECONDS: '60' }, runtime)).resolves.toBe(1);
      expect(error.mock.calls.flat().join('\n')).toMatch(/^migrate: FAILED: migration task .* did not stop within 1m0s/);
      expect(ecsMock.commandCalls(StopTaskCommand)).toHaveLength(1);
    } finally {
      error.mockRestore();
    }
  });

  test('GIVEN the family turns out to have no ACTIVE revision THEN exits 2 (fix the input), having run nothing', async () => {
    ecsMock.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: undefined });
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const { runtime } = fakeRuntime(T0);
    try {
      await expect(cliMain(ENV, runtime)).resolves.toBe(2);
      expect(error.mock.calls.flat().join('\n')).toBe(`migrate: cannot migrate: task definition family ${FAMILY} has no ACTIVE revision`);
      expect(ecsMock.commandCalls(RunTaskCommand)).toHaveLength(0);
    } finally {
      error.mockRestore();
    }
  });

  test(`startedBy is ${STARTED_BY}`, () => {
    expect(STARTED_BY).toBe('pipeline-migrate');
  });
});
