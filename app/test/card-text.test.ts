// The edges of the card-number scanner behind free-text validation and log masking (src/card.ts), each pinned with
// the exact answer: where a digit ends and a separator begins, where an escape ends, how many digits make a number
// and which part of a masked number is kept (and, for detectBrand, lengths no PAN has). The whole classes (every digit of every script, every separator-like
// letter, every disguise) are in adversarial-card-data.test.ts.
import { containsCardNumberLike, detectBrand, maskCardNumbers } from '../src/card';

describe('what counts: 12 digits with no letter between them', () => {
  test.each([
    // Text that is ASCII without % and has fewer than 12 ASCII digits is answered before the scan; the cases after these
    // carry a 12th digit beyond a letter so that the scan itself decides.
    ['11 digits', '41111111111', false],
    ['12 digits', '411111111111', true],
    ['12 digits in groups', '4111 1111 1111', true],
    ['11 digits in groups', '4111 1111 111', false],
    // The ASCII neighbours of the digits are separators, not digits.
    ['11 digits around a slash, a 12th beyond a letter', '41111/111111 x 1', false],
    ['11 digits around a colon, a 12th beyond a letter', '41111:111111 x 1', false],
    ['11 digits in groups, a 12th beyond a letter', '4111 1111 111 x 1', false],
    ['12 digits around a slash', '411111/111111', true],
    // A character outside the BMP takes two UTF-16 code units: the scan moves past both, and only both.
    ['12 digits around an emoji', '411111\u{1F4B3}111111', true],
    ['12 digits around U+FFFF (the last BMP code point)', '411111\uffff111111', true],
    ['a letter between 6 and 6 digits', '411111x111111', false],
    ['12 digits after a letter', 'x411111111111', true],
    ['12 digits before a letter', '411111111111x', true],
    // An escape is a backslash, then u, then four hex digits: anything else is text, and u is a letter.
    ['6 digits, u0031, 6 digits (u ends the first number)', '111111u0031111111', false],
    ['11 digits, a backslash, x0031 (x ends the number)', '11111111111\\x0031', false],
  ])('%s: %j -> %s', (_name, text, expected) => {
    expect(containsCardNumberLike(text)).toBe(expected);
  });
});

