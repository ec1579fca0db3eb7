import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CanaryConfigError, handler, REPORT_PATH, runCanary, SmokeTestFailure } from '../../tools/canary/canary';

const API_KEY = 'canary-test-key-not-a-real-secret-0000000';
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:tap/dev/api-key-AbCdEf';
const CARD = '4111111111111111';

const secrets = mockClient(SecretsManagerClient);

/** How the stand-in service misbehaves. */
interface Behaviour {
  readyStatus?: number;
  paymentStatus?: number;
  echoCardInError?: boolean;
}

/** A local stand-in for the payment service's routes (as in test/tools/smoke.test.ts), recording what it receives. */
async function startFakeService(behaviour: Behaviour = {}): Promise<{ server: Server; baseUrl: string; authorizations: string[] }> {
  const authorizations: string[] = [];
  const payments = new Map<string, object>();
  const send = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      if (req.headers.authorization) authorizations.push(req.headers.authorization);
      if (req.url === '/health/live') return send(res, 200, { status: 'ok' });
      if (req.url === '/health/ready') return send(res, behaviour.readyStatus ?? 200, { status: 'ready' });
      if (req.headers.authorization !== `Bearer ${API_KEY}`) return send(res, 401, { error: 'unauthorized', echo: req.headers.authorization });
      if (req.method === 'POST' && req.url === '/v1/payments') {
        const request = JSON.parse(body) as { card: { number: string } };
        if (behaviour.paymentStatus) {
          // A broken service that echoes the request in its error body: the canary must not repeat it.
          return send(res, behaviour.paymentStatus, { error: 'internal', ...(behaviour.echoCardInError ? { request } : {}) });
        }
        const payment = {
          id: 'pay_0123456789abcdefghijkl',
          status: 'approved',
          card: { brand: 'visa', last4: request.card.number.slice(-4), token: 'tok_abc' },
        };
        payments.set(payment.id, payment);
        return send(res, 201, payment);
      }
      const match = /^\/v1\/payments\/([^/]+)$/.exec(req.url ?? '');
      const found = match?.[1] ? payments.get(match[1]) : undefined;
      return found ? send(res, 200, found) : send(res, 404, { error: 'not_found' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, authorizations };
}

async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Everything the process prints while `fn` runs: console.* and direct writes to stdout and stderr. */
async function captureOutput<T>(fn: () => Promise<T>): Promise<{ output: string; result: PromiseSettledResult<T> }> {
  const chunks: string[] = [];
  const record = (...args: unknown[]) => chunks.push(args.map(String).join(' '));
  const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((m) => jest.spyOn(console, m).mockImplementation(record));
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (chunks.push(String(chunk)), true));
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (chunks.push(String(chunk)), true));
  try {
    const [result] = await Promise.allSettled([fn()]);
    return { output: chunks.join('\n'), result: result as PromiseSettledResult<T> };
  } finally {
    for (const s of [...spies, out, err]) s.mockRestore();
  }
}

function secretValue(value: string): void {
  secrets.reset();
  secrets.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({ SecretString: value });
}

const ENV_KEYS = ['BASE_URL', 'API_KEY_SECRET_ARN', 'SMOKE_TIMEOUT_MS'] as const;

