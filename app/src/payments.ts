import { createHmac, createSecretKey, randomFillSync } from 'crypto';
import type { KeyObject } from 'crypto';
import { decide, detectBrand, tokenize } from './card';
import { MAX_LOCK_TIMEOUT_MS } from './db/database';
import type { Payment, PaymentRepository } from './repository';
import type { PaymentRequest } from './validation';

/** Same idempotency key, different request body. */
export class IdempotencyConflictError extends Error {
  constructor() {
    super('idempotency key was already used with a different request');
    this.name = 'IdempotencyConflictError';
  }
}

/** Same key is still being processed by another request (in this task or another) after the lock bound. */
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
  /**
   * Longest wait of a duplicate (same key, same task) for the first request with its key, then 409: the same bound as
   * a duplicate arriving at another task waits on the key's row (lock_timeout, sessionTimeouts in db/database.ts).
   * @default DEFAULT_DUPLICATE_WAIT_MS
   */
  readonly duplicateWaitMs?: number;
}

export interface CreateResult {
  readonly payment: Payment;
  /** True when the result was returned for an earlier request with the same key and body. */
  readonly replayed: boolean;
}

/** The documented bound on waiting for another request with the same key (lock_timeout is at most this). */
export const DEFAULT_DUPLICATE_WAIT_MS = MAX_LOCK_TIMEOUT_MS;

/** What a key is bound to once the first request with it has ended: the request's fingerprint and its payment. */
interface Binding {
  readonly fingerprint: string;
  readonly payment: Payment;
  /** True when that first request created the payment (false: it found the key bound by an earlier one). */
  readonly created: boolean;
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
   * The first request per idempotency key in this process, while it runs. A duplicate waits here for its outcome
   * (at most duplicateWaitMs) and shares it, instead of holding a pooled connection while it waits on the key's row
   * in the database, and instead of queueing behind the other duplicates, each with a wait of its own. Duplicates
   * arriving at other tasks are serialized by the database (repository.ts).
   */
  private readonly inFlight = new Map<string, Promise<Binding>>();
  private readonly newId: () => string;
  private readonly duplicateWaitMs: number;
  /** TOKENIZATION_KEY as a KeyObject, prepared once for every HMAC (tokens and fingerprints). */
  private readonly hmacKey: KeyObject;

  constructor(private readonly deps: PaymentServiceDeps) {
    this.newId = deps.newId ?? createPaymentIdGenerator();
    this.duplicateWaitMs = deps.duplicateWaitMs ?? DEFAULT_DUPLICATE_WAIT_MS;
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

  /**
   * Creates the payment, or replays the one the key is bound to. A duplicate of a request still running in this task
   * gets that request's outcome: its payment (same body) or 422 (another body) once it succeeds, the same error if it
   * fails (503 at once when the database is unavailable), 409 if it is still running after duplicateWaitMs.
   */
  async create(idempotencyKey: string, request: PaymentRequest): Promise<CreateResult> {
    const fingerprint = this.fingerprint(request);
    const first = this.inFlight.get(idempotencyKey);
    if (first) return outcomeFor(await this.waitFor(first), fingerprint, false);
    // Registered before the first await, so a concurrent duplicate always finds it.
    const binding = this.bind(idempotencyKey, fingerprint, request);
    this.inFlight.set(idempotencyKey, binding);
    try {
      return outcomeFor(await binding, fingerprint, true);
    } finally {
      if (this.inFlight.get(idempotencyKey) === binding) this.inFlight.delete(idempotencyKey);
    }
  }

  async get(id: string): Promise<Payment | undefined> {
    return this.deps.repository.findById(id);
  }

  /** What the key is bound to after this request: its own new payment, or the earlier request's. */
  private async bind(key: string, fingerprint: string, request: PaymentRequest): Promise<Binding> {
    const payment = this.buildPayment(request);
    // One statement writes the key and the payment together (or neither): nothing to undo on failure, and the
    // client can retry with the same key.
    const result = await this.deps.repository.createWithKey(this.keyDigest(key), fingerprint, payment);
    switch (result.outcome) {
      case 'created':
        return { fingerprint, payment, created: true };
      case 'in-progress':
        throw new IdempotencyInProgressError();
      case 'exists':
        return { fingerprint: result.fingerprint, payment: result.payment, created: false };
    }
  }

  /** The first request's binding, or IdempotencyInProgressError once duplicateWaitMs has passed without one. */
  private waitFor(first: Promise<Binding>): Promise<Binding> {
    return new Promise<Binding>((resolve, reject) => {
      const timer = setTimeout(() => reject(new IdempotencyInProgressError()), this.duplicateWaitMs);
      first.then(
        (binding) => {
          clearTimeout(timer);
          resolve(binding);
        },
        (err: unknown) => {
          clearTimeout(timer);
          // Its own instance per request: "in progress" is this request's outcome too.
          reject(err instanceof IdempotencyInProgressError ? new IdempotencyInProgressError() : err);
        },
      );
    });
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

/** A request's result from what its key is bound to: the same request body replays, another one is a conflict. */
function outcomeFor(binding: Binding, fingerprint: string, first: boolean): CreateResult {
  if (binding.fingerprint !== fingerprint) throw new IdempotencyConflictError();
  return { payment: binding.payment, replayed: !(first && binding.created) };
}
