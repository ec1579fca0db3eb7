import { Agent } from 'http';
import { HEALTH_LIVE_PATH, HEALTH_READY_PATH } from '../src/contract';
import { RawConnection } from './adversarial-helpers';
import { CARDS, http, newIdempotencyKey, paymentBody, startTestServer } from './helpers';
import type { TestServer } from './helpers';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.shutdown('test end');
});

function post(body: unknown, headers: Record<string, string> = {}): ReturnType<typeof http> {
  return http(server.port, {
    method: 'POST',
    path: '/v1/payments',
    headers: { ...server.auth, 'idempotency-key': newIdempotencyKey(), ...headers },
    body: body as object,
  });
}

describe('health', () => {
  test('liveness and readiness answer 200 when ready', async () => {
    expect((await http(server.port, { path: HEALTH_LIVE_PATH })).json).toEqual({ status: 'ok' });
    const ready = await http(server.port, { path: HEALTH_READY_PATH });
    expect(ready.status).toBe(200);
    expect(ready.json).toEqual({ status: 'ready' });
  });

  test('health needs no credentials; unknown routes are 404 JSON', async () => {
    const res = await http(server.port, { path: '/nope' });
    expect(res.status).toBe(404);
    expect(res.json).toEqual({ error: 'not_found' });
  });
});

describe('authentication', () => {
  test.each([
    ['missing', {}],
    ['wrong key', { authorization: 'Bearer fake-wrong-key-000000000000000000000' }],
    ['wrong scheme', { authorization: 'Basic abc' }],
    ['empty bearer', { authorization: 'Bearer ' }],
  ])('%s -> 401 with only an error code', async (_name, headers) => {
    for (const path of ['/v1/payments', '/v1/payments/pay_aaaaaaaaaaaaaaaaaaaaaa', '/v1/payments/not-an-id']) {
      const res = await http(server.port, {
        method: path === '/v1/payments' ? 'POST' : 'GET',
        path,
        headers,
        body: path === '/v1/payments' ? paymentBody() : undefined,
      });
      expect(res.status).toBe(401);
      expect(res.json).toEqual({ error: 'unauthorized' });
      expect(res.headers['www-authenticate']).toBeUndefined();
    }
  });

  test('an unknown route is the same 404 for every caller, with or without a key', async () => {
    for (const path of ['/v1/unknown', '/v1', '/v1/payments/x/y', '/V1/payments']) {
      const anonymous = await http(server.port, { path });
      const withKey = await http(server.port, { path, headers: server.auth });
      expect([path, anonymous.status, anonymous.text]).toEqual([path, 404, '{"error":"not_found"}']);
      expect([path, withKey.status, withKey.text]).toEqual([path, 404, '{"error":"not_found"}']);
    }
  });

  test('a key that differs only in length or case is refused', async () => {
    const headers = { authorization: `Bearer ${server.config.apiKeys[0]}x` };
    expect((await http(server.port, { path: '/v1/payments/pay_aaaaaaaaaaaaaaaaaaaaaa', headers })).status).toBe(401);
    const lower = { authorization: `bearer ${server.config.apiKeys[0]}` };
    expect((await http(server.port, { path: '/v1/payments/pay_aaaaaaaaaaaaaaaaaaaaaa', headers: lower })).status).toBe(404);
  });
});