describe('the canary handler against a local stand-in of the service', () => {
  let server: Server | undefined;
  const saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  afterEach(async () => {
    if (server) await stop(server);
    server = undefined;
    for (const k of ENV_KEYS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    rmSync(REPORT_PATH, { force: true });
  });

  async function runHandler(baseUrl: string): Promise<{ output: string; result: PromiseSettledResult<string> }> {
    process.env.BASE_URL = baseUrl;
    process.env.API_KEY_SECRET_ARN = SECRET_ARN;
    process.env.SMOKE_TIMEOUT_MS = '2000';
    return captureOutput(() => handler());
  }

  test('GIVEN a healthy service and the JSON secret THEN the run passes, presents the current key and logs each step', async () => {
    const service = await startFakeService();
    server = service.server;
    secretValue(JSON.stringify({ current: API_KEY, previous: 'previous-key-not-a-real-secret-1111111' }));

    const { output, result } = await runHandler(service.baseUrl);

    expect(result).toEqual({ status: 'fulfilled', value: 'smoke test passed (4 steps)' });
    expect(secrets.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input)).toEqual([{ SecretId: SECRET_ARN }]);
    // Both /v1 calls (create, read back) present the current key.
    expect(service.authorizations).toEqual([`Bearer ${API_KEY}`, `Bearer ${API_KEY}`]);
    const lines = output.split('\n');
    expect(lines).toContain(`smoke test of ${service.baseUrl}: PASSED`);
    for (const step of ['GET /health/live', 'GET /health/ready', 'POST /v1/payments', 'GET /v1/payments/:id']) {
      expect(lines.some((l) => l.startsWith(`PASS ${step}`))).toBe(true);
    }
    expect(output).not.toContain(API_KEY);
    expect(output).not.toContain('previous-key-not-a-real-secret');
    expect(output).not.toContain(CARD);
    // The step report Synthetics uploads with the run's artifacts: the same lines, nothing secret.
    const report = readFileSync(REPORT_PATH, 'utf8');
    expect(report).toContain('PASS GET /v1/payments/:id');
    expect(report).not.toContain(API_KEY);
    expect(report).not.toContain(CARD);
  });

  test('GIVEN a plain-key secret THEN that key is presented', async () => {
    const service = await startFakeService();
    server = service.server;
    secretValue(API_KEY);

    const { result } = await runHandler(service.baseUrl);

    expect(result).toEqual({ status: 'fulfilled', value: 'smoke test passed (4 steps)' });
    expect(service.authorizations).toEqual([`Bearer ${API_KEY}`, `Bearer ${API_KEY}`]);
  });

  test('GIVEN readiness answers 503 THEN the handler throws naming that step (Synthetics records a failed run)', async () => {
    const service = await startFakeService({ readyStatus: 503 });
    server = service.server;
    secretValue(JSON.stringify({ current: API_KEY, previous: '' }));

    const { output, result } = await runHandler(service.baseUrl);

    expect(result.status).toBe('rejected');
    const reason = (result as PromiseRejectedResult).reason as Error;
    expect(reason).toBeInstanceOf(SmokeTestFailure);
    expect(reason.message).toBe('smoke test failed at step "GET /health/ready": HTTP 503, expected 200');
    expect(output).toContain('FAIL GET /health/ready');
    expect(output).toContain(': FAILED');
    expect(output).not.toContain('POST /v1/payments');
  });

  test('GIVEN the payment fails with a body echoing the request THEN it throws naming the step, and neither key nor card appears anywhere', async () => {
    const service = await startFakeService({ paymentStatus: 500, echoCardInError: true });
    server = service.server;
    secretValue(JSON.stringify({ current: API_KEY, previous: '' }));

    const { output, result } = await runHandler(service.baseUrl);

    expect(result.status).toBe('rejected');
    const reason = (result as PromiseRejectedResult).reason as Error;
    expect(reason.message).toBe('smoke test failed at step "POST /v1/payments": response contains the full card number');
    const everything = `${output}\n${reason.message}\n${reason.stack ?? ''}\n${readFileSync(REPORT_PATH, 'utf8')}`;
    expect(everything).not.toContain(API_KEY);
    expect(everything).not.toContain(CARD);
  });

  test('GIVEN a wrong key in the secret THEN it fails at the payment with 401, without logging either key', async () => {
    const service = await startFakeService();
    server = service.server;
    const wrong = 'wrong-key-not-a-real-secret-22222222222';
    secretValue(JSON.stringify({ current: wrong, previous: '' }));

    const { output, result } = await runHandler(service.baseUrl);

    const reason = (result as PromiseRejectedResult).reason as Error;
    expect(reason.message).toBe('smoke test failed at step "POST /v1/payments": HTTP 401, expected 201');
    expect(output).not.toContain(wrong);
  });

  test('GIVEN nothing listens at the URL THEN it throws naming the first step', async () => {
    const service = await startFakeService();
    const { baseUrl } = service;
    await stop(service.server);
    secretValue(API_KEY);

    const { result } = await runHandler(baseUrl);

    expect(((result as PromiseRejectedResult).reason as Error).message).toMatch(
      /^smoke test failed at step "GET \/health\/live": unreachable \(ECONNREFUSED\)$/,
    );
  });

  test('GIVEN a secret that is not a usable key THEN it throws without quoting the value', async () => {
    secretValue('{"current": "oops-not-closed');

    const { output, result } = await runHandler('http://127.0.0.1:9');

    const reason = (result as PromiseRejectedResult).reason as Error;
    expect(reason.name).toBe('ApiKeySecretError');
    expect(reason.message).toBe(`secret ${SECRET_ARN} starts with "{" but is not valid JSON (expected {"current": "...", "previous": "..."})`);
    expect(`${reason.message}${output}`).not.toContain('oops-not-closed');
  });

  test('GIVEN a missing variable or a bad timeout THEN a configuration error, before any call', async () => {
    secrets.reset();
    await expect(runCanary({ env: { API_KEY_SECRET_ARN: SECRET_ARN } })).rejects.toStrictEqual(
      new CanaryConfigError('environment variable BASE_URL is not set'),
    );
    await expect(runCanary({ env: { BASE_URL: 'https://x.example' } })).rejects.toThrow(/API_KEY_SECRET_ARN is not set/);
    await expect(runCanary({ env: { BASE_URL: 'https://x.example', API_KEY_SECRET_ARN: SECRET_ARN, SMOKE_TIMEOUT_MS: '10s' } })).rejects.toThrow(
      /SMOKE_TIMEOUT_MS must be a positive integer/,
    );
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });
});

