import type { QueryConfig } from 'pg';
import type { CardBrand, DeclineCode } from './card';
import type { Database } from './db/database';
import { sqlState, toServiceUnavailable } from './db/errors';
import { IDEMPOTENCY_KEY_TTL_SECONDS } from './idempotency';
import type { Currency } from './validation';

/** A stored payment. Holds no PAN and no CVC: only brand, last four digits and the HMAC token. */
export interface Payment {
  readonly id: string;
  readonly status: 'approved' | 'declined';
  readonly declineCode?: DeclineCode;
  readonly amount: number;
  readonly currency: Currency;
  readonly card: { readonly brand: CardBrand; readonly last4: string; readonly token: string };
  readonly description?: string;
  readonly createdAt: string;
}

/**
 * What happened to a create with an idempotency key:
 * - created: the key was free (or expired) and is now bound to this payment, both written in one statement;
 * - exists: the key is bound (unexpired) to an earlier request, whose fingerprint and payment are returned;
 * - in-progress: another transaction holds the key and did not finish within lock_timeout.
 */
export type CreateOutcome =
  | { readonly outcome: 'created' }
  | { readonly outcome: 'exists'; readonly fingerprint: string; readonly payment: Payment }
  | { readonly outcome: 'in-progress' };

/** Where payments and their idempotency keys live. */
export interface PaymentRepository {
  /** Stores the payment and binds the key (its HMAC, PaymentService.keyDigest) to it atomically, unless already bound. */
  createWithKey(keyDigest: string, fingerprint: string, payment: Payment): Promise<CreateOutcome>;
  findById(id: string): Promise<Payment | undefined>;
}

interface PaymentRow {
  id: string;
  status: Payment['status'];
  decline_code: DeclineCode | null;
  amount: number;
  currency: Currency;
  card_brand: CardBrand;
  card_last4: string;
  card_token: string;
  description: string | null;
  created_at: Date;
}

const PAYMENT_COLUMNS = 'p.id, p.status, p.decline_code, p.amount, p.currency, p.card_brand, p.card_last4, p.card_token, p.description, p.created_at';

/**
 * One statement, one round trip, one implicit transaction: the key row and the payment row are inserted together or
 * not at all. The key's primary key decides the winner: a concurrent duplicate's INSERT waits for the first
 * transaction (at most lock_timeout, then 55P03) and then finds the key taken. An expired key is taken over (the
 * DO UPDATE's WHERE); an unexpired one makes the CTE empty, so no payment is inserted (rowCount 0).
 * The foreign key from the key to the payment is checked at the end of the statement, when both rows exist.
 */
const CREATE_SQL = `WITH bound AS (
  INSERT INTO idempotency_keys AS k (key, fingerprint, payment_id, first_used_at, expires_at)
  VALUES ($1, $2, $3, now(), now() + make_interval(secs => $4))
  ON CONFLICT (key) DO UPDATE
    SET fingerprint = excluded.fingerprint, payment_id = excluded.payment_id,
        first_used_at = excluded.first_used_at, expires_at = excluded.expires_at
    WHERE k.expires_at <= now()
  RETURNING k.payment_id
)
INSERT INTO payments (id, status, decline_code, amount, currency, card_brand, card_last4, card_token, description, created_at)
SELECT bound.payment_id, $5::text, $6::text, $7::integer, $8::text, $9::text, $10::text, $11::text, $12::text, $13::timestamptz FROM bound`;

/**
 * The create statement with its parameters. scripts/bench.mjs runs this same statement in its bare `pg` loop, so the
 * service is compared with the database doing exactly the work a payment asks of it.
 */
export function createStatement(keyDigest: string, fingerprint: string, payment: Payment): QueryConfig {
  return {
    name: 'payments-create',
    text: CREATE_SQL,
    values: [
      keyDigest,
      fingerprint,
      payment.id,
      IDEMPOTENCY_KEY_TTL_SECONDS,
      payment.status,
      payment.declineCode ?? null,
      payment.amount,
      payment.currency,
      payment.card.brand,
      payment.card.last4,
      payment.card.token,
      payment.description ?? null,
      payment.createdAt,
    ],
  };
}

/** The earlier request a key is bound to (a new statement, so it sees the row the winner just committed). */
const FIND_BY_KEY_SQL = `SELECT k.fingerprint, ${PAYMENT_COLUMNS}
FROM idempotency_keys k JOIN payments p ON p.id = k.payment_id
WHERE k.key = $1 AND k.expires_at > now()`;

const FIND_BY_ID_SQL = `SELECT ${PAYMENT_COLUMNS} FROM payments p WHERE p.id = $1`;

/** A key that expires between the insert and the lookup is taken over on the next attempt; this bounds the loop. */
const MAX_CREATE_ATTEMPTS = 3;

function toPayment(row: PaymentRow): Payment {
  return {
    id: row.id,
    status: row.status,
    ...(row.decline_code !== null ? { declineCode: row.decline_code } : {}),
    amount: row.amount,
    currency: row.currency,
    card: { brand: row.card_brand, last4: row.card_last4, token: row.card_token },
    ...(row.description !== null ? { description: row.description } : {}),
    createdAt: row.created_at.toISOString(),
  };
}

/**
 * PostgreSQL storage (migrations/0001). Statements are named, so each pooled connection parses and plans them once.
 * Errors that pass by themselves (database unreachable, restarting, pool exhausted, timeouts) are thrown as
 * ServiceUnavailableError; anything else is thrown as it is.
 */
export class PostgresPaymentRepository implements PaymentRepository {
  constructor(private readonly db: Database) {}

  async createWithKey(key: string, fingerprint: string, payment: Payment): Promise<CreateOutcome> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        const inserted = await this.db.query(createStatement(key, fingerprint, payment));
        if (inserted.rowCount === 1) return { outcome: 'created' };
        const existing = await this.db.query<PaymentRow & { fingerprint: string }>({
          name: 'payments-find-by-key',
          text: FIND_BY_KEY_SQL,
          values: [key],
        });
        const row = existing.rows[0];
        if (row) return { outcome: 'exists', fingerprint: row.fingerprint, payment: toPayment(row) };
        if (attempt >= MAX_CREATE_ATTEMPTS) throw new Error('idempotency key neither insertable nor found (expired repeatedly between statements)');
      } catch (err) {
        if (sqlState(err) === '55P03') return { outcome: 'in-progress' };
        throw toServiceUnavailable(err);
      }
    }
  }

  async findById(id: string): Promise<Payment | undefined> {
    try {
      const result = await this.db.query<PaymentRow>({ name: 'payments-find-by-id', text: FIND_BY_ID_SQL, values: [id] });
      const row = result.rows[0];
      return row ? toPayment(row) : undefined;
    } catch (err) {
      throw toServiceUnavailable(err);
    }
  }
}
