/**
 * Strict JSON: a text is accepted only if every JSON parser must read it the same way. Checked in one pass before
 * `JSON.parse` builds the value:
 * - duplicate object keys at any depth (compared after unescaping: `"a"` and `"\u0061"` are the same key); JSON.parse
 *   keeps the last, other parsers the first or all,
 * - unpaired UTF-16 surrogates (escaped `\ud800`, or raw), which have no meaning in UTF-8,
 * - numbers that do not survive an IEEE double: more than 15 significant digits, magnitude above 2^53 - 1,
 *   overflow to Infinity or underflow to zero or to a subnormal,
 * - nesting deeper than `maxDepth` (recursive parsers elsewhere in a pipeline can be exhausted),
 * - anything outside RFC 8259 (a byte order mark included: it is not JSON whitespace).
 * No JSON library that detects duplicate keys also covers the rest and still runs on Node 16, so this is a small
 * scanner, tested directly (test/adversarial-json-parser.test.ts) and through HTTP (test/adversarial-json.test.ts).
 */

export type StrictJsonReason = 'syntax' | 'duplicate_key' | 'surrogate' | 'number' | 'depth';

/** Operator- and client-facing text per reason: none of it quotes the input. */
export const STRICT_JSON_MESSAGES: Readonly<Record<StrictJsonReason, string>> = {
  syntax: 'request body is not valid JSON',
  duplicate_key: 'request body has a duplicate object key',
  surrogate: 'request body has an unpaired UTF-16 surrogate',
  number: 'request body has a number that cannot be represented exactly',
  depth: 'request body is nested too deeply',
};

export class StrictJsonError extends Error {
  constructor(readonly reason: StrictJsonReason) {
    super(STRICT_JSON_MESSAGES[reason]);
    this.name = 'StrictJsonError';
  }
}

/** Far above what any request of this service needs (its deepest field is card.number, depth 2). */
export const MAX_JSON_DEPTH = 32;

const MAX_SIGNIFICANT_DIGITS = 15;
const SMALLEST_NORMAL_DOUBLE = 2.2250738585072014e-308;
const LITERALS = ['true', 'false', 'null'];

