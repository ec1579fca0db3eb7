import { randomInt } from 'crypto';
import { Database } from '../src/db/database';
import { createLogger } from '../src/logger';
import { PostgresPaymentRepository } from '../src/repository';
import type { PaymentRepository } from '../src/repository';
import { RawConnection, rawRequest, sleep } from './adversarial-helpers';
import { databaseConfig, superuserQuery } from './database';
import { LogCapture, http, newIdempotencyKey, paymentBody, startTestServer, waitFor } from './helpers';
import type { TestServer } from './helpers';

/**
 * A client that disconnects while its payment is being written must not make the payment invisible in the logs:
 * every request has exactly one "request completed" line, and a payment committed after the client left is on it
 * (with `aborted: true`), so an operator can find every payment the service made.
 */

/** Payments stored with this amount (amounts are unique per test run, so other suites' rows do not interfere). */
async function paymentIdsWithAmount(amount: number): Promise<string[]> {
  return (await superuserQuery<{ id: string }>('SELECT id FROM payments WHERE amount = $1', [amount])).rows.map((r) => r.id);
}

/** Waits (up to 3 s) for the create to commit, then lets its request line be written. */
async function committedWithAmount(amount: number): Promise<string[]> {
  for (let waited = 0; waited < 3000; waited += 20) {
    const ids = await paymentIdsWithAmount(amount);
    if (ids.length > 0) {
      await sleep(50);
      return ids;
    }
    await sleep(20);
  }
  return [];
}

function requestLines(server: TestServer): Record<string, unknown>[] {
  return server.logs.records().filter((r) => r.msg === 'request completed');
}

/** The real repository, but each create waits until the test lets it go: the client can leave mid-create on cue. */
class GatedRepository implements PaymentRepository {
  entered = 0;
  private gate: Promise<void> = Promise.resolve();
  private open: () => void = () => undefined;

  constructor(private readonly inner: PaymentRepository) {}

  hold(): void {
    this.gate = new Promise((resolve) => {
      this.open = resolve;
    });
  }

  release(): void {
    this.open();
  }

  async createWithKey(...args: Parameters<PaymentRepository['createWithKey']>): ReturnType<PaymentRepository['createWithKey']> {
    this.entered += 1;
    await this.gate;
    return this.inner.createWithKey(...args);
  }

  findById(id: string): ReturnType<PaymentRepository['findById']> {
    return this.inner.findById(id);
  }
}

describe('request lines: exactly one per request, also when the client leaves before its response', () => {
  let server: TestServer;
  let repository: GatedRepository;
  const baseAmount = randomInt(100_000, 90_000_000);
  beforeAll(async () => {
    // The pool logs to the server's capture too: only warnings, none expected here.
    const database = new Database({ config: databaseConfig(), logger: createLogger({ level: 'warn', destination: new LogCapture() }) });
    repository = new GatedRepository(new PostgresPaymentRepository(database));
    server = await startTestServer({ database, repository, config: { logLevel: 'info' } });
  });
  afterAll(async () => {
    await server.shutdown('test end');
  });

  test('GIVEN 6 clients that disconnect mid-create WHEN each payment commits after THEN each payment id is on exactly one line, marked aborted', async () => {
    const created: string[] = [];
    for (let i = 0; i < 6; i += 1) {
      const amount = baseAmount + i;
      repository.hold();
      const entered = repository.entered;
      const c = await RawConnection.open(server.port);
      const headers = { ...server.auth, 'idempotency-key': newIdempotencyKey(), 'content-type': 'application/json' };
      c.write(rawRequest('POST', '/v1/payments', headers, JSON.stringify(paymentBody({ amount }))));
      await waitFor(() => repository.entered > entered);
      c.destroy();
      // Let the server see the connection close before the create goes on (half the cases) or right as it does.
      if (i % 2 === 0) await sleep(50);
      repository.release();
      created.push(...(await committedWithAmount(amount)));
    }
    expect(created).toHaveLength(6);
    const lines = requestLines(server);
    for (const id of created) {
      const mentioning = server.logs.lines.filter((l) => l.includes(id));
      expect([id, mentioning.length]).toEqual([id, 1]);
      expect(lines.find((l) => l.paymentId === id)).toEqual(
        expect.objectContaining({ method: 'POST', route: '/v1/payments', statusCode: 201, paymentStatus: 'approved', aborted: true }),
      );
    }
  });

  test('GIVEN clients that disconnect at every moment of a create THEN every payment made is on exactly one line', async () => {
    const amount = baseAmount + 1000;
    for (let i = 0; i < 20; i += 1) {
      const c = await RawConnection.open(server.port);
      const headers = { ...server.auth, 'idempotency-key': newIdempotencyKey(), 'content-type': 'application/json' };
      c.write(rawRequest('POST', '/v1/payments', headers, JSON.stringify(paymentBody({ amount }))));
      await sleep(i % 7);
      c.destroy();
    }
    await sleep(500);
    const created = await paymentIdsWithAmount(amount);
    // The whole body was sent before each disconnect, so the creates go on and commit.
    expect(created.length).toBeGreaterThan(0);
    const counts = created.map((id) => [id, server.logs.lines.filter((l) => l.includes(id)).length]);
    expect(counts).toEqual(created.map((id) => [id, 1]));
  });

  test('GIVEN requests that complete normally THEN one line each, without aborted', async () => {
    const before = requestLines(server).length;
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const res = await http(server.port, {
        method: 'POST',
        path: '/v1/payments',
        headers: { ...server.auth, 'idempotency-key': newIdempotencyKey() },
        body: paymentBody({ amount: baseAmount + 2000 }),
      });
      ids.push(String(res.headers['x-request-id']));
    }
    ids.push(String((await http(server.port, { path: '/nowhere' })).headers['x-request-id']));
    ids.push(String((await http(server.port, { path: '/v1/payments/pay_AAAAAAAAAAAAAAAAAAAAAA' })).headers['x-request-id']));
    await sleep(50);
    const lines = requestLines(server).slice(before);
    expect(lines.map((l) => l.requestId).sort()).toEqual([...ids].sort());
    for (const line of lines) expect(line.aborted).toBeUndefined();
  });
});
