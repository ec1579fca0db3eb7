import { BODY_LIMIT_BYTES } from '../src/contract';
import { http, newIdempotencyKey, paymentBody, startTestServer } from './helpers';
import type { TestServer } from './helpers';

/**
 * An authenticated client cannot make one request cost many normal ones. Measured as CPU time of this process (the
 * server and its HTTP client both run here) over many requests, and compared as a ratio to normal requests measured
 * the same way, so the bound holds on a slow or busy machine too. Each figure is the least of three batches: a garbage
 * collection or a recompilation that lands in one batch is noise of the machine, not a cost the request imposes (one
 * batch of 30 once measured 5.9 normal payments on a loaded CI machine, where the least of three stays near 1).
 */
describe('CPU per request: a body-sized hostile description costs about what a normal payment does', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ config: { logLevel: 'warn' } });
  });
  afterAll(async () => {
    await server.shutdown('test end');
  });

  async function cpuMsPerRequest(body: () => Record<string, unknown>, expectedStatus: number, n: number): Promise<number> {
    const send = (): ReturnType<typeof http> =>
      http(server.port, { method: 'POST', path: '/v1/payments', headers: { ...server.auth, 'idempotency-key': newIdempotencyKey() }, body: body() });
    await send(); // warm-up: code paths compiled before measuring
    const batches: number[] = [];
    for (let round = 0; round < 3; round += 1) {
      const start = process.cpuUsage();
      for (let i = 0; i < n; i += 1) expect((await send()).status).toBe(expectedStatus);
      const used = process.cpuUsage(start);
      batches.push((used.user + used.system) / 1000 / n);
    }
    return Math.min(...batches);
  }

  test('GIVEN descriptions of %-escapes, lone digits and mixed scripts filling the body limit THEN each costs under 3 normal payments', async () => {
    // Each fills the 16 KiB body (the JSON around it is ~150 bytes), far over the 140-character limit.
    const room = BODY_LIMIT_BYTES - 400;
    const hostile = {
      'percent escapes': '%F0%9D%9F'.repeat(Math.floor(room / 9)),
      'unicode escapes': '\\u0661'.repeat(Math.floor(room / 7)),
      'digits and spaces': '4 '.repeat(Math.floor(room / 2)),
      'non-ASCII digits': '\u0661'.repeat(Math.floor(room / 2)),
    };
    const normal = await cpuMsPerRequest(() => paymentBody(), 201, 60);
    const ratios: Record<string, number> = {};
    for (const [name, description] of Object.entries(hostile)) {
      ratios[name] = Number(((await cpuMsPerRequest(() => paymentBody({ description }), 400, 30)) / normal).toFixed(2));
    }
    // At the limit the content is scanned: 140 characters of it stay cheap.
    const atLimit = '%F0%9D%9F'.repeat(15);
    ratios['percent escapes, 135 characters'] = Number(
      ((await cpuMsPerRequest(() => paymentBody({ description: atLimit }), 201, 30)) / normal).toFixed(2),
    );
    // Before the length was checked first, the %-escapes cost ~24 normal payments each.
    expect(Object.entries(ratios).filter(([, ratio]) => ratio >= 3)).toEqual([]);
  });
});
