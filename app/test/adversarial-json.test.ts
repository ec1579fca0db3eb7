import { rawExchange, rawRequest } from './adversarial-helpers';
import type { RawOutcome } from './adversarial-helpers';
import { CARDS, newIdempotencyKey, startTestServer } from './helpers';
import type { TestServer } from './helpers';

/**
 * A body two JSON parsers could read differently must be refused, not resolved silently: duplicate keys (the last
 * wins in JSON.parse, the first in others), bytes that are not UTF-8, a byte order mark, lone surrogates, numbers
 * that do not survive a double, and nesting deep enough to hurt a recursive parser. The 400 never names a value.
 */

const CARD = `"card":{"number":"${CARDS.visa}","expMonth":12,"expYear":2030,"cvc":"123"}`;
const VALID = `{"amount":1299,"currency":"EUR",${CARD}}`;

describe('ambiguous JSON is refused', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ config: { logLevel: 'warn' } });
  });
  afterAll(async () => {
    await server.shutdown('test end');
  });

  async function post(
    body: string | Buffer,
    contentType = 'application/json',
  ): Promise<{ status: number; json: Record<string, unknown>; body: string }> {
    const outcome: RawOutcome = await rawExchange(
      server.port,
      rawRequest(
        'POST',
        '/v1/payments',
        { ...server.auth, 'idempotency-key': newIdempotencyKey(), 'content-type': contentType, connection: 'close' },
        body,
      ),
    );
    if (outcome.kind !== 'response') throw new Error(`no response: ${outcome.kind}`);
    return { status: outcome.response.status, json: JSON.parse(outcome.response.body) as Record<string, unknown>, body: outcome.response.body };
  }

  test('the valid body is accepted (control)', async () => {
    expect((await post(VALID)).status).toBe(201);
  });

  test.each([
    ['top level', `{"amount":1299,"amount":1,"currency":"EUR",${CARD}}`],
    ['top level, same value', `{"amount":1299,"amount":1299,"currency":"EUR",${CARD}}`],
    [
      'nested card number',
      `{"amount":1299,"currency":"EUR","card":{"number":"${CARDS.visa}","number":"${CARDS.mastercard}","expMonth":12,"expYear":2030,"cvc":"123"}}`,
    ],
    ['whole card twice', `{"amount":1299,"currency":"EUR",${CARD},${CARD}}`],
    ['key spelled with escapes', `{"amount":1299,"\\u0061mount":5,"currency":"EUR",${CARD}}`],
    ['key with escaped slash', `{"amount":1299,"currency":"EUR",${CARD},"a/b":1,"a\\/b":2}`],
    ['inside an unknown field', `{"amount":1299,"currency":"EUR",${CARD},"x":{"k":1,"k":2}}`],
    ['inside an array', `{"amount":1299,"currency":"EUR",${CARD},"x":[1,{"k":1,"k":2}]}`],
    ['__proto__ twice', `{"__proto__":{},"__proto__":{},"amount":1299,"currency":"EUR",${CARD}}`],
    ['empty key twice', `{"":1,"":2,"amount":1299,"currency":"EUR",${CARD}}`],
  ])('duplicate key (%s) -> 400 malformed_json naming no value', async (_name, body) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ error: 'malformed_json', message: expect.stringContaining('duplicate') });
    // Neither a key nor a value of the body is quoted.
    expect(res.body).not.toMatch(/amount"|number"|411111|555555|"k"|__proto__|[0-9]{3,}/);
  });

  test('distinct keys that only look alike are fine: case differs', async () => {
    const res = await post(`{"amount":1299,"Amount":1,"currency":"EUR",${CARD}}`);
    expect(res.status).toBe(400);
    expect(res.json.error).toBe('validation_failed');
  });

  test.each([
    ['byte order mark', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(VALID)])],
    ['Latin-1 byte in a string', Buffer.from(VALID.replace('"EUR"', '"EUR","description":"caf\u00e9"'), 'latin1')],
    ['overlong encoding of /', Buffer.concat([Buffer.from(VALID.slice(0, -1) + ',"description":"a'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')])],
    [
      'UTF-8 encoded surrogate',
      Buffer.concat([Buffer.from(VALID.slice(0, -1) + ',"description":"a'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]),
    ],
    ['truncated sequence', Buffer.concat([Buffer.from(VALID.slice(0, -1) + ',"description":"a'), Buffer.from([0xe2, 0x82]), Buffer.from('"}')])],
    [
      'code point above U+10FFFF',
      Buffer.concat([Buffer.from(VALID.slice(0, -1) + ',"description":"a'), Buffer.from([0xf4, 0x90, 0x80, 0x80]), Buffer.from('"}')]),
    ],
    ['lone high surrogate escape', VALID.slice(0, -1) + ',"description":"a\\ud800b"}'],
    ['lone low surrogate escape', VALID.slice(0, -1) + ',"description":"a\\udc00"}'],
    ['reversed surrogate pair', VALID.slice(0, -1) + ',"description":"\\udc00\\ud800"}'],
    ['lone surrogate in a key', `{"amount":1299,"currency":"EUR",${CARD},"\\ud800":1}`],
    ['number past the double range', VALID.replace('1299', '1e400')],
    ['number that underflows to zero', VALID.replace('1299', '1e-400')],
    ['integer past 2^53', VALID.replace('1299', '9007199254740993')],
    ['fraction a double rounds away', VALID.replace('1299', '1299.0000000000000001')],
    ['many significant digits', VALID.replace('1299', '1299.00000000000000000000000000000000000000001')],
    ['nesting 100 deep', VALID.slice(0, -1) + `,"x":${'['.repeat(100)}${']'.repeat(100)}}`],
    ['objects nested 2500 deep', `${'{"a":'.repeat(2500)}1${'}'.repeat(2500)}`],
    ['arrays nested 8000 deep (just under the body limit)', `${'['.repeat(8000)}${']'.repeat(8000)}`],
  ])('%s -> 400 malformed_json', async (_name, body) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.json.error).toBe('malformed_json');
    expect(res.body).not.toMatch(/[0-9]{3,}/);
  });

  test.each([
    ['exponent form of an integer', VALID.replace('1299', '1.299e3'), 201],
    ['trailing zeros', VALID.replace('1299', '1299.000'), 201],
    ['surrogate pair (emoji) in the description', VALID.slice(0, -1) + ',"description":"thanks \\ud83d\\ude00"}', 201],
    ['escaped ASCII', VALID.replace('"EUR"', '"\\u0045UR"'), 201],
    ['insignificant whitespace', VALID.replace(/,/g, ' ,\n\t\r '), 201],
  ])('%s is unambiguous and accepted', async (_name, body, status) => {
    expect((await post(body)).status).toBe(status);
  });

  test.each(['application/json; charset=iso-8859-1', 'application/json; charset=utf-16', 'application/json; charset="latin1"'])(
    'content type %s (a charset other than UTF-8) -> 415',
    async (contentType) => {
      const res = await post(VALID, contentType);
      expect(res.status).toBe(415);
    },
  );

  test.each(['application/json', 'application/json; charset=utf-8', 'application/json;charset=UTF-8', 'Application/JSON'])(
    'content type %s -> accepted',
    async (contentType) => {
      expect((await post(VALID, contentType)).status).toBe(201);
    },
  );
});