describe('POST /v1/payments', () => {
  test.each([
    ['visa', CARDS.visa, '123', 'approved', undefined],
    ['mastercard', CARDS.mastercard, '123', 'approved', undefined],
    ['amex', CARDS.amex, '1234', 'approved', undefined],
    ['visa', CARDS.declined, '123', 'declined', 'card_declined'],
    ['visa', CARDS.insufficientFunds, '123', 'declined', 'insufficient_funds'],
  ])('%s %s -> 201 %s %s', async (brand, number, cvc, status, declineCode) => {
    const res = await post(paymentBody({ description: 'Order #42' }, { number, cvc }));
    expect(res.status).toBe(201);
    expect(res.json).toEqual({
      id: expect.stringMatching(/^pay_[A-Za-z0-9_-]{22}$/),
      status,
      ...(declineCode ? { declineCode } : {}),
      amount: 1299,
      currency: 'EUR',
      card: { brand, last4: number.slice(-4), token: expect.stringMatching(/^tok_[0-9a-f]{64}$/) },
      description: 'Order #42',
      createdAt: '2025-06-15T12:00:00.000Z',
    });
    expect(res.text).not.toContain(number);
    expect(res.text).not.toContain(`"${cvc}"`);
    const fetched = await http(server.port, { path: `/v1/payments/${res.json.id as string}`, headers: server.auth });
    expect(fetched.status).toBe(200);
    expect(fetched.json).toEqual(res.json);
  });

  test('same card gives the same token; description is optional', async () => {
    const a = await post(paymentBody());
    const b = await post(paymentBody({ amount: 1 }));
    expect(a.json.description).toBeUndefined();
    expect((a.json.card as { token: string }).token).toBe((b.json.card as { token: string }).token);
  });

  test('GIVEN a key already used WHEN the same body is sent again THEN the first result is replayed', async () => {
    const key = newIdempotencyKey();
    const first = await post(paymentBody(), { 'idempotency-key': key });
    const second = await post(paymentBody(), { 'idempotency-key': key });
    expect(second.status).toBe(201);
    expect(second.json).toEqual(first.json);
    expect(second.headers['idempotent-replayed']).toBe('true');
  });

  test('GIVEN a key already used WHEN another body is sent THEN 422 and no new payment', async () => {
    const key = newIdempotencyKey();
    await post(paymentBody(), { 'idempotency-key': key });
    const res = await post(paymentBody({ amount: 2 }), { 'idempotency-key': key });
    expect(res.status).toBe(422);
    expect(res.json).toEqual({ error: 'idempotency_key_reused', message: expect.stringContaining('different request body') });
  });

  test('concurrent requests with one key over separate connections charge once', async () => {
    const key = newIdempotencyKey();
    const agent = new Agent({ keepAlive: false });
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        http(server.port, { method: 'POST', path: '/v1/payments', headers: { ...server.auth, 'idempotency-key': key }, body: paymentBody(), agent }),
      ),
    );
    expect(results.every((r) => r.status === 201)).toBe(true);
    expect(new Set(results.map((r) => r.json.id)).size).toBe(1);
    expect(results.filter((r) => r.headers['idempotent-replayed'] === undefined)).toHaveLength(1);
  });

  test.each([
    [undefined, 'header is required'],
    ['short', 'must be 8 to 128'],
    ['has spaces in it', 'must be 8 to 128'],
    ['x'.repeat(129), 'must be 8 to 128'],
  ])('Idempotency-Key %p is validated', async (key, message) => {
    const headers: Record<string, string> = { ...server.auth };
    if (key !== undefined) headers['idempotency-key'] = key;
    const res = await http(server.port, { method: 'POST', path: '/v1/payments', headers, body: paymentBody() });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ error: 'validation_failed', fields: [{ field: 'Idempotency-Key', message: expect.stringContaining(message) }] });
  });
});

