import { z } from 'zod';
import { PAN_MIN_DIGITS, PAN_PATTERN, containsCardNumberLike, cvcLength, detectBrand, luhnValid } from './card';

/** Currencies the service accepts (ISO 4217 alphabetic codes). */
export const CURRENCIES = ['USD', 'EUR', 'GBP', 'JPY', 'CAD', 'AUD', 'CHF', 'SEK', 'NOK', 'DKK', 'NZD', 'SGD'] as const;
export type Currency = (typeof CURRENCIES)[number];

/** Amounts are minor units; the upper bound keeps every amount exactly representable and sane for a card payment. */
export const MAX_AMOUNT = 99_999_999;
export const MAX_DESCRIPTION_LENGTH = 140;
/** Cards expiring further out than this are not real cards. */
export const MAX_EXPIRY_YEARS_AHEAD = 20;

export const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9_-]{8,128}$/;
export const PAYMENT_ID_PATTERN = /^pay_[A-Za-z0-9_-]{22}$/;

/**
 * Characters refused in free text, by Unicode class rather than by example: controls (Cc), format characters
 * (Cf: zero-width, bidirectional controls, tags, soft hyphen, ...), surrogates (Cs), private use (Co), unassigned
 * code points and noncharacters (Cn), line and paragraph separators (Zl, Zp), every default-ignorable code point
 * (variation selectors, Hangul fillers, ...) and the blank-looking braille pattern U+2800. What is left is text a
 * person can see: letters, marks, digits, punctuation, symbols and spaces of every script.
 */
const INVISIBLE_TEXT = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\u2800]/u;

/** Why `text` cannot be stored as free text (a message that quotes nothing), or undefined when it can. */
export function freeTextProblem(text: string): string | undefined {
  if (INVISIBLE_TEXT.test(text)) return 'must not contain control, format, private-use, unassigned or invisible characters';
  if (containsCardNumberLike(text)) {
    return `must not contain ${PAN_MIN_DIGITS} or more digits unless letters separate them (it could be a card number)`;
  }
  return undefined;
}

/**
 * A free-text field: length-limited, visible characters only, no card-number-like digit sequence. The length is
 * checked first and the content only within it: zod runs refinements after a failed `.max()` too, and scanning a
 * body-sized string (16 KiB of %-escapes) costs a multiple of a whole normal request.
 */
function freeText(maxLength: number): z.ZodType<string> {
  return z.string().superRefine((text, ctx) => {
    const problem = text.length > maxLength ? `must be at most ${maxLength} characters` : freeTextProblem(text);
    if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
  });
}

/** Keys that could pollute prototypes if a later consumer merged the body naively. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

const cardSchema = z
  .object({
    number: z.string().regex(PAN_PATTERN, 'must be 12 to 19 ASCII digits, without spaces or separators'),
    expMonth: z.number().int('must be an integer').min(1, 'must be between 1 and 12').max(12, 'must be between 1 and 12'),
    expYear: z.number().int('must be an integer').min(2000, 'must be a 4-digit year').max(2099, 'must be a 4-digit year'),
    cvc: z.string().regex(/^[0-9]{3,4}$/, 'must be 3 digits (4 for American Express)'),
  })
  .strict();

const paymentSchema = z
  .object({
    amount: z
      .number()
      .int('must be an integer number of minor units')
      .min(1, 'must be a positive integer number of minor units')
      .max(MAX_AMOUNT, `must be at most ${MAX_AMOUNT}`),
    currency: z.enum(CURRENCIES, { errorMap: () => ({ message: `must be one of ${CURRENCIES.join(', ')}` }) }),
    card: cardSchema,
    description: freeText(MAX_DESCRIPTION_LENGTH).optional(),
  })
  .strict();

export type PaymentRequest = z.infer<typeof paymentSchema>;

export interface FieldError {
  readonly field: string;
  readonly message: string;
}

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; fields: FieldError[] };

/**
 * Field names come from the caller and could carry card data (e.g. `{"card": {"4111...": 1}}`), so unusual
 * names are not repeated back.
 */
