/** What an idempotency key is bound to: the request fingerprint and, once created, the payment. */
export interface IdempotencyRecord {
  /** HMAC of the canonical request body (never the body itself, which holds the PAN). */
  readonly fingerprint: string;
  /** Undefined while the first request with this key is still being processed. */
  readonly paymentId?: string;
}

export type ReserveOutcome = { readonly outcome: 'reserved' } | { readonly outcome: 'exists'; readonly record: IdempotencyRecord };

/**
 * Idempotency keys. `reserve` must be atomic (insert-if-absent, e.g. a unique constraint in a real database):
 * it is what stops two tasks from charging twice for one key.
 */
export interface IdempotencyStore {
  reserve(key: string, fingerprint: string): Promise<ReserveOutcome>;
  /** Binds a reserved key to the payment created for it. */
  complete(key: string, paymentId: string): Promise<void>;
  /** Drops a reservation whose create failed, so the client can retry with the same key. */
  release(key: string): Promise<void>;
}

/** In-process, non-durable idempotency keys (lost on restart, not shared between tasks). Reference and tests only. */
export class InMemoryIdempotencyStore implements IdempotencyStore {
  private readonly records = new Map<string, IdempotencyRecord>();

  async reserve(key: string, fingerprint: string): Promise<ReserveOutcome> {
    const record = this.records.get(key);
    if (record) return { outcome: 'exists', record };
    this.records.set(key, { fingerprint });
    return { outcome: 'reserved' };
  }

  async complete(key: string, paymentId: string): Promise<void> {
    const record = this.records.get(key);
    if (!record) throw new Error('idempotency key was not reserved');
    this.records.set(key, { fingerprint: record.fingerprint, paymentId });
  }

  async release(key: string): Promise<void> {
    this.records.delete(key);
  }

  get size(): number {
    return this.records.size;
  }
}
