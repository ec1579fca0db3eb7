import { resolveHttpTimeouts } from '../src/connections';
import { ALB_IDLE_TIMEOUT_MS, HEADERS_TIMEOUT_MS, KEEP_ALIVE_TIMEOUT_MS, REQUEST_BODY_TIMEOUT_MS } from '../src/contract';
import { RawConnection, rawRequest, sleep } from './adversarial-helpers';
import { newIdempotencyKey, paymentBody, startTestServer, waitFor } from './helpers';
import type { TestServer } from './helpers';

/** What the tracker holds: every count must come back to zero once the clients are gone. */
function held(server: TestServer): Record<string, number> {
  const c = server.connections;
  return { connections: c.connections, inFlight: c.inFlight, pendingTimers: c.pendingTimers };
}

async function serverConnections(server: TestServer): Promise<number> {
  return new Promise((resolve, reject) => server.app.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
}

describe('memory: nothing a client without a key does leaves state behind', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ config: { logLevel: 'warn' } });
  });
  afterAll(async () => {
    await server.shutdown('test end');
  });

  test('GIVEN hundreds of connections opened, half-used, pipelined and aborted THEN every tracked structure returns to zero', async () => {
    const ROUNDS = 40;
    const pipelined = rawRequest('GET', '/health/live').toString('latin1').repeat(20);
    const scenarios: ((c: RawConnection) => Promise<void>)[] = [
      // Connect and go away.
      async () => undefined,
      // Half a request line.
      async (c) => c.write('GET /health/li'),
      // Twenty pipelined requests, then gone before reading a byte.
      async (c) => c.write(pipelined),
      // A request without the key whose body never arrives.
      async (c) => c.write('POST /v1/payments HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{'),
      // A request with the key whose body stops halfway: the request is in flight when the client vanishes.
      async (c) => {
        c.write(
          `POST /v1/payments HTTP/1.1\r\nhost: x\r\nauthorization: ${server.auth.authorization}\r\nidempotency-key: ${newIdempotencyKey()}\r\n` +
            'content-type: application/json\r\ncontent-length: 400\r\n\r\n{"amount":',
        );
        await sleep(20);
      },
      // A complete request, connection reset before the response is read.
      async (c) => c.write(rawRequest('GET', '/health/ready')),
      // Garbage (a parse error, answered by the client-error path).
      async (c) => c.write('NOT HTTP AT ALL\r\n\r\n'),
      // Headers too large (431 path).
      async (c) => c.write(`GET /health/live HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20000)}\r\n\r\n`),
    ];
    for (let round = 0; round < ROUNDS; round += 1) {
      const conns = await Promise.all(scenarios.map(() => RawConnection.open(server.port)));
      await Promise.all(scenarios.map((run, i) => run(conns[i] as RawConnection)));
      await sleep(5);
      for (const c of conns) c.destroy();
    }
    await waitFor(() => {
      const h = held(server);
      return h.connections === 0 && h.inFlight === 0 && h.pendingTimers === 0;
    }, 5000).catch(() => undefined);
    expect(held(server)).toEqual({ connections: 0, inFlight: 0, pendingTimers: 0 });
    expect(await serverConnections(server)).toBe(0);
  });
});

