import { safeFieldName, validatePaymentRequest } from '../src/validation';
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

  test.each([
    [paymentBody({ amount: 0 }), 'amount'],
    [paymentBody({ amount: -1 }), 'amount'],
    [paymentBody({ amount: 1.5 }), 'amount'],
    [paymentBody({ amount: 100000000 }), 'amount'],
    [paymentBody({ amount: 1e300 }), 'amount'],
    [paymentBody({ amount: '100' }), 'amount'],
    [paymentBody({ currency: 'usd' }), 'currency'],
    [paymentBody({ currency: 'XXX' }), 'currency'],
    [paymentBody({ description: 'x'.repeat(141) }), 'description'],
    [paymentBody({ description: 'a\u0000b' }), 'description'],
    [paymentBody({ description: 'abc\u202edcba' }), 'description'],
    [paymentBody({ description: 'a\u00adb' }), 'description'],
    [paymentBody({ description: 'a\ufe0fb' }), 'description'],
    [paymentBody({ description: 'a\u{e0041}b' }), 'description'],
    [paymentBody({ description: 'a\ud800b' }), 'description'],
    [paymentBody({ description: `card ${CARDS.visa.replace(/(.{4})/g, '$1 ')}` }), 'description'],
    [paymentBody({ description: '1.2.3.4.5.6.7.8.9.0.1.2' }), 'description'],
    [paymentBody({}, { expMonth: 0 }), 'card.expMonth'],
    [paymentBody({}, { expMonth: 13 }), 'card.expMonth'],
    [paymentBody({}, { expYear: 30 }), 'card.expYear'],
    [paymentBody({}, { expYear: 2025, expMonth: 5 }), 'card.expYear'],
    [paymentBody({}, { expYear: 2099 }), 'card.expYear'],
    [paymentBody({}, { cvc: '12' }), 'card.cvc'],
    [paymentBody({}, { cvc: 123 }), 'card.cvc'],
    [paymentBody({}, { cvc: '1234' }), 'card.cvc'],
    [paymentBody({}, { number: CARDS.amex, cvc: '123' }), 'card.cvc'],
    [paymentBody({}, { number: '4111111111111112' }), 'card.number'],
    [paymentBody({}, { number: '30569309025904' }), 'card.number'],
    [paymentBody({}, { number: '4111 1111 1111 1111' }), 'card.number'],
    [paymentBody({}, { number: '４１１１１１１１１１１１１１１１' }), 'card.number'],
    [paymentBody({}, { number: '4111111111111111\u200b' }), 'card.number'],
    [paymentBody({}, { number: 4111111111111111 }), 'card.number'],
    [paymentBody({ extra: 1 }), 'extra'],
    [paymentBody({}, { name: 'x' }), 'card.name'],
    [[], '(body)'],
    [null, '(body)'],
    [undefined, '(body)'],
    [{ amount: 1 }, 'currency'],
  ])('rejects %j naming %s', (body, field) => {
    expect(fieldsOf(body).map((f) => f.field)).toContain(field);
  });

  test('expiry in the current month is still valid', () => {
    expect(validatePaymentRequest(paymentBody({}, { expYear: 2025, expMonth: 6 }), NOW).ok).toBe(true);
  });

  test('prototype pollution keys are refused by name', () => {
    const body = JSON.parse('{"amount":1,"currency":"EUR","card":{},"__proto__":{"polluted":true}}') as unknown;
    expect(fieldsOf(body)).toEqual([{ field: '__proto__', message: 'forbidden field name' }]);
    const nested = JSON.parse(`{"amount":1,"currency":"EUR","card":{"constructor":{"prototype":{}}}}`) as unknown;
    expect(fieldsOf(nested).map((f) => f.field)).toEqual(['card.constructor']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
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
