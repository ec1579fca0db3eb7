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

/** Masks every run of 6 or more digits, so a PAN can never reach a log line through free text (URLs, messages). */
export function scrubDigits(text: string): string {
  return text.replace(/[0-9]{6,}/g, (run) => `[masked]${run.slice(-4)}`);
}
