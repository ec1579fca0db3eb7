import { HEALTH_LIVE_PATH, HEALTH_READY_PATH, METRICS } from '../src/contract';
import { findPanLeak } from './adversarial-helpers';
import { databaseConfig, databaseEnv, provisionInstance } from './database';
import type { LocalPostgres, TestDatabase } from './database';
import { emfDocument, emfMetrics, emfProblems } from './emf-schema';
import type { EmfDocument } from './emf-schema';
import { CARDS, NOW, http, newIdempotencyKey, paymentBody, startTestServer } from './helpers';
import type { HttpResponse, TestServer } from './helpers';
import { serviceSecrets, startServiceProcess } from './service-process';

const { namespace: NAMESPACE, names: N } = METRICS;

/** Every line of the capture that carries EMF metadata, each checked against the specification. */
function emfLines(lines: readonly string[]): EmfDocument[] {
  const found: EmfDocument[] = [];
  for (const line of lines) {
    const record = JSON.parse(line) as Record<string, unknown>;
    if (!('_aws' in record)) continue;
    expect({ line: line.slice(0, 400), problems: emfProblems(record) }).toEqual({ line: line.slice(0, 400), problems: [] });
    found.push(emfDocument.parse(record));
  }
  return found;
}

/** The one EMF line of the request answered with `res` (by its x-request-id); fails unless there is exactly one. */
function lineOf(server: TestServer, res: HttpResponse): EmfDocument {
  const id = res.headers['x-request-id'];
  const lines = emfLines(server.logs.lines).filter((l) => (l as Record<string, unknown>).requestId === id);
  expect(lines).toHaveLength(1);
  return lines[0] as EmfDocument;
}

/** No card number (any 12 digits of a test PAN, in any disguise), no API key and no tokenization key. */
function expectNoSecrets(lines: readonly string[], secrets: readonly string[]): void {
  for (const line of lines) {
    expect(findPanLeak(line)).toBeUndefined();
    for (const secret of secrets) expect(line).not.toContain(secret);
  }
}

const env = { Environment: 'local' };

