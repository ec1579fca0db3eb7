import { createHmac, createSecretKey, randomFillSync } from 'crypto';
import type { KeyObject } from 'crypto';
import { decide, detectBrand, tokenize } from './card';
import type { Payment, PaymentRepository } from './repository';
import type { PaymentRequest } from './validation';

/** Same idempotency key, different request body. */
export class IdempotencyConflictError extends Error {
  constructor() {
    super('idempotency key was already used with a different request');
    this.name = 'IdempotencyConflictError';
  }
}

/** Same key is still being processed by another request (in this task or another) after lock_timeout. */
export class IdempotencyInProgressError extends Error {
  constructor() {
    super('a request with this idempotency key is still being processed');
    this.name = 'IdempotencyInProgressError';
  }
}

export interface PaymentServiceDeps {
  readonly repository: PaymentRepository;
  readonly tokenizationKey: string;
  readonly clock: () => Date;
  /** @default - 16 random bytes, base64url */
  readonly newId?: () => string;
}

export interface CreateResult {
  readonly payment: Payment;
  /** True when the result was returned for an earlier request with the same key and body. */
  readonly replayed: boolean;
}

/** Bytes of randomness per payment id (base64url: 22 characters). */
const ID_BYTES = 16;
/** Random bytes are drawn from the CSPRNG in blocks of this many ids (as crypto.randomUUID does), not per id. */
const IDS_PER_BLOCK = 256;

/** `pay_` and 16 bytes from the system CSPRNG, base64url; every byte of a block is used once, then the block is refilled. */
export function createPaymentIdGenerator(): () => string {
  const block = Buffer.alloc(ID_BYTES * IDS_PER_BLOCK);
  let offset = block.length;
  return () => {
    if (offset === block.length) {
      randomFillSync(block);
      offset = 0;
    }
    const id = `pay_${block.toString('base64url', offset, offset + ID_BYTES)}`;
    offset += ID_BYTES;
    return id;
  };
}

/** HMAC-SHA256 of an Idempotency-Key (hex), the only form in which a key is stored. */
export function idempotencyKeyDigest(tokenizationKey: string | KeyObject, idempotencyKey: string): string {
  return createHmac('sha256', tokenizationKey).update('idempotency-key\0').update(idempotencyKey).digest('hex');
}

export class PaymentService {
  /**
   * Requests per idempotency key in this process, chained so a duplicate waits here for the first and then replays
   * it, instead of holding a pooled connection while it waits on the key's row in the database. Duplicates arriving
   * at other tasks are serialized by the database (repository.ts).
   */
  private readonly inFlight = new Map<string, Promise<CreateResult>>();
  private readonly newId: () => string;
  /** TOKENIZATION_KEY as a KeyObject, prepared once for every HMAC (tokens and fingerprints). */
  private readonly hmacKey: KeyObject;

  constructor(private readonly deps: PaymentServiceDeps) {
    this.newId = deps.newId ?? createPaymentIdGenerator();
    this.hmacKey = createSecretKey(Buffer.from(deps.tokenizationKey, 'utf8'));
  }

  /**
   * What the database stores for an Idempotency-Key: its HMAC under the tokenization key, in a domain of its own.
   * The header is caller-chosen text (it could carry card data), so the raw key is never written anywhere.
   */
  keyDigest(idempotencyKey: string): string {
    return idempotencyKeyDigest(this.hmacKey, idempotencyKey);
  }

  /** Fingerprint of the request under a key separate in purpose from card tokens; the PAN is never stored in clear. */
  fingerprint(request: PaymentRequest): string {
    const { amount, currency, card, description } = request;
    const canonical = JSON.stringify([amount, currency, card.number, card.expMonth, card.expYear, card.cvc, description ?? null]);
    return createHmac('sha256', this.hmacKey).update('idempotency-fingerprint\0').update(canonical).digest('hex');
  }

  async create(idempotencyKey: string, request: PaymentRequest): Promise<CreateResult> {
    const prior = this.inFlight.get(idempotencyKey);
    // Registered before the first await, so a concurrent duplicate always finds it.
    const attempt = (async () => {
      if (prior) await prior.catch(() => undefined);
      return this.createOnce(idempotencyKey, request);
    })();
    this.inFlight.set(idempotencyKey, attempt);
    try {
      return await attempt;
    } finally {
      if (this.inFlight.get(idempotencyKey) === attempt) this.inFlight.delete(idempotencyKey);
    }
  }

  async get(id: string): Promise<Payment | undefined> {
    return this.deps.repository.findById(id);
  }

  private async createOnce(key: string, request: PaymentRequest): Promise<CreateResult> {
    const fingerprint = this.fingerprint(request);
    const payment = this.buildPayment(request);
    // One statement writes the key and the payment together (or neither): nothing to undo on failure, and the
    // client can retry with the same key.
    const result = await this.deps.repository.createWithKey(this.keyDigest(key), fingerprint, payment);
    switch (result.outcome) {
      case 'created':
        return { payment, replayed: false };
      case 'in-progress':
        throw new IdempotencyInProgressError();
      case 'exists':
        if (result.fingerprint !== fingerprint) throw new IdempotencyConflictError();
        return { payment: result.payment, replayed: true };
    }
  }

  private buildPayment(request: PaymentRequest): Payment {
    const { card } = request;
    const brand = detectBrand(card.number);
    if (!brand) throw new Error('validated card has no brand');
    const decision = decide(card.number);
    return {
      id: this.newId(),
      status: decision.status,
      ...(decision.status === 'declined' ? { declineCode: decision.declineCode } : {}),
      amount: request.amount,
      currency: request.currency,
      card: { brand, last4: card.number.slice(-4), token: tokenize(card.number, this.hmacKey) },
      ...(request.description !== undefined ? { description: request.description } : {}),
      createdAt: this.deps.clock().toISOString(),
    };
  }
}
