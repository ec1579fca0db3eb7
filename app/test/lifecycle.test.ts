import { Agent, createServer } from 'http';
import type { Server } from 'http';
import { connect } from 'net';
import type { AddressInfo, Socket } from 'net';
import * as contract from '../src/contract';
import { Database } from '../src/db/database';
import { checkLiveness } from '../src/healthcheck';
import { startServer } from '../src/lifecycle';
import { createLogger } from '../src/logger';
import { main } from '../src/server';
import { databaseEnv } from './database';
import { LogCapture, http, newIdempotencyKey, paymentBody, slowPost, startTestServer, testConfig, waitFor } from './helpers';

describe('contract', () => {
  test('values the platform depends on', () => {
    expect(contract.DEFAULT_PORT).toBe(8080);
    expect(contract.HEALTH_LIVE_PATH).toBe('/health/live');
    expect(contract.HEALTH_READY_PATH).toBe('/health/ready');
    expect(contract.ENV).toEqual({
      port: 'PORT',
      apiKey: 'API_KEY',
      tokenizationKey: 'TOKENIZATION_KEY',
      logLevel: 'LOG_LEVEL',
      shutdownDeadlineMs: 'SHUTDOWN_DEADLINE_MS',
      databaseCredentials: 'DATABASE_CREDENTIALS',
      databaseHost: 'DATABASE_HOST',
      databasePort: 'DATABASE_PORT',
      databaseName: 'DATABASE_NAME',
      databaseSslMode: 'DATABASE_SSL_MODE',
      databaseCaFile: 'DATABASE_CA_FILE',
      databaseSecretArn: 'DATABASE_SECRET_ARN',
      databasePoolMax: 'DATABASE_POOL_MAX',
      databaseStatementTimeoutMs: 'DATABASE_STATEMENT_TIMEOUT_MS',
      databaseConnectTimeoutMs: 'DATABASE_CONNECT_TIMEOUT_MS',
      databaseAppSecretArn: 'DATABASE_APP_SECRET_ARN',
      databaseAppCredentials: 'DATABASE_APP_CREDENTIALS',
      environmentName: 'ENVIRONMENT_NAME',
      tracingEnabled: 'TRACING_ENABLED',
      tracingSampleRatio: 'TRACING_SAMPLE_RATIO',
      otlpEndpoint: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    });
    expect(contract.METRICS).toEqual({
      namespace: 'TapPayments',
      dimensions: { environment: 'Environment', route: 'Route', status: 'Status', declineCode: 'DeclineCode' },
      names: {
        paymentsCreated: 'PaymentsCreated',
        paymentsDeclined: 'PaymentsDeclined',
        requestLatency: 'RequestLatency',
        idempotentReplays: 'IdempotentReplays',
        authFailures: 'AuthFailures',
        databaseErrors: 'DatabaseErrors',
      },
    });
    expect(contract.DEFAULT_OTLP_ENDPOINT).toBe('http://127.0.0.1:4318');
    expect(contract.DEFAULT_SHUTDOWN_DEADLINE_MS).toBe(30000);
    expect(contract.DEFAULT_SHUTDOWN_DEADLINE_MS).toBeLessThan(contract.FARGATE_MAX_STOP_TIMEOUT_MS);
    expect(contract.CONTAINER_HEALTHCHECK_COMMAND).toEqual(['/nodejs/bin/node', 'dist/healthcheck.js']);
  });

  test('keep-alive outlives the ALB idle timeout and headers timeout outlives keep-alive (docs/deployments.md, trap 6)', () => {
    expect(contract.KEEP_ALIVE_TIMEOUT_MS).toBe(65000);
    expect(contract.HEADERS_TIMEOUT_MS).toBe(66000);
    expect(contract.KEEP_ALIVE_TIMEOUT_MS).toBeGreaterThan(contract.ALB_IDLE_TIMEOUT_MS);
    expect(contract.HEADERS_TIMEOUT_MS).toBeGreaterThan(contract.KEEP_ALIVE_TIMEOUT_MS);
  });

  test('the running server applies them', async () => {
    const server = await startTestServer();
    expect(server.app.server.keepAliveTimeout).toBe(65000);
    expect(server.app.server.headersTimeout).toBe(66000);
    expect(server.app.server.requestTimeout).toBe(contract.REQUEST_TIMEOUT_MS);
    expect(contract.REQUEST_TIMEOUT_MS).toBe(contract.HEADERS_TIMEOUT_MS + contract.REQUEST_BODY_TIMEOUT_MS);
    await server.shutdown('test end');
  });
});