describe('request metrics in CloudWatch Embedded Metric Format', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ config: { logLevel: 'info' } });
  });
  afterAll(async () => {
    await server.shutdown('test end');
  });
  const post = (body: object, headers: Record<string, string> = {}): Promise<HttpResponse> =>
    http(server.port, {
      method: 'POST',
      path: '/v1/payments',
      headers: { ...server.auth, 'idempotency-key': newIdempotencyKey(), ...headers },
      body,
    });

  test('GIVEN an approved payment THEN one line: PaymentsCreated 1 by Status approved, no decline, no replay, latency by route', async () => {
    const res = await post(paymentBody());
    expect([res.status, res.json.status]).toEqual([201, 'approved']);
    const line = lineOf(server, res);
    expect(line._aws.Timestamp).toBe(NOW.getTime());
    expect(line._aws.CloudWatchMetrics.every((d) => d.Namespace === NAMESPACE)).toBe(true);
    // The request line's own fields are in the same log event.
    expect(line).toMatchObject({ msg: 'request completed', statusCode: 201, route: '/v1/payments', Route: 'POST /v1/payments' });
    expect(emfMetrics(line)).toEqual({
      [N.requestLatency]: { value: line[N.requestLatency], unit: 'Milliseconds', dimensions: [{ ...env, Route: 'POST /v1/payments' }] },
      [N.paymentsCreated]: { value: 1, unit: 'Count', dimensions: [env, { ...env, Status: 'approved' }] },
      [N.paymentsDeclined]: { value: 0, unit: 'Count', dimensions: [env] },
      [N.idempotentReplays]: { value: 0, unit: 'Count', dimensions: [env] },
      [N.authFailures]: { value: 0, unit: 'Count', dimensions: [env] },
      [N.databaseErrors]: { value: 0, unit: 'Count', dimensions: [env] },
    });
    const latency = line[N.requestLatency] as number;
    expect(latency).toBeGreaterThan(0);
    expect(latency).toBeLessThan(5000);
    expect(line).not.toHaveProperty('DeclineCode');
  });

  test.each([
    [CARDS.declined, 'card_declined'],
    [CARDS.insufficientFunds, 'insufficient_funds'],
  ])('GIVEN a declined payment (%s) THEN PaymentsCreated 1 by Status declined and PaymentsDeclined 1 by DeclineCode %s', async (card, code) => {
    const res = await post(paymentBody({}, { number: card }));
    expect([res.status, res.json.status, res.json.declineCode]).toEqual([201, 'declined', code]);
    const metrics = emfMetrics(lineOf(server, res));
    expect(metrics[N.paymentsCreated]).toEqual({ value: 1, unit: 'Count', dimensions: [env, { ...env, Status: 'declined' }] });
    expect(metrics[N.paymentsDeclined]).toEqual({ value: 1, unit: 'Count', dimensions: [env, { ...env, DeclineCode: code }] });
    expect(metrics[N.idempotentReplays]?.value).toBe(0);
  });

  test('GIVEN the same request twice with one key THEN the second line counts a replay and no new payment', async () => {
    const key = newIdempotencyKey();
    const first = await post(paymentBody({}, { number: CARDS.declined }), { 'idempotency-key': key });
    const second = await post(paymentBody({}, { number: CARDS.declined }), { 'idempotency-key': key });
    expect([first.status, second.status, second.headers['idempotent-replayed']]).toEqual([201, 201, 'true']);
    const metrics = emfMetrics(lineOf(server, second));
    expect(metrics[N.idempotentReplays]).toEqual({ value: 1, unit: 'Count', dimensions: [env] });
    // A replay is not a created (nor a declined) payment: only [Environment], and no Status or DeclineCode value.
    expect(metrics[N.paymentsCreated]).toEqual({ value: 0, unit: 'Count', dimensions: [env] });
    expect(metrics[N.paymentsDeclined]).toEqual({ value: 0, unit: 'Count', dimensions: [env] });
    expect(lineOf(server, second)).not.toHaveProperty('Status');
    expect(emfMetrics(lineOf(server, first))[N.idempotentReplays]?.value).toBe(0);
  });

  test.each([
    ['missing', {}],
    ['wrong', { authorization: `Bearer ${'x'.repeat(40)}` }],
  ])('GIVEN a %s API key THEN AuthFailures 1 (401), and nothing else counted', async (_label, headers) => {
    const res = await http(server.port, {
      method: 'POST',
      path: '/v1/payments',
      headers: { 'idempotency-key': newIdempotencyKey(), ...headers },
      body: paymentBody(),
    });
    expect(res.status).toBe(401);
    const line = lineOf(server, res);
    const metrics = emfMetrics(line);
    expect(metrics[N.authFailures]).toEqual({ value: 1, unit: 'Count', dimensions: [env] });
    expect([N.paymentsCreated, N.paymentsDeclined, N.idempotentReplays, N.databaseErrors].map((n) => metrics[n]?.value)).toEqual([0, 0, 0, 0]);
    expect(line.Route).toBe('POST /v1/payments');
  });

  test('GIVEN a read THEN Route is the pattern (never the id) and only AuthFailures and DatabaseErrors are counted', async () => {
    const created = await post(paymentBody());
    const id = created.json.id as string;
    const res = await http(server.port, { path: `/v1/payments/${id}`, headers: server.auth });
    expect(res.status).toBe(200);
    const line = lineOf(server, res);
    expect(Object.keys(emfMetrics(line)).sort()).toEqual([N.authFailures, N.databaseErrors, N.requestLatency].sort());
    expect(line.Route).toBe('GET /v1/payments/:id');
    expect(JSON.stringify(line._aws)).not.toContain(id);
    expect([line[N.authFailures], line[N.databaseErrors]]).toEqual([0, 0]);
  });

  test('GIVEN unmatched targets and methods THEN Route is `unrouted` with latency only, and the target is not in the line', async () => {
    const target = `/v1/cards/${CARDS.mastercard}`;
    const notFound = await http(server.port, { path: target, headers: server.auth });
    const unknownMethod = await http(server.port, { method: 'PURGE', path: target });
    const badUrl = await http(server.port, { path: '/v1/payments/%zz' });
    expect([notFound.status, unknownMethod.status, badUrl.status]).toEqual([404, 404, 400]);
    for (const res of [notFound, unknownMethod, badUrl]) {
      const line = lineOf(server, res);
      expect(line.Route).toBe('unrouted');
      expect(Object.keys(emfMetrics(line))).toEqual([N.requestLatency]);
      expect(emfMetrics(line)[N.requestLatency]?.dimensions).toEqual([{ ...env, Route: 'unrouted' }]);
    }
  });

  test('GIVEN health checks THEN they are logged at debug level only and carry no metrics', async () => {
    const before = server.logs.lines.length;
    const live = await http(server.port, { path: HEALTH_LIVE_PATH });
    const ready = await http(server.port, { path: HEALTH_READY_PATH });
    expect([live.status, ready.status]).toEqual([200, 200]);
    // At info level the health lines are not written at all, and no EMF line stands in for them.
    const after = server.logs.lines.slice(before).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(after.filter((r) => r.requestId === live.headers['x-request-id'] || r.requestId === ready.headers['x-request-id'])).toEqual([]);
  });

  test('every line written so far: valid EMF where it has `_aws`, exactly one per request, no card number or key', () => {
    const lines = server.logs.lines;
    const emf = emfLines(lines);
    expect(emf.length).toBeGreaterThanOrEqual(12);
    const perRequest = new Map<unknown, number>();
    for (const line of emf)
      perRequest.set((line as Record<string, unknown>).requestId, (perRequest.get((line as Record<string, unknown>).requestId) ?? 0) + 1);
    expect([...perRequest.values()].filter((n) => n !== 1)).toEqual([]);
    // Each "request completed" line at info is the EMF line, and the other way round.
    const completed = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.msg === 'request completed');
    expect(completed.length).toBe(emf.length);
    expect(completed.every((r) => '_aws' in r)).toBe(true);
    // No metric name appears in two directives of one line (each value is extracted once per dimension set).
    for (const line of emf) {
      const names = line._aws.CloudWatchMetrics.flatMap((d) => d.Metrics.map((m) => m.Name));
      expect(new Set(names).size).toBe(names.length);
    }
    expectNoSecrets(lines, [...server.config.apiKeys, server.config.tokenizationKey]);
  });
});

