import { createServer, connect } from 'net';
import type { AddressInfo, Server, Socket } from 'net';
import { Database, MAX_LOCK_TIMEOUT_MS, sessionTimeouts } from '../src/db/database';
import { IDEMPOTENCY_KEY_TTL_SECONDS, IdempotencyKeySweeper, SWEEP_BATCH_SIZE } from '../src/idempotency';
import { createLogger } from '../src/logger';
import { PaymentService, createPaymentIdGenerator, idempotencyKeyDigest } from '../src/payments';
import { PostgresPaymentRepository } from '../src/repository';
import type { PaymentRequest } from '../src/validation';
import { databaseConfig, superuserQuery, testDatabase } from './database';
import { CARDS, LogCapture, NOW, http, newIdempotencyKey, paymentBody, startTestServer, waitFor } from './helpers';
import type { TestServer } from './helpers';

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

/** TCP proxy to PostgreSQL that can freeze: bytes stop flowing both ways and nothing is refused (a blackholed endpoint). */
class FreezableProxy {
  frozen = false;
  private server?: Server;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<number> {
    this.server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const [from, to] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        this.sockets.add(from);
        from.on('error', () => undefined);
        from.on('close', () => {
          this.sockets.delete(from);
          to.destroy();
        });
        from.on('data', (d: Buffer) => {
          if (!this.frozen) to.write(d);
        });
      }
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return (this.server?.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

describe('duplicates of one key at one task answer within one bound, not one bound per duplicate ahead of them', () => {
  const post = (server: TestServer, key: string, started: number): Promise<{ status: number; error: unknown; retryAfter: unknown; ms: number }> =>
    http(server.port, { method: 'POST', path: '/v1/payments', headers: { ...server.auth, 'idempotency-key': key }, body: paymentBody() }).then(
      (r) => ({
        status: r.status,
        error: r.json.error,
        retryAfter: r.headers['retry-after'],
        ms: Date.now() - started,
      }),
    );

  test('GIVEN another task holds the key WHEN 8 duplicates arrive THEN each gets 409 within the lock bound, and only one waits on the row', async () => {
    // A name of its own, so that only this server's connections are counted (test files share the database).
    const applicationName = 'payment-service-duplicates-test';
    const database = new Database({ config: databaseConfig(), logger: createLogger({ level: 'silent' }), applicationName });
    const server = await startTestServer({ database, config: { logLevel: 'warn' } });
    const holder = await db.connect();
    try {
      const key = newIdempotencyKey();
      // Another task's create with this key, still in its transaction.
      await holder.query('BEGIN');
      const id = createPaymentIdGenerator()();
      await holder.query(
        "INSERT INTO payments (id, status, amount, currency, card_brand, card_last4, card_token, created_at) VALUES ($1, 'approved', 1, 'EUR', 'visa', '1111', $2, now())",
        [id, `tok_${'0'.repeat(64)}`],
      );
      await holder.query(
        "INSERT INTO idempotency_keys (key, fingerprint, payment_id, first_used_at, expires_at) VALUES ($1, $2, $3, now(), now() + interval '1 day')",
        [idempotencyKeyDigest(server.config.tokenizationKey, key), 'b'.repeat(64), id],
      );
      const started = Date.now();
      const answers = Array.from({ length: 8 }, () => post(server, key, started));
      // Halfway through the bound: one of this task's connections waits on the key row, no more.
      await new Promise((resolve) => setTimeout(resolve, MAX_LOCK_TIMEOUT_MS / 2));
      const waiting = await superuserQuery(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
        [applicationName],
      );
      const results = await Promise.all(answers);
      expect(waiting.rows[0]?.n).toBe(1);
      for (const r of results) {
        expect(r).toMatchObject({ status: 409, error: 'idempotency_key_in_progress' });
        expect(r.ms).toBeLessThan(MAX_LOCK_TIMEOUT_MS + 1000);
      }
    } finally {
      // The holder may have been ended meanwhile (idle_in_transaction_session_timeout): then it is destroyed.
      const rolledBack = await holder.query('ROLLBACK').then(
        () => true,
        () => false,
      );
      holder.release(!rolledBack);
      await server.shutdown('test end');
    }
  });

  test('GIVEN a frozen database WHEN 6 duplicates arrive THEN the first gets 503 as a lone request would, the others 409 after the lock bound', async () => {
    const proxy = new FreezableProxy(testDatabase());
    const port = await proxy.start();
    // statement_timeout 1 s: a lone request gives up after 2 s (query_timeout); lock_timeout is 500 ms.
    const config = databaseConfig({ ...testDatabase(), port }, { statementTimeoutMs: 1000, connectTimeoutMs: 1000 });
    const server = await startTestServer({ config: { logLevel: 'error', database: config } });
    const { lock_timeout: lockBound } = sessionTimeouts(config);
    try {
      expect((await post(server, newIdempotencyKey(), Date.now())).status).toBe(201);
      proxy.frozen = true;
      // A lone request meanwhile: 503 after query_timeout (2 s); its connection is dropped.
      const lone = await post(server, newIdempotencyKey(), Date.now());
      expect(lone).toMatchObject({ status: 503, retryAfter: '1' });
      const key = newIdempotencyKey();
      const started = Date.now();
      const results = await Promise.all(Array.from({ length: 6 }, () => post(server, key, started)));
      // The first one's own attempt: a new connection (the frozen one was dropped), given up after connectTimeoutMs.
      const first = results.filter((r) => r.status === 503);
      expect(first).toEqual([expect.objectContaining({ error: 'service_unavailable', retryAfter: '1' })]);
      expect(first[0]?.ms).toBeLessThan(lone.ms + 1000);
      // The others waited for it no longer than the lock bound (this configuration's, 500 ms), then 409.
      const others = results.filter((r) => r.status !== 503);
      expect(others).toHaveLength(5);
      for (const r of others) {
        expect(r).toMatchObject({ status: 409, error: 'idempotency_key_in_progress' });
        expect(r.ms).toBeGreaterThanOrEqual(lockBound - 50);
        expect(r.ms).toBeLessThan(lockBound + 500);
      }
    } finally {
      proxy.frozen = false;
      await server.shutdown('test end');
      await proxy.stop();
    }
  });
});
