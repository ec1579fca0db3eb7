import { DECLINE_RULES, cvcLength, decide, detectBrand, luhnValid, scrubDigits, tokenize } from '../src/card';
import { CARDS } from './helpers';

describe('card helpers', () => {
  test('Luhn accepts the published test numbers and rejects a changed digit', () => {
    for (const pan of Object.values(CARDS)) expect(luhnValid(pan)).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
  });

  test.each([
    [CARDS.visa, 'visa'],
    ['4222222222222', 'visa'],
    [CARDS.mastercard, 'mastercard'],
    ['2223003122003222', 'mastercard'],
    [CARDS.amex, 'amex'],
    ['371449635398431', 'amex'],
    [CARDS.discover, 'discover'],
    ['6500000000000002', 'discover'],
    ['6445644564456445', 'discover'],
    ['30569309025904', undefined],
    ['411111111111111', undefined],
  ])('brand of %s is %s', (pan, brand) => {
    expect(detectBrand(pan)).toBe(brand);
  });

  test('Amex needs a 4-digit CVC, the others 3', () => {
    expect(cvcLength('amex')).toBe(4);
    expect(cvcLength('visa')).toBe(3);
  });

  test('token is a stable HMAC that depends on the key and never contains the PAN', () => {
    const a = tokenize(CARDS.visa, 'k'.repeat(32));
    expect(a).toMatch(/^tok_[0-9a-f]{64}$/);
    expect(tokenize(CARDS.visa, 'k'.repeat(32))).toBe(a);
    expect(tokenize(CARDS.visa, 'j'.repeat(32))).not.toBe(a);
    expect(a).not.toContain(CARDS.visa);
  });

  test('decline rules come from the published decline test numbers; other cards are approved', () => {
    expect(decide(CARDS.declined)).toEqual({ status: 'declined', declineCode: 'card_declined' });
    expect(decide(CARDS.insufficientFunds)).toEqual({ status: 'declined', declineCode: 'insufficient_funds' });
    expect(decide(CARDS.visa)).toEqual({ status: 'approved' });
    for (const pan of DECLINE_RULES.keys()) expect(luhnValid(pan)).toBe(true);
  });

  test('scrubDigits masks every run of 6+ digits but keeps the last four', () => {
    expect(scrubDigits(`/v1/payments/${CARDS.visa}?x=1`)).toBe('/v1/payments/[masked]1111?x=1');
    expect(scrubDigits('port 8080, year 2025')).toBe('port 8080, year 2025');
  });
});