describe('the EMF schema rejects what CloudWatch would reject (so the checks above can fail)', () => {
  const valid = {
    _aws: { Timestamp: 1, CloudWatchMetrics: [{ Namespace: 'TapPayments', Dimensions: [['Environment']], Metrics: [{ Name: 'X', Unit: 'Count' }] }] },
    Environment: 'dev',
    X: 1,
  };
  test.each<[string, unknown]>([
    ['timestamp as ISO text', { ...valid, _aws: { ...valid._aws, Timestamp: '2025-06-15T12:00:00Z' } }],
    ['no timestamp', { ...valid, _aws: { CloudWatchMetrics: valid._aws.CloudWatchMetrics } }],
    [
      'unknown unit',
      { ...valid, _aws: { ...valid._aws, CloudWatchMetrics: [{ ...valid._aws.CloudWatchMetrics[0], Metrics: [{ Name: 'X', Unit: 'ms' }] }] } },
    ],
    [
      'storage resolution 30',
      {
        ...valid,
        _aws: { ...valid._aws, CloudWatchMetrics: [{ ...valid._aws.CloudWatchMetrics[0], Metrics: [{ Name: 'X', StorageResolution: 30 }] }] },
      },
    ],
    ['dimension member missing', { ...valid, Environment: undefined }],
    ['dimension value a number', { ...valid, Environment: 3 }],
    ['metric value text', { ...valid, X: '1' }],
    ['metric array of 101 values', { ...valid, X: Array.from({ length: 101 }, () => 1) }],
    [
      '31 dimensions in a set',
      {
        ...valid,
        _aws: {
          ...valid._aws,
          CloudWatchMetrics: [{ ...valid._aws.CloudWatchMetrics[0], Dimensions: [Array.from({ length: 31 }, () => 'Environment')] }],
        },
      },
    ],
    ['empty namespace', { ...valid, _aws: { ...valid._aws, CloudWatchMetrics: [{ ...valid._aws.CloudWatchMetrics[0], Namespace: '' }] } }],
    ['extra member in a directive', { ...valid, _aws: { ...valid._aws, CloudWatchMetrics: [{ ...valid._aws.CloudWatchMetrics[0], Extra: 1 }] } }],
  ])('%s', (_label, doc) => {
    expect(emfProblems(valid)).toEqual([]);
    expect(emfProblems(JSON.parse(JSON.stringify(doc)))).not.toEqual([]);
  });
});

