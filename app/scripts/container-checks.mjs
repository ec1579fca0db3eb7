// HTTP half of test:container: readiness, liveness, a payment round trip, the image's HEALTHCHECK, then a
// `podman stop -t 40` (SIGTERM) while a slow request is in flight; that request must still succeed.
import { execFileSync, spawn } from 'node:child_process';
import { request } from 'node:http';

const [port, name] = process.argv.slice(2);
const auth = { authorization: `Bearer ${process.env.API_KEY}` };
const card = { number: '4111111111111111', expMonth: 12, expYear: new Date().getUTCFullYear() + 3, cvc: '123' };
const log = (m) => process.stdout.write(`[test:container] ${m}\n`);
const fail = (m) => {
  log(`FAIL: ${m}`);
  process.exit(1);
};

function http(method, path, headers = {}, body, slowChunks = 0) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: { ...headers, ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}) },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode, text, json: text ? JSON.parse(text) : {} }));
      },
    );
    req.on('error', reject);
    if (!payload) return req.end();
    if (slowChunks === 0) return req.end(payload);
    req.flushHeaders();
    const size = Math.ceil(payload.length / slowChunks);
    let offset = 0;
    const tick = () => {
      req.write(payload.subarray(offset, offset + size));
      offset += size;
      if (offset >= payload.length) req.end();
      else setTimeout(tick, 500);
    };
    setTimeout(tick, 500);
  });
}

const until = Date.now() + 30000;
for (;;) {
  const ready = await http('GET', '/health/ready').catch(() => undefined);
  if (ready?.status === 200) break;
  if (Date.now() > until) fail('not ready after 30 s');
  await new Promise((r) => setTimeout(r, 250));
}
log('ok: GET /health/ready 200');
const live = await http('GET', '/health/live');
if (live.status !== 200) fail(`liveness ${live.status}`);
log('ok: GET /health/live 200');

const created = await http(
  'POST',
  '/v1/payments',
  { ...auth, 'idempotency-key': `container-${Date.now()}` },
  { amount: 2500, currency: 'USD', card },
);
if (created.status !== 201 || created.json.status !== 'approved' || created.json.card.last4 !== '1111') fail(`POST ${created.status}`);
const fetched = await http('GET', `/v1/payments/${created.json.id}`, auth);
if (fetched.status !== 200 || fetched.text !== created.text) fail(`GET ${fetched.status}`);
if ((await http('GET', `/v1/payments/${created.json.id}`)).status !== 401) fail('no 401 without credentials');
log(`ok: payment round trip (201 ${created.json.status}, GET 200, 401 without key)`);

execFileSync('podman', ['healthcheck', 'run', name], { stdio: 'ignore' });
log('ok: podman healthcheck run (HEALTHCHECK ["/nodejs/bin/node","dist/healthcheck.js"])');

const slow = http('POST', '/v1/payments', { ...auth, 'idempotency-key': `container-slow-${Date.now()}` }, { amount: 100, currency: 'EUR', card }, 6);
await new Promise((r) => setTimeout(r, 700));
const started = Date.now();
const stop = spawn('podman', ['stop', '-t', '40', name], { stdio: 'ignore' });
const slowResult = await slow;
const stopCode = await new Promise((r) => stop.on('close', r));
if (slowResult.status !== 201) fail(`in-flight request during stop got ${slowResult.status}`);
if (stopCode !== 0) fail(`podman stop exited ${stopCode}`);
log(`ok: in-flight slow request finished 201 during podman stop; container stopped in ${Date.now() - started} ms (limit 40 s)`);
