import { randomBytes } from 'crypto';
import { buildApp } from '../src/app';
import { ServiceUnavailableError } from '../src/errors';
import { Health } from '../src/health';
import { PAN_MIN_DIGITS, containsCardNumberLike } from '../src/card';
import { createLogger, serializeError } from '../src/logger';
import type { PaymentService } from '../src/payments';
import {
  RawConnection,
  everyDigitCharacter,
  findPanLeak,
  panDisguises,
  panInEveryDigitSet,
  panInPaths,
  panLeaks,
  rawExchange,
  rawRequest,
  separatorLetters,
  utf8Header,
} from './adversarial-helpers';
import type { RawOutcome } from './adversarial-helpers';
import { CARDS, LogCapture, NOW, http, newIdempotencyKey, paymentBody, startTestServer } from './helpers';
import type { HttpResponse, TestServer } from './helpers';

/**
 * Card numbers must not come back in a response or reach a log line, whichever field or encoding carries them.
 * Every response (status line, headers, body) and every log line is read through `findPanLeak`, which decodes
 * percent and \u escapes, folds compatibility forms and non-ASCII digits, and ignores all separators.
 */

function responseText(res: HttpResponse | RawOutcome): string {
  if ('kind' in res) return res.kind === 'response' ? `${JSON.stringify(res.response.headers)}\n${res.response.body}` : '';
  return `${JSON.stringify(res.headers)}\n${res.text}`;
}