describe('DatabaseErrors when the database is down', () => {
  let instance: LocalPostgres;
  let database: TestDatabase;
  let server: TestServer;
  beforeAll(async () => {
    ({ instance, database } = await provisionInstance('payments-metrics-'));
    server = await startTestServer({
      config: { logLevel: 'info', database: databaseConfig(database, { connectTimeoutMs: 500, statementTimeoutMs: 1000, poolMax: 2 }) },
    });
  });
  afterAll(async () => {
    await server?.shutdown('test end');
    await instance?.destroy();
  });

  test('GIVEN PostgreSQL stopped THEN create and read answer 503 and their lines count DatabaseErrors 1 (and 0 before)', async () => {
    const before = await http(server.port, {
      method: 'POST',
      path: '/v1/payments',
      headers: { ...server.auth, 'idempotency-key': newIdempotencyKey() },
      body: paymentBody(),
    });
    expect(before.status).toBe(201);
    expect(lineOf(server, before)[N.databaseErrors]).toBe(0);
    await instance.stop({ immediate: true });
    const created = await http(server.port, {
      method: 'POST',
      path: '/v1/payments',
      headers: { ...server.auth, 'idempotency-key': newIdempotencyKey() },
      body: paymentBody(),
    });
    const read = await http(server.port, { path: `/v1/payments/${before.json.id as string}`, headers: server.auth });
    expect([created.status, read.status]).toEqual([503, 503]);
    for (const res of [created, read]) {
      const metrics = emfMetrics(lineOf(server, res));
      expect(metrics[N.databaseErrors]).toEqual({ value: 1, unit: 'Count', dimensions: [env] });
      expect(metrics[N.authFailures]?.value).toBe(0);
    }
    expect(emfMetrics(lineOf(server, created))[N.paymentsCreated]).toEqual({ value: 0, unit: 'Count', dimensions: [env] });
    await instance.start();
  });
});

describe('the service process (node dist/server.js) writes EMF lines to stdout', () => {
  test('GIVEN ENVIRONMENT_NAME=staging THEN every stdout line with `_aws` is valid EMF with Environment staging, and no secret', async () => {
    const secrets = serviceSecrets();
    const service = await startServiceProcess({ ...secrets, ...databaseEnv(), ENVIRONMENT_NAME: 'staging' });
    try {
      const auth = { authorization: `Bearer ${secrets.API_KEY}` };
      const created = await http(service.port, {
        method: 'POST',
        path: '/v1/payments',
        headers: { ...auth, 'idempotency-key': newIdempotencyKey() },
        body: paymentBody(),
      });
      const denied = await http(service.port, { path: '/v1/payments/pay_aaaaaaaaaaaaaaaaaaaaaa' });
      expect([created.status, denied.status]).toEqual([201, 401]);
    } finally {
      await service.stop();
    }
    const emf = emfLines(service.stdout);
    expect(emf).toHaveLength(2);
    expect(emf.map((l) => [l.Environment, l.Route, l[N.paymentsCreated], l[N.authFailures]])).toEqual([
      ['staging', 'POST /v1/payments', 1, 0],
      ['staging', 'GET /v1/payments/:id', undefined, 1],
    ]);
    // The real clock: within the last minute.
    for (const line of emf) expect(Math.abs(Date.now() - line._aws.Timestamp)).toBeLessThan(60_000);
    expectNoSecrets(service.lines, [secrets.API_KEY, secrets.TOKENIZATION_KEY]);
  });
});
