import { randomInt } from 'crypto';
import { MAX_JSON_DEPTH, StrictJsonError, parseStrictJson } from '../src/strict-json';
import type { StrictJsonReason } from '../src/strict-json';

/** The strict scanner on its own: never more lenient than JSON.parse, and refusing exactly the ambiguous texts. */

function reason(text: string): StrictJsonReason | 'ok' {
  try {
    parseStrictJson(text);
    return 'ok';
  } catch (err) {
    if (err instanceof StrictJsonError) return err.reason;
    throw err;
  }
}

describe('parseStrictJson', () => {
  test.each([
    ['{}', {}],
    ['[]', []],
    [' {"a" : [1, -2.5, 0, -0, 1e2, 1E-2, true, false, null, "x"]} ', { a: [1, -2.5, 0, -0, 100, 0.01, true, false, null, 'x'] }],
    ['"\\u0041\\n\\t\\"\\\\\\/\\b\\f\\r"', 'A\n\t"\\/\b\f\r'],
    ['"\\ud83d\\ude00"', '\u{1f600}'],
    ['{"a":{"a":{"a":1}},"b":{"a":2}}', { a: { a: { a: 1 } }, b: { a: 2 } }],
    ['{"__proto__":1}', JSON.parse('{"__proto__":1}') as unknown],
    ['123456789012345', 123456789012345],
    ['999999999999999', 999999999999999],
    ['0.000000000000001', 1e-15],
    ['1.5e15', 1.5e15],
    ['2.5e-300', 2.5e-300],
  ])('accepts %s', (text, expected) => {
    expect(parseStrictJson(text)).toEqual(expected);
  });

  test.each([
    ['{"a":1,"a":1}', 'duplicate_key'],
    ['{"a":1,"b":{"c":1,"c":2}}', 'duplicate_key'],
    ['[{"x":1},{"x":1,"x":1}]', 'duplicate_key'],
    ['{"a":1,"\\u0061":2}', 'duplicate_key'],
    ['{"\\ud83d\\ude00":1,"\u{1f600}":2}', 'duplicate_key'],
    ['"\\ud800"', 'surrogate'],
    ['"\\udc00\\ud800"', 'surrogate'],
    ['"\\ud800\\u0041"', 'surrogate'],
    ['"\ud800"', 'surrogate'],
    ['{"\\udfff":1}', 'surrogate'],
    ['1e400', 'number'],
    ['-1e400', 'number'],
    ['1e-400', 'number'],
    ['5e-324', 'number'],
    ['9007199254740992', 'number'],
    ['9007199254740991', 'number'],
    ['1.5e300', 'number'],
    ['1234567890123456', 'number'],
    ['0.1000000000000000055511151231257827', 'number'],
    [`${'['.repeat(MAX_JSON_DEPTH + 1)}${']'.repeat(MAX_JSON_DEPTH + 1)}`, 'depth'],
    [`${'{"a":'.repeat(MAX_JSON_DEPTH + 1)}1${'}'.repeat(MAX_JSON_DEPTH + 1)}`, 'depth'],
    ['\ufeff{}', 'syntax'],
    ['{} {}', 'syntax'],
    ['{"a":1,}', 'syntax'],
    ['[1,]', 'syntax'],
    ["{'a':1}", 'syntax'],
    ['{a:1}', 'syntax'],
    ['01', 'syntax'],
    ['+1', 'syntax'],
    ['.5', 'syntax'],
    ['1.', 'syntax'],
    ['-', 'syntax'],
    ['NaN', 'syntax'],
    ['Infinity', 'syntax'],
    ['tru', 'syntax'],
    ['nul', 'syntax'],
    ['"a\u0000b"', 'syntax'],
    ['"a\nb"', 'syntax'],
    ['"\\x41"', 'syntax'],
    ['"\\u12"', 'syntax'],
    ['"abc', 'syntax'],
    ['{"a" 1}', 'syntax'],
    ['{"a":1 "b":2}', 'syntax'],
    ['\u00a0{}', 'syntax'],
    ['{}\u2028', 'syntax'],
    ['', 'syntax'],
    ['/*c*/{}', 'syntax'],
  ])('refuses %j: %s', (text, expected) => {
    expect(reason(text)).toBe(expected);
  });

  test('at the depth limit is fine, one more is not', () => {
    expect(reason(`${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}`)).toBe('ok');
    expect(reason(`${'['.repeat(MAX_JSON_DEPTH + 1)}${']'.repeat(MAX_JSON_DEPTH + 1)}`)).toBe('depth');
  });

  test('messages name only the reason', () => {
    for (const text of ['{"4111111111111111":1,"4111111111111111":2}', '{"a":41111111111111111}', '"\\ud800 4111"']) {
      try {
        parseStrictJson(text);
      } catch (err) {
        expect((err as Error).message).not.toMatch(/4111|a"/);
      }
    }
  });

  /** Random JSON values of the shapes requests have (no duplicate keys, numbers that fit a double exactly). */
  function randomValue(depth: number): unknown {
    const kind = depth > 4 ? randomInt(4) : randomInt(6);
    if (kind === 0) return randomInt(2) === 0;
    if (kind === 1) return null;
    if (kind === 2) return randomInt(2) === 0 ? randomInt(-1e9, 1e9) : randomInt(-1e6, 1e6) / 64;
    if (kind === 3) return Array.from({ length: randomInt(8) }, () => String.fromCodePoint(randomInt(0x20, 0xd7ff))).join('');
    if (kind === 4) return Array.from({ length: randomInt(5) }, () => randomValue(depth + 1));
    const out: Record<string, unknown> = {};
    for (let i = 0; i < randomInt(5); i += 1) out[`k${i}${String.fromCodePoint(randomInt(0x20, 0x7e))}`] = randomValue(depth + 1);
    return out;
  }

  test('differential: 3000 random documents read exactly as JSON.parse reads them', () => {
    for (let i = 0; i < 3000; i += 1) {
      const text = JSON.stringify(randomValue(0), null, randomInt(3));
      expect(parseStrictJson(text)).toEqual(JSON.parse(text));
    }
  });

  test('differential: 20000 mutated documents are never accepted when JSON.parse refuses them', () => {
    const alphabet = ['{', '}', '[', ']', '"', ':', ',', '\\', 'u', '0', '1', 'e', '-', '.', ' ', 'a', 't', 'n', '\ud800', '\n'];
    for (let i = 0; i < 20000; i += 1) {
      const chars = Array.from(JSON.stringify(randomValue(0)));
      for (let m = 0; m < 1 + randomInt(3); m += 1) {
        const at = randomInt(chars.length + 1);
        const op = randomInt(3);
        if (op === 0) chars.splice(at, 1);
        else if (op === 1) chars.splice(at, 0, alphabet[randomInt(alphabet.length)] as string);
        else chars.splice(at, 1, alphabet[randomInt(alphabet.length)] as string);
      }
      const text = chars.join('');
      let strict: unknown;
      let accepted = true;
      try {
        strict = parseStrictJson(text);
      } catch (err) {
        if (!(err instanceof StrictJsonError)) throw err;
        accepted = false;
      }
      if (accepted) expect(strict).toEqual(JSON.parse(text));
    }
  });
});
