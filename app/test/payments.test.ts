import { createHmac } from 'crypto';
import { tokenize } from '../src/card';
import { Database, MAX_LOCK_TIMEOUT_MS } from '../src/db/database';
import { ServiceUnavailableError } from '../src/errors';
import { createLogger } from '../src/logger';
import {
  DEFAULT_DUPLICATE_WAIT_MS,
  IdempotencyConflictError,
  IdempotencyInProgressError,
  PaymentService,
  createPaymentIdGenerator,
  idempotencyKeyDigest,
} from '../src/payments';
import type { CreateResult } from '../src/payments';
import { PostgresPaymentRepository } from '../src/repository';
import type { CreateOutcome, Payment, PaymentRepository } from '../src/repository';
import { PAYMENT_ID_PATTERN } from '../src/validation';
import type { PaymentRequest } from '../src/validation';
import { databaseConfig, superuserQuery } from './database';
import { CARDS, NOW, newIdempotencyKey } from './helpers';

const request: PaymentRequest = { amount: 500, currency: 'USD', card: { number: CARDS.visa, expMonth: 1, expYear: 2030, cvc: '123' } };
const tokenizationKey = 'fake-tokenization-key-for-tests-000';

let db: Database;
let repository: PostgresPaymentRepository;
beforeAll(() => {
  db = new Database({ config: databaseConfig(), logger: createLogger({ level: 'silent' }) });
  repository = new PostgresPaymentRepository(db);
});
afterAll(async () => {
  await db.close();
});

function service(repo: PaymentRepository = repository): PaymentService {
  return new PaymentService({ repository: repo, tokenizationKey, clock: () => NOW });
}

async function rowsFor(key: string): Promise<{ keys: number; payments: number; row: Record<string, unknown> | undefined }> {
  const keys = await superuserQuery('SELECT payment_id FROM idempotency_keys WHERE key = $1', [idempotencyKeyDigest(tokenizationKey, key)]);
  const ids = keys.rows.map((r) => r.payment_id as string);
  const payments = await superuserQuery('SELECT * FROM payments WHERE id = ANY($1)', [ids]);
  return { keys: keys.rowCount ?? 0, payments: payments.rowCount ?? 0, row: payments.rows[0] };
}

