import { Agent } from 'http';
import { idempotencyKeyDigest } from '../src/payments';
import { databaseEnv, superuserQuery } from './database';
import { http, newIdempotencyKey, paymentBody } from './helpers';
import type { HttpResponse } from './helpers';
import { serviceSecrets, startServiceProcess } from './service-process';
import type { ServiceProcess } from './service-process';

/** Two tasks of one service (node dist/server.js twice) on one database, as behind the load balancer. */
describe('two service processes on one database', () => {
  let a: ServiceProcess;
  let b: ServiceProcess;
  const env = { ...serviceSecrets(), ...databaseEnv() };
  beforeAll(async () => {
    [a, b] = await Promise.all([startServiceProcess(env), startServiceProcess(env)]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  // Marks this file's payments, so the orphan check below looks at nothing another test file wrote.
  const description = `multi-task ${newIdempotencyKey()}`;
  function post(task: ServiceProcess, key: string, agent?: Agent): Promise<HttpResponse> {
    const body = paymentBody({ description });
    return http(task.port, {
      method: 'POST',
      path: '/v1/payments',
      headers: { ...task.auth, 'idempotency-key': key },
      body,
      ...(agent ? { agent } : {}),
    });
  }

  test('GIVEN a payment created on one task WHEN read on the other THEN it is the same payment', async () => {
    const created = await post(a, newIdempotencyKey());
    expect(created.status).toBe(201);
    const read = await http(b.port, { path: `/v1/payments/${created.json.id as string}`, headers: b.auth });
    expect(read.status).toBe(200);
    expect(read.json).toEqual(created.json);
  });

  test('GIVEN one key sent to both tasks at once WHEN repeated for many keys THEN each key made exactly one payment', async () => {
    const agent = new Agent({ keepAlive: false });
    const keys = Array.from({ length: 25 }, () => newIdempotencyKey());
    const outcomes = await Promise.all(
      keys.map(async (key) => {
        const [ra, rb] = await Promise.all([post(a, key, agent), post(b, key, agent)]);
        return { key, responses: [ra, rb] };
      }),
    );
    for (const { responses } of outcomes) {
      const statuses = responses.map((r) => r.status).sort();
      // The loser either waited for the winner and replays it (201 + idempotent-replayed) or, past lock_timeout,
      // gets the documented 409 idempotency_key_in_progress.
      expect([['201', '201'].join(), ['201', '409'].join()]).toContain(statuses.join());
      const created = responses.filter((r) => r.status === 201);
      expect(new Set(created.map((r) => r.json.id)).size).toBe(1);
      expect(responses.filter((r) => r.status === 201 && r.headers['idempotent-replayed'] === undefined)).toHaveLength(1);
      for (const r of responses.filter((x) => x.status === 409)) expect(r.json.error).toBe('idempotency_key_in_progress');
    }
    const rows = await superuserQuery<{ key: string; payments: string }>(
      'SELECT k.key, count(p.id) AS payments FROM idempotency_keys k JOIN payments p ON p.id = k.payment_id WHERE k.key = ANY($1) GROUP BY k.key',
      [keys.map((key) => idempotencyKeyDigest(env.TOKENIZATION_KEY, key))],
    );
    expect(rows.rows).toHaveLength(keys.length);
    for (const row of rows.rows) expect(row.payments).toBe('1');
    const mine = await superuserQuery(
      'SELECT count(*)::int AS total, count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM idempotency_keys k WHERE k.payment_id = p.id))::int AS orphans FROM payments p WHERE description = $1',
      [description],
    );
    // One payment per key of this test plus the one of the first test; none without its key.
    expect(mine.rows[0]).toEqual({ total: keys.length + 1, orphans: 0 });
    agent.destroy();
  });
});
