import { existsSync } from 'fs';
import { join } from 'path';
import { HEALTH_LIVE_PATH } from '../src/contract';
import { RawConnection, rawRequest, sleep } from './adversarial-helpers';
import { databaseEnv } from './database';
import { CARDS, http, newIdempotencyKey, paymentBody, slowPost, startTestServer } from './helpers';
import type { TestServer } from './helpers';
import { serviceSecrets, startServiceProcess } from './service-process';

function paymentRequest(server: { auth: { authorization: string } }, card = CARDS.visa): Buffer {
  return rawRequest(
    'POST',
    '/v1/payments',
    { ...server.auth, 'idempotency-key': newIdempotencyKey(), 'content-type': 'application/json' },
    JSON.stringify(paymentBody({}, { number: card })),
  );
}

async function idleKeepAlive(server: TestServer): Promise<RawConnection> {
  const c = await RawConnection.open(server.port);
  c.write(rawRequest('GET', HEALTH_LIVE_PATH));
  const first = await c.next(2000);
  expect(first.kind === 'response' && first.response.status).toBe(200);
  expect(first.kind === 'response' && first.response.headers.connection).toBe('keep-alive');
  return c;
}

describe('drain: a request that arrives on an idle keep-alive connection as the drain starts is answered, not reset', () => {
  let server: TestServer;
  afterEach(async () => {
    await server.shutdown('test end');
  });

  test.each([0, 20, 150])(
    'GIVEN an idle keep-alive connection WHEN a payment arrives %i ms after the drain starts THEN 201 with Connection: close',
    async (delayMs) => {
      server = await startTestServer({ httpTimeouts: { drainIdleGraceMs: 1000 } });
      const connections = await Promise.all([idleKeepAlive(server), idleKeepAlive(server), idleKeepAlive(server)]);
      const done = server.shutdown('SIGTERM');
      if (delayMs > 0) await sleep(delayMs);
      for (const c of connections) c.write(paymentRequest(server));
      for (const c of connections) {
        const outcome = await c.next(3000);
        expect(outcome.kind).toBe('response');
        if (outcome.kind === 'response') {
          expect(outcome.response.status).toBe(201);
          expect(outcome.response.headers.connection).toBe('close');
        }
        expect(await c.waitClosed(2000)).toBe(true);
      }
      await expect(done).resolves.toBe(0);
    },
  );

  test('GIVEN pipelined requests on a keep-alive connection at drain THEN the first is answered with Connection: close and the connection ends', async () => {
    server = await startTestServer();
    const c = await idleKeepAlive(server);
    const done = server.shutdown('SIGTERM');
    c.write(Buffer.concat([rawRequest('GET', HEALTH_LIVE_PATH), rawRequest('GET', HEALTH_LIVE_PATH)]));
    const first = await c.next(3000);
    expect(first.kind === 'response' && first.response.status).toBe(200);
    expect(first.kind === 'response' && first.response.headers.connection).toBe('close');
    expect(await c.waitClosed(2000)).toBe(true);
    await expect(done).resolves.toBe(0);
  });

  test('GIVEN idle keep-alive connections that stay silent THEN they are closed after the grace and the drain ends 0, new connections refused', async () => {
    const grace = 300;
    server = await startTestServer({ httpTimeouts: { drainIdleGraceMs: grace } });
    const connections = await Promise.all([idleKeepAlive(server), idleKeepAlive(server)]);
    const started = Date.now();
    const done = server.shutdown('SIGTERM');
    await sleep(50);
    await expect(http(server.port, { path: HEALTH_LIVE_PATH })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    for (const c of connections) expect(c.closed).toBe(false);
    await expect(done).resolves.toBe(0);
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(grace - 20);
    expect(took).toBeLessThan(grace + 1500);
    for (const c of connections) expect(await c.waitClosed(500)).toBe(true);
  });

  test('GIVEN a request in flight on a keep-alive connection THEN it completes with Connection: close', async () => {
    server = await startTestServer();
    const slow = slowPost(server.port, { ...server.auth, 'idempotency-key': newIdempotencyKey() }, paymentBody(), 4, 100);
    await slow.headersSent;
    await sleep(50);
    const done = server.shutdown('SIGTERM');
    const res = await slow.response;
    expect(res.status).toBe(201);
    expect(res.headers.connection).toBe('close');
    await expect(done).resolves.toBe(0);
  });
});

const SERVER = join(__dirname, '..', 'dist', 'server.js');

describe('signals: repeated SIGTERM / SIGINT during a drain are ignored (real process, dist/server.js)', () => {
  test('GIVEN slow requests in flight WHEN SIGTERM, then SIGTERM, SIGINT, SIGTERM again THEN the drain completes, requests are answered and the exit code is 0', async () => {
    expect(existsSync(SERVER)).toBe(true);
    const service = await startServiceProcess({ ...serviceSecrets(), ...databaseEnv(), SHUTDOWN_DEADLINE_MS: '10000' });
    const { port, auth, child, stdout: lines, exited } = service;
    const slow = [CARDS.visa, CARDS.mastercard].map((number) =>
      slowPost(port, { ...auth, 'idempotency-key': newIdempotencyKey() }, paymentBody({}, { number }), 6, 200),
    );
    await Promise.all(slow.map((s) => s.headersSent));
    await sleep(100);
    child.kill('SIGTERM');
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGTERM'] as const) {
      await sleep(150);
      child.kill(signal);
    }
    const responses = await Promise.all(slow.map((s) => s.response));
    expect(responses.map((r) => r.status)).toEqual([201, 201]);
    expect(await exited).toMatchObject({ code: 0, signal: null });
    const records = lines.map((l) => JSON.parse(l) as { msg: string; signal?: string });
    expect(records.filter((r) => r.msg === 'draining')).toHaveLength(1);
    expect(records.filter((r) => r.msg === 'signal ignored: already draining').map((r) => r.signal)).toEqual(['SIGTERM', 'SIGINT', 'SIGTERM']);
    expect(records.map((r) => r.msg)).toContain('drained, exiting');
  });
});
