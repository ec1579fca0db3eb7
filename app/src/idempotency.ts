import type { Logger } from 'pino';
import type { Database } from './db/database';

/**
 * An idempotency key is bound to its first request for 24 hours from first use. After that the key may be used for
 * a new payment (the expired row is taken over in the create statement) and the sweep deletes it. The payment itself
 * is kept: only the key's binding expires.
 */
export const IDEMPOTENCY_KEY_TTL_SECONDS = 24 * 60 * 60;

/** How often each task deletes expired keys. */
export const SWEEP_INTERVAL_MS = 10 * 60 * 1000;
/** Rows per DELETE: short transactions, short locks. */
export const SWEEP_BATCH_SIZE = 1000;
/** Batches per sweep; the rest waits for the next interval. */
export const SWEEP_MAX_BATCHES = 20;

/**
 * SKIP LOCKED: tasks sweeping at the same moment take different rows instead of waiting on each other, and a key
 * being taken over by a create at that moment is left alone.
 */
const SWEEP_SQL = `DELETE FROM idempotency_keys WHERE key IN (
  SELECT key FROM idempotency_keys WHERE expires_at <= now() ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED
)`;

export interface IdempotencyKeySweeperOptions {
  readonly db: Database;
  readonly logger: Logger;
  /** @default SWEEP_INTERVAL_MS */
  readonly intervalMs?: number;
}

/** Deletes expired idempotency keys in the background. A failed sweep is logged and tried again next interval. */
export class IdempotencyKeySweeper {
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;

  constructor(private readonly options: IdempotencyKeySweeperOptions) {}

  /** Deletes up to SWEEP_BATCH_SIZE * SWEEP_MAX_BATCHES expired keys; resolves to the number deleted. */
  async sweepOnce(): Promise<number> {
    let deleted = 0;
    for (let batch = 0; batch < SWEEP_MAX_BATCHES; batch += 1) {
      const result = await this.options.db.query({ name: 'idempotency-sweep', text: SWEEP_SQL, values: [SWEEP_BATCH_SIZE] });
      deleted += result.rowCount ?? 0;
      if ((result.rowCount ?? 0) < SWEEP_BATCH_SIZE) break;
    }
    return deleted;
  }

  start(): void {
    if (this.timer) return;
    const interval = this.options.intervalMs ?? SWEEP_INTERVAL_MS;
    this.timer = setInterval(() => {
      // One sweep at a time per task; a slow one is not overlapped by the next tick.
      if (this.running) return;
      this.running = this.sweepOnce();
      this.running
        .then(
          (deleted) => {
            if (deleted > 0) this.options.logger.info({ deleted }, 'expired idempotency keys deleted');
          },
          // The sweep is housekeeping: creates take over expired keys themselves, so a failed sweep costs only space
          // until the next interval. It is reported, not fatal.
          (err: unknown) => this.options.logger.warn({ err }, 'idempotency key sweep failed; retrying next interval'),
        )
        .finally(() => {
          this.running = undefined;
        });
    }, interval);
    // The timer alone must not keep the process alive.
    this.timer.unref();
  }

  /** Stops the timer and waits for a sweep in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }
}
