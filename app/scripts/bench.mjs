// One-run loopback benchmark against a throwaway local PostgreSQL (scripts/local-postgres.cjs), 50 connections,
// ~5 s each after an unmeasured warm-up (BENCH_WARMUP_SECONDS, default 2: V8 has not optimised the payment path in
// the first second, and a p99 of cold code measures the JIT, not the service):
//   1. a bare node:http server answering a constant, and the service's GET /health/live (HTTP overhead);
//   2. the service's POST /v1/payments (fresh Idempotency-Key per request: one payment + one key row each);
//   3. a bare `pg` loop: 50 callers inserting the same rows (payment + key) as fast as they can.
// The bare loop does what the service asks of the database and nothing else, so the ratio measures the service:
// the service's own create statement and parameters (createStatement in src/repository.ts, not a look-alike), and
// the service's number of database connections (50 callers sharing a pg.Pool of DATABASE_POOL_MAX, as the service's
// 50 HTTP connections share its pool). It used to run a look-alike statement over 50 connections of its own, so the
// two sides differed in statement and in the number of PostgreSQL backends competing for the same 2 cores.
// Prints figures and the ratios; it asserts nothing (timings belong in reports, not tests).
// BENCH_POOL_MAX sets the service's DATABASE_POOL_MAX and the bare loop's pool (default: the service's default).
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const require = createRequire(import.meta.url);
const { createTempInstance } = require('./local-postgres.cjs');
const pg = require('pg');
const { createStatement } = require('../dist/repository.js');
const { DEFAULT_DATABASE_POOL_MAX } = require('../dist/config.js');

const APP = join(dirname(fileURLToPath(import.meta.url)), '..');
const DURATION = Number(process.env.BENCH_SECONDS ?? 5);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const CONNECTIONS = 50;
const POOL_MAX = Number(process.env.BENCH_POOL_MAX ?? DEFAULT_DATABASE_POOL_MAX);

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

function stopProcess(child) {
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.once('exit', resolve);
    child.kill('SIGTERM');
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

/**
 * CONNECTIONS callers for `seconds`, each inserting the rows one POST /v1/payments writes (payment + idempotency key,
 * as 64-hex HMAC digests) with the service's statement, over a pool of POOL_MAX connections opened beforehand.
 * Latency per statement includes waiting for a pooled connection, as a request's does.
 */
async function bareInserts(pool, seconds) {
  const latencies = [];
  const token = `tok_${'a'.repeat(64)}`;
  const fingerprint = 'b'.repeat(64);
  const until = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < until) {
        const payment = {
          id: `pay_${randomBytes(16).toString('base64url')}`,
          status: 'approved',
          amount: 1299,
          currency: 'EUR',
          card: { brand: 'visa', last4: '1111', token },
          createdAt: new Date().toISOString(),
        };
        const started = process.hrtime.bigint();
        await pool.query(createStatement(randomBytes(32).toString('hex'), fingerprint, payment));
        latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { rate: latencies.length / seconds, p50: at(0.5), p99: at(0.99), total: latencies.length };
}

/** A pool of POOL_MAX connections, all opened before the clock starts. */
async function openPool(connection) {
  const pool = new pg.Pool({ ...connection, max: POOL_MAX });
  // Without a listener, a connection dropped while the instance stops would crash the run instead of ending it.
  pool.on('error', () => undefined);
  const clients = await Promise.all(Array.from({ length: POOL_MAX }, () => pool.connect()));
  for (const c of clients) c.release();
  return pool;
}

function line(name, r) {
  const bad = r.non2xx + r.errors + r.timeouts;
  return `${name.padEnd(26)} ${String(Math.round(r.requests.average)).padStart(7)} req/s   p50 ${String(r.latency.p50).padStart(3)} ms   p99 ${String(r.latency.p99).padStart(3)} ms   (${r.requests.total} requests, ${bad} non-2xx/errors)`;
}

const ms = (v) => v.toFixed(1).padStart(5);

// Throwaway PostgreSQL with the migrations applied by dist/migrate.js and a service login.
const instance = createTempInstance('payments-bench-');
let svc;
try {
  await instance.start();
  await instance.createDatabase('payments');
  const appLogin = { username: 'payments', password: randomBytes(24).toString('base64url') };
  const dbEnv = { DATABASE_HOST: instance.host, DATABASE_PORT: String(instance.port), DATABASE_NAME: 'payments', DATABASE_SSL_MODE: 'disable' };
  const migrated = spawnSync(process.execPath, [join('dist', 'migrate.js')], {
    cwd: APP,
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      ...dbEnv,
      DATABASE_CREDENTIALS: JSON.stringify(instance.superuser),
      DATABASE_APP_CREDENTIALS: JSON.stringify(appLogin),
      LOG_LEVEL: 'warn',
    },
  });
  if (migrated.status !== 0) throw new Error(`migrations failed:\n${migrated.stdout}${migrated.stderr}`);

  const bare = await startProcess(['-e', BARE], {});
  const bareResult = await measure({ url: `http://127.0.0.1:${bare.port}/` });
  await stopProcess(bare.child);

  const apiKey = randomBytes(32).toString('base64url');
  svc = await startProcess([join('dist', 'server.js')], {
    PORT: '0',
    API_KEY: apiKey,
    TOKENIZATION_KEY: randomBytes(32).toString('base64url'),
    LOG_LEVEL: 'info',
    ...dbEnv,
    DATABASE_CREDENTIALS: JSON.stringify(appLogin),
    ...(process.env.BENCH_POOL_MAX ? { DATABASE_POOL_MAX: process.env.BENCH_POOL_MAX } : {}),
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
  await stopProcess(svc.child);
  svc = undefined;

  const connection = { host: instance.host, port: instance.port, database: 'payments', user: appLogin.username, password: appLogin.password };
  const pool = await openPool(connection);
  if (WARMUP > 0) await bareInserts(pool, WARMUP);
  const inserts = await bareInserts(pool, DURATION);
  await pool.end();

  const ratio = health.requests.average / bareResult.requests.average;
  const dbRatio = payments.requests.average / inserts.rate;
  console.log(`loopback, ${CONNECTIONS} connections, ${DURATION} s each after a ${WARMUP} s warm-up, node ${process.version}, PostgreSQL 16 (local)`);
  console.log(line('bare node:http constant', bareResult));
  console.log(line('GET /health/live', health));
  console.log(line('POST /v1/payments', payments));
  console.log(
    `${'bare pg inserts'.padEnd(26)} ${String(Math.round(inserts.rate)).padStart(7)} ins/s   p50 ${ms(inserts.p50)} ms p99 ${ms(inserts.p99)} ms   (${inserts.total} statements, ${CONNECTIONS} callers, ${POOL_MAX} connections)`,
  );
  console.log(`health / bare http throughput: ${(ratio * 100).toFixed(0)}% (goal >= 50%)`);
  console.log(`payments / bare pg inserts throughput: ${(dbRatio * 100).toFixed(0)}% (goal >= 50%)`);
  console.log(`payments p99: ${payments.latency.p99} ms (goal < 20 ms at ${CONNECTIONS} connections)`);
} finally {
  if (svc) await stopProcess(svc.child);
  await instance.destroy();
}
