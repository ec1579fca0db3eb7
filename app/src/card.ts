import { createHmac } from 'crypto';
import type { KeyObject } from 'crypto';

export type CardBrand = 'visa' | 'mastercard' | 'amex' | 'discover';

/** ASCII digits only: fullwidth digits, spaces, zero-width characters and NUL are rejected, not normalised. */
export const PAN_PATTERN = /^[0-9]{12,19}$/;

/** Luhn (mod 10) check over an ASCII digit string. */
export function luhnValid(pan: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = pan.length - 1; i >= 0; i -= 1) {
    let digit = pan.charCodeAt(i) - 48;
    if (double) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
    double = !double;
  }
  return sum % 10 === 0;
}

/** Brand from the IIN prefix and length; undefined when the service does not accept the card. */
export function detectBrand(pan: string): CardBrand | undefined {
  const len = pan.length;
  if (pan.startsWith('4') && (len === 13 || len === 16 || len === 19)) return 'visa';
  const two = Number(pan.slice(0, 2));
  const four = Number(pan.slice(0, 4));
  if (len === 16 && ((two >= 51 && two <= 55) || (four >= 2221 && four <= 2720))) return 'mastercard';
  if (len === 15 && (two === 34 || two === 37)) return 'amex';
  const three = Number(pan.slice(0, 3));
  if (len >= 16 && len <= 19 && (pan.startsWith('6011') || two === 65 || (three >= 644 && three <= 649))) return 'discover';
  return undefined;
}

/** Amex uses a 4-digit CID, the other brands a 3-digit CVC. */
export function cvcLength(brand: CardBrand): number {
  return brand === 'amex' ? 4 : 3;
}

/**
 * Stable, non-reversible token: HMAC-SHA256 of the PAN under TOKENIZATION_KEY (same card -> same token).
 * The key may be passed as a KeyObject created once (crypto.createSecretKey) to save preparing it per call.
 */
export function tokenize(pan: string, tokenizationKey: string | KeyObject): string {
  return `tok_${createHmac('sha256', tokenizationKey).update(pan).digest('hex')}`;
}

export type DeclineCode = 'card_declined' | 'insufficient_funds' | 'expired_card' | 'incorrect_cvc' | 'processing_error';

/**
 * Simulated processor decisions, keyed by the card networks' / processors' published test numbers.
 * Every other valid card is approved: there is no real processor behind this reference service.
 */
export const DECLINE_RULES: ReadonlyMap<string, DeclineCode> = new Map<string, DeclineCode>([
  ['4000000000000002', 'card_declined'],
  ['4000000000009995', 'insufficient_funds'],
  ['4000000000000069', 'expired_card'],
  ['4000000000000127', 'incorrect_cvc'],
  ['4000000000000119', 'processing_error'],
]);

export function decide(pan: string): { status: 'approved' } | { status: 'declined'; declineCode: DeclineCode } {
  const declineCode = DECLINE_RULES.get(pan);
  return declineCode ? { status: 'declined', declineCode } : { status: 'approved' };
}

/** A card number has at least 12 digits (ISO/IEC 7812; PAN_PATTERN accepts 12 to 19). */
export const PAN_MIN_DIGITS = 12;
/** A shorter run of adjacent digits in logged text is masked too (a card number's first six identify the issuer). */
const LOG_MASK_RUN = 6;

interface TextUnit {
  readonly start: number;
  readonly end: number;
  /** Digit values the unit stands for (empty for a letter or a separator). */
  readonly digits: string;
  readonly letter: boolean;
}

const DECIMAL_DIGIT = /\p{Nd}/u;
const NUMBER = /\p{N}/u;
const LETTER = /\p{L}/u;
/**
 * Letters that are written the way punctuation is, so they separate digits rather than end a number: modifier
 * letters (Lm: length marks ː, tatweel ـ, prolonged sound marks ー ｰ, modifier apostrophes ʼ, stress marks ˈ,
 * superscript letters) and the caseless letters of the Latin script (Lo: clicks ǀ ǁ ǂ ǃ, glottal stops ʔ ʕ, the
 * sinological dot ꞏ, ordinal indicators ª º). Tested on the character as written: NFKC turns some into real letters.
 */
