import { connect } from 'net';
import type { Socket } from 'net';
import { CARDS } from './helpers';
import { NUMBER_DIGIT_RUNS } from './unicode-number-digits';

/** A response read off a raw socket. */
export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** What a raw exchange ended with: a response, or the server closing (or staying silent) without one. */
export type RawOutcome = { readonly kind: 'response'; readonly response: RawResponse } | { readonly kind: 'closed' | 'timeout' };

/**
 * One TCP connection driven byte by byte: the requests an attacker sends (absolute-form targets, raw bytes,
 * pipelining, stalls) cannot all be sent through http.request.
 */
export class RawConnection {
  private buffer = Buffer.alloc(0);
  private notify: () => void = () => undefined;
  closedAt: number | undefined;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.notify();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closedAt = Date.now();
      this.notify();
    });
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.closedAt !== undefined;
  }

  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** The next complete response, or how the connection ended without one. */
  async next(timeoutMs = 3000): Promise<RawOutcome> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const parsed = this.take();
      if (parsed) return { kind: 'response', response: parsed };
      if (this.closed) return { kind: 'closed' };
      const left = until - Date.now();
      if (left <= 0) return { kind: 'timeout' };
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.notify = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Resolves once the server has closed the connection (or the time is up). */
  async waitClosed(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private take(): RawResponse | undefined {
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end === -1) return undefined;
    const head = this.buffer.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number((head[0] ?? '').split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const line of head.slice(1)) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = headers['content-length'] === undefined ? undefined : Number(headers['content-length']);
    if (length === undefined && !this.closed) return undefined;
    const bodyEnd = length === undefined ? this.buffer.length : end + 4 + length;
    if (this.buffer.length < bodyEnd) return undefined;
    const body = this.buffer.subarray(end + 4, bodyEnd).toString('utf8');
    this.buffer = this.buffer.subarray(bodyEnd);
    return { status, headers, body };
  }
}

/** Sends one raw request on a new connection and returns its outcome. */
export async function rawExchange(port: number, data: string | Buffer, timeoutMs = 3000): Promise<RawOutcome> {
  const conn = await RawConnection.open(port);
  conn.write(data);
  const outcome = await conn.next(timeoutMs);
  conn.destroy();
  return outcome;
}

