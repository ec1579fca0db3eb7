import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { randomBytes } from 'crypto';
import { escapeIdentifier, escapeLiteral } from 'pg';
import { Database } from '../src/db/database';
import { SECRETS_MANAGER_REQUEST_TIMEOUT_MS, SecretsManagerCredentials } from '../src/db/credentials';
import { ServiceUnavailableError } from '../src/errors';
import { createLogger } from '../src/logger';
import { databaseConfig, testDatabase } from './database';
import { superuserQuery } from './database';
import { FakeSecretsManager, fakeAwsEnv } from './fake-secrets-manager';
import { LogCapture, http, newIdempotencyKey, paymentBody, waitFor } from './helpers';
import type { HttpResponse } from './helpers';
import { serviceSecrets, startServiceProcess } from './service-process';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:payments-app-AbCdEf';
const db = testDatabase();

function password(): string {
  return randomBytes(18).toString('base64url');
}

/** A login of its own per test (rotating the run's shared login would disturb the other test files). */
async function createLogin(username: string, pw: string, memberOf = 'payment_service'): Promise<void> {
  await superuserQuery(`CREATE ROLE ${escapeIdentifier(username)} LOGIN PASSWORD ${escapeLiteral(pw)} IN ROLE ${escapeIdentifier(memberOf)}`);
}

async function setPassword(username: string, pw: string): Promise<void> {
  await superuserQuery(`ALTER ROLE ${escapeIdentifier(username)} PASSWORD ${escapeLiteral(pw)}`);
}

/** Ends every session of `username` (as an operator, or a failover, would): the service must log in again. */
async function terminateSessions(username: string): Promise<number> {
  const r = await superuserQuery('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [username]);
  return r.rowCount ?? 0;
}

function secretValue(username: string, pw: string): object {
  return { engine: 'postgres', host: db.host, port: db.port, dbname: db.name, username, password: pw };
}

describe('password rotation under a running service (node dist/server.js, DATABASE_SECRET_ARN)', () => {
  const fake = new FakeSecretsManager();
  let endpoint: string;
  beforeAll(async () => {
    endpoint = await fake.start();
  });
  afterAll(async () => {
    await fake.stop();
  });

  test('GIVEN a rotated password and terminated sessions WHEN requests continue THEN they succeed (at most one 503), with the new login', async () => {
    const user = `rot_${randomBytes(4).toString('hex')}`;
    const clone = `${user}_clone`;
    const first = password();
    await createLogin(user, first);
    fake.put(ARN, secretValue(user, first));
    const secrets = serviceSecrets();
    const service = await startServiceProcess({
      ...secrets,
      ...fakeAwsEnv(endpoint),
      DATABASE_HOST: db.host,
      DATABASE_PORT: String(db.port),
      DATABASE_NAME: db.name,
      DATABASE_SSL_MODE: 'disable',
      DATABASE_SECRET_ARN: ARN,
    });
    const statuses: number[] = [];
    const failures: HttpResponse[] = [];
    const burst = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i += 1) {
        const res = await http(service.port, {
          method: 'POST',
          path: '/v1/payments',
          headers: { ...service.auth, 'idempotency-key': newIdempotencyKey() },
          body: paymentBody(),
        });
        statuses.push(res.status);
        if (res.status !== 201) failures.push(res);
      }
    };
    try {
      await burst(3);
      expect(fake.requests).toEqual([ARN]);

      // 1. Single user: the password changes under the running service, its sessions are cut.
      const second = password();
      await setPassword(user, second);
      fake.put(ARN, secretValue(user, second));
      expect(await terminateSessions(user)).toBeGreaterThan(0);
      await burst(10);
      expect(fake.requests.length).toBeGreaterThanOrEqual(2);

      // 2. Alternating users (Secrets Manager's multi-user rotation): the secret now names the clone, and the next
      // rotation changes the old user's password.
      const third = password();
      await createLogin(clone, third, user);
      fake.put(ARN, secretValue(clone, third));
      await setPassword(user, password());
      await terminateSessions(user);
      await burst(10);
      const sessions = await superuserQuery<{ usename: string }>(
        "SELECT DISTINCT usename FROM pg_stat_activity WHERE application_name = 'payment-service' AND usename IN ($1, $2)",
        [user, clone],
      );
      expect(sessions.rows.map((r) => r.usename)).toEqual([clone]);

      // Never a 500; anything but 201 is a 503 with Retry-After, and at most one per rotation.
      for (const res of failures) {
        expect(res.status).toBe(503);
        // Whole seconds, at least 1 (the header is never empty or 0, which would invite an immediate retry storm).
        expect(res.headers['retry-after']).toMatch(/^[1-9]\d*$/);
      }
      expect(failures.length).toBeLessThanOrEqual(2);
      expect(statuses.filter((s) => s === 201).length).toBeGreaterThanOrEqual(21);
      // The service logs that it re-read the secret, and never a password.
      const log = service.lines.join('\n');
      expect(log).toContain('database refused the login, reading the secret again');
      for (const pw of [first, second, third]) expect(log).not.toContain(pw);
    } finally {
      await service.stop();
    }
  });
});