const SEPARATOR_LETTER = /\p{Lm}|(?=\p{Script=Latin})\p{Lo}/u;
/** Ideographic digits 〇 一 二 三 四 五 六 七 八 九 (Unihan primary numeric values 0-9): Chinese and Japanese write numbers with them. */
const IDEOGRAPHIC_DIGITS = '\u3007\u4e00\u4e8c\u4e09\u56db\u4e94\u516d\u4e03\u516b\u4e5d';
/**
 * Stands for a digit whose value is not needed: any other number character (Unicode N: dingbat and double-circled
 * digits ❶ ➀ ⓵, Ethiopic ፩, Roman numerals Ⅳ, counting rods, ...). A person reads each as a digit, so each counts
 * towards a card-number-like sequence; masking shows it as this sign.
 */
const UNKNOWN_DIGIT = '#';
const HEX2 = /^[0-9A-Fa-f]{2}$/;
const HEX4 = /^[0-9A-Fa-f]{4}$/;

/** Value of a decimal digit of any script: Unicode assigns each script's 0-9 as one contiguous run (Nd stability). */
function digitValue(cp: number): number {
  let zero = cp;
  while (zero > 0 && DECIMAL_DIGIT.test(String.fromCodePoint(zero - 1))) zero -= 1;
  return (cp - zero) % 10;
}

/**
 * Digit, letter or separator. Digits: every number character of every script (Unicode N), and the ideographic digits.
 * Letters: the rest of Unicode L, except the separator-like letters above. Anything else separates.
 */
function classify(start: number, end: number, cp: number): TextUnit {
  if (cp >= 0x30 && cp <= 0x39) return { start, end, digits: String(cp - 0x30), letter: false };
  if (cp < 0x80) return { start, end, digits: '', letter: LETTER.test(String.fromCharCode(cp)) };
  const ch = String.fromCodePoint(cp);
  if (DECIMAL_DIGIT.test(ch)) return { start, end, digits: String(digitValue(cp)), letter: false };
  const ideographic = IDEOGRAPHIC_DIGITS.indexOf(ch);
  if (ideographic !== -1) return { start, end, digits: String(ideographic), letter: false };
  if (SEPARATOR_LETTER.test(ch)) return { start, end, digits: '', letter: false };
  // Compatibility forms: superscripts, circled and fullwidth-parenthesised digits read as the digits they fold to (NFKC).
  const folded = ch.normalize('NFKC');
  const digits = Array.from(folded)
    .map((c) => (DECIMAL_DIGIT.test(c) ? String(digitValue(c.codePointAt(0) as number)) : ''))
    .join('');
  if (digits !== '') return { start, end, digits, letter: false };
  // Other number characters (before the letter test: Roman numerals fold to Latin letters).
  if (NUMBER.test(ch)) return { start, end, digits: UNKNOWN_DIGIT, letter: false };
  return { start, end, digits: '', letter: LETTER.test(folded) };
}

/** One code point written as %XX escapes of its UTF-8 bytes at `i`, or undefined. */
function percentEscape(text: string, i: number): { cp: number; end: number } | undefined {
  const bytes: number[] = [];
  let j = i;
  while (bytes.length < 4 && text[j] === '%' && HEX2.test(text.slice(j + 1, j + 3))) {
    bytes.push(parseInt(text.slice(j + 1, j + 3), 16));
    j += 3;
    const decoded = Buffer.from(bytes).toString('utf8');
    if (!decoded.includes('\ufffd')) return { cp: decoded.codePointAt(0) as number, end: j };
  }
  return undefined;
}