describe('card numbers in free text, request ids, URLs and error paths never come back nor reach the logs', () => {
  let server: TestServer;
  const responseLeaks: string[] = [];
  const check = (label: string, res: HttpResponse | RawOutcome): void => {
    const leak = findPanLeak(responseText(res));
    if (leak) responseLeaks.push(`${label}: ${leak}`);
  };
  beforeAll(async () => {
    server = await startTestServer({ config: { logLevel: 'trace' } });
  });
  afterAll(async () => {
    await server.shutdown('test end');
    // Every log line of the whole run, at trace level.
    expect(panLeaks(server.logs.lines)).toEqual([]);
  });
  afterEach(() => {
    expect(responseLeaks.splice(0)).toEqual([]);
  });

  test('description: a card number written any way a person writes it is refused (400 naming the field, value not echoed)', async () => {
    const accepted: string[] = [];
    for (const pan of Object.values(CARDS)) {
      for (const { name, text } of panDisguises(pan)) {
        const res = await http(server.port, {
          method: 'POST',
          path: '/v1/payments',
          headers: { ...server.auth, 'idempotency-key': newIdempotencyKey() },
          body: paymentBody({ description: text.slice(0, 140) }),
        });
        check(`description ${name}`, res);
        const fields = (res.json.fields as { field: string }[] | undefined) ?? [];
        if (res.status !== 400 || !fields.some((f) => f.field === 'description')) accepted.push(`${pan.slice(0, 4)} ${name}: ${res.status}`);
      }
    }
    expect(accepted).toEqual([]);
  });

  test('description: the test PAN written in every set of digits of every script is refused', async () => {
    const accepted: string[] = [];
    for (const { set, pan, text } of panInEveryDigitSet()) {
      const res = await http(server.port, {
        method: 'POST',
        path: '/v1/payments',
        headers: { ...server.auth, 'idempotency-key': newIdempotencyKey() },
        body: paymentBody({ description: text }),
      });
      check(`description in ${set}`, res);
      const fields = (res.json.fields as { field: string }[] | undefined) ?? [];
      if (res.status !== 400 || !fields.some((f) => f.field === 'description')) accepted.push(`${pan.slice(0, 4)} in ${set}: ${res.status}`);
    }
    expect(accepted).toEqual([]);
  });

  test('description: letters separate numbers, so ordinary references pass (documented decision)', async () => {
    for (const description of ['Order 2025-06-15 #42', 'Invoice INV-2025-000123', 'Table 4, 2 guests', 'ref A1234 B5678 C9012 D3456']) {
      const res = await http(server.port, {
        method: 'POST',
        path: '/v1/payments',
        headers: { ...server.auth, 'idempotency-key': newIdempotencyKey() },
        body: paymentBody({ description }),
      });
      expect([res.status, description]).toEqual([201, description]);
    }
  });

  test('x-request-id carrying a card number in any form is replaced by a generated id', async () => {
    const ids: string[] = [];
    for (const pan of Object.values(CARDS)) {
      for (const { text } of panDisguises(pan)) ids.push(text);
      ids.push(`${pan.slice(0, 8)}-${pan.slice(8, 12)}-${pan.slice(12)}1-1111-111111111111`.slice(0, 36));
      ids.push(`req_${pan}`, `id-${pan.split('').join('a')}`, `${pan.slice(0, 8)}-${pan.slice(8)}`);
    }
    for (const id of ids) {
      const outcome = await rawExchange(server.port, rawRequest('GET', '/health/live', { 'x-request-id': utf8Header(id), connection: 'close' }));
      check(`x-request-id ${JSON.stringify(id)}`, outcome);
      expect(outcome.kind).toBe('response');
    }
    const kept = await http(server.port, { path: '/health/live', headers: { 'x-request-id': 'req-abc-def-123' } });
    expect(kept.headers['x-request-id']).toBe('req-abc-def-123');
  });

  test('URL paths: card numbers in any encoding, matched, unmatched or malformed, are neither echoed nor logged', async () => {
    for (const pan of Object.values(CARDS)) {
      for (const { name, text } of panInPaths(pan)) {
        for (const [method, target, headers] of [
          ['GET', `/v1/payments/${text}`, server.auth],
          ['GET', `/v1/payments/${text}`, {}],
          ['GET', `/nowhere/${text}?cvc=987&n=${text}`, {}],
          ['GET', `/${text}`, server.auth],
          ['DELETE', `/v1/payments/${text}`, server.auth],
          ['GET', `http://localhost/v1/payments/${text}`, server.auth],
        ] as const) {
          const outcome = await rawExchange(server.port, rawRequest(method, target, { ...headers, connection: 'close' }));
          check(`${method} ${name} ${target.slice(0, 20)}`, outcome);
          if (outcome.kind === 'response') expect(outcome.response.body).not.toMatch(/%|FST_|is not a valid url/);
        }
      }
    }
  });

  test('error paths quote nothing: media types, field names, idempotency keys, oversized and malformed requests', async () => {
    const pan = CARDS.mastercard;
    const dashed = pan.match(/.{4}/g)?.join('-') ?? pan;
    const post = (body: string, headers: Record<string, string> = {}): Promise<RawOutcome> =>
      rawExchange(
        server.port,
        rawRequest(
          'POST',
          '/v1/payments',
          { ...server.auth, 'idempotency-key': newIdempotencyKey(), 'content-type': 'application/json', connection: 'close', ...headers },
          body,
        ),
      );
    const cases: [string, Promise<RawOutcome>][] = [
      ['media type', post('{}', { 'content-type': `text/${dashed}` })],
      ['media type parameter', post('{}', { 'content-type': `application/json; charset=${dashed}` })],
      ['field name', post(JSON.stringify({ ...paymentBody(), [dashed]: 1 }))],
      ['nested field name', post(JSON.stringify(paymentBody({}, { [`n ${dashed}`]: 1 })))],
      ['idempotency key', post(JSON.stringify(paymentBody()), { 'idempotency-key': `${dashed}${dashed}` })],
      ['malformed JSON', post(`{"card":{"number":"${dashed}"`)],
      ['wrong type', post(JSON.stringify(paymentBody({ currency: dashed })))],
      ['enum', post(JSON.stringify(paymentBody({ currency: pan })))],
      ['card number with separators', post(JSON.stringify(paymentBody({}, { number: dashed })))],
      ['duplicate key', post(`{"amount":1,"amount":2,"card":{"number":"${dashed}","number":"${pan}"}}`)],
      ['oversized', post(JSON.stringify(paymentBody({ description: `${dashed} `.repeat(2000) })))],
      ['header overflow', rawExchange(server.port, `GET /health/live HTTP/1.1\r\nhost: x\r\nx-big: ${`${dashed} `.repeat(4000)}\r\n\r\n`)],
      ['bad header', rawExchange(server.port, `GET /health/live HTTP/1.1\r\nhost: x\r\nx-${pan}: \u0001${dashed}\r\n\r\n`)],
      ['bad request line', rawExchange(server.port, `GET /v1/payments/${dashed} HTTP/1.1 ${dashed}\r\n\r\n`)],
      ['bad method', rawExchange(server.port, `${pan} /v1/payments HTTP/1.1\r\nhost: x\r\n\r\n`)],
      ['bad chunk', rawExchange(server.port, `POST /v1/payments HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n${pan}\r\n`)],
    ];
    for (const [name, pending] of cases) {
      const outcome = await pending;
      check(name, outcome);
      if (outcome.kind === 'response') expect([name, outcome.response.status]).toEqual([name, expect.any(Number)]);
    }
  });
});