describe('SecretsManagerCredentials', () => {
  const fake = new FakeSecretsManager();
  let client: SecretsManagerClient;
  beforeAll(async () => {
    const endpoint = await fake.start();
    client = new SecretsManagerClient({
      region: 'eu-west-1',
      endpoint,
      credentials: { accessKeyId: 'AKIAFAKEFAKEFAKEFAKE', secretAccessKey: 'fake' },
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    client.destroy();
    await fake.stop();
  });
  beforeEach(() => {
    fake.requests.length = 0;
    fake.failWith = undefined;
  });

  function provider(minRefreshIntervalMs = 0, logs = new LogCapture()): SecretsManagerCredentials {
    return new SecretsManagerCredentials({
      secretArn: ARN,
      region: 'eu-west-1',
      client,
      minRefreshIntervalMs,
      logger: createLogger({ level: 'info', destination: logs }),
    });
  }

  test('reads once at start, then only on refresh; concurrent refreshes share one read', async () => {
    fake.put(ARN, { username: 'u1', password: 'fake-pw-1' });
    const p = provider();
    expect(p.current()).toBeUndefined();
    await expect(Promise.all([p.get(), p.get(), p.get()])).resolves.toEqual(Array(3).fill({ username: 'u1', password: 'fake-pw-1' }));
    expect(fake.requests).toHaveLength(1);
    expect(p.generation).toBe(1);
    fake.put(ARN, { username: 'u2', password: 'fake-pw-2' });
    await expect(Promise.all(Array.from({ length: 10 }, () => p.refresh()))).resolves.toEqual(Array(10).fill(true));
    expect(fake.requests).toHaveLength(2);
    expect(p.current()).toEqual({ username: 'u2', password: 'fake-pw-2' });
    expect(p.generation).toBe(2);
    // Same secret again: no change.
    await expect(p.refresh()).resolves.toBe(false);
    expect(p.generation).toBe(2);
  });

  test('refreshes are rate limited: a refresh inside the interval waits for it, then reads', async () => {
    fake.put(ARN, { username: 'u1', password: 'fake-pw-1' });
    const p = provider(400);
    await p.get();
    const started = Date.now();
    fake.put(ARN, { username: 'u1', password: 'fake-pw-2' });
    await expect(p.refresh()).resolves.toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(fake.requests).toHaveLength(2);
  });

  test('a secret that is not {username, password} JSON is refused by ARN, never quoting it', async () => {
    fake.put(ARN, { user: 'u1', password: 'fake-pw-quoted' });
    const err = (await provider()
      .get()
      .then(
        () => new Error('expected a rejection'),
        (e: unknown) => e,
      )) as Error;
    expect(err.message).toContain(`secret ${ARN} must be a JSON object with string fields username and password (missing or empty: username)`);
    expect(err.message).not.toContain('fake-pw-quoted');
  });

  test('GIVEN PostgreSQL refuses the login and Secrets Manager is down WHEN connecting THEN 503, not a crash or a hang', async () => {
    const user = `rot_${randomBytes(4).toString('hex')}`;
    await createLogin(user, 'fake-pw-right-0');
    fake.put(ARN, { username: user, password: 'fake-pw-wrong-0' });
    const logs = new LogCapture();
    const database = new Database({
      config: databaseConfig(),
      logger: createLogger({ level: 'info', destination: logs }),
      credentials: provider(0, logs),
    });
    try {
      fake.failWith = 500;
      await expect(database.connect()).rejects.toBeInstanceOf(ServiceUnavailableError);
      fake.failWith = undefined;
      // The secret is readable again and right: the next connect re-reads it and gets in.
      await expect(database.connect()).rejects.toMatchObject({ name: 'ServiceUnavailableError', message: expect.stringContaining('28P01') });
      fake.put(ARN, { username: user, password: 'fake-pw-right-0' });
      const client = await database.connect();
      client.release();
      expect(logs.text).toContain('database refused the login, reading the secret again');
      expect(logs.text).not.toContain('fake-pw-right-0');
    } finally {
      await database.close();
    }
  });
});

describe('a Secrets Manager that accepts connections and never answers (node dist/server.js)', () => {
  const fake = new FakeSecretsManager();
  let endpoint: string;
  beforeAll(async () => {
    endpoint = await fake.start();
  });
  afterAll(async () => {
    await fake.stop();
  });

  type Answer = { status: number; retryAfter: unknown; ms: number } | { status: 'no answer'; ms: number };
  /** A create, or 'no answer' after `deadlineMs` (instead of hanging the test). */
  function create(port: number, auth: { authorization: string }, deadlineMs: number): Promise<Answer> {
    const started = Date.now();
    return Promise.race([
      http(port, { method: 'POST', path: '/v1/payments', headers: { ...auth, 'idempotency-key': newIdempotencyKey() }, body: paymentBody() }).then(
        (r): Answer => ({ status: r.status, retryAfter: r.headers['retry-after'], ms: Date.now() - started }),
      ),
      new Promise<Answer>((resolve) => setTimeout(() => resolve({ status: 'no answer', ms: deadlineMs }), deadlineMs)),
    ]);
  }

  test('GIVEN a rotated password (28P01) WHEN the secret cannot be read THEN 503 + Retry-After within the connect timeout, no read left hanging; a later request reads again and recovers', async () => {
    const connectTimeoutMs = 1000;
    const user = `rot_${randomBytes(4).toString('hex')}`;
    const first = password();
    await createLogin(user, first);
    fake.put(ARN, secretValue(user, first));
    const service = await startServiceProcess({
      ...serviceSecrets(),
      ...fakeAwsEnv(endpoint),
      DATABASE_HOST: db.host,
      DATABASE_PORT: String(db.port),
      DATABASE_NAME: db.name,
      DATABASE_SSL_MODE: 'disable',
      DATABASE_SECRET_ARN: ARN,
      DATABASE_CONNECT_TIMEOUT_MS: String(connectTimeoutMs),
    });
    try {
      expect((await create(service.port, service.auth, 10_000)).status).toBe(201);
      const readsBefore = fake.requests.length;
      // The rotation, while Secrets Manager takes connections and never answers.
      fake.stall = true;
      const second = password();
      await setPassword(user, second);
      fake.put(ARN, secretValue(user, second));
      expect(await terminateSessions(user)).toBeGreaterThan(0);

      const burst = await Promise.all(Array.from({ length: 20 }, () => create(service.port, service.auth, 15_000)));
      for (const answer of burst) {
        expect(answer).toMatchObject({ status: 503, retryAfter: '1' });
        // Reading the secret is bounded by the connect timeout; the margin covers the login attempts around it.
        expect(answer.ms).toBeLessThan(connectTimeoutMs + 1500);
      }
      // One read for the whole burst, and the service gave it up: no call to Secrets Manager is left open.
      expect(fake.requests.length - readsBefore).toBe(1);
      await waitFor(() => fake.stalled === 0, 3000);

      // A later request is not stuck behind the abandoned read: it reads again (and still gets a bounded 503).
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const later = await create(service.port, service.auth, 15_000);
      expect(later).toMatchObject({ status: 503, retryAfter: '1' });
      expect(later.ms).toBeLessThan(2 * connectTimeoutMs + 1500);
      expect(fake.requests.length - readsBefore).toBe(2);
      await waitFor(() => fake.stalled === 0, 3000);

      // Secrets Manager answers again: the service reads the new password and gets in.
      fake.stall = false;
      let recovered: Answer = { status: 'no answer', ms: 0 };
      for (let attempt = 0; attempt < 10 && recovered.status !== 201; attempt += 1) {
        recovered = await create(service.port, service.auth, 15_000);
        if (recovered.status !== 201) await new Promise((resolve) => setTimeout(resolve, 300));
      }
      expect(recovered.status).toBe(201);
      expect(service.lines.join('\n')).toContain('database secret read failed');
      for (const pw of [first, second]) expect(service.lines.join('\n')).not.toContain(pw);
    } finally {
      fake.stall = false;
      await service.stop();
    }
  }, 60_000);
});

describe('the Secrets Manager client has HTTP timeouts of its own', () => {
  const fake = new FakeSecretsManager();
  const saved = { ...process.env };
  beforeAll(async () => {
    Object.assign(process.env, fakeAwsEnv(await fake.start()));
  });
  afterAll(async () => {
    process.env = saved;
    await fake.stop();
  });

  test('GIVEN the default client (as in production) and no read bound WHEN Secrets Manager never answers THEN the read fails after its request timeouts', async () => {
    fake.stall = true;
    const logs = new LogCapture();
    // Exactly what createCredentialsProvider builds, with the overall read bound lifted: only the HTTP timeouts remain.
    const provider = new SecretsManagerCredentials({
      secretArn: ARN,
      region: 'eu-west-1',
      logger: createLogger({ level: 'info', destination: logs }),
      readTimeoutMs: 60_000,
    });
    const started = Date.now();
    const outcome = await Promise.race([
      provider.get().then(
        () => 'read',
        (err: Error) => err.name,
      ),
      new Promise<string>((resolve) => setTimeout(() => resolve('no answer'), 15_000)),
    ]);
    expect(outcome).toBe('TimeoutError');
    // Two attempts (maxAttempts 2), each given up after SECRETS_MANAGER_REQUEST_TIMEOUT_MS without a byte.
    expect(Date.now() - started).toBeGreaterThanOrEqual(2 * SECRETS_MANAGER_REQUEST_TIMEOUT_MS - 100);
    expect(Date.now() - started).toBeLessThan(2 * SECRETS_MANAGER_REQUEST_TIMEOUT_MS + 1500);
    expect(fake.requests).toEqual(['(stalled)', '(stalled)']);
    await waitFor(() => fake.stalled === 0, 3000);
  });
});
