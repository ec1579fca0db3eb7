import { readFileSync, readdirSync } from 'fs';
import { Agent } from 'http';
import { HEALTH_READY_PATH } from '../src/contract';
import { databaseConfig, provisionInstance, superuserQuery } from './database';
import type { LocalPostgres, TestDatabase } from './database';
import { http, newIdempotencyKey, paymentBody, startTestServer } from './helpers';
import type { HttpResponse, TestServer } from './helpers';

const CONNECT_TIMEOUT_MS = 800;
const STATEMENT_TIMEOUT_MS = 1000;
/** Longest any request may take: connect (or pool wait) + statement + the client-side margin, plus scheduling slack. */
const MAX_REQUEST_MS = CONNECT_TIMEOUT_MS + STATEMENT_TIMEOUT_MS + 1000 + 1500;

interface Outcome {
  readonly key: string;
  readonly status: number;
  readonly ms: number;
  readonly phase: string;
  readonly response: HttpResponse;
}

/** pids of the postmaster and all its backends (to freeze the whole server, as a hung host would be). */
function processTree(root: number): number[] {
  const children = readdirSync('/proc')
    .filter((d) => /^[0-9]+$/.test(d))
    .filter((d) => {
      try {
        // Field 4 of /proc/<pid>/stat is the parent pid; the command name (field 2) may contain spaces, so split after ')'.
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === root;
      } catch {
        return false;
      }
    })
    .map(Number);
  return [root, ...children];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * PostgreSQL stopped, restarted and frozen under load. The service must answer every request quickly with either
 * 201 or 503 + Retry-After (never 500, never a hang), recover on its own, and leave nothing half-written.
 */
describe('database outage under load', () => {
  let instance: LocalPostgres;
  let database: TestDatabase;
  let server: TestServer;
  beforeAll(async () => {
    ({ instance, database } = await provisionInstance('payments-outage-'));
    server = await startTestServer({
      config: {
        logLevel: 'warn',
        database: databaseConfig(database, { connectTimeoutMs: CONNECT_TIMEOUT_MS, statementTimeoutMs: STATEMENT_TIMEOUT_MS, poolMax: 4 }),
      },
    });
  });
  afterAll(async () => {
    await server?.shutdown('test end');
    await instance?.destroy();
  });

  test('GIVEN steady load WHEN the database stops, restarts and freezes THEN 201 or 503 + Retry-After only, bounded latency, recovery, consistency', async () => {
    const outcomes: Outcome[] = [];
    let phase = 'up';
    let running = true;
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const worker = async (): Promise<void> => {
      while (running) {
        const key = newIdempotencyKey();
        const started = Date.now();
        const response = await http(server.port, {
          method: 'POST',
          path: '/v1/payments',
          headers: { ...server.auth, 'idempotency-key': key },
          body: paymentBody(),
          agent,
        });
        outcomes.push({ key, status: response.status, ms: Date.now() - started, phase, response });
        if (response.status !== 201) await sleep(50);
      }
    };
    const workers = Array.from({ length: 6 }, () => worker());
    const waitForRecovery = async (label: string): Promise<number> => {
      const from = outcomes.length;
      const started = Date.now();
      while (!outcomes.slice(from).some((o) => o.status === 201)) {
        if (Date.now() - started > 20000) throw new Error(`no 201 within 20 s after ${label}`);
        await sleep(50);
      }
      return Date.now() - started;
    };

    try {
      await sleep(500);
      // 1. Stopped: immediate shutdown (no checkpoint, like a crashed host), so the restart runs crash recovery.
      phase = 'stopped';
      await instance.stop({ immediate: true });
      await sleep(1500);
      // Readiness does not follow the database once started: requests get 503 instead of the task leaving the target groups.
      expect((await http(server.port, { path: HEALTH_READY_PATH })).status).toBe(200);
      phase = 'restarted';
      await instance.start();
      const recoveredAfterRestartMs = await waitForRecovery('restart');
      await sleep(300);

      // 2. Frozen: every PostgreSQL process stopped (SIGSTOP): connections open but nothing answers.
      phase = 'frozen';
      const pids = processTree(instance.pid as number);
      for (const pid of pids) process.kill(pid, 'SIGSTOP');
      await sleep(2500);
      for (const pid of pids) process.kill(pid, 'SIGCONT');
      phase = 'thawed';
      const recoveredAfterThawMs = await waitForRecovery('thaw');
      await sleep(300);
      expect(recoveredAfterRestartMs).toBeLessThan(20000);
      expect(recoveredAfterThawMs).toBeLessThan(20000);
    } finally {
      running = false;
      await Promise.all(workers);
      agent.destroy();
    }

    const byPhase = (p: string): Outcome[] => outcomes.filter((o) => o.phase === p);
    // Each phase saw real traffic, and the outages really produced 503s.
    for (const p of ['up', 'stopped', 'restarted', 'frozen', 'thawed']) expect(byPhase(p).length).toBeGreaterThan(0);
    expect(byPhase('stopped').some((o) => o.status === 503)).toBe(true);
    expect(byPhase('frozen').some((o) => o.status === 503)).toBe(true);
    expect(byPhase('up').every((o) => o.status === 201)).toBe(true);

    // Never a 500; a 503 always says when to retry; nothing waits longer than the configured timeouts allow.
    expect([...new Set(outcomes.map((o) => o.status))].sort()).toEqual([201, 503]);
    for (const o of outcomes.filter((x) => x.status === 503)) {
      expect(o.response.json).toEqual({ error: 'service_unavailable' });
      expect(Number(o.response.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
    expect(Math.max(...outcomes.map((o) => o.ms))).toBeLessThan(MAX_REQUEST_MS);

    // Every 201 is readable afterwards, unchanged.
    const created = outcomes.filter((o) => o.status === 201);
    for (const o of created) {
      const read = await http(server.port, { path: `/v1/payments/${o.response.json.id as string}`, headers: server.auth });
      expect(read.status).toBe(200);
      expect(read.json).toEqual(o.response.json);
    }

    // A client retrying its 503s with the same key gets exactly one payment per key.
    const failed = outcomes.filter((o) => o.status === 503);
    for (const o of failed) {
      const retry = await http(server.port, {
        method: 'POST',
        path: '/v1/payments',
        headers: { ...server.auth, 'idempotency-key': o.key },
        body: paymentBody(),
      });
      expect(retry.status).toBe(201);
    }

    // Nothing half-written: no payment without its key, no key without its payment, one payment per key.
    const counts = await superuserQuery<{ payments: number; keys: number; orphan_payments: number; orphan_keys: number }>(
      `SELECT (SELECT count(*)::int FROM payments) AS payments,
              (SELECT count(*)::int FROM idempotency_keys) AS keys,
              (SELECT count(*)::int FROM payments p WHERE NOT EXISTS (SELECT 1 FROM idempotency_keys k WHERE k.payment_id = p.id)) AS orphan_payments,
              (SELECT count(*)::int FROM idempotency_keys k WHERE NOT EXISTS (SELECT 1 FROM payments p WHERE p.id = k.payment_id)) AS orphan_keys`,
      [],
      database,
    );
    expect(counts.rows[0]).toEqual({ payments: outcomes.length, keys: outcomes.length, orphan_payments: 0, orphan_keys: 0 });
  }, 90000);
});