describe('escapes are read as the character they stand for, and end where it ends', () => {
  test.each([
    ['%-escaped digits', '%34%31%31%31%31%31%31%31%31%31%31%31', true],
    ['lower-case hex in %-escapes (fullwidth 1)', '%ef%bc%91'.repeat(12), true],
    // %34 is one digit (4); read as text, an escape that is not one keeps its own digits.
    ['10 digits and %34 are 11', '4111111111%34', false],
    // Six %-escaped quarters read 1⁄4 six times: 12 digits shown as 6 ASCII digits, so %-escaped text is always scanned.
    ['six %-escaped quarters', '%C2%BC'.repeat(6), true],
    ['six quarters', '\u00bc'.repeat(6), true],
    ['five %-escaped halves', '%C2%BD'.repeat(5), false],
    ['an incomplete %-escape is text: its 3 is the 12th digit', '41111111111%3', true],
    ['a %-escape of a non-hex pair is text: its 3 is the 12th digit', '41111111111%3G', true],
    ['a two-byte UTF-8 escape of a digit (Arabic-Indic 4)', `${'%D9%A4'.repeat(12)}`, true],
    ['a three-byte UTF-8 escape of a digit (fullwidth 1)', `${'%EF%BC%91'.repeat(12)}`, true],
    ['a four-byte UTF-8 escape of a digit (mathematical bold 1)', `${'%F0%9D%9F%8F'.repeat(12)}`, true],
    ['a truncated UTF-8 escape is text', `${'%F0%9D%9F'.repeat(12)}`, false],
    ['\\u escapes of ASCII digits', '\\u0034\\u0031\\u0031\\u0031\\u0031\\u0031\\u0031\\u0031\\u0031\\u0031\\u0031\\u0031', true],
    ['\\u escapes in lower-case hex of fullwidth digits', `${'\\uff11'.repeat(12)}`, true],
    ['a \\u escape with three hex digits is text', `${'1'.repeat(11)}\\u003`, false],
    ['a surrogate pair of \\u escapes (mathematical bold 1)', `${'\\ud835\\udfcf'.repeat(12)}`, true],
    ['a high surrogate escape alone, then a digit', `${'\\ud835'.repeat(1)}${'1'.repeat(12)}`, true],
    ['a high surrogate escape followed by a non-surrogate escape of a digit', `\\ud835\\u0031${'1'.repeat(11)}`, true],
    ['a high surrogate escape followed by an escape above the low surrogates (fullwidth 1)', `\\ud835\\uff11${'1'.repeat(11)}`, true],
    ['the first pair of surrogates (U+10000, a letter) ends a number', '111111\\ud800\\udc00111111', false],
    ['a pair ending in the last low surrogate (U+1D7FF, monospace 9)', `${'\\ud835\\udfff'.repeat(12)}`, true],
    ['two low surrogate escapes are no pair', `\\udc00\\udc00${'1'.repeat(12)}`, true],
    ['an escape below the surrogates followed by a low surrogate escape is no pair', `\\u0031\\udc00${'1'.repeat(11)}`, true],
    ['an escape above the surrogates followed by a low surrogate escape is no pair', `\\ue000\\udc00${'1'.repeat(12)}`, true],
  ])('%s: %j -> %s', (_name, text, expected) => {
    expect(containsCardNumberLike(text)).toBe(expected);
  });
});

describe('what masking keeps', () => {
  test.each([
    ['exactly 12 digits in groups of 4 (each run too short to mask alone)', 'card 4111 1111 1234 here', 'card [masked]1234 here'],
    ['two runs of 6, each masked to its last four', 'a 123456 b 654321 c', 'a [masked]3456 b [masked]4321 c'],
    ['a run of 5 is kept', 'id 12345 ok', 'id 12345 ok'],
    ['a run of 6 is masked', 'id 123456 ok', 'id [masked]3456 ok'],
    ['runs of 6 in a sequence under 12 digits, kept apart by a separator', '123456-78901', '[masked]3456-78901'],
    ['two numbers, each masked in place', `x 4111111111111111 y 5555555555554444 z`, 'x [masked]1111 y [masked]4444 z'],
    ['%-escaped digits are masked with the escapes', 'n=%34%31%31%31%31%31%31%31%31%31%31%32&', 'n=[masked]1112&'],
    ['a surrogate pair escape is masked whole', `${'\\ud835\\udfcf'.repeat(12)}!`, '[masked]1111!'],
    ['a character outside the BMP between digits is masked with them', 'a 411111\u{1F4B3}111112 b', 'a [masked]1112 b'],
    ['a separator splits a run: 3 and 3 digits are kept', 'id 123-456 ok', 'id 123-456 ok'],
    ['digits outside the BMP: a run of 6 is masked whole', 'id \u{1D7CF}\u{1D7D0}\u{1D7D1}\u{1D7D2}\u{1D7D3}\u{1D7D4} ok', 'id [masked]3456 ok'],
    [
      'superscript digits are masked to their values',
      'n \u2074\u00b9\u00b9\u00b9\u00b9\u00b9\u00b9\u00b9\u00b9\u00b9\u00b9\u00b2 ok',
      'n [masked]1112 ok',
    ],
    ['circled digits are masked to their values', 'n \u2463\u2460\u2460\u2460\u2460\u2460 ok', 'n [masked]1111 ok'],
  ])('%s', (_name, text, expected) => {
    expect(maskCardNumbers(text)).toBe(expected);
  });
});