describe('PaymentService on PostgreSQL', () => {
  test('stores brand, last4 and token only: no column holds the PAN or the CVC', async () => {
    const key = newIdempotencyKey();
    const { payment, replayed } = await service().create(key, request);
    expect(replayed).toBe(false);
    expect(payment).toMatchObject({
      status: 'approved',
      amount: 500,
      currency: 'USD',
      card: { brand: 'visa', last4: '1111' },
      createdAt: NOW.toISOString(),
    });
    const { row } = await rowsFor(key);
    expect(row).toMatchObject({ id: payment.id, card_brand: 'visa', card_last4: '1111', card_token: payment.card.token });
    const stored = JSON.stringify(row);
    expect(stored).not.toContain(CARDS.visa);
    expect(stored).not.toContain('"123"');
    await expect(repository.findById(payment.id)).resolves.toEqual(payment);
  });

  test('GIVEN an Idempotency-Key that carries card data WHEN stored THEN only its HMAC is written, and the key still works', async () => {
    // A caller chooses the key; the header's character set admits digits, so a key can be a PAN in disguise.
    const key = `k-${CARDS.mastercard}-${newIdempotencyKey()}`;
    const first = await service().create(key, request);
    const stored = await superuserQuery('SELECT k.*, p.* FROM idempotency_keys k JOIN payments p ON p.id = k.payment_id WHERE p.id = $1', [
      first.payment.id,
    ]);
    expect(stored.rows).toHaveLength(1);
    const text = JSON.stringify(stored.rows);
    expect(text).not.toContain(CARDS.mastercard);
    expect(text).not.toContain(key);
    expect(stored.rows[0]?.key).toBe(idempotencyKeyDigest(tokenizationKey, key));
    expect(stored.rows[0]?.key).toMatch(/^[0-9a-f]{64}$/);
    const replay = await service().create(key, request);
    expect(replay).toEqual({ payment: first.payment, replayed: true });
  });

  test('GIVEN concurrent requests with one key WHEN created THEN one payment, every caller gets it', async () => {
    const key = newIdempotencyKey();
    const svc = service();
    const results = await Promise.all(Array.from({ length: 20 }, () => svc.create(key, request)));
    expect(new Set(results.map((r) => r.payment.id)).size).toBe(1);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect(await rowsFor(key)).toMatchObject({ keys: 1, payments: 1 });
  });

  test('GIVEN two services (two tasks) WHEN one key arrives at both at once THEN the database lets one create and the other replay', async () => {
    const key = newIdempotencyKey();
    const [a, b] = await Promise.all([service().create(key, request), service().create(key, request)]);
    expect(a.payment).toEqual(b.payment);
    expect([a.replayed, b.replayed].sort()).toEqual([false, true]);
    expect(await rowsFor(key)).toMatchObject({ keys: 1, payments: 1 });
  });

  test('same key with a different body is a conflict, even concurrently', async () => {
    const key = newIdempotencyKey();
    const svc = service();
    const [first, second] = await Promise.allSettled([svc.create(key, request), svc.create(key, { ...request, amount: 501 })]);
    expect(first.status).toBe('fulfilled');
    expect(second).toMatchObject({ status: 'rejected', reason: expect.any(IdempotencyConflictError) });
    expect(await rowsFor(key)).toMatchObject({ keys: 1, payments: 1 });
  });

  test('GIVEN the payment row cannot be written WHEN creating THEN the key is not written either, and a retry succeeds', async () => {
    const key = newIdempotencyKey();
    // A payment id the table's CHECK refuses: the statement fails after the key row was inserted in the same statement.
    const broken = new PaymentService({ repository, tokenizationKey, clock: () => NOW, newId: () => 'pay_tooshort' });
    await expect(broken.create(key, request)).rejects.toMatchObject({ code: '23514' });
    expect(await rowsFor(key)).toMatchObject({ keys: 0, payments: 0 });
    await expect(service().create(key, request)).resolves.toMatchObject({ replayed: false });
    expect(await rowsFor(key)).toMatchObject({ keys: 1, payments: 1 });
  });

  test('a key held by another transaction past lock_timeout is reported as in progress (409), not waited on forever', async () => {
    const key = newIdempotencyKey();
    const shortLock = new Database({ config: databaseConfig(undefined, { statementTimeoutMs: 300 }), logger: createLogger({ level: 'silent' }) });
    const holder = await db.connect();
    try {
      // Another task's create, still uncommitted: its key row is inserted and locked.
      await holder.query('BEGIN');
      const id = createPaymentIdGenerator()();
      await holder.query(
        "INSERT INTO payments (id, status, amount, currency, card_brand, card_last4, card_token, created_at) VALUES ($1, 'approved', 1, 'EUR', 'visa', '1111', $2, now())",
        [id, `tok_${'0'.repeat(64)}`],
      );
      await holder.query(
        "INSERT INTO idempotency_keys (key, fingerprint, payment_id, first_used_at, expires_at) VALUES ($1, $2, $3, now(), now() + interval '1 day')",
        [idempotencyKeyDigest(tokenizationKey, key), service().fingerprint(request), id],
      );
      const started = Date.now();
      await expect(service(new PostgresPaymentRepository(shortLock)).create(key, request)).rejects.toBeInstanceOf(IdempotencyInProgressError);
      // lock_timeout is min(2000 ms, half the statement timeout): 150 ms here.
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
      await shortLock.close();
    }
    // Once the other transaction is gone, the key is free.
    await expect(service().create(key, request)).resolves.toMatchObject({ replayed: false });
  });

  test('the in-progress outcome from a repository becomes IdempotencyInProgressError', async () => {
    const pending: PaymentRepository = {
      createWithKey: async (): Promise<CreateOutcome> => ({ outcome: 'in-progress' }),
      findById: async () => undefined,
    };
    await expect(service(pending).create('key-00005', request)).rejects.toBeInstanceOf(IdempotencyInProgressError);
  });

  test('unknown ids are undefined; ids are never reused', async () => {
    await expect(repository.findById('pay_aaaaaaaaaaaaaaaaaaaaaa')).resolves.toBeUndefined();
    const { payment } = await service().create(newIdempotencyKey(), request);
    // A second create with the same payment id (never generated in practice) is refused by the primary key.
    const again = new PaymentService({ repository, tokenizationKey, clock: () => NOW, newId: () => payment.id });
    await expect(again.create(newIdempotencyKey(), request)).rejects.toMatchObject({ code: '23505' });
  });

  test('declined payments keep their decline code and descriptions round-trip', async () => {
    const { payment } = await service().create(newIdempotencyKey(), {
      ...request,
      card: { ...request.card, number: CARDS.declined },
      description: 'Order #7',
    });
    await expect(repository.findById(payment.id)).resolves.toEqual({ ...payment, declineCode: 'card_declined', description: 'Order #7' });
  });
});

