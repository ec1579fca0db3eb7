import { existsSync } from 'fs';
import { join } from 'path';
import { HEALTH_READY_PATH } from '../src/contract';
import { databaseEnv } from './database';
import { CARDS, http, newIdempotencyKey, paymentBody, slowPost } from './helpers';
import { serviceSecrets, startServiceProcess } from './service-process';

const SERVER = join(__dirname, '..', 'dist', 'server.js');
const DEADLINE_MS = 10000;

/**
 * The real entry point as its own process, stopped with a real SIGTERM while slow requests are in flight
 * (bodies sent in chunks by the client: no test-only route in the service).
 */
describe('drain proof: dist/server.js under SIGTERM', () => {
  test('GIVEN slow requests in flight WHEN SIGTERM THEN they all complete normally, new connections are refused and it exits 0 in time', async () => {
    expect(existsSync(SERVER)).toBe(true);
    const service = await startServiceProcess({ ...serviceSecrets(), ...databaseEnv(), SHUTDOWN_DEADLINE_MS: String(DEADLINE_MS) });
    const { port, auth, child, stdout: lines, exited } = service;
    expect((await http(port, { path: HEALTH_READY_PATH })).status).toBe(200);

    // Three slow payments (about 1.5 s of body each) and one quick one, all in flight at SIGTERM.
    const slow = [CARDS.visa, CARDS.declined, CARDS.mastercard].map((number) =>
      slowPost(port, { ...auth, 'idempotency-key': newIdempotencyKey() }, paymentBody({ description: 'drain test' }, { number }), 6, 250),
    );
    await Promise.all(slow.map((s) => s.headersSent));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const signalledAt = Date.now();
    child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 200));

    // Readiness cannot be reached any more: the listener is closed, so new connections are refused.
    await expect(http(port, { path: HEALTH_READY_PATH })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(http(port, { method: 'POST', path: '/v1/payments', headers: auth, body: paymentBody() })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });

    const responses = await Promise.all(slow.map((s) => s.response));
    expect(responses.map((r) => r.status)).toEqual([201, 201, 201]);
    expect(responses.map((r) => r.json.status)).toEqual(['approved', 'declined', 'approved']);
    for (const r of responses) expect(r.headers.connection).toBe('close');

    const { code, at } = await exited;
    expect(code).toBe(0);
    expect(at - signalledAt).toBeLessThan(DEADLINE_MS);
    expect(at - signalledAt).toBeGreaterThan(1000);
    const messages = lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(messages).toEqual(expect.arrayContaining(['draining', 'drained, exiting']));
    expect(lines.join('\n')).not.toMatch(/411111|555555|400000/);
  });
});