describe('graceful shutdown (in process)', () => {
  test('GIVEN an idle keep-alive connection WHEN draining THEN readiness is 503, the connection is closed after the idle grace and shutdown resolves 0', async () => {
    const grace = 300;
    const server = await startTestServer({ httpTimeouts: { drainIdleGraceMs: grace } });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    expect((await http(server.port, { path: contract.HEALTH_LIVE_PATH, agent })).status).toBe(200);
    expect(server.connections.connections).toBe(1);
    const started = Date.now();
    const done = server.shutdown('SIGTERM');
    expect(server.shutdown('SIGTERM again')).toBe(done);
    const ready = await server.app.inject({ method: 'GET', url: contract.HEALTH_READY_PATH });
    expect(ready.statusCode).toBe(503);
    expect(JSON.parse(ready.body)).toEqual({ status: 'draining' });
    expect(ready.headers.connection).toBe('close');
    await expect(done).resolves.toBe(0);
    // The idle connection was kept for the grace (a request may have been on its way), then closed: well below
    // the keep-alive timeout, so an idle socket does not hold the drain open.
    expect(Date.now() - started).toBeGreaterThanOrEqual(grace - 20);
    expect(Date.now() - started).toBeLessThan(2000);
    await waitFor(() => server.connections.connections === 0);
    await expect(http(server.port, { path: contract.HEALTH_LIVE_PATH })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    agent.destroy();
  });

  test('GIVEN a request that never finishes WHEN the deadline passes THEN shutdown resolves 1', async () => {
    const server = await startTestServer({ config: { shutdownDeadlineMs: 300 } });
    const socket = connect(server.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    // Headers promise a body that never comes: the request stays in flight.
    socket.write(
      `POST /v1/payments HTTP/1.1\r\nhost: x\r\nauthorization: ${server.auth.authorization}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{`,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.connections.inFlight).toBe(1);
    await expect(server.shutdown('SIGTERM')).resolves.toBe(1);
    // What was still open when it gave up: the one request, on its one connection.
    expect(server.logs.records().filter((r) => r.msg === 'shutdown deadline passed, forcing exit')).toEqual([
      expect.objectContaining({ level: 'error', inFlight: 1, connections: 1 }),
    ]);
    expect(server.logs.text).not.toContain('drained, exiting');
    socket.destroy();
  });

  test('a request in flight on a keep-alive connection completes and its connection is then closed', async () => {
    const server = await startTestServer();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const slow = slowPost(server.port, { ...server.auth, 'idempotency-key': newIdempotencyKey() }, paymentBody(), 4, 100, agent);
    await waitFor(() => server.connections.inFlight === 1);
    const done = server.shutdown('SIGTERM');
    const res = await slow.response;
    expect(res.status).toBe(201);
    expect(res.headers.connection).toBe('close');
    await expect(done).resolves.toBe(0);
    agent.destroy();
  });
});

describe('what the lifecycle logs, and when the pool is ended', () => {
  test('start and drain log the port, readiness, the reason and the drain time', async () => {
    const server = await startTestServer({ config: { shutdownDeadlineMs: 5000 } });
    await expect(server.shutdown('SIGTERM')).resolves.toBe(0);
    const lines = server.logs
      .records()
      .filter((r) => ['listening; waiting for the database', 'ready', 'draining', 'drained, exiting'].includes(String(r.msg)));
    expect(lines.map((r) => r.msg)).toEqual(['listening; waiting for the database', 'ready', 'draining', 'drained, exiting']);
    expect(lines[0]).toMatchObject({ port: server.port });
    expect(lines[1]).toMatchObject({ port: server.port, keepAliveTimeoutMs: 65000, headersTimeoutMs: 66000 });
    expect(lines[2]).toMatchObject({ reason: 'SIGTERM', inFlight: 0, connections: 0, deadlineMs: 5000 });
    const { durationMs } = lines[3] as { durationMs: number };
    expect(durationMs).toBeGreaterThanOrEqual(0);
    expect(durationMs).toBeLessThan(5000);
  });

  test('a drained shutdown resolves only once the pool has ended; a pool that fails to end is logged, not thrown', async () => {
    const server = await startTestServer();
    const close = server.database.close.bind(server.database);
    let ended = false;
    server.database.close = async () => {
      await close();
      await new Promise((resolve) => setTimeout(resolve, 200));
      ended = true;
      throw new Error('pool end failed');
    };
    await expect(server.shutdown('SIGTERM')).resolves.toBe(0);
    expect(ended).toBe(true);
    expect(server.logs.records().filter((r) => r.msg === 'error while closing the database pool')).toEqual([
      expect.objectContaining({ level: 'warn', err: expect.objectContaining({ message: 'pool end failed' }) }),
    ]);
  });

  test('after a missed deadline the pool is not waited for', async () => {
    const server = await startTestServer({ config: { shutdownDeadlineMs: 200 } });
    const socket = connect(server.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      `POST /v1/payments HTTP/1.1\r\nhost: x\r\nauthorization: ${server.auth.authorization}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{`,
    );
    await waitFor(() => server.connections.inFlight === 1);
    const close = server.database.close.bind(server.database);
    let release: () => void = () => undefined;
    // A pool whose end hangs (a query stuck on the wire): the exit must not wait for it.
    server.database.close = () => new Promise<void>((resolve) => (release = resolve));
    await expect(server.shutdown('SIGTERM')).resolves.toBe(1);
    socket.destroy();
    release();
    await close();
  });
});

describe('what startServer does at the edges', () => {
  test('GIVEN shutdown starts while the schema check is on the wire WHEN the check then succeeds THEN the task never turns ready', async () => {
    const config = testConfig();
    const logs = new LogCapture();
    const logger = createLogger({ level: 'info', destination: logs });
    const database = new Database({ config: config.database, logger });
    const query = database.query.bind(database);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // The first query (the schema check) waits at the gate; the answer it then gets is a compatible schema.
    jest.spyOn(database, 'query').mockImplementation(async (...args: Parameters<Database['query']>) => {
      await gate;
      return query(...args);
    });
    const server = await startServer({ config, logger, database, host: '127.0.0.1' });
    const shutdown = server.shutdown('SIGTERM');
    release();
    await server.ready;
    await expect(shutdown).resolves.toBe(0);
    expect(server.health.state).toBe('draining');
    expect(logs.records().map((r) => r.msg)).toEqual(expect.arrayContaining(['database schema is compatible', 'drained, exiting']));
    expect(logs.records().filter((r) => r.msg === 'ready')).toEqual([]);
  });

  test('GIVEN closing the server fails THEN shutdown logs the error and resolves 1', async () => {
    const server = await startTestServer();
    // app.close's overloads hide its promise from the spy's typing: the spy is typed loosely.
    const close = jest.spyOn(server.app, 'close') as jest.SpyInstance;
    close.mockRejectedValueOnce(new Error('fake close failure'));
    try {
      await expect(server.shutdown('SIGTERM')).resolves.toBe(1);
      expect(server.logs.records().filter((r) => r.msg === 'error while closing')).toEqual([
        expect.objectContaining({ level: 'error', err: expect.objectContaining({ message: 'fake close failure' }) }),
      ]);
      expect(server.logs.text).not.toContain('drained, exiting');
    } finally {
      close.mockRestore();
      await server.app.close();
    }
  });

  test("the routeMatched hook (tracing) is told each request's method and route pattern", async () => {
    const routeMatched = jest.fn();
    const server = await startTestServer({ routeMatched });
    try {
      expect((await http(server.port, { path: `/v1/payments/pay_${'A'.repeat(22)}`, headers: server.auth })).status).toBe(404);
      expect(routeMatched.mock.calls).toEqual([['GET', '/v1/payments/:id']]);
    } finally {
      await server.shutdown('test end');
    }
  });
});

describe('main', () => {
  test('invalid configuration exits 1 with one JSON line naming the variable, without the secret', async () => {
    const lines: string[] = [];
    const exits: number[] = [];
    const secret = 'fake-short-secret';
    const result = await main({ env: { API_KEY: secret }, exit: (c) => exits.push(c), stderr: (l) => lines.push(l) });
    expect(result).toBeUndefined();
    expect(exits).toEqual([1]);
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({ level: 'fatal', msg: expect.stringContaining('API_KEY must be at least 32 characters') });
    expect(lines.join('')).not.toContain(secret);
  });

  test('starts, serves and exits 0 on SIGTERM', async () => {
    const exits: number[] = [];
    const logs = new LogCapture();
    const env = { PORT: '0', API_KEY: 'a'.repeat(40), TOKENIZATION_KEY: 'b'.repeat(40), LOG_LEVEL: 'info', ...databaseEnv() };
    const sigtermListeners = process.listenerCount('SIGTERM');
    const running = await main({ env, exit: (c) => exits.push(c), stderr: () => undefined, logDestination: logs });
    expect(running).toBeDefined();
    // The container's port mapping reaches the task on its ENI address: the service listens on every IPv4 interface.
    expect((running?.app.server.address() as AddressInfo).address).toBe('0.0.0.0');
    const port = running?.port ?? 0;
    expect(await checkLiveness(port)).toBe(0);
    process.emit('SIGTERM', 'SIGTERM');
    // A second signal while draining is logged and ignored; the drain's code is the one exit.
    process.emit('SIGINT', 'SIGINT');
    await waitFor(() => exits.length > 0, 3000);
    expect(exits).toEqual([0]);
    expect(logs.text).toContain('signal ignored: already draining');
    expect(process.listenerCount('SIGTERM')).toBe(sigtermListeners);
    expect(await checkLiveness(port, 500)).toBe(1);
    expect(logs.text).toContain('drained, exiting');
  });
});

describe('healthcheck', () => {
  /** A loopback server answering every request with `status`, recording the paths it was asked for. */
  async function answering(status: number): Promise<{ server: Server; port: number; paths: string[] }> {
    const paths: string[] = [];
    const server = createServer((req, res) => {
      paths.push(req.url ?? '');
      res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { server, port: (server.address() as AddressInfo).port, paths };
  }
  const close = (server: Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()));

  test.each([200, 204, 301, 503, 500])('GIVEN /health/live answers %i THEN exits 0 only on 200', async (status) => {
    const { server, port, paths } = await answering(status);
    try {
      expect(await checkLiveness(port, 1000)).toBe(status === 200 ? 0 : 1);
      expect(paths).toEqual([contract.HEALTH_LIVE_PATH]);
    } finally {
      await close(server);
    }
  });

  test('exits 1 when nothing listens on the port', async () => {
    const { server, port } = await answering(200);
    await close(server);
    expect(await checkLiveness(port, 200)).toBe(1);
  });

  test('exits 1 when the answer does not come within the timeout', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer(() => undefined);
    silent.on('connection', (socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const started = Date.now();
      expect(await checkLiveness((silent.address() as AddressInfo).port, 200)).toBe(1);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      sockets.forEach((socket) => socket.destroy());
      await close(silent);
    }
  });
});