describe('bad input never hurts', () => {
  test('malformed JSON -> 400 without quoting the body', async () => {
    const res = await post(`{"amount":1,"card":{"number":"${CARDS.visa}","cvc":"987"`);
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ error: 'malformed_json', message: 'request body is not valid JSON' });
    expect(res.text).not.toContain('411111');
  });

  test.each([
    ['text/plain', 'hello'],
    ['application/x-www-form-urlencoded', 'amount=1'],
    ['application/jsonx', '{}'],
  ])('content type %s -> 415', async (contentType, body) => {
    const res = await post(body, { 'content-type': contentType });
    expect(res.status).toBe(415);
    expect(res.json).toEqual({ error: 'unsupported_media_type', message: 'Content-Type must be application/json' });
  });

  test('missing content type and body -> 415', async () => {
    const res = await http(server.port, {
      method: 'POST',
      path: '/v1/payments',
      headers: { ...server.auth, 'idempotency-key': newIdempotencyKey() },
    });
    expect(res.status).toBe(415);
  });

  test('body over 16 KiB -> 413', async () => {
    const res = await post(paymentBody({ description: 'x'.repeat(17 * 1024) }));
    expect(res.status).toBe(413);
    expect(res.json).toMatchObject({ error: 'payload_too_large' });
  });

  test('empty JSON body -> 400', async () => {
    const res = await post('');
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ error: 'malformed_json', message: 'request body is not valid JSON' });
  });

  test.each([
    ['fullwidth digits', { number: '４１１１１１１１１１１１１１１１' }, 'card.number'],
    ['zero-width space', { number: '41111111\u200b11111111' }, 'card.number'],
    ['NUL', { number: '4111111111111111\u0000' }, 'card.number'],
    ['number as JSON number', { number: 4111111111 }, 'card.number'],
    ['huge month', { expMonth: 1e15 }, 'card.expMonth'],
    ['Luhn failure', { number: '4111111111111121' }, 'card.number'],
  ])('%s -> 400 naming the field, never echoing the card data', async (_name, card, field) => {
    const res = await post(paymentBody({}, card));
    expect(res.status).toBe(400);
    expect(res.json.error).toBe('validation_failed');
    expect((res.json.fields as { field: string }[]).map((f) => f.field)).toContain(field);
    expect(res.text).not.toMatch(/411111|111111/);
  });

  test('__proto__ keys are refused by name and pollute nothing', async () => {
    const res = await post('{"amount":1,"currency":"EUR","card":{"number":"4111111111111111"},"__proto__":{"isAdmin":true}}');
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ error: 'validation_failed', fields: [{ field: '__proto__', message: 'forbidden field name' }] });
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });

  test('huge numbers, deep nesting and wrong types are 400 and the server keeps serving', async () => {
    for (const [body, error] of [
      ['{"amount":1e400}', 'malformed_json'],
      ['['.repeat(5000) + ']'.repeat(5000), 'malformed_json'],
      ['"just a string"', 'validation_failed'],
      ['123', 'validation_failed'],
      ['null', 'validation_failed'],
      ['{"amount":99999999999999999999999}', 'malformed_json'],
      [`{"card":{"number":${CARDS.visa}}}`, 'malformed_json'],
    ]) {
      const res = await post(body);
      expect(res.status).toBe(400);
      expect([body.slice(0, 20), res.json.error]).toEqual([body.slice(0, 20), error]);
      expect(res.text).not.toMatch(/411111|999999/);
    }
    expect((await http(server.port, { path: HEALTH_LIVE_PATH })).status).toBe(200);
  });

  test('non-UTF-8 bytes are handled as invalid input', async () => {
    const res = await post(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ error: 'malformed_json', message: 'request body must be UTF-8 (without a byte order mark)' });
  });

  test('content-length mismatch is a 400, not a crash', async () => {
    // A body longer than its Content-Length: the server reads only the declared bytes ('{"amo'), which are not JSON.
    const body = JSON.stringify(paymentBody());
    const conn = await RawConnection.open(server.port);
    try {
      conn.write(
        [
          'POST /v1/payments HTTP/1.1',
          'host: localhost',
          `authorization: ${server.auth.authorization}`,
          `idempotency-key: ${newIdempotencyKey()}`,
          'content-type: application/json',
          'content-length: 5',
          '',
          body,
        ].join('\r\n'),
      );
      const outcome = await conn.next();
      expect(outcome.kind).toBe('response');
      const res = outcome.kind === 'response' ? outcome.response : undefined;
      expect(res?.status).toBe(400);
      expect(JSON.parse(res?.body ?? '{}')).toEqual({ error: 'malformed_json', message: 'request body is not valid JSON' });
    } finally {
      conn.destroy();
    }
    expect((await http(server.port, { path: HEALTH_LIVE_PATH })).status).toBe(200);
  });
});

describe('GET /v1/payments/:id', () => {
  test('unknown id -> 404 JSON; malformed id -> 400 naming id', async () => {
    const unknown = await http(server.port, { path: '/v1/payments/pay_aaaaaaaaaaaaaaaaaaaaaa', headers: server.auth });
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ error: 'not_found', message: 'no payment with this id' });
    const bad = await http(server.port, { path: `/v1/payments/${CARDS.visa}`, headers: server.auth });
    expect(bad.status).toBe(400);
    expect(bad.json).toEqual({ error: 'validation_failed', fields: [{ field: 'id', message: expect.any(String) }] });
  });
});

describe('request id', () => {
  test('a safe incoming x-request-id is kept, anything else is replaced', async () => {
    const kept = await http(server.port, { path: HEALTH_LIVE_PATH, headers: { 'x-request-id': 'req-abc-def-123' } });
    expect(kept.headers['x-request-id']).toBe('req-abc-def-123');
    const replaced = await http(server.port, { path: HEALTH_LIVE_PATH, headers: { 'x-request-id': CARDS.visa } });
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const generated = await http(server.port, { path: HEALTH_LIVE_PATH });
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});