describe('per-request work done once', () => {
  test('tokens and fingerprints are the same HMACs as with the key given as a string (stable across the change)', async () => {
    const { payment } = await service().create(newIdempotencyKey(), request);
    expect(payment.card.token).toBe(`tok_${createHmac('sha256', tokenizationKey).update(CARDS.visa).digest('hex')}`);
    expect(payment.card.token).toBe(tokenize(CARDS.visa, tokenizationKey));
    const canonical = JSON.stringify([500, 'USD', CARDS.visa, 1, 2030, '123', null]);
    expect(service().fingerprint(request)).toBe(
      createHmac('sha256', tokenizationKey).update('idempotency-fingerprint\0').update(canonical).digest('hex'),
    );
  });

  test('payment ids from the pooled generator are well-formed and distinct across block refills', () => {
    const next = createPaymentIdGenerator();
    const ids = Array.from({ length: 1000 }, () => next());
    for (const id of ids) expect(id).toMatch(PAYMENT_ID_PATTERN);
    expect(new Set(ids).size).toBe(ids.length);
    // Two generators never share randomness.
    expect(ids).not.toContain(createPaymentIdGenerator()());
  });
});

/**
 * A repository whose first createWithKey answers when the test says so; later calls answer as the database would
 * once the first has ended (the key is bound to the first payment). Counts the statements asked for.
 */
class GatedRepository implements PaymentRepository {
  calls = 0;
  private binding?: { fingerprint: string; payment: Payment };
  private gate?: { resolve: (o: CreateOutcome) => void; reject: (e: unknown) => void; fingerprint: string; payment: Payment };

  createWithKey(_key: string, fingerprint: string, payment: Payment): Promise<CreateOutcome> {
    this.calls += 1;
    if (this.calls === 1) return new Promise((resolve, reject) => (this.gate = { resolve, reject, fingerprint, payment }));
    // A statement of its own against the database that is still down fails after a bound of its own.
    if (this.failure) return new Promise((_resolve, reject) => setTimeout(() => reject(this.failure), 100));
    if (!this.binding) return new Promise(() => undefined);
    return Promise.resolve({ outcome: 'exists', ...this.binding });
  }

  /** Set by fail(): what every later call fails with too (the database is still down). */
  private failure?: unknown;

  succeed(): void {
    const gate = this.gate as NonNullable<GatedRepository['gate']>;
    this.binding = { fingerprint: gate.fingerprint, payment: gate.payment };
    gate.resolve({ outcome: 'created' });
  }

  fail(err: unknown): void {
    this.failure = err;
    this.gate?.reject(err);
  }

  inProgress(): void {
    this.gate?.resolve({ outcome: 'in-progress' });
  }

  findById(): Promise<Payment | undefined> {
    return Promise.resolve(undefined);
  }
}

type Settled = { status: 'fulfilled'; value: CreateResult; ms: number } | { status: 'rejected'; reason: unknown; ms: number } | 'pending';

/** How `promise` settled, and when (ms after `since`), or 'pending' if it had not within `withinMs`. */
function settle(promise: Promise<CreateResult>, since: number, withinMs: number): Promise<Settled> {
  return Promise.race([
    promise.then(
      (value) => ({ status: 'fulfilled' as const, value, ms: Date.now() - since }),
      (reason: unknown) => ({ status: 'rejected' as const, reason, ms: Date.now() - since }),
    ),
    new Promise<'pending'>((resolve) => setTimeout(() => resolve('pending'), withinMs)),
  ]);
}

