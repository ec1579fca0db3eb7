import { serializeError } from '../src/logger';
import { PostgresPaymentRepository } from '../src/repository';
import { CARDS, http, newIdempotencyKey, paymentBody, startTestServer } from './helpers';
import type { TestServer } from './helpers';

/** Every 6-digit window of the PAN: none may appear anywhere in the logs (only the last four are allowed). */
function panWindows(pan: string): string[] {
  return Array.from({ length: pan.length - 5 }, (_, i) => pan.slice(i, i + 6));
}

function valuesOf(value: unknown, out: unknown[] = []): unknown[] {
  if (value !== null && typeof value === 'object') for (const v of Object.values(value)) valuesOf(v, out);
  else out.push(value);
  return out;
}

describe('logs never contain card data or credentials', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ config: { logLevel: 'trace' } });
  });
  afterAll(async () => {
    await server.shutdown('test end');
  });

  test('GIVEN approved, declined, invalid, malformed and unauthenticated payments WHEN logged at trace THEN no PAN run, CVC or key', async () => {
    const cvc = '987';
    const amexCvc = '4321';
    const post = (body: unknown, headers: Record<string, string> = {}): ReturnType<typeof http> =>
      http(server.port, {
        method: 'POST',
        path: '/v1/payments',
        headers: { ...server.auth, 'idempotency-key': newIdempotencyKey(), ...headers },
        body: body as object,
      });

    const approved = await post(paymentBody({}, { number: CARDS.visa, cvc }));
    expect(approved.status).toBe(201);
    expect((await post(paymentBody({}, { number: CARDS.amex, cvc: amexCvc }))).status).toBe(201);
    expect((await post(paymentBody({}, { number: CARDS.declined, cvc }))).json.status).toBe('declined');
    expect((await post(paymentBody({}, { number: CARDS.mastercard, cvc, expYear: 2001 }))).status).toBe(400);
    expect((await post(`{"card":{"number":"${CARDS.mastercard}","cvc":"${cvc}"`)).status).toBe(400);
    expect((await post(paymentBody({}, { number: CARDS.visa, cvc }), { authorization: `Bearer ${CARDS.visa}` })).status).toBe(401);
    expect((await post(paymentBody({}, { number: CARDS.visa, cvc }), { 'x-request-id': `id-${CARDS.visa}` })).status).toBe(201);
    expect((await http(server.port, { path: `/v1/payments/${CARDS.visa}`, headers: server.auth })).status).toBe(400);
    expect((await http(server.port, { path: `/nowhere/${CARDS.mastercard}?cvc=${cvc}` })).status).toBe(404);

    const text = server.logs.text;
    expect(server.logs.lines.length).toBeGreaterThan(10);
    for (const pan of [CARDS.visa, CARDS.amex, CARDS.declined, CARDS.mastercard]) {
      for (const window of panWindows(pan)) expect(text).not.toContain(window);
    }
    const values = server.logs.records().flatMap((r) => valuesOf(r));
    expect(values).not.toContain(cvc);
    expect(values).not.toContain(amexCvc);
    expect(text).not.toContain(server.config.apiKeys[0]);
    expect(text).not.toContain(server.config.tokenizationKey);
    expect(text).not.toContain((approved.json.card as { token: string }).token);
    // Every request line carries a request id.
    const requestLines = server.logs.records().filter((r) => r.msg === 'request completed');
    // One per request sent above.
    expect(requestLines).toHaveLength(9);
    for (const line of requestLines) expect(line.requestId).toEqual(expect.any(String));
    // Request lines name the matched route pattern (null when none matched), never the request target.
    const routes = new Set(requestLines.map((r) => r.route));
    expect(routes).toEqual(new Set(['/v1/payments', '/v1/payments/:id', null]));
    for (const line of requestLines) expect(line.path).toBeUndefined();
  });

  test('redaction catches card data a future log call might add by mistake', () => {
    server.app.log.info(
      { card: { number: CARDS.visa, cvc: '987' }, body: { card: { number: CARDS.visa } }, headers: { authorization: 'Bearer x' } },
      'oops',
    );
    const oops = server.logs.lines.filter((l) => (JSON.parse(l) as { msg?: unknown }).msg === 'oops');
    // The line under test was written (not some earlier line read by accident), and it is the last one.
    expect(oops).toHaveLength(1);
    const last = server.logs.lines[server.logs.lines.length - 1];
    expect(last).toBe(oops[0]);
    expect(last).not.toContain('411111');
    expect(last).not.toContain('987');
    expect(last).not.toContain('Bearer x');
  });

  test('errors are serialised with digit runs masked', () => {
    let parseError: unknown;
    try {
      JSON.parse(`{"number":"${CARDS.visa}"`);
    } catch (err) {
      parseError = err;
    }
    expect(parseError).toBeInstanceOf(SyntaxError);
    const safe = serializeError(Object.assign(new Error(`card ${CARDS.visa} failed`), { code: 'E_X', statusCode: 502 }));
    expect(safe).toMatchObject({ type: 'Error', message: 'card [masked]1111 failed', code: 'E_X', statusCode: 502 });
    expect(JSON.stringify(serializeError(parseError))).not.toContain('411111');
    expect(serializeError('a string')).toEqual({ type: 'string', message: '[non-error thrown]' });
  });

  test('an unexpected failure is a 500 with no details, logged safely', async () => {
    const failing = await startTestServer();
    const create = jest.spyOn(PostgresPaymentRepository.prototype, 'createWithKey').mockRejectedValueOnce(new Error(`db said no for ${CARDS.visa}`));
    const res = await http(failing.port, {
      method: 'POST',
      path: '/v1/payments',
      headers: { ...failing.auth, 'idempotency-key': newIdempotencyKey() },
      body: paymentBody(),
    });
    // The 500 comes from the injected failure, not from anything else going wrong.
    expect(create).toHaveBeenCalledTimes(1);
    create.mockRestore();
    expect(res.status).toBe(500);
    expect(res.json).toEqual({ error: 'internal_error' });
    const failed = failing.logs.records().filter((r) => r.msg === 'request failed');
    expect(failed).toHaveLength(1);
    expect(failing.logs.text).not.toContain('411111');
    await failing.shutdown('test end');
  });
});