export function safeFieldName(key: string): string {
  const digits = key.replace(/[^0-9]/g, '').length;
  return /^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/.test(key) && digits < 4 ? key : '<unnamed>';
}

function fieldPath(path: readonly (string | number)[]): string {
  return path.length === 0 ? '(body)' : path.map((p) => safeFieldName(String(p))).join('.');
}

/**
 * Messages never contain the submitted value (zod's defaults for enums and literals do), only what was expected. The
 * last line is the net for a check added later without its own message: any default that quotes what was received
 * becomes "is invalid".
 */
export const errorMap: z.ZodErrorMap = (issue, ctx) => {
  if (issue.code === z.ZodIssueCode.invalid_type) {
    if (issue.received === 'undefined') return { message: 'is required' };
    return { message: `must be ${issue.expected === 'object' ? 'a JSON object' : `a ${issue.expected}`}` };
  }
  if (issue.code === z.ZodIssueCode.unrecognized_keys) return { message: 'unknown field' };
  return { message: ctx.defaultError.includes('received') ? 'is invalid' : ctx.defaultError };
};

function findForbiddenKeys(value: unknown, path: string[], depth: number, out: FieldError[]): void {
  if (depth > 3 || typeof value !== 'object' || value === null) return;
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.has(key)) {
      out.push({ field: [...path, key].join('.'), message: 'forbidden field name' });
    } else {
      const child = (value as Record<string, unknown>)[key];
      // Only objects can hold further keys: the path (and the field-name check) is built only for them.
      if (typeof child === 'object' && child !== null) findForbiddenKeys(child, [...path, safeFieldName(key)], depth + 1, out);
    }
  }
}

/** Shape, type and card checks of a POST /v1/payments body. `now` is injected so expiry is testable. */
export function validatePaymentRequest(body: unknown, now: Date): ValidationResult<PaymentRequest> {
  const forbidden: FieldError[] = [];
  findForbiddenKeys(body, [], 0, forbidden);
  if (forbidden.length > 0) return { ok: false, fields: forbidden };

  const parsed = paymentSchema.safeParse(body, { errorMap });
  if (!parsed.success) {
    const fields: FieldError[] = [];
    for (const issue of parsed.error.issues) {
      if (issue.code === z.ZodIssueCode.unrecognized_keys) {
        // zod reports every unknown key of an object in one issue: each is named on its own (safely, see fieldPath).
        for (const key of issue.keys) fields.push({ field: fieldPath([...issue.path, key]), message: issue.message });
      } else {
        fields.push({ field: fieldPath(issue.path), message: issue.message });
      }
    }
    return { ok: false, fields };
  }

  const { card } = parsed.data;
  const fields: FieldError[] = [];
  const brand = detectBrand(card.number);
  if (!luhnValid(card.number)) {
    fields.push({ field: 'card.number', message: 'is not a valid card number (Luhn check failed)' });
  } else if (!brand) {
    fields.push({ field: 'card.number', message: 'card brand is not accepted (visa, mastercard, amex, discover)' });
  } else if (card.cvc.length !== cvcLength(brand)) {
    fields.push({ field: 'card.cvc', message: `must be ${cvcLength(brand)} digits for this card brand` });
  }
  const year = now.getUTCFullYear();
  const month = now.getUTCMonth() + 1;
  if (card.expYear < year || (card.expYear === year && card.expMonth < month)) {
    fields.push({ field: 'card.expYear', message: 'card has expired' });
  } else if (card.expYear > year + MAX_EXPIRY_YEARS_AHEAD) {
    fields.push({ field: 'card.expYear', message: `must be at most ${MAX_EXPIRY_YEARS_AHEAD} years ahead` });
  }
  return fields.length > 0 ? { ok: false, fields } : { ok: true, value: parsed.data };
}