/** One code point written as \uXXXX (or a surrogate pair of them) at `i`, or undefined. */
function unicodeEscape(text: string, i: number): { cp: number; end: number } | undefined {
  const unit = (at: number): number | undefined =>
    text[at] === '\\' && text[at + 1] === 'u' && HEX4.test(text.slice(at + 2, at + 6)) ? parseInt(text.slice(at + 2, at + 6), 16) : undefined;
  const high = unit(i);
  if (high === undefined) return undefined;
  const low = high >= 0xd800 && high <= 0xdbff ? unit(i + 6) : undefined;
  if (low !== undefined && low >= 0xdc00 && low <= 0xdfff) return { cp: (high - 0xd800) * 0x400 + (low - 0xdc00) + 0x10000, end: i + 12 };
  return { cp: high, end: i + 6 };
}

/** The text as units a reader sees: escaped characters (%XX, \uXXXX) decoded, each classified as digit, letter or other. */
function units(text: string): TextUnit[] {
  const out: TextUnit[] = [];
  let i = 0;
  while (i < text.length) {
    const escaped = percentEscape(text, i) ?? unicodeEscape(text, i);
    if (escaped) {
      out.push(classify(i, escaped.end, escaped.cp));
      i = escaped.end;
    } else {
      const cp = text.codePointAt(i) as number;
      const end = i + (cp > 0xffff ? 2 : 1);
      out.push(classify(i, end, cp));
      i = end;
    }
  }
  return out;
}

interface DigitSequence {
  readonly start: number;
  readonly end: number;
  readonly digits: string;
  /** Runs of directly adjacent digit units inside the sequence: [start, end, digits]. */
  readonly runs: readonly (readonly [number, number, string])[];
}

/**
 * Digits with nothing but non-letters between them (spaces of any kind, dashes, dots, slashes, marks, symbols,
 * escapes of those) form one sequence: that is how people write card numbers. Letters end a sequence: refusing
 * numbers across letters would refuse ordinary references, and no rule can catch a number hidden on purpose.
 */
function digitSequences(text: string): DigitSequence[] {
  const sequences: DigitSequence[] = [];
  let current: { start: number; end: number; digits: string; runs: [number, number, string][] } | undefined;
  // Whether the unit before this one was a digit: a digit then extends the sequence's last run.
  let afterDigit = false;
  for (const u of units(text)) {
    if (u.letter) {
      if (current) sequences.push(current);
      current = undefined;
    } else if (u.digits !== '') {
      if (!current) current = { start: u.start, end: u.end, digits: '', runs: [] };
      const run = current.runs[current.runs.length - 1];
      if (afterDigit && run) {
        run[1] = u.end;
        run[2] += u.digits;
      } else {
        current.runs.push([u.start, u.end, u.digits]);
      }
      current.digits += u.digits;
      current.end = u.end;
    }
    afterDigit = u.digits !== '';
  }
  if (current) sequences.push(current);
  return sequences;
}

/** True when `text` holds 12 or more digits not separated by letters, in any script, spacing or escaping. */
export function containsCardNumberLike(text: string): boolean {
  // Fast path: ASCII text with no %-escape and fewer than 12 digit characters cannot hold one: a \u escape of a character
  // read as digits contains at least as many digits as it stands for. A %-escape may not (%C2%BC is 1/4, two digits).
  if (/^[\x00-\x7f]*$/.test(text) && !text.includes('%') && (text.match(/[0-9]/g) ?? []).length < PAN_MIN_DIGITS) return false;
  return digitSequences(text).some((s) => s.digits.length >= PAN_MIN_DIGITS);
}

/**
 * Masks what could be card data in text that has to be logged (error messages, stacks): every sequence of 12 or
 * more digits as above, and every run of 6 or more adjacent digits; only the last four digits are kept.
 */
export function maskCardNumbers(text: string): string {
  const spans: [number, number, string][] = [];
  for (const s of digitSequences(text)) {
    if (s.digits.length >= PAN_MIN_DIGITS) spans.push([s.start, s.end, s.digits]);
    else for (const run of s.runs) if (run[2].length >= LOG_MASK_RUN) spans.push([run[0], run[1], run[2]]);
  }
  let out = text;
  for (const [start, end, digits] of spans.reverse()) out = `${out.slice(0, start)}[masked]${digits.slice(-4)}${out.slice(end)}`;
  return out;
}
