import { freeTextProblem, validatePaymentRequest } from '../src/validation';
import { http, newIdempotencyKey, NOW, paymentBody, startTestServer } from './helpers';

/**
 * Invisible and format characters must be refused in every free-text field, by class, not by example: the test
 * walks every code point from U+0000 to U+10FFFF.
 */

const MAX_CODE_POINT = 0x10ffff;

/** Why a code point must be refused (its Unicode class), or undefined when it is visible text. */
function invisibleClass(cp: number): string | undefined {
  const ch = String.fromCodePoint(cp);
  if (/\p{Cc}/u.test(ch)) return 'Cc control';
  if (/\p{Cf}/u.test(ch)) return 'Cf format';
  if (/\p{Cs}/u.test(ch)) return 'Cs surrogate';
  if (/\p{Co}/u.test(ch)) return 'Co private use';
  if (/\p{Cn}/u.test(ch)) return 'Cn unassigned or noncharacter';
  if (/\p{Zl}/u.test(ch)) return 'Zl line separator';
  if (/\p{Zp}/u.test(ch)) return 'Zp paragraph separator';
  if (/\p{Default_Ignorable_Code_Point}/u.test(ch)) return 'default ignorable';
  if ((cp >= 0xfe00 && cp <= 0xfe0f) || (cp >= 0xe0100 && cp <= 0xe01ef) || (cp >= 0x180b && cp <= 0x180f)) return 'variation selector';
  if (cp >= 0xe0000 && cp <= 0xe007f) return 'tag';
  // Blank-looking letters and symbols that render as nothing (Hangul fillers, braille blank).
  if ([0x115f, 0x1160, 0x3164, 0xffa0, 0x2800].includes(cp)) return 'blank glyph';
  return undefined;
}

function descriptionRefused(description: string): boolean {
  const result = validatePaymentRequest(paymentBody({ description }), NOW);
  return !result.ok && result.fields.some((f) => f.field === 'description');
}

describe('invisible characters in free text: every code point of every invisible class is refused', () => {
  const byClass = new Map<string, number[]>();
  const visible: number[] = [];
  for (let cp = 0; cp <= MAX_CODE_POINT; cp += 1) {
    const cls = invisibleClass(cp);
    if (cls) {
      const list = byClass.get(cls) ?? [];
      list.push(cp);
      byClass.set(cls, list);
    } else {
      visible.push(cp);
    }
  }

  test.each([...byClass.keys()])('%s: every code point, alone, between letters and at either end', (cls) => {
    const accepted: string[] = [];
    // The unassigned and private-use planes hold ~970k code points: every one goes through the free-text check
    // itself, and every 64th through the whole request validation (the same check, wired to the field).
    const huge = cls.startsWith('Cn') || cls.startsWith('Co');
    (byClass.get(cls) ?? []).forEach((cp, i) => {
      const ch = String.fromCodePoint(cp);
      const forms = [ch, `a${ch}b`, `Order 42${ch}`, `${ch}Order 42`];
      const refused = huge
        ? forms.every((text) => freeTextProblem(text) !== undefined) && (i % 64 !== 0 || descriptionRefused(`a${ch}b`))
        : forms.every(descriptionRefused);
      if (!refused) accepted.push(`U+${cp.toString(16).toUpperCase().padStart(4, '0')}`);
    });
    expect(accepted.slice(0, 50)).toEqual([]);
  });

  test('visible characters (letters, marks, digits, punctuation, symbols, spaces) of every script are accepted', () => {
    const refused: string[] = [];
    visible.forEach((cp, i) => {
      const text = `a${String.fromCodePoint(cp)}b`;
      if (freeTextProblem(text) === undefined && (i % 16 !== 0 || !descriptionRefused(text))) return;
      refused.push(`U+${cp.toString(16).toUpperCase().padStart(4, '0')}`);
    });
    expect(refused.slice(0, 50)).toEqual([]);
  });

  test('over HTTP: one of each class is refused with 400 naming description, and nothing is echoed', async () => {
    const server = await startTestServer({ config: { logLevel: 'warn' } });
    try {
      for (const [cls, cps] of byClass) {
        const cp = cps[Math.floor(cps.length / 2)] as number;
        // Surrogates cannot be sent as UTF-8; they are covered by the escaped form in JSON.
        const description = `pay${String.fromCodePoint(cp)}ment`;
        const res = await http(server.port, {
          method: 'POST',
          path: '/v1/payments',
          headers: { ...server.auth, 'idempotency-key': newIdempotencyKey() },
          body: JSON.stringify(paymentBody({ description })),
        });
        expect([cls, res.status]).toEqual([cls, 400]);
        expect(res.text).not.toContain('pay');
      }
    } finally {
      await server.shutdown('test end');
    }
  });
});