describe('duplicates of one Idempotency-Key inside one task wait for the first, within one lock bound', () => {
  const gatedService = (repo: GatedRepository, duplicateWaitMs = 1000): PaymentService =>
    new PaymentService({ repository: repo, tokenizationKey, clock: () => NOW, duplicateWaitMs });

  test('GIVEN the first succeeds THEN duplicates replay it (same body) or get 422 (another body) without a statement of their own', async () => {
    const repo = new GatedRepository();
    const svc = gatedService(repo);
    const key = newIdempotencyKey();
    const started = Date.now();
    const first = svc.create(key, request);
    const same = Array.from({ length: 5 }, () => svc.create(key, request));
    const other = svc.create(key, { ...request, amount: 501 });
    setTimeout(() => repo.succeed(), 50);
    const [firstResult, ...sameResults] = await Promise.all([first, ...same].map((p) => settle(p, started, 2000)));
    const otherResult = await settle(other, started, 2000);
    expect(firstResult).toMatchObject({ status: 'fulfilled', value: { replayed: false } });
    const payment = (firstResult as { value: CreateResult }).value.payment;
    for (const r of sameResults) expect(r).toMatchObject({ status: 'fulfilled', value: { replayed: true, payment } });
    expect(otherResult).toMatchObject({ status: 'rejected', reason: expect.any(IdempotencyConflictError) });
    // One statement for the key: the duplicates held no connection and sent nothing.
    expect(repo.calls).toBe(1);
  });

  test('GIVEN the first fails with 503 THEN every duplicate waiting for it gets 503 at once, not after a wait of its own', async () => {
    const repo = new GatedRepository();
    const svc = gatedService(repo);
    const key = newIdempotencyKey();
    const started = Date.now();
    const all = Array.from({ length: 6 }, () => svc.create(key, request));
    setTimeout(() => repo.fail(new ServiceUnavailableError('fake database outage', 1)), 100);
    const results = await Promise.all(all.map((p) => settle(p, started, 3000)));
    for (const r of results) {
      expect(r).toMatchObject({ status: 'rejected', reason: expect.any(ServiceUnavailableError) });
      expect((r as { ms: number }).ms).toBeLessThan(400);
    }
    expect(repo.calls).toBe(1);
  });

  test('GIVEN the first holds its key past the bound THEN each duplicate gets 409 one bound after its own arrival', async () => {
    const repo = new GatedRepository();
    const svc = gatedService(repo, 300);
    const key = newIdempotencyKey();
    const started = Date.now();
    const first = svc.create(key, request);
    const early = Array.from({ length: 4 }, () => svc.create(key, request));
    await new Promise((resolve) => setTimeout(resolve, 150));
    const lateStarted = Date.now();
    const late = svc.create(key, request);
    const earlyResults = await Promise.all(early.map((p) => settle(p, started, 2000)));
    const lateResult = await settle(late, lateStarted, 2000);
    for (const r of [...earlyResults, lateResult]) {
      expect(r).toMatchObject({ status: 'rejected', reason: expect.any(IdempotencyInProgressError) });
      expect((r as { ms: number }).ms).toBeGreaterThanOrEqual(280);
      expect((r as { ms: number }).ms).toBeLessThan(600);
    }
    expect(repo.calls).toBe(1);
    repo.succeed();
    await expect(first).resolves.toMatchObject({ replayed: false });
    // The first has ended: the next request with the key is a request of its own, which the database replays.
    await expect(svc.create(key, request)).resolves.toMatchObject({ replayed: true });
    expect(repo.calls).toBe(2);
  });

  test('GIVEN the first ends "in progress" (another task holds the key) THEN duplicates waiting for it get 409 with it', async () => {
    const repo = new GatedRepository();
    const svc = gatedService(repo);
    const key = newIdempotencyKey();
    const started = Date.now();
    const all = Array.from({ length: 3 }, () => svc.create(key, request));
    setTimeout(() => repo.inProgress(), 50);
    for (const r of await Promise.all(all.map((p) => settle(p, started, 3000)))) {
      expect(r).toMatchObject({ status: 'rejected', reason: expect.any(IdempotencyInProgressError) });
      expect((r as { ms: number }).ms).toBeLessThan(400);
    }
    expect(repo.calls).toBe(1);
  });

  test('the wait is bounded by the lock bound by default', () => {
    expect(DEFAULT_DUPLICATE_WAIT_MS).toBe(MAX_LOCK_TIMEOUT_MS);
  });
});