describe('timeouts: no client holds a connection longer than the configured bounds (same on Node 16, 18 and 20)', () => {
  const timeouts = { keepAliveMs: 400, headersMs: 600, bodyMs: 500, drainIdleGraceMs: 200 };
  const SLACK = 400;
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ config: { logLevel: 'warn' }, httpTimeouts: timeouts });
  });
  afterAll(async () => {
    await server.shutdown('test end');
  });

  function slowBodyHeaders(): string {
    return (
      `POST /v1/payments HTTP/1.1\r\nhost: x\r\nauthorization: ${server.auth.authorization}\r\nidempotency-key: ${newIdempotencyKey()}\r\n` +
      'content-type: application/json\r\ncontent-length: 300\r\n\r\n'
    );
  }

  test('GIVEN a body that stops arriving THEN 408 request_timeout with Connection: close within the body bound', async () => {
    const c = await RawConnection.open(server.port);
    const started = Date.now();
    c.write(`${slowBodyHeaders()}{"amount":1299,`);
    const outcome = await c.next(timeouts.bodyMs + SLACK + 2000);
    const elapsed = Date.now() - started;
    expect(outcome.kind).toBe('response');
    if (outcome.kind === 'response') {
      expect(outcome.response.status).toBe(408);
      expect(JSON.parse(outcome.response.body)).toEqual({ error: 'request_timeout' });
      expect(outcome.response.headers.connection).toBe('close');
    }
    expect(elapsed).toBeGreaterThanOrEqual(timeouts.bodyMs - 50);
    expect(elapsed).toBeLessThan(timeouts.bodyMs + SLACK);
    expect(await c.waitClosed(SLACK)).toBe(true);
  });

  test('GIVEN a body trickling one byte at a time THEN data does not extend the bound', async () => {
    const c = await RawConnection.open(server.port);
    const started = Date.now();
    c.write(slowBodyHeaders());
    const trickle = setInterval(() => c.write('{'), 50);
    const outcome = await c.next(timeouts.bodyMs + SLACK + 2000);
    clearInterval(trickle);
    const elapsed = Date.now() - started;
    expect(outcome.kind === 'response' ? outcome.response.status : outcome.kind).toBe(408);
    expect(elapsed).toBeLessThan(timeouts.bodyMs + SLACK);
    c.destroy();
  });

  test('GIVEN an early answer (401) to a request whose body never comes THEN the connection is closed, not kept waiting', async () => {
    const c = await RawConnection.open(server.port);
    c.write('POST /v1/payments HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 300\r\n\r\n{');
    const outcome = await c.next(1000);
    expect(outcome.kind === 'response' ? outcome.response.status : outcome.kind).toBe(401);
    expect(await c.waitClosed(timeouts.bodyMs + SLACK)).toBe(true);
  });

  test.each([
    ['no byte at all', ''],
    ['half a request line', 'GET /health/li'],
    ['headers that never end', 'GET /health/live HTTP/1.1\r\nhost: x\r\n'],
  ])('GIVEN %s THEN the connection is closed within the headers bound', async (_name, bytes) => {
    const c = await RawConnection.open(server.port);
    const started = Date.now();
    if (bytes) c.write(bytes);
    expect(await c.waitClosed(timeouts.headersMs + SLACK + 2000)).toBe(true);
    expect((c.closedAt ?? Infinity) - started).toBeLessThan(timeouts.headersMs + SLACK);
  });

  test('GIVEN headers trickling one byte at a time THEN data does not extend the headers bound', async () => {
    const c = await RawConnection.open(server.port);
    const started = Date.now();
    c.write('GET /health/live HTTP/1.1\r\nhost: x\r\n');
    const trickle = setInterval(() => c.write('x'), 50);
    await c.waitClosed(timeouts.headersMs + SLACK + 2000);
    clearInterval(trickle);
    expect(c.closed).toBe(true);
    expect((c.closedAt ?? Infinity) - started).toBeLessThan(timeouts.headersMs + SLACK);
  });

  test('GIVEN an idle keep-alive connection THEN it is closed after the keep-alive timeout, and requests in time are served', async () => {
    const c = await RawConnection.open(server.port);
    for (let i = 0; i < 3; i += 1) {
      c.write(rawRequest('GET', '/health/live'));
      const outcome = await c.next(1000);
      expect(outcome.kind === 'response' ? outcome.response.status : outcome.kind).toBe(200);
      await sleep(timeouts.keepAliveMs / 2);
    }
    const idleFrom = Date.now();
    expect(await c.waitClosed(timeouts.keepAliveMs + SLACK + 2000)).toBe(true);
    expect((c.closedAt ?? Infinity) - idleFrom).toBeLessThan(timeouts.keepAliveMs + SLACK);
  });

  test('a normal payment is unaffected', async () => {
    const c = await RawConnection.open(server.port);
    c.write(
      rawRequest(
        'POST',
        '/v1/payments',
        { ...server.auth, 'idempotency-key': newIdempotencyKey(), 'content-type': 'application/json' },
        JSON.stringify(paymentBody()),
      ),
    );
    const outcome = await c.next(2000);
    expect(outcome.kind === 'response' ? outcome.response.status : outcome.kind).toBe(201);
    c.destroy();
  });
});

describe('timeouts: production values', () => {
  test('keep-alive > ALB idle, headers > keep-alive, a bounded body time, and the running server applies all of them', async () => {
    expect(KEEP_ALIVE_TIMEOUT_MS).toBeGreaterThan(ALB_IDLE_TIMEOUT_MS);
    expect(HEADERS_TIMEOUT_MS).toBeGreaterThan(KEEP_ALIVE_TIMEOUT_MS);
    expect(REQUEST_BODY_TIMEOUT_MS).toBeGreaterThan(0);
    expect(REQUEST_BODY_TIMEOUT_MS).toBeLessThanOrEqual(ALB_IDLE_TIMEOUT_MS);
    const server = await startTestServer();
    try {
      const s = server.app.server;
      expect(s.keepAliveTimeout).toBe(KEEP_ALIVE_TIMEOUT_MS);
      expect(s.headersTimeout).toBe(HEADERS_TIMEOUT_MS);
      // Node 16 defaults requestTimeout to 0 (no limit) and Fastify 4 sets 0 everywhere: it must be set explicitly.
      expect(s.requestTimeout).toBe(HEADERS_TIMEOUT_MS + REQUEST_BODY_TIMEOUT_MS);
    } finally {
      await server.shutdown('test end');
    }
  });

  test('bounds that would break the keep-alive contract are refused at start, naming the value', () => {
    expect(() => resolveHttpTimeouts({ headersMs: 65000 })).toThrow('headersMs must be above keepAliveMs, got: 65000 <= 65000');
    expect(() => resolveHttpTimeouts({ bodyMs: 0 })).toThrow('bodyMs must be a positive integer of milliseconds, got: 0');
  });
});