/**
 * The real payment service (app/dist/server.js, as the container runs it) on a throwaway PostgreSQL started by the
 * app's own app/scripts/local-postgres.cjs (migrated, with the service's login), and the canary handler against it.
 */
describe('the canary handler against the real service (app/dist/server.js on local PostgreSQL)', () => {
  const APP = join(__dirname, '..', '..', 'app');
  const LOCAL_POSTGRES = join(APP, 'scripts', 'local-postgres.cjs');
  const SERVER = join(APP, 'dist', 'server.js');
  let parent: string | undefined;
  let stateDir: string | undefined;
  let service: ChildProcess | undefined;

  afterAll(async () => {
    if (service && service.exitCode === null && service.signalCode === null) {
      const exited = new Promise((resolve) => service?.once('exit', resolve));
      service.kill('SIGTERM');
      await exited;
    }
    if (stateDir)
      spawnSync(process.execPath, [LOCAL_POSTGRES, 'stop'], { env: { PATH: process.env.PATH, LOCAL_POSTGRES_DIR: stateDir }, timeout: 60000 });
    if (parent) rmSync(parent, { recursive: true, force: true });
  });

  test('GIVEN the real service THEN the canary passes every step; GIVEN it stops THEN the canary fails naming the first step', async () => {
    if (!existsSync(SERVER)) {
      // A fresh clone has no build of the service: build it as `npm run build` in app/ does.
      const build = spawnSync(process.execPath, [join(APP, 'scripts', 'build.cjs')], { cwd: APP, encoding: 'utf8', timeout: 120000 });
      expect(build.status).toBe(0);
    }
    parent = mkdtempSync(join(tmpdir(), 'tap-canary-pg-'));
    // As root, PostgreSQL runs as nobody, which must reach the state directory (mkdtemp makes it 0700).
    chmodSync(parent, 0o755);
    stateDir = join(parent, 'state');
    const started = spawnSync(process.execPath, [LOCAL_POSTGRES, 'start'], {
      env: { PATH: process.env.PATH, LOCAL_POSTGRES_DIR: stateDir },
      encoding: 'utf8',
      timeout: 60000,
    });
    expect(started.status).toBe(0);
    const dbEnv = Object.fromEntries(
      started.stdout
        .trimEnd()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    ) as Record<string, string>;

    // API_KEY as ECS injects it from the secret: the rotation JSON.
    const secretJson = JSON.stringify({ current: randomBytes(24).toString('base64url'), previous: '' });
    const child = spawn(process.execPath, [SERVER], {
      env: {
        PATH: process.env.PATH,
        PORT: '0',
        LOG_LEVEL: 'info',
        API_KEY: secretJson,
        TOKENIZATION_KEY: randomBytes(24).toString('base64url'),
        ...dbEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    service = child;
    const serviceLines: string[] = [];
    createInterface({ input: child.stderr! }).on('line', (l) => serviceLines.push(l));
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`service not ready:\n${serviceLines.join('\n')}`)), 20000);
      createInterface({ input: child.stdout! }).on('line', (line) => {
        serviceLines.push(line);
        const record = JSON.parse(line) as { msg?: string; port?: number };
        if (record.msg === 'ready' && record.port) {
          clearTimeout(timer);
          resolve(record.port);
        }
      });
      child.once('exit', (code) => reject(new Error(`service exited (${code}) before ready:\n${serviceLines.join('\n')}`)));
    });
    secretValue(secretJson);
    const env = { BASE_URL: `http://127.0.0.1:${port}`, API_KEY_SECRET_ARN: SECRET_ARN, SMOKE_TIMEOUT_MS: '5000' };

    const passed = await captureOutput(() => runCanary({ env }));
    expect(passed.result).toEqual({ status: 'fulfilled', value: 'smoke test passed (4 steps)' });
    expect(passed.output.split('\n').filter((l) => l.startsWith('PASS '))).toHaveLength(4);
    const key = (JSON.parse(secretJson) as { current: string }).current;
    expect(passed.output).not.toContain(key);
    expect(passed.output).not.toContain(CARD);

    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    const failed = await captureOutput(() => runCanary({ env }));
    expect(failed.result.status).toBe('rejected');
    expect(((failed.result as PromiseRejectedResult).reason as Error).message).toMatch(
      /^smoke test failed at step "GET \/health\/live": unreachable/,
    );
    // The service's own log never saw the full card number either (it tokenizes and keeps last4).
    expect(serviceLines.join('\n')).not.toContain(CARD);
  });
});
