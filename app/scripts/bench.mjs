// One-run loopback benchmark: a bare node:http server answering a constant, then the service's
// GET /health/live and POST /v1/payments (fresh Idempotency-Key per request), 50 connections, ~5 s each.
// Prints figures and the ratio against bare; it asserts nothing (timings belong in reports, not tests).
// Each target first gets an unmeasured warm-up (BENCH_WARMUP_SECONDS, default 2): V8 has not optimised the
// payment path in the first second, and a p99 of cold code measures the JIT, not the service.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const APP = join(dirname(fileURLToPath(import.meta.url)), '..');
const DURATION = Number(process.env.BENCH_SECONDS ?? 5);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const CONNECTIONS = 50;

const BARE = `const http = require('http');
const body = JSON.stringify({ status: 'ok' });
const s = http.createServer((req, res) => { res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }); res.end(body); });
s.keepAliveTimeout = 65000;
s.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ msg: 'ready', port: s.address().port })));
process.on('SIGTERM', () => process.exit(0));`;

/** Starts a server process and resolves with its port from the first `ready` log line. */
function startProcess(args, env) {
  const child = spawn(process.execPath, args, { cwd: APP, env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const rec = JSON.parse(line);
      if (rec.msg === 'ready') {
        // Keep draining stdout (the service logs one line per request) without holding it.
        lines.removeAllListeners('line');
        child.stdout.resume();
        resolve({ child, port: rec.port });
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
}

function run(opts) {
  return new Promise((resolve, reject) => {
    autocannon({ connections: CONNECTIONS, duration: DURATION, pipelining: 1, ...opts }, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

/** An unmeasured warm-up run, then the measured one, with the same settings. */
async function measure(opts) {
  if (WARMUP > 0) await run({ ...opts, duration: WARMUP });
  return run(opts);
}

function line(name, r) {
  const bad = r.non2xx + r.errors + r.timeouts;
  return `${name.padEnd(26)} ${String(Math.round(r.requests.average)).padStart(7)} req/s   p50 ${String(r.latency.p50).padStart(3)} ms   p99 ${String(r.latency.p99).padStart(3)} ms   (${r.requests.total} requests, ${bad} non-2xx/errors)`;
}

const bare = await startProcess(['-e', BARE], {});
const bareResult = await measure({ url: `http://127.0.0.1:${bare.port}/` });
bare.child.kill('SIGTERM');

const apiKey = randomBytes(32).toString('base64url');
const svc = await startProcess([join('dist', 'server.js')], {
  PORT: '0',
  API_KEY: apiKey,
  TOKENIZATION_KEY: randomBytes(32).toString('base64url'),
  LOG_LEVEL: 'info',
});
const health = await measure({ url: `http://127.0.0.1:${svc.port}/health/live` });

let n = 0;
const prefix = randomBytes(4).toString('hex');
const body = JSON.stringify({
  amount: 1299,
  currency: 'EUR',
  card: { number: '4111111111111111', expMonth: 12, expYear: new Date().getUTCFullYear() + 3, cvc: '123' },
});
const payments = await measure({
  url: `http://127.0.0.1:${svc.port}`,
  requests: [
    {
      method: 'POST',
      path: '/v1/payments',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body,
      setupRequest: (req) => ({ ...req, headers: { ...req.headers, 'idempotency-key': `bench-${prefix}-${(n += 1)}` } }),
    },
  ],
});
svc.child.kill('SIGTERM');

const ratio = health.requests.average / bareResult.requests.average;
console.log(`loopback, ${CONNECTIONS} connections, ${DURATION} s each after a ${WARMUP} s warm-up, node ${process.version}`);
console.log(line('bare node:http constant', bareResult));
console.log(line('GET /health/live', health));
console.log(line('POST /v1/payments', payments));
console.log(`health / bare throughput: ${(ratio * 100).toFixed(0)}% (goal >= 50%)`);
console.log(`payments p99: ${payments.latency.p99} ms (goal < 20 ms at ${CONNECTIONS} connections)`);
