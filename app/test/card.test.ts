import { DECLINE_RULES, containsCardNumberLike, cvcLength, decide, detectBrand, luhnValid, maskCardNumbers, tokenize } from '../src/card';
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

  test('maskCardNumbers masks card-number-like sequences (any separators, scripts, escapes) and 6+ digit runs, keeping the last four', () => {
    expect(maskCardNumbers(`/v1/payments/${CARDS.visa}?x=1`)).toBe('/v1/payments/[masked]1111?x=1');
    expect(maskCardNumbers('card 4111 1111 1111 1111 declined')).toBe('card [masked]1111 declined');
    expect(maskCardNumbers('n=%34%31%31%31-1111-1111-1111;')).toBe('n=[masked]1111;');
    expect(maskCardNumbers('\\u0034111111111111111')).toBe('[masked]1111');
    expect(maskCardNumbers('\uff14\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11')).toBe('[masked]1111');
    expect(maskCardNumbers('bin 411111 here')).toBe('bin [masked]1111 here');
    expect(maskCardNumbers('port 8080, year 2025')).toBe('port 8080, year 2025');
    expect(maskCardNumbers('ref A1234 B5678 C9012 D3456')).toBe('ref A1234 B5678 C9012 D3456');
    expect(maskCardNumbers('')).toBe('');
  });

  test('containsCardNumberLike: 12 digits not separated by letters, in any script or spacing', () => {
    expect(containsCardNumberLike('4111 1111 1111')).toBe(true);
    expect(containsCardNumberLike('4111 1111 111')).toBe(false);
    expect(containsCardNumberLike('1.2.3.4.5.6.7.8.9.0.1.2')).toBe(true);
    expect(containsCardNumberLike('\u0664\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661')).toBe(true);
    expect(containsCardNumberLike('\u2074\u00b9\u00b9\u00b9 \u00b9\u00b9\u00b9\u00b9 \u00b9\u00b9\u00b9\u00b9')).toBe(true);
    expect(containsCardNumberLike('order 123456 item 654321')).toBe(false);
    expect(containsCardNumberLike('Order 42')).toBe(false);
  });
});