function isHigh(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLow(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

class Scanner {
  private pos = 0;

  constructor(
    private readonly text: string,
    private readonly maxDepth: number,
  ) {}

  run(): void {
    this.value(0);
    this.space();
    if (this.pos !== this.text.length) throw new StrictJsonError('syntax');
  }

  private space(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return;
      this.pos += 1;
    }
  }

  private expect(ch: string): void {
    if (this.text[this.pos] !== ch) throw new StrictJsonError('syntax');
    this.pos += 1;
  }

  /** Iterative over containers would read worse; recursion is bounded by maxDepth, checked before descending. */
  private value(depth: number): void {
    this.space();
    const ch = this.text[this.pos];
    if (ch === '{') this.object(depth + 1);
    else if (ch === '[') this.array(depth + 1);
    else if (ch === '"') this.string(false);
    else if (ch === '-' || (ch !== undefined && ch >= '0' && ch <= '9')) this.number();
    else this.literal();
  }

  private object(depth: number): void {
    if (depth > this.maxDepth) throw new StrictJsonError('depth');
    this.pos += 1;
    const keys = new Set<string>();
    this.space();
    if (this.text[this.pos] === '}') {
      this.pos += 1;
      return;
    }
    for (;;) {
      this.space();
      if (this.text[this.pos] !== '"') throw new StrictJsonError('syntax');
      const key = this.string(true) as string;
      if (keys.has(key)) throw new StrictJsonError('duplicate_key');
      keys.add(key);
      this.space();
      this.expect(':');
      this.value(depth);
      this.space();
      if (this.text[this.pos] === ',') {
        this.pos += 1;
        continue;
      }
      this.expect('}');
      return;
    }
  }

  private array(depth: number): void {
    if (depth > this.maxDepth) throw new StrictJsonError('depth');
    this.pos += 1;
    this.space();
    if (this.text[this.pos] === ']') {
      this.pos += 1;
      return;
    }
    for (;;) {
      this.value(depth);
      this.space();
      if (this.text[this.pos] === ',') {
        this.pos += 1;
        continue;
      }
      this.expect(']');
      return;
    }
  }

  /** Validates a string; returns its decoded value only when asked (object keys), so values cost no allocation. */
  private string(decode: boolean): string | undefined {
    const t = this.text;
    this.pos += 1;
    let out = '';
    /** A high surrogate (raw or escaped) waiting for its low half. */
    let pendingHigh = false;
    for (;;) {
      if (this.pos >= t.length) throw new StrictJsonError('syntax');
      let code = t.charCodeAt(this.pos);
      if (code === 0x22) {
        if (pendingHigh) throw new StrictJsonError('surrogate');
        this.pos += 1;
        return decode ? out : undefined;
      }
      if (code < 0x20) throw new StrictJsonError('syntax');
      if (code === 0x5c) {
        const esc = t[this.pos + 1];
        if (esc === 'u') {
          const hex = t.slice(this.pos + 2, this.pos + 6);
          if (!/^[0-9A-Fa-f]{4}$/.test(hex)) throw new StrictJsonError('syntax');
          code = parseInt(hex, 16);
          this.pos += 6;
        } else {
          const simple = esc === undefined ? undefined : '"\\/bfnrt'.indexOf(esc);
          if (simple === undefined || simple === -1) throw new StrictJsonError('syntax');
          code = '"\\/\b\f\n\r\t'.charCodeAt(simple);
          this.pos += 2;
        }
      } else {
        this.pos += 1;
      }
      if (pendingHigh !== isLow(code)) throw new StrictJsonError('surrogate');
      pendingHigh = isHigh(code);
      if (decode) out += String.fromCharCode(code);
    }
  }

  /** Advances over ASCII digits; returns how many there were. */
  private digits(): number {
    const start = this.pos;
    while (this.pos < this.text.length && this.text.charCodeAt(this.pos) >= 0x30 && this.text.charCodeAt(this.pos) <= 0x39) this.pos += 1;
    return this.pos - start;
  }

  /** RFC 8259 number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, then the exactness checks. */
  private number(): void {
    const start = this.pos;
    if (this.text[this.pos] === '-') this.pos += 1;
    const intStart = this.pos;
    const intDigits = this.digits();
    if (intDigits === 0 || (intDigits > 1 && this.text[intStart] === '0')) throw new StrictJsonError('syntax');
    let mantissa = this.text.slice(intStart, this.pos);
    if (this.text[this.pos] === '.') {
      this.pos += 1;
      const fracStart = this.pos;
      if (this.digits() === 0) throw new StrictJsonError('syntax');
      mantissa += this.text.slice(fracStart, this.pos);
    }
    if (this.text[this.pos] === 'e' || this.text[this.pos] === 'E') {
      this.pos += 1;
      if (this.text[this.pos] === '+' || this.text[this.pos] === '-') this.pos += 1;
      if (this.digits() === 0) throw new StrictJsonError('syntax');
    }
    const significant = mantissa.replace(/^0+/, '').replace(/0+$/, '');
    const value = Math.abs(Number(this.text.slice(start, this.pos)));
    if (
      significant.length > MAX_SIGNIFICANT_DIGITS ||
      value > Number.MAX_SAFE_INTEGER ||
      (significant.length > 0 && value < SMALLEST_NORMAL_DOUBLE)
    ) {
      throw new StrictJsonError('number');
    }
  }

  private literal(): void {
    for (const word of LITERALS) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return;
      }
    }
    throw new StrictJsonError('syntax');
  }
}

/** Checks `text` as strict JSON (see above) and parses it; throws StrictJsonError naming only the reason. */
export function parseStrictJson(text: string, maxDepth: number = MAX_JSON_DEPTH): unknown {
  new Scanner(text, maxDepth).run();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Unreachable if the scanner is right; JSON.parse's own message quotes input, so it is never passed on.
    throw new StrictJsonError('syntax');
  }
}
