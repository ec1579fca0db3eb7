import { z } from 'zod';
import { errorMap, safeFieldName, validatePaymentRequest } from '../src/validation';
import { CARDS, NOW, paymentBody } from './helpers';

function fieldsOf(body: unknown): { field: string; message: string }[] {
  const result = validatePaymentRequest(body, NOW);
  return result.ok ? [] : result.fields;
}

describe('validatePaymentRequest', () => {
  test('accepts a valid request', () => {
    const result = validatePaymentRequest(paymentBody({ description: 'Order 42' }), NOW);
    expect(result.ok).toBe(true);
  });

  const AMOUNT_POSITIVE = 'must be a positive integer number of minor units';
  const INVISIBLE = 'must not contain control, format, private-use, unassigned or invisible characters';
  const CARD_LIKE = 'must not contain 12 or more digits unless letters separate them (it could be a card number)';
  const PAN_SHAPE = 'must be 12 to 19 ASCII digits, without spaces or separators';
  const CVC_SHAPE = 'must be 3 digits (4 for American Express)';
  const MONTH = 'must be between 1 and 12';
  const YEAR = 'must be a 4-digit year';
  // Each rejection names the field and says what was expected, never the value: the whole answer is pinned.
  test.each<[string, unknown, [string, string][]]>([
    ['amount 0', paymentBody({ amount: 0 }), [['amount', AMOUNT_POSITIVE]]],
    ['amount -1', paymentBody({ amount: -1 }), [['amount', AMOUNT_POSITIVE]]],
    ['a fractional amount', paymentBody({ amount: 1.5 }), [['amount', 'must be an integer number of minor units']]],
    ['amount one over the maximum', paymentBody({ amount: 100000000 }), [['amount', 'must be at most 99999999']]],
    ['amount 1e300', paymentBody({ amount: 1e300 }), [['amount', 'must be at most 99999999']]],
    ['a string amount', paymentBody({ amount: '100' }), [['amount', 'must be a number']]],
    [
      'a lower-case currency',
      paymentBody({ currency: 'usd' }),
      [['currency', 'must be one of USD, EUR, GBP, JPY, CAD, AUD, CHF, SEK, NOK, DKK, NZD, SGD']],
    ],
    [
      'an unknown currency',
      paymentBody({ currency: 'XXX' }),
      [['currency', 'must be one of USD, EUR, GBP, JPY, CAD, AUD, CHF, SEK, NOK, DKK, NZD, SGD']],
    ],
    ['a 141-character description', paymentBody({ description: 'x'.repeat(141) }), [['description', 'must be at most 140 characters']]],
    ['a numeric description', paymentBody({ description: 42 }), [['description', 'must be a string']]],
    ['a NUL in the description', paymentBody({ description: 'a\u0000b' }), [['description', INVISIBLE]]],
    ['a bidirectional override', paymentBody({ description: 'abc\u202edcba' }), [['description', INVISIBLE]]],
    ['a soft hyphen', paymentBody({ description: 'a\u00adb' }), [['description', INVISIBLE]]],
    ['a variation selector', paymentBody({ description: 'a\ufe0fb' }), [['description', INVISIBLE]]],
    ['a tag character', paymentBody({ description: 'a\u{e0041}b' }), [['description', INVISIBLE]]],
    ['a lone surrogate', paymentBody({ description: 'a\ud800b' }), [['description', INVISIBLE]]],
    [
      'a spaced card number in the description',
      paymentBody({ description: `card ${CARDS.visa.replace(/(.{4})/g, '$1 ')}` }),
      [['description', CARD_LIKE]],
    ],
    ['12 digits separated by dots', paymentBody({ description: '1.2.3.4.5.6.7.8.9.0.1.2' }), [['description', CARD_LIKE]]],
    ['expMonth 0', paymentBody({}, { expMonth: 0 }), [['card.expMonth', MONTH]]],
    ['expMonth 13', paymentBody({}, { expMonth: 13 }), [['card.expMonth', MONTH]]],
    ['a fractional expMonth', paymentBody({}, { expMonth: 1.5 }), [['card.expMonth', 'must be an integer']]],
    ['a 2-digit expYear', paymentBody({}, { expYear: 30 }), [['card.expYear', YEAR]]],
    ['expYear 1999', paymentBody({}, { expYear: 1999 }), [['card.expYear', YEAR]]],
    ['expYear 2100', paymentBody({}, { expYear: 2100 }), [['card.expYear', YEAR]]],
    ['a fractional expYear', paymentBody({}, { expYear: 2030.5 }), [['card.expYear', 'must be an integer']]],
    ['the month before this one', paymentBody({}, { expYear: 2025, expMonth: 5 }), [['card.expYear', 'card has expired']]],
    ['last year, a later month', paymentBody({}, { expYear: 2024, expMonth: 12 }), [['card.expYear', 'card has expired']]],
    ['21 years ahead', paymentBody({}, { expYear: 2046, expMonth: 1 }), [['card.expYear', 'must be at most 20 years ahead']]],
    ['expYear 2099', paymentBody({}, { expYear: 2099 }), [['card.expYear', 'must be at most 20 years ahead']]],
    ['a 2-digit cvc', paymentBody({}, { cvc: '12' }), [['card.cvc', CVC_SHAPE]]],
    ['a 5-digit cvc', paymentBody({}, { cvc: '12345' }), [['card.cvc', CVC_SHAPE]]],
    ['a numeric cvc', paymentBody({}, { cvc: 123 }), [['card.cvc', 'must be a string']]],
    ['a 4-digit cvc on a Visa', paymentBody({}, { cvc: '1234' }), [['card.cvc', 'must be 3 digits for this card brand']]],
    ['a 3-digit cvc on an Amex', paymentBody({}, { number: CARDS.amex, cvc: '123' }), [['card.cvc', 'must be 4 digits for this card brand']]],
    ['a failed Luhn check', paymentBody({}, { number: '4111111111111112' }), [['card.number', 'is not a valid card number (Luhn check failed)']]],
    [
      'a brand not accepted',
      paymentBody({}, { number: '30569309025904' }),
      [['card.number', 'card brand is not accepted (visa, mastercard, amex, discover)']],
    ],
    ['a spaced card number', paymentBody({}, { number: '4111 1111 1111 1111' }), [['card.number', PAN_SHAPE]]],
    ['full-width digits', paymentBody({}, { number: '４１１１１１１１１１１１１１１１' }), [['card.number', PAN_SHAPE]]],
    ['a zero-width space after the number', paymentBody({}, { number: '4111111111111111\u200b' }), [['card.number', PAN_SHAPE]]],
    ['a numeric card number', paymentBody({}, { number: 4111111111111111 }), [['card.number', 'must be a string']]],
    ['an unknown field', paymentBody({ extra: 1 }), [['extra', 'unknown field']]],
    [
      'two unknown fields',
      paymentBody({ extra: 1, other: 2 }),
      [
        ['extra', 'unknown field'],
        ['other', 'unknown field'],
      ],
    ],
    ['an unknown card field', paymentBody({}, { name: 'x' }), [['card.name', 'unknown field']]],
    ['an array', [], [['(body)', 'must be a JSON object']]],
    ['null', null, [['(body)', 'must be a JSON object']]],
    ['no body', undefined, [['(body)', 'is required']]],
    ['a card that is a string', { amount: 1, currency: 'EUR', card: 'x' }, [['card', 'must be a JSON object']]],
    ['a null card', { amount: 1, currency: 'EUR', card: null }, [['card', 'must be a JSON object']]],
    [
      'missing fields, each named',
      { amount: 1 },
      [
        ['currency', 'is required'],
        ['card', 'is required'],
      ],
    ],
    [
      'every problem at once, in field order',
      paymentBody({ amount: 0, currency: 'usd', description: 'a\u0000b' }, { expMonth: 0, cvc: '1' }),
      [
        ['amount', AMOUNT_POSITIVE],
        ['currency', 'must be one of USD, EUR, GBP, JPY, CAD, AUD, CHF, SEK, NOK, DKK, NZD, SGD'],
        ['card.expMonth', MONTH],
        ['card.cvc', CVC_SHAPE],
        ['description', INVISIBLE],
      ],
    ],
    [
      'a card problem and an expiry problem together',
      paymentBody({}, { number: '4111111111111112', expYear: 2024 }),
      [
        ['card.number', 'is not a valid card number (Luhn check failed)'],
        ['card.expYear', 'card has expired'],
      ],
    ],
  ])('rejects %s', (_name, body, expected) => {
    expect(validatePaymentRequest(body, NOW)).toEqual({ ok: false, fields: expected.map(([field, message]) => ({ field, message })) });
  });

  test.each([
    ['amount 1', paymentBody({ amount: 1 })],
    ['the maximum amount', paymentBody({ amount: 99999999 })],
    ['expiry in the current month', paymentBody({}, { expYear: 2025, expMonth: 6 })],
    ['an earlier month of a later year', paymentBody({}, { expYear: 2026, expMonth: 1 })],
    ['expiry exactly 20 years ahead', paymentBody({}, { expYear: 2045, expMonth: 12 })],
    ['a 140-character description', paymentBody({ description: 'é'.repeat(140) })],
    ['an 11-digit reference in the description', paymentBody({ description: 'ref 12345678901' })],
    ['a 4-digit cvc on an Amex', paymentBody({}, { number: CARDS.amex, cvc: '1234' })],
  ])('accepts %s, returning the body as parsed', (_name, body) => {
    expect(validatePaymentRequest(body, NOW)).toEqual({ ok: true, value: body });
  });

  test('prototype pollution keys are refused by name', () => {
    const body = JSON.parse('{"amount":1,"currency":"EUR","card":{},"__proto__":{"polluted":true}}') as unknown;
    expect(fieldsOf(body)).toEqual([{ field: '__proto__', message: 'forbidden field name' }]);
    const nested = JSON.parse(`{"amount":1,"currency":"EUR","card":{"constructor":{"prototype":{}}}}`) as unknown;
    expect(fieldsOf(nested).map((f) => f.field)).toEqual(['card.constructor']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test('forbidden names are looked for down to the fourth level of nesting; deeper, the schema refuses the unknown field', () => {
    // Top-level keys are depth 0: the __proto__ inside c is at depth 3, the last level looked at.
    expect(fieldsOf(JSON.parse('{"a":{"b":{"c":{"__proto__":1}}}}'))).toEqual([{ field: 'a.b.c.__proto__', message: 'forbidden field name' }]);
    // One level deeper the walk has stopped: the answer is the schema's (the missing fields, then the unknown one).
    expect(fieldsOf(JSON.parse('{"a":{"b":{"c":{"d":{"__proto__":1}}}}}'))).toEqual([
      { field: 'amount', message: 'is required' },
      { field: 'currency', message: 'is required' },
      { field: 'card', message: 'is required' },
      { field: 'a', message: 'unknown field' },
    ]);
  });

  test.each([
    ['line2', 'line2'],
    ['_private', '_private'],
    ['$ref', '$ref'],
    ['abc123', 'abc123'],
    ['a'.repeat(64), 'a'.repeat(64)],
    ['a1234', '<unnamed>'],
    ['a1b2c3d4', '<unnamed>'],
    ['1abc', '<unnamed>'],
    ['abc-', '<unnamed>'],
    ['a b', '<unnamed>'],
    ['', '<unnamed>'],
    ['a'.repeat(65), '<unnamed>'],
    [CARDS.visa, '<unnamed>'],
  ])('safeFieldName(%j) is %j: identifiers with fewer than 4 digits are repeated, nothing else', (key, expected) => {
    expect(safeFieldName(key)).toBe(expected);
  });

  test("the error map's net: zod defaults that quote the received value become 'is invalid'", () => {
    const secret = 'fake-secret-value';
    for (const schema of [z.enum(['A', 'B']), z.nativeEnum({ A: 'A' })]) {
      const result = schema.safeParse(secret, { errorMap });
      expect(result.success).toBe(false);
      if (!result.success) expect(result.error.issues.map((i) => i.message)).toEqual(['is invalid']);
    }
    // Messages that quote nothing pass through as zod wrote them.
    const short = z.string().min(3).safeParse('ab', { errorMap });
    expect(short.success ? [] : short.error.issues.map((i) => i.message)).toEqual(['String must contain at least 3 character(s)']);
  });

  test('field names that could carry card data are not echoed; messages never contain the value', () => {
    expect(safeFieldName(CARDS.visa)).toBe('<unnamed>');
    expect(safeFieldName('line2')).toBe('line2');
    const fields = fieldsOf(paymentBody({}, { [CARDS.visa]: 1, number: CARDS.visa.slice(0, 15) + '2', cvc: '98' }));
    const serialized = JSON.stringify(fields);
    expect(serialized).not.toContain(CARDS.visa.slice(0, 6));
    expect(serialized).not.toContain('"98"');
    expect(fields.map((f) => f.field)).toContain('card.<unnamed>');
  });
});
