import { execFile } from 'node:child_process';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import * as path from 'node:path';

/**
 * The real CLI (`npx tsx tools/migrate/cli.ts`, as the Deploy step runs it), with the real AWS SDK, against a local
 * stand-in for the ECS API (JSON 1.1 protocol, reached through the SDK's standard AWS_ENDPOINT_URL_ECS). It proves the
 * environment parsing, the wire requests and the exit codes together; test/tools/migrate.test.ts covers the cases.
 */
const ROOT = path.join(__dirname, '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const FAMILY = 'TapStack-dev-migrate';
const IMAGE = `123456789012.dkr.ecr.us-east-1.amazonaws.com/tap/dev/payment-service@sha256:${'e'.repeat(64)}`;
const TASK = 'arn:aws:ecs:us-east-1:123456789012:task/tap-dev/feedfacefeedfacefeedfacefeedface';

interface Call {
  readonly operation: string;
  readonly body: Record<string, unknown>;
}

/** Answers each ECS operation from `answers`; records the calls. */
async function fakeEcs(answers: Record<string, (body: Record<string, unknown>) => { status?: number; body: unknown }>) {
  const calls: Call[] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
    req.on('end', () => {
      const operation =
        String(req.headers['x-amz-target'] ?? '')
          .split('.')
          .pop() ?? '';
      const body = JSON.parse(raw || '{}') as Record<string, unknown>;
      calls.push({ operation, body });
      const answer = answers[operation]?.(body) ?? {
        status: 400,
        body: { __type: 'InvalidParameterException', message: `no fake for ${operation}` },
      };
      res.writeHead(answer.status ?? 200, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, calls, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function runCli(endpoint: string, extra: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    // Fake credentials for the local stand-in: no AWS account is ever reached.
    AWS_ACCESS_KEY_ID: 'AKIDLOCALFAKE',
    AWS_SECRET_ACCESS_KEY: 'local-fake',
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_ECS: endpoint,
    AWS_MAX_ATTEMPTS: '1',
    MIGRATION_CLUSTER: 'tap-dev',
    MIGRATION_TASK_FAMILY: FAMILY,
    MIGRATION_SUBNET_IDS: 'subnet-0aaaaaaaaaaaaaaa1,subnet-0aaaaaaaaaaaaaaa2',
    MIGRATION_SECURITY_GROUP_IDS: 'sg-0bbbbbbbbbbbbbbb1',
    IMAGE_URI: IMAGE,
    ...extra,
  };
  return new Promise((resolve) => {
    execFile(TSX, ['tools/migrate/cli.ts'], { cwd: ROOT, env, timeout: 60_000 }, (error, stdout, stderr) => {
      // Only the tool's own lines: Node prints the SDK's runtime deprecation notices to stderr as well.
      const own = stderr
        .split('\n')
        .filter((l) => l.startsWith('migrate: '))
        .join('\n');
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr: own });
    });
  });
}

const TASK_DEFINITION = {
  taskDefinitionArn: `arn:aws:ecs:us-east-1:123456789012:task-definition/${FAMILY}:2`,
  family: FAMILY,
  revision: 2,
  status: 'ACTIVE',
  networkMode: 'awsvpc',
  cpu: '256',
  memory: '512',
  requiresCompatibilities: ['FARGATE'],
  compatibilities: ['EC2', 'FARGATE'],
  registeredAt: 1767225600,
  containerDefinitions: [
    {
      name: 'migrate',
      image: 'placeholder@sha256:' + '0'.repeat(64),
      essential: true,
      command: ['dist/migrate.js'],
      logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': '/tap/dev/migrate', 'awslogs-stream-prefix': 'migrate' } },
    },
  ],
};

function answers(exitCode: number) {
  return {
    DescribeTaskDefinition: () => ({ body: { taskDefinition: TASK_DEFINITION, tags: [] } }),
    RegisterTaskDefinition: (body: Record<string, unknown>) => ({
      body: { taskDefinition: { ...body, taskDefinitionArn: `arn:aws:ecs:us-east-1:123456789012:task-definition/${FAMILY}:3`, revision: 3 } },
    }),
    RunTask: () => ({ body: { tasks: [{ taskArn: TASK, lastStatus: 'PROVISIONING' }], failures: [] } }),
    DescribeTasks: () => ({
      body: {
        tasks: [
          {
            taskArn: TASK,
            lastStatus: 'STOPPED',
            stopCode: 'EssentialContainerExited',
            stoppedReason: 'Essential container in task exited',
            containers: [{ name: 'migrate', lastStatus: 'STOPPED', exitCode }],
          },
        ],
        failures: [],
      },
    }),
  };
}

describe('tools/migrate/cli.ts against a local ECS stand-in', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  test('GIVEN the migration exits 0 THEN exits 0 after exactly these requests, in this order', async () => {
    const fake = await fakeEcs(answers(0));
    server = fake.server;

    const { code, stdout, stderr } = await runCli(fake.url);

    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(fake.calls.map((c) => c.operation)).toEqual(['DescribeTaskDefinition', 'RegisterTaskDefinition', 'RunTask', 'DescribeTasks']);
    const [describe, register, run, poll] = fake.calls.map((c) => c.body);
    expect(describe).toEqual({ taskDefinition: FAMILY, include: ['TAGS'] });
    expect(register).toEqual({
      family: FAMILY,
      networkMode: 'awsvpc',
      cpu: '256',
      memory: '512',
      requiresCompatibilities: ['FARGATE'],
      containerDefinitions: [{ ...TASK_DEFINITION.containerDefinitions[0], image: IMAGE }],
    });
    expect(run).toEqual({
      cluster: 'tap-dev',
      taskDefinition: `arn:aws:ecs:us-east-1:123456789012:task-definition/${FAMILY}:3`,
      launchType: 'FARGATE',
      count: 1,
      startedBy: 'pipeline-migrate',
      clientToken: expect.stringMatching(/^[0-9a-f-]{36}$/),
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0aaaaaaaaaaaaaaa2'],
          securityGroups: ['sg-0bbbbbbbbbbbbbbb1'],
          assignPublicIp: 'DISABLED',
        },
      },
    });
    expect(poll).toEqual({ cluster: 'tap-dev', tasks: [TASK] });
    expect(stdout).toContain('aws logs tail /tap/dev/migrate --log-stream-names migrate/migrate/feedfacefeedfacefeedfacefeedface');
    expect(stdout).toMatch(/done: .*task\/tap-dev\/feedface/);
  }, 60_000);

  test('GIVEN the migration exits 1 THEN exits 1 with the reason on stderr', async () => {
    const fake = await fakeEcs(answers(1));
    server = fake.server;

    const { code, stderr } = await runCli(fake.url);

    expect(code).toBe(1);
    expect(stderr).toMatch(/^migrate: FAILED: migration task .* did not succeed: the migration failed; container migrate exited 1/);
  }, 60_000);

  test('GIVEN ECS refuses the call (AccessDenied) THEN exits 1 naming the error, with nothing run', async () => {
    const fake = await fakeEcs({
      DescribeTaskDefinition: () => ({
        status: 400,
        body: { __type: 'AccessDeniedException', message: 'not authorized to perform ecs:DescribeTaskDefinition' },
      }),
    });
    server = fake.server;

    const { code, stderr } = await runCli(fake.url);

    expect(code).toBe(1);
    expect(stderr).toMatch(/^migrate: FAILED calling AWS \(AccessDeniedException\): not authorized to perform ecs:DescribeTaskDefinition/);
    expect(fake.calls.map((c) => c.operation)).toEqual(['DescribeTaskDefinition']);
  }, 60_000);

  test('GIVEN a tag instead of a digest THEN exits 2 before any request', async () => {
    const fake = await fakeEcs(answers(0));
    server = fake.server;

    const { code, stderr } = await runCli(fake.url, { IMAGE_URI: 'public.ecr.aws/x/y:latest' });

    expect(code).toBe(2);
    expect(stderr).toMatch(/^migrate: bad configuration: image URI must be/);
    expect(fake.calls).toEqual([]);
  }, 60_000);
});