describe('detectBrand beyond the lengths a PAN has', () => {
  test.each([
    ['6011', 20],
    ['65', 20],
    ['644', 20],
    ['4', 20],
  ])('%s followed by zeros to %i digits is no brand', (prefix, length) => {
    expect(detectBrand(prefix.padEnd(length, '0'))).toBeUndefined();
  });
});

describe('what the scanner relies on in Unicode (checked over every code point, on each Node version tested)', () => {
  const DECIMAL = /\p{Nd}/u;
  /** A decimal digit's value: its distance from the first digit of its run, modulo 10 (as src/card.ts reads it). */
  const value = (cp: number): number => {
    let zero = cp;
    while (zero > 0 && DECIMAL.test(String.fromCodePoint(zero - 1))) zero -= 1;
    return (cp - zero) % 10;
  };

  test('every decimal digit folds under NFKC to one decimal digit of the same value, and the lowest is U+0030', () => {
    const differs: string[] = [];
    let lowest = -1;
    for (let cp = 0; cp <= 0x10ffff; cp += 1) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const ch = String.fromCodePoint(cp);
      if (!DECIMAL.test(ch)) continue;
      if (lowest === -1) lowest = cp;
      const folded = Array.from(ch.normalize('NFKC'));
      const same = folded.length === 1 && DECIMAL.test(folded[0] ?? '') && value(folded[0]?.codePointAt(0) ?? -1) === value(cp);
      if (!same) differs.push(`U+${cp.toString(16).toUpperCase()}`);
    }
    expect(lowest).toBe(0x30);
    expect(differs).toEqual([]);
  });

  test('every character read as digits, written as a \\u escape, shows at least as many ASCII digits as it stands for (not so %-encoded)', () => {
    // containsCardNumberLike answers "no" at once for ASCII text without % and with fewer than 12 ASCII digits: this is
    // what makes that shortcut safe, and why text with a %-escape is always scanned (%C2%BC, one quarter, stands for
    // two digits and shows one). Ideographic digits and every number character count (one digit each, or the decimal
    // digits NFKC folds them to).
    const IDEOGRAPHIC = new Set(Array.from('\u3007\u4e00\u4e8c\u4e09\u56db\u4e94\u516d\u4e03\u516b\u4e5d'));
    const asciiDigits = (t: string): number => (t.match(/[0-9]/g) ?? []).length;
    const short: string[] = [];
    for (let cp = 0x80; cp <= 0x10ffff; cp += 1) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const ch = String.fromCodePoint(cp);
      // Read as digits: number characters, ideographic digits, and anything NFKC folds to decimal digits (㋀ is 1月,
      // ㎡ is m2, ㏾ is 31日).
      const folded = Array.from(ch.normalize('NFKC')).filter((c) => DECIMAL.test(c)).length;
      if (!/\p{N}/u.test(ch) && !IDEOGRAPHIC.has(ch) && folded === 0) continue;
      const stands = Math.max(1, folded);
      const u = Array.from({ length: ch.length }, (_, i) => `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`).join('');
      const pct = Array.from(Buffer.from(ch, 'utf8'), (b) => `%${b.toString(16).padStart(2, '0')}`).join('');
      if (asciiDigits(u) < stands) short.push(`U+${cp.toString(16).toUpperCase()} as \\u`);
      if (asciiDigits(pct) < stands) short.push(`U+${cp.toString(16).toUpperCase()} as %`);
    }
    expect(short).toEqual(['U+BC as %', 'U+BD as %', 'U+BE as %']);
  });

  test('a pair with the last high surrogate is a private-use or noncharacter code point, neither digit nor letter', () => {
    for (let low = 0xdc00; low <= 0xdfff; low += 1) {
      const ch = String.fromCharCode(0xdbff, low);
      expect([low, /[\p{N}\p{L}]/u.test(ch), /\p{Co}|\p{Cn}/u.test(ch)]).toEqual([low, false, true]);
    }
  });
});
