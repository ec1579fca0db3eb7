import { Database } from '../src/db/database';
import { IDEMPOTENCY_KEY_TTL_SECONDS, IdempotencyKeySweeper, SWEEP_BATCH_SIZE } from '../src/idempotency';
import { createLogger } from '../src/logger';
import { PaymentService, idempotencyKeyDigest } from '../src/payments';
import { PostgresPaymentRepository } from '../src/repository';
import type { PaymentRequest } from '../src/validation';
import { databaseConfig, superuserQuery } from './database';
import { CARDS, LogCapture, NOW, http, newIdempotencyKey, paymentBody, startTestServer, waitFor } from './helpers';

const TOKENIZATION_KEY = 'fake-tokenization-key-for-tests-000';
/** The stored form of a key (its HMAC): tests look rows up by it. */
const digest = (key: string): string => idempotencyKeyDigest(TOKENIZATION_KEY, key);

const request: PaymentRequest = { amount: 700, currency: 'EUR', card: { number: CARDS.visa, expMonth: 1, expYear: 2030, cvc: '123' } };

let db: Database;
let service: PaymentService;
beforeAll(() => {
  db = new Database({ config: databaseConfig(), logger: createLogger({ level: 'silent' }) });
  service = new PaymentService({
    repository: new PostgresPaymentRepository(db),
    tokenizationKey: TOKENIZATION_KEY,
    clock: () => NOW,
  });
});
afterAll(async () => {
  await db.close();
});

/** Moves a key's expiry into the past, as if 24 hours had gone by (tokenizationKey: the server's, if not this file's). */
async function expire(key: string, tokenizationKey: string = TOKENIZATION_KEY): Promise<void> {
  const updated = await superuserQuery("UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = $1", [
    idempotencyKeyDigest(tokenizationKey, key),
  ]);
  expect(updated.rowCount).toBe(1);
}

describe('idempotency key expiry', () => {
  test('a key is bound for exactly 24 hours from its first use (database clock)', async () => {
    const key = newIdempotencyKey();
    await service.create(key, request);
    const row = await superuserQuery<{ ttl: number; age: number }>(
      'SELECT extract(epoch FROM expires_at - first_used_at)::int AS ttl, extract(epoch FROM now() - first_used_at) AS age FROM idempotency_keys WHERE key = $1',
      [digest(key)],
    );
    expect(IDEMPOTENCY_KEY_TTL_SECONDS).toBe(86400);
    expect(row.rows[0]?.ttl).toBe(86400);
    expect(Math.abs(Number(row.rows[0]?.age))).toBeLessThan(60);
  });

  test('GIVEN an expired key WHEN reused, even with another body THEN a new payment is created and bound; the old payment stays readable', async () => {
    const key = newIdempotencyKey();
    const first = await service.create(key, request);
    // Within 24 hours another body is refused.
    await expect(service.create(key, { ...request, amount: 701 })).rejects.toMatchObject({ name: 'IdempotencyConflictError' });
    await expire(key);
    const second = await service.create(key, { ...request, amount: 701 });
    expect(second.replayed).toBe(false);
    expect(second.payment.id).not.toBe(first.payment.id);
    expect(second.payment.amount).toBe(701);
    // The key now replays the new payment; the first one is still there.
    await expect(service.create(key, { ...request, amount: 701 })).resolves.toMatchObject({ replayed: true, payment: second.payment });
    await expect(service.get(first.payment.id)).resolves.toEqual(first.payment);
  });

  test('an expired key is not replayed over HTTP either', async () => {
    const server = await startTestServer();
    try {
      const key = newIdempotencyKey();
      const post = (): ReturnType<typeof http> =>
        http(server.port, { method: 'POST', path: '/v1/payments', headers: { ...server.auth, 'idempotency-key': key }, body: paymentBody() });
      const first = await post();
      await expire(key, server.config.tokenizationKey);
      const second = await post();
      expect(second.status).toBe(201);
      expect(second.headers['idempotent-replayed']).toBeUndefined();
      expect(second.json.id).not.toBe(first.json.id);
    } finally {
      await server.shutdown('test end');
    }
  });

  test('the sweep deletes expired keys (in batches) and nothing else', async () => {
    const keep = newIdempotencyKey();
    await service.create(keep, request);
    const expired = Array.from({ length: 3 }, () => newIdempotencyKey());
    for (const key of expired) {
      await service.create(key, request);
      await expire(key);
    }
    const sweeper = new IdempotencyKeySweeper({ db, logger: createLogger({ level: 'silent' }) });
    // Other test files may have expired keys too: at least ours are gone.
    expect(await sweeper.sweepOnce()).toBeGreaterThanOrEqual(3);
    const left = await superuserQuery<{ key: string }>('SELECT key FROM idempotency_keys WHERE key = ANY($1)', [[keep, ...expired].map(digest)]);
    expect(left.rows.map((r) => r.key)).toEqual([digest(keep)]);
    expect(SWEEP_BATCH_SIZE).toBeGreaterThan(0);
  });

  test('the sweep runs on its interval, logs what it deleted, and a failure is logged, not thrown', async () => {
    const key = newIdempotencyKey();
    await service.create(key, request);
    await expire(key);
    const logs = new LogCapture();
    const sweeper = new IdempotencyKeySweeper({ db, logger: createLogger({ level: 'info', destination: logs }), intervalMs: 50 });
    sweeper.start();
    sweeper.start();
    try {
      await waitFor(() => logs.text.includes('expired idempotency keys deleted'));
      jest.spyOn(db, 'query').mockRejectedValueOnce(new Error('fake sweep failure'));
      await waitFor(() => logs.text.includes('idempotency key sweep failed; retrying next interval'));
    } finally {
      await sweeper.stop();
      jest.restoreAllMocks();
    }
    expect((await superuserQuery('SELECT 1 FROM idempotency_keys WHERE key = $1', [digest(key)])).rowCount).toBe(0);
  });
});
