import { RawConnection, rawRequest } from './adversarial-helpers';
import type { RawOutcome } from './adversarial-helpers';
import { superuserQuery } from './database';
import { newIdempotencyKey, paymentBody, startTestServer } from './helpers';
import type { TestServer } from './helpers';

/**
 * HTTP/1.1 answers arrive in request order. A malformed request pipelined behind requests still being answered must
 * not put an error on the wire in front of their answers: the client would read it as the answer to the earlier
 * request (for a payment, one that was made).
 */

const MALFORMED = 'GET /health/live HTTP/1.1\r\nhost: x\r\nbad header\r\n\r\n';

function statusOf(outcome: RawOutcome): number | string {
  return outcome.kind === 'response' ? outcome.response.status : outcome.kind;
}

describe('a malformed request pipelined behind pending ones', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ config: { logLevel: 'info' } });
  });
  afterAll(async () => {
    await server.shutdown('test end');
  });

  test('GIVEN a payment then a malformed request on one connection THEN the 201 comes first, with Connection: close, then the connection closes', async () => {
    const amount = 7_770_000 + Math.floor(Math.random() * 10_000);
    const c = await RawConnection.open(server.port);
    const headers = { ...server.auth, 'idempotency-key': newIdempotencyKey(), 'content-type': 'application/json' };
    c.write(Buffer.concat([rawRequest('POST', '/v1/payments', headers, JSON.stringify(paymentBody({ amount }))), Buffer.from(MALFORMED)]));
    const first = await c.next(3000);
    expect(statusOf(first)).toBe(201);
    expect(first.kind === 'response' && first.response.headers.connection).toBe('close');
    expect(statusOf(await c.next(1000))).toBe('closed');
    const stored = await superuserQuery<{ id: string }>('SELECT id FROM payments WHERE amount = $1', [amount]);
    expect(stored.rows.map((r) => r.id)).toEqual([first.kind === 'response' ? (JSON.parse(first.response.body) as { id: string }).id : '']);
  });

  test('GIVEN two pipelined requests then a malformed one THEN both answers in order, the last with Connection: close, then closed', async () => {
    const c = await RawConnection.open(server.port);
    c.write(
      Buffer.concat([
        rawRequest('GET', '/health/live'),
        rawRequest('GET', '/v1/payments/pay_AAAAAAAAAAAAAAAAAAAAAA', server.auth),
        Buffer.from(MALFORMED),
      ]),
    );
    const first = await c.next(3000);
    const second = await c.next(3000);
    expect([statusOf(first), statusOf(second)]).toEqual([200, 404]);
    expect(second.kind === 'response' && second.response.headers.connection).toBe('close');
    expect(statusOf(await c.next(1000))).toBe('closed');
  });

  test('GIVEN nothing pending THEN a malformed request is answered 400 at once and closed (unchanged)', async () => {
    const c = await RawConnection.open(server.port);
    c.write(MALFORMED);
    const outcome = await c.next(1000);
    expect([statusOf(outcome), outcome.kind === 'response' && outcome.response.body]).toEqual([400, '{"error":"bad_request"}']);
    expect(await c.waitClosed(1000)).toBe(true);
  });

  test('GIVEN a broken chunk inside the body of the only request THEN that request is answered 400 at once (not after the body deadline)', async () => {
    const c = await RawConnection.open(server.port);
    const started = Date.now();
    c.write(
      `POST /v1/payments HTTP/1.1\r\nhost: x\r\nauthorization: ${server.auth.authorization}\r\nidempotency-key: ${newIdempotencyKey()}\r\n` +
        'content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
    );
    expect(statusOf(await c.next(3000))).toBe(400);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await c.waitClosed(1000)).toBe(true);
  });
});
