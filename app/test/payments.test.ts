import { createHmac } from 'crypto';
import { tokenize } from '../src/card';
import { Database } from '../src/db/database';
import { createLogger } from '../src/logger';
import {
  IdempotencyConflictError,
  IdempotencyInProgressError,
  PaymentService,
  createPaymentIdGenerator,
  idempotencyKeyDigest,
} from '../src/payments';
import { PostgresPaymentRepository } from '../src/repository';
import type { CreateOutcome, PaymentRepository } from '../src/repository';
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