describe('whole classes: every digit character of every script counts, every letter written as punctuation separates', () => {
  const hex = (ch: string): string => `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;

  test('every character a reader takes for a digit (Nd, other number characters, ideographic digits) counts as one', () => {
    const digits = everyDigitCharacter();
    // Node 16 (Unicode 14) knows fewer than Node 20 (Unicode 17); both know hundreds.
    expect(digits.length).toBeGreaterThan(1000);
    const missed: string[] = [];
    for (const { ch, set } of digits) {
      const run = ch.repeat(PAN_MIN_DIGITS);
      if (!containsCardNumberLike(run)) missed.push(`${hex(ch)} (${set}) not counted`);
      if (!containsCardNumberLike(`${ch} `.repeat(PAN_MIN_DIGITS))) missed.push(`${hex(ch)} (${set}) not counted across spaces`);
      // Masked down to (at most) the last four digits.
      const logged = JSON.stringify(serializeError(new Error(`failed for ${ch.repeat(16)}`)));
      if (logged.includes(ch.repeat(5))) missed.push(`${hex(ch)} (${set}) not masked`);
    }
    expect(missed).toEqual([]);
  });

  test('the test PAN in every set of digits is card-number-like and is masked in logged text', () => {
    const missed: string[] = [];
    for (const { set, pan, text } of panInEveryDigitSet()) {
      // The detector itself must read the PAN (else the checks below would prove nothing).
      if (findPanLeak(text) === undefined) missed.push(`${set}: the detector does not read ${pan.slice(0, 4)}...`);
      if (!containsCardNumberLike(`card ${text} thanks`)) missed.push(`${set}: not card-number-like`);
      const logged = JSON.stringify(serializeError(new Error(`lookup failed for ${text}`)));
      if (findPanLeak(logged) !== undefined) missed.push(`${set}: not masked`);
    }
    expect(missed).toEqual([]);
  });

  test('every modifier letter (Lm), modifier symbol (Sk) and caseless Latin letter between the groups of a PAN separates, never ends it', () => {
    const letters = separatorLetters();
    expect(letters.length).toBeGreaterThan(400);
    const missed: string[] = [];
    // One PAN for the whole class (the named look-alikes go through panDisguises for every PAN, over HTTP too).
    const groups = CARDS.visa.match(/.{4}/g) ?? [];
    for (const ch of letters) {
      const text = groups.join(ch);
      if (findPanLeak(text) === undefined) missed.push(`${hex(ch)}: the detector does not read it`);
      if (!containsCardNumberLike(text)) missed.push(`${hex(ch)}: ends the number`);
      if (findPanLeak(JSON.stringify(serializeError(new Error(text)))) !== undefined) missed.push(`${hex(ch)}: not masked`);
    }
    expect(missed).toEqual([]);
  });

  test('letters of words still end a number, in every script (references stay allowed)', () => {
    for (const letter of ['A', 'x', '\u00e9', '\u03b1', '\u0434', '\u0628', '\u05d0', '\u0915', '\u5e74', '\u306e', '\uac00', '\u1100', '\u0e01']) {
      expect([letter, containsCardNumberLike(['1234', '5678', '9012', '3456'].join(letter))]).toEqual([letter, false]);
    }
  });
});

describe('raw text that has to be logged (error messages, stacks) is masked in every encoding', () => {
  test.each(Object.values(CARDS))('%s in any disguise inside an error message or stack', (pan) => {
    for (const { name, text } of [...panDisguises(pan), ...panInPaths(pan)]) {
      const err = new Error(`lookup failed for '${text}' at /v1/payments/${text}`);
      err.stack = `Error: ${text}\n    at handler (${text}:1:2)`;
      const serialized = JSON.stringify(serializeError(err));
      expect([name, findPanLeak(serialized)]).toEqual([name, undefined]);
    }
  });

  test('ordinary numbers stay readable', () => {
    expect(serializeError(new Error('port 8080, year 2025, retry in 30 s, id pay_AbC123')).message).toBe(
      'port 8080, year 2025, retry in 30 s, id pay_AbC123',
    );
  });
});

describe('ServiceUnavailableError -> 503 service_unavailable with Retry-After, nothing quoted', () => {
  function failingPayments(err: Error): PaymentService {
    const fail = async (): Promise<never> => {
      throw err;
    };
    return { create: fail, get: fail } as unknown as PaymentService;
  }

  test.each([
    [7, '7'],
    [0.2, '1'],
    [2.5, '3'],
  ])('retryAfterSeconds %p -> Retry-After %s, on create and on get', async (seconds, header) => {
    const logs = new LogCapture();
    const apiKey = randomBytes(24).toString('base64url');
    const app = buildApp({
      apiKeys: [apiKey],
      payments: failingPayments(new ServiceUnavailableError(`pool exhausted while storing ${CARDS.visa.match(/.{4}/g)?.join(' ')}`, seconds)),
      logger: createLogger({ level: 'trace', destination: logs }),
      health: Object.assign(new Health(), { state: 'ready' }),
      clock: () => NOW,
      environmentName: 'local',
    });
    const headers = { authorization: `Bearer ${apiKey}` };
    const created = await app.inject({
      method: 'POST',
      url: '/v1/payments',
      headers: { ...headers, 'idempotency-key': newIdempotencyKey(), 'content-type': 'application/json' },
      payload: JSON.stringify(paymentBody()),
    });
    const fetched = await app.inject({ method: 'GET', url: '/v1/payments/pay_aaaaaaaaaaaaaaaaaaaaaa', headers });
    for (const res of [created, fetched]) {
      expect(res.statusCode).toBe(503);
      expect(res.body).toBe('{"error":"service_unavailable"}');
      expect(res.headers['retry-after']).toBe(header);
    }
    await app.close();
    expect(panLeaks(logs.lines)).toEqual([]);
    expect(logs.text).toContain('service unavailable');
  });

  test('a connection over real HTTP gets the 503 too, and the connection stays usable', async () => {
    const logs = new LogCapture();
    const apiKey = randomBytes(24).toString('base64url');
    const app = buildApp({
      apiKeys: [apiKey],
      payments: failingPayments(new ServiceUnavailableError('database restarting', 2)),
      logger: createLogger({ level: 'info', destination: logs }),
      health: Object.assign(new Health(), { state: 'ready' }),
      clock: () => NOW,
      environmentName: 'local',
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as { port: number }).port;
    const c = await RawConnection.open(port);
    c.write(rawRequest('GET', '/v1/payments/pay_aaaaaaaaaaaaaaaaaaaaaa', { authorization: `Bearer ${apiKey}` }));
    const outcome = await c.next(2000);
    expect(outcome.kind === 'response' && outcome.response.status).toBe(503);
    c.write(rawRequest('GET', '/health/live'));
    const second = await c.next(2000);
    expect(second.kind === 'response' && second.response.status).toBe(200);
    c.destroy();
    await app.close();
  });
});