/** A raw HTTP/1.1 request; `target` goes on the request line exactly as given. */
export function rawRequest(method: string, target: string, headers: Record<string, string> = {}, body?: string | Buffer): Buffer {
  const lines = [`${method} ${target} HTTP/1.1`, 'host: localhost'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  const payload = body === undefined ? Buffer.alloc(0) : typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  if (body !== undefined) lines.push(`content-length: ${payload.length}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), payload]);
}

/** Header values go on the wire as UTF-8 bytes (Node's client refuses them; an attacker's does not). */
export function utf8Header(value: string): string {
  return Buffer.from(value, 'utf8').toString('latin1');
}

// ---------------------------------------------------------------------------------------------------------------
// Card numbers in disguise, and a detector that sees through the disguises.
// ---------------------------------------------------------------------------------------------------------------

/** Zero of some decimal-digit blocks (Unicode Nd): ASCII, Arabic-Indic, Devanagari, fullwidth, mathematical bold. */
const DIGIT_ZEROS = { ascii: 0x30, arabicIndic: 0x660, devanagari: 0x966, fullwidth: 0xff10, mathBold: 0x1d7ce } as const;
const SUPERSCRIPTS = ['\u2070', '\u00b9', '\u00b2', '\u00b3', '\u2074', '\u2075', '\u2076', '\u2077', '\u2078', '\u2079'];
/** Ideographic digits 〇 一 二 ... 九 (Unihan primary numeric values 0-9). */
const IDEOGRAPHIC_DIGITS = '\u3007\u4e00\u4e8c\u4e09\u56db\u4e94\u516d\u4e03\u516b\u4e5d';

function inScript(pan: string, zero: number): string {
  return Array.from(pan, (d) => String.fromCodePoint(zero + Number(d))).join('');
}

/** The digit `value` written with the first character of `runs` that has it, or as an ASCII digit when none has. */
function digitFrom(runs: readonly (readonly [number, number, number, string])[], value: number): string {
  const run = runs.find(([first, last, firstValue]) => value >= firstValue && value <= firstValue + (last - first));
  return run ? String.fromCodePoint(run[0] + value - run[2]) : String(value);
}

/** The PAN in the number characters of `block` from code point `from` on (not Nd; `from` skips forms NFKC folds to digits). */
function inNumberBlock(pan: string, block: string, from = 0): string {
  const runs = NUMBER_DIGIT_RUNS.filter((r) => r[3] === block && r[0] >= from);
  return Array.from(pan, (d) => digitFrom(runs, Number(d))).join('');
}

/** The PAN in the groups it is printed in (4-6-5 for 15 digits, else fours). */
function groups(pan: string): string[] {
  if (pan.length === 15) return [pan.slice(0, 4), pan.slice(4, 10), pan.slice(10)];
  return pan.match(/.{1,4}/g) ?? [pan];
}

/** The ways a card number is written (or disguised) in free text, each a string a person would read as the number. */
export function panDisguises(pan: string): { readonly name: string; readonly text: string }[] {
  const g = groups(pan);
  const every = (sep: string): string => pan.split('').join(sep);
  return [
    { name: 'plain', text: pan },
    { name: 'spaces', text: g.join(' ') },
    { name: 'dashes', text: g.join('-') },
    { name: 'dots', text: g.join('.') },
    { name: 'slashes', text: g.join('/') },
    { name: 'spaced dashes', text: g.join(' - ') },
    { name: 'underscores', text: g.join('_') },
    { name: 'commas', text: g.join(',') },
    { name: 'every digit spaced', text: every(' ') },
    { name: 'long gaps', text: g.join('     ') },
    { name: 'no-break spaces', text: g.join('\u00a0') },
    { name: 'thin spaces', text: g.join('\u2009') },
    { name: 'ideographic spaces', text: g.join('\u3000') },
    { name: 'en dashes', text: g.join('\u2013') },
    { name: 'fullwidth digits', text: inScript(pan, DIGIT_ZEROS.fullwidth) },
    { name: 'fullwidth digits and hyphens', text: g.map((x) => inScript(x, DIGIT_ZEROS.fullwidth)).join('\uff0d') },
    { name: 'arabic-indic digits', text: inScript(pan, DIGIT_ZEROS.arabicIndic) },
    { name: 'devanagari digits', text: inScript(pan, DIGIT_ZEROS.devanagari) },
    { name: 'mathematical bold digits', text: inScript(pan, DIGIT_ZEROS.mathBold) },
    { name: 'superscript digits', text: Array.from(pan, (d) => SUPERSCRIPTS[Number(d)]).join('') },
    {
      name: 'mixed scripts',
      text: Array.from(pan, (d, i) => String.fromCodePoint((i % 2 ? DIGIT_ZEROS.fullwidth : DIGIT_ZEROS.ascii) + Number(d))).join(''),
    },
    { name: 'combining marks', text: every('\u0301') },
    { name: 'in a sentence', text: `card ${g.join(' ')} thanks` },
    // Number characters that are not decimal digits and have no NFKC digit form (whole classes: see everyDigitCharacter).
    { name: 'dingbat negative circled digits', text: inNumberBlock(pan, 'Dingbats', 0x2776) },
    { name: 'double circled digits', text: inNumberBlock(pan, 'Enclosed Alphanumerics', 0x24f5) },
    { name: 'ethiopic digits', text: inNumberBlock(pan, 'Ethiopic') },
    { name: 'roman numerals', text: inNumberBlock(pan, 'Number Forms', 0x2160) },
    { name: 'counting rods', text: inNumberBlock(pan, 'Counting Rod Numerals') },
    { name: 'ideographic digits', text: Array.from(pan, (d) => IDEOGRAPHIC_DIGITS[Number(d)]).join('') },
    // Letters written as punctuation is (whole classes: see separatorLetters).
    { name: 'prolonged sound marks', text: g.join('\u30fc') },
    { name: 'halfwidth prolonged sound marks', text: g.join('\uff70') },
    { name: 'tatweel', text: g.join('\u0640') },
    { name: 'dental clicks', text: g.join('\u01c0') },
    { name: 'modifier apostrophes', text: g.join('\u02bc') },
    { name: 'modifier stress marks', text: g.join('\u02c8') },
    { name: 'sinological dots', text: g.join('\ua78f') },
    { name: 'triangular colons', text: g.join('\u02d0') },
  ];
}

/** Every character a reader takes for a digit, with its value: decimal digits (Nd), other number characters, ideographs. */
export function everyDigitCharacter(): { readonly ch: string; readonly value: number; readonly set: string }[] {
  const out: { ch: string; value: number; set: string }[] = [];
  for (let cp = 0; cp <= 0x10ffff; cp += 1) {
    const ch = String.fromCodePoint(cp);
    if (/\p{Nd}/u.test(ch)) out.push({ ch, value: digitValue(ch), set: `Nd U+${(cp - digitValue(ch)).toString(16).toUpperCase().padStart(4, '0')}` });
  }
  for (const [first, last, firstValue, block] of NUMBER_DIGIT_RUNS) {
    for (let cp = first; cp <= last; cp += 1) {
      const ch = String.fromCodePoint(cp);
      // A character this Node's Unicode does not know yet is not part of its class.
      if (/\p{N}/u.test(ch)) out.push({ ch, value: firstValue + cp - first, set: `${block} U+${first.toString(16).toUpperCase().padStart(4, '0')}` });
    }
  }
  Array.from(IDEOGRAPHIC_DIGITS).forEach((ch, value) => out.push({ ch, value, set: 'ideographic digits' }));
  return out;
}

/** The PAN with every digit of `value` written as `ch`: the test PAN that has that digit most often. */
export function panWithDigit(ch: string, value: number, pans: readonly string[] = TEST_PANS): { readonly pan: string; readonly text: string } {
  const count = (p: string): number => p.split(String(value)).length - 1;
  const pan = [...pans].sort((a, b) => count(b) - count(a))[0] ?? CARDS.visa;
  return { pan, text: pan.split(String(value)).join(ch) };
}

/** Every set of digits (one Nd run of 0-9, one run of other number characters), written as the test PAN it covers best. */
export function panInEveryDigitSet(): { readonly set: string; readonly pan: string; readonly text: string }[] {
  const sets = new Map<string, Map<number, string>>();
  for (const { ch, value, set } of everyDigitCharacter()) {
    const digits = sets.get(set) ?? new Map<number, string>();
    if (!digits.has(value)) digits.set(value, ch);
    sets.set(set, digits);
  }
  return [...sets].map(([set, digits]) => {
    const covered = (p: string): number => Array.from(p).filter((d) => digits.has(Number(d))).length;
    const pan = [...TEST_PANS].sort((a, b) => covered(b) - covered(a))[0] ?? CARDS.visa;
    return { set, pan, text: Array.from(pan, (d) => digits.get(Number(d)) ?? d).join('') };
  });
}

/**
 * Letters written the way punctuation is, which must separate digits (not end a number): every modifier letter
 * (Lm) and every caseless letter of the Latin script (Lo), and every modifier symbol (Sk).
 */
export function separatorLetters(): string[] {
  const out: string[] = [];
  for (let cp = 0x80; cp <= 0x10ffff; cp += 1) {
    const ch = String.fromCodePoint(cp);
    if (/\p{Lm}|\p{Sk}|(?=\p{Script=Latin})\p{Lo}/u.test(ch)) out.push(ch);
  }
  return out;
}

/** The same, written into a URL path: percent-encoded digits and separators, UTF-8 encoded digits. */
export function panInPaths(pan: string): { readonly name: string; readonly text: string }[] {
  const g = groups(pan);
  const pct = (s: string): string => Array.from(Buffer.from(s, 'utf8'), (b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
  return [
    { name: 'plain', text: pan },
    { name: 'dashes', text: g.join('-') },
    { name: 'dots', text: g.join('.') },
    { name: 'percent-encoded digits', text: pct(pan) },
    { name: 'lowercase percent-encoded digits', text: pct(pan).toLowerCase() },
    { name: 'percent-encoded spaces', text: g.join('%20') },
    { name: 'encoded slashes', text: g.join('%2F') },
    { name: 'semicolons', text: g.join(';') },
    { name: 'fullwidth digits, UTF-8', text: pct(inScript(pan, DIGIT_ZEROS.fullwidth)) },
    { name: 'double-encoded', text: pct(pan).replace(/%/g, '%25') },
    { name: 'malformed escape before', text: `%zz${g.join('-')}` },
    { name: 'malformed escape after', text: `${pan}%E0%A4` },
  ];
}

/** Numeric value of a decimal digit of any script (Unicode puts each script's 0-9 in one contiguous run). */
function digitValue(ch: string): number {
  let cp = ch.codePointAt(0) ?? 0;
  const start = cp;
  while (/\p{Nd}/u.test(String.fromCodePoint(cp - 1))) cp -= 1;
  return (start - cp) % 10;
}

function decodePercent(text: string): string {
  return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => Buffer.from(run.replace(/%/g, ''), 'hex').toString('utf8'));
}

/**
 * The text as a reader would extract digits from it: percent and \u escapes decoded (twice, for double encoding),
 * compatibility forms folded (NFKC), every decimal digit read as its ASCII value, and everything that is neither a
 * letter nor a digit dropped (so separators of any kind vanish; letters still separate numbers, as the service decides).
 */
export function digitsView(text: string): string {
  let t = decodePercent(decodePercent(text));
  t = t.replace(/\\u([0-9a-fA-F]{4})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  // Digits of every kind read as their values first (NFKC would turn Roman numerals into letters), and letters
  // written as punctuation dropped like punctuation (NFKC would turn modifier letters into real ones).
  t = Array.from(t, (ch) => {
    const value = numberValue(ch);
    if (value !== undefined) return String(value);
    return /\p{Lm}|(?=\p{Script=Latin})\p{Lo}/u.test(ch) ? '' : ch;
  }).join('');
  t = t.normalize('NFKC');
  t = Array.from(t, (ch) => (/\p{Nd}/u.test(ch) ? String(digitValue(ch)) : ch)).join('');
  return t.replace(/[^\p{L}0-9]/gu, '');
}

const NUMBER_VALUES: ReadonlyMap<number, number> = new Map(
  NUMBER_DIGIT_RUNS.flatMap(([first, last, firstValue]) => Array.from({ length: last - first + 1 }, (_, i) => [first + i, firstValue + i] as const)),
);

/** The value 0-9 of any digit character (Nd, another number character, an ideographic digit), or undefined. */
function numberValue(ch: string): number | undefined {
  if (/\p{Nd}/u.test(ch)) return digitValue(ch);
  const value = NUMBER_VALUES.get(ch.codePointAt(0) ?? 0);
  if (value !== undefined) return value;
  const ideographic = IDEOGRAPHIC_DIGITS.indexOf(ch);
  return ideographic === -1 ? undefined : ideographic;
}

/** Test card numbers every leak check looks for. */
export const TEST_PANS: readonly string[] = Object.values(CARDS);

/** Names the first test PAN of which 12 consecutive digits can be read out of `text` in any disguise, or undefined. */
export function findPanLeak(text: string, pans: readonly string[] = TEST_PANS): string | undefined {
  const view = digitsView(text);
  for (const pan of pans) {
    for (let i = 0; i + 12 <= pan.length; i += 1) {
      if (view.includes(pan.slice(i, i + 12))) return `${pan.slice(0, 4)}... (digits ${i + 1}-${i + 12})`;
    }
  }
  return undefined;
}

/** Every line that leaks, with what leaked, for a readable failure message. */
export function panLeaks(lines: readonly string[]): string[] {
  const found: string[] = [];
  for (const line of lines) {
    const leak = findPanLeak(line);
    if (leak) found.push(`${leak} in: ${line.slice(0, 300)}`);
  }
  return found;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
