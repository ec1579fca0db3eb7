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

  // A prefix padded with zeros to a length: the edges of each brand's ranges (IIN and length), not card numbers.
  const pad = (prefix: string, length: number): string => prefix.padEnd(length, '0');
  test.each([
    [pad('4', 12), undefined],
    [pad('4', 13), 'visa'],
    [pad('4', 14), undefined],
    [pad('4', 15), undefined],
    [pad('4', 16), 'visa'],
    [pad('4', 17), undefined],
    [pad('4', 18), undefined],
    [pad('4', 19), 'visa'],
    [pad('50', 16), undefined],
    [pad('51', 16), 'mastercard'],
    [pad('55', 16), 'mastercard'],
    [pad('56', 16), undefined],
    [pad('51', 15), undefined],
    [pad('55', 17), undefined],
    [pad('2220', 16), undefined],
    [pad('2221', 16), 'mastercard'],
    [pad('2720', 16), 'mastercard'],
    [pad('2721', 16), undefined],
    [pad('2221', 15), undefined],
    [pad('2720', 17), undefined],
    [pad('34', 15), 'amex'],
    [pad('37', 15), 'amex'],
    [pad('33', 15), undefined],
    [pad('35', 15), undefined],
    [pad('36', 15), undefined],
    [pad('38', 15), undefined],
    [pad('34', 14), undefined],
    [pad('37', 16), undefined],
    [pad('6011', 15), undefined],
    [pad('6011', 16), 'discover'],
    [pad('6011', 19), 'discover'],
    [pad('6010', 16), undefined],
    [pad('6012', 16), undefined],
    [pad('65', 16), 'discover'],
    [pad('65', 19), 'discover'],
    [pad('65', 15), undefined],
    [pad('64', 16), undefined],
    [pad('643', 16), undefined],
    [pad('644', 16), 'discover'],
    [pad('649', 16), 'discover'],
    [pad('66', 16), undefined],
    [pad('644', 15), undefined],
  ])('brand range edge: %s is %s', (pan, brand) => {
    expect(detectBrand(pan)).toBe(brand);
  });

  test('Luhn: each digit position counts, doubled digits over 9 lose 9, and a sum that is not a multiple of 10 fails', () => {
    // From the right: every second digit is doubled, and a doubled digit over 9 loses 9.
    expect(luhnValid('0')).toBe(true);
    expect(luhnValid('1')).toBe(false); // the leftmost digit counts too
    expect(luhnValid('18')).toBe(true); // 8 + 1*2
    expect(luhnValid('81')).toBe(false); // 1 + 8*2-9 = 8: which digits are doubled matters
    expect(luhnValid('59')).toBe(true); // 9 + (5*2-9)
    expect(luhnValid('91')).toBe(true); // 1 + (9*2-9)
    expect(luhnValid('27')).toBe(false); // 7 + 2*2
    expect(luhnValid('109')).toBe(true); // 9 + 0*2 + 1
    expect(luhnValid('190')).toBe(true); // 0 + (9*2-9) + 1
    expect(luhnValid('191')).toBe(false);
  });

  test('Amex needs a 4-digit CVC, the others 3', () => {
    expect(cvcLength('amex')).toBe(4);
    expect(cvcLength('visa')).toBe(3);
  });

  test('token is a stable HMAC that depends on the key and never contains the PAN', () => {
    const a = tokenize(CARDS.visa, 'k'.repeat(32));
    // Known answer: HMAC-SHA256 (RFC 2104) of the PAN under the key, hex, computed independently of this code.
    expect(a).toBe('tok_68461c4333f0d6ffc13ab17a895ccb61b6a8864e96602c4e91c869cfb9ccc6f1');
    expect(tokenize(CARDS.visa, 'k'.repeat(32))).toBe(a);
    expect(tokenize(CARDS.visa, 'j'.repeat(32))).not.toBe(a);
    expect(a).not.toContain(CARDS.visa);
  });

  test('decline rules come from the published decline test numbers; other cards are approved', () => {
    expect(decide(CARDS.declined)).toEqual({ status: 'declined', declineCode: 'card_declined' });
    expect(decide(CARDS.insufficientFunds)).toEqual({ status: 'declined', declineCode: 'insufficient_funds' });
    expect(decide(CARDS.visa)).toEqual({ status: 'approved' });
    expect([...DECLINE_RULES]).toEqual([
      ['4000000000000002', 'card_declined'],
      ['4000000000009995', 'insufficient_funds'],
      ['4000000000000069', 'expired_card'],
      ['4000000000000127', 'incorrect_cvc'],
      ['4000000000000119', 'processing_error'],
    ]);
    for (const [pan, declineCode] of DECLINE_RULES) expect(decide(pan)).toEqual({ status: 'declined', declineCode });
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
