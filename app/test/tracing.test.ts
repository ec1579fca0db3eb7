import { spawnSync } from 'child_process';
import { mkdtempSync, writeFileSync } from 'fs';
import { createServer } from 'http';
import type { Server } from 'http';
import { tmpdir } from 'os';
import { join } from 'path';
import { findPanLeak } from './adversarial-helpers';
import { databaseEnv } from './database';
import { CARDS, http, newIdempotencyKey, paymentBody } from './helpers';
import type { HttpResponse } from './helpers';
import { serviceSecrets, startServiceProcess } from './service-process';
import type { ServiceProcess } from './service-process';

/** OTLP/JSON as the exporter sends it (only the fields the tests read). */
interface OtlpValue {
  stringValue?: string;
  intValue?: number | string;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: OtlpValue }[];
  events?: unknown[];
}
interface OtlpRequest {
  resourceSpans: { resource: { attributes: { key: string; value: OtlpValue }[] }; scopeSpans: { scope: { name: string }; spans: OtlpSpan[] }[] }[];
}

const SPAN_KIND_SERVER = 2;
const SPAN_KIND_CLIENT = 3;

/** A real OTLP/HTTP receiver: records every POST to /v1/traces (JSON), answers 200 as the collector does. */
class OtlpReceiver {
  readonly requests: { path: string; contentType: string; body: OtlpRequest }[] = [];
  readonly otherPaths: string[] = [];
  private server?: Server;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method === 'POST' && req.url === '/v1/traces') {
          this.requests.push({
            path: req.url,
            contentType: String(req.headers['content-type']),
            body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpRequest,
          });
        } else {
          this.otherPaths.push(`${req.method ?? ''} ${req.url ?? ''}`);
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  get spans(): OtlpSpan[] {
    return this.requests.flatMap((r) => r.body.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)));
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function attr(span: OtlpSpan, key: string): unknown {
  const value = span.attributes.find((a) => a.key === key)?.value;
  return value === undefined ? undefined : (value.stringValue ?? value.intValue);
}

/** A preload that reports, when the process exits, every loaded module file of OpenTelemetry (require.cache). */
function cacheReporter(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'otel-cache-')), 'report-cache.js');
  writeFileSync(
    file,
    "process.on('exit', () => require('fs').writeSync(2, 'OTEL_MODULES ' + JSON.stringify(Object.keys(require.cache).filter((k) => k.includes('@opentelemetry'))) + '\\n'));\n",
  );
  return file;
}

function otelModules(service: ServiceProcess): string[] {
  const line = service.lines.find((l) => l.startsWith('OTEL_MODULES '));
  if (!line) throw new Error('the process did not report its modules');
  return JSON.parse(line.slice('OTEL_MODULES '.length)) as string[];
}

function requestLine(service: ServiceProcess, res: HttpResponse): Record<string, unknown> {
  const lines = service.stdout
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((r) => r.msg === 'request completed' && r.requestId === res.headers['x-request-id']);
  expect(lines).toHaveLength(1);
  return lines[0] as Record<string, unknown>;
}

/** A caller's X-Ray trace (ids with letters, so no 12-digit run), sampled or not. */
const CALLER = { time: '6a5b4c3d', random: 'abcdef0123456789abcdefab', parent: '53995c3f42cd8ad8' };
const callerTraceId = CALLER.time + CALLER.random;
const callerHeader = (sampled: 0 | 1): string => `Root=1-${CALLER.time}-${CALLER.random};Parent=${CALLER.parent};Sampled=${sampled}`;

describe('tracing on: OTLP/HTTP to the collector, X-Ray ids, trace ids in the logs', () => {
  const receiver = new OtlpReceiver();
  const secrets = serviceSecrets();
  const preload = cacheReporter();
  let service: ServiceProcess;
  let withCaller: HttpResponse;
  let newTrace: HttpResponse;
  let read: HttpResponse;
  beforeAll(async () => {
    await receiver.start();
    service = await startServiceProcess(
      {
        ...secrets,
        ...databaseEnv(),
        TRACING_ENABLED: 'true',
        TRACING_SAMPLE_RATIO: '1',
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}`,
      },
      20000,
      ['-r', preload],
    );
    const auth = { authorization: `Bearer ${secrets.API_KEY}` };
    withCaller = await http(service.port, {
      method: 'POST',
      path: '/v1/payments',
      headers: { ...auth, 'idempotency-key': newIdempotencyKey(), 'x-amzn-trace-id': callerHeader(1), 'user-agent': `agent ${CARDS.visa}` },
      body: paymentBody(),
    });
    newTrace = await http(service.port, {
      method: 'POST',
      path: '/v1/payments',
      headers: { ...auth, 'idempotency-key': newIdempotencyKey() },
      body: paymentBody({}, { number: CARDS.declined }),
    });
    read = await http(service.port, { path: `/v1/payments/${withCaller.json.id as string}?card=${CARDS.mastercard}`, headers: auth });
    await http(service.port, { path: '/health/ready' });
    // SIGTERM: the drain ends with the spans still queued being exported.
    expect(await service.stop()).toBe(0);
  });
  afterAll(async () => {
    await service?.stop();
    await receiver.stop();
  });

  test('spans arrive as OTLP JSON at <endpoint>/v1/traces, from payment-service, flushed on shutdown', () => {
    expect([withCaller.status, newTrace.status, read.status]).toEqual([201, 201, 200]);
    expect(receiver.requests.length).toBeGreaterThan(0);
    expect(receiver.otherPaths).toEqual([]);
    expect(receiver.requests.every((r) => r.contentType.startsWith('application/json'))).toBe(true);
    const resource = receiver.requests[0]?.body.resourceSpans[0]?.resource.attributes ?? [];
    expect(resource.find((a) => a.key === 'service.name')?.value.stringValue).toBe('payment-service');
    expect(resource.find((a) => a.key === 'deployment.environment')?.value.stringValue).toBe('local');
  });

  test("GIVEN a caller's sampled X-Amzn-Trace-Id THEN the trace continues: server span under its Parent, pg spans under the server span, same id in the log", () => {
    const spans = receiver.spans.filter((s) => s.traceId === callerTraceId);
    const server = spans.filter((s) => s.kind === SPAN_KIND_SERVER);
    expect(server.map((s) => [s.name, s.parentSpanId, attr(s, 'http.route'), attr(s, 'http.method'), attr(s, 'http.status_code')])).toEqual([
      ['POST /v1/payments', CALLER.parent, '/v1/payments', 'POST', 201],
    ]);
    const serverSpan = server[0] as OtlpSpan;
    const queries = spans.filter((s) => s.kind === SPAN_KIND_CLIENT && attr(s, 'db.system') === 'postgresql');
    expect(queries.length).toBeGreaterThan(0);
    // Every pg span hangs in the request's tree (directly under the server span, or under a pg connect span).
    const ids = new Set(spans.map((s) => s.spanId));
    expect(queries.every((q) => q.parentSpanId !== undefined && ids.has(q.parentSpanId))).toBe(true);
    expect(queries.some((q) => q.parentSpanId === serverSpan.spanId)).toBe(true);
    expect(queries.some((q) => String(attr(q, 'db.statement')).includes('payments'))).toBe(true);
    const line = requestLine(service, withCaller);
    expect([line.traceId, line.xrayTraceId]).toEqual([callerTraceId, `1-${CALLER.time}-${CALLER.random}`]);
  });

  test('GIVEN no trace header THEN a new X-Ray trace (epoch seconds first) whose id is the one in the log line', () => {
    const line = requestLine(service, newTrace);
    const traceId = line.traceId as string;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(traceId).not.toBe(callerTraceId);
    expect(line.xrayTraceId).toBe(`1-${traceId.slice(0, 8)}-${traceId.slice(8)}`);
    // X-Ray trace ids begin with the start time in epoch seconds: within the last ten minutes.
    expect(Math.abs(Date.now() / 1000 - parseInt(traceId.slice(0, 8), 16))).toBeLessThan(600);
    const spans = receiver.spans.filter((s) => s.traceId === traceId);
    expect(spans.filter((s) => s.kind === SPAN_KIND_SERVER).map((s) => [s.name, s.parentSpanId ?? ''])).toEqual([['POST /v1/payments', '']]);
    expect(spans.some((s) => attr(s, 'db.system') === 'postgresql')).toBe(true);
    // The read: its own trace, named after the route pattern, never the id or the query.
    const readLine = requestLine(service, read);
    const readServer = receiver.spans.filter((s) => s.traceId === readLine.traceId && s.kind === SPAN_KIND_SERVER);
    expect(readServer.map((s) => s.name)).toEqual(['GET /v1/payments/:id']);
  });

  test('spans carry no request target, user agent, card number, key or header; health checks are not traced', () => {
    const all = receiver.spans;
    const keys = new Set(all.flatMap((s) => s.attributes.map((a) => a.key)));
    for (const forbidden of ['http.target', 'http.url', 'http.user_agent', 'http.host', 'net.host.name', 'http.client_ip', 'net.peer.ip']) {
      expect([forbidden, all.filter((s) => s.kind === SPAN_KIND_SERVER).some((s) => attr(s, forbidden) !== undefined)]).toEqual([forbidden, false]);
    }
    expect(keys.has('http.user_agent')).toBe(false);
    const text = JSON.stringify(receiver.requests.map((r) => r.body));
    expect(findPanLeak(text)).toBeUndefined();
    expect(text).not.toContain(secrets.API_KEY);
    expect(text).not.toContain(secrets.TOKENIZATION_KEY);
    expect(text).not.toContain(withCaller.json.id as string);
    expect(all.some((s) => s.name.includes('/health'))).toBe(false);
    expect(findPanLeak(service.lines.join('\n'))).toBeUndefined();
  });

  test('OpenTelemetry modules are loaded (the check of the tracing-off run below can fail)', () => {
    const loaded = otelModules(service);
    expect(loaded.some((m) => m.includes('@opentelemetry/sdk-trace-node'))).toBe(true);
    expect(loaded.some((m) => m.includes('@opentelemetry/instrumentation-pg'))).toBe(true);
  });
});

describe('tracing on with TRACING_SAMPLE_RATIO=0', () => {
  test("GIVEN new traces THEN no span is sent; GIVEN a caller's sampled trace THEN it is still continued", async () => {
    const receiver = new OtlpReceiver();
    await receiver.start();
    const secrets = serviceSecrets();
    const service = await startServiceProcess({
      ...secrets,
      ...databaseEnv(),
      TRACING_ENABLED: 'true',
      TRACING_SAMPLE_RATIO: '0',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}`,
    });
    try {
      const auth = { authorization: `Bearer ${secrets.API_KEY}` };
      const unsampled: HttpResponse[] = [];
      for (let i = 0; i < 5; i += 1) {
        unsampled.push(
          await http(service.port, {
            method: 'POST',
            path: '/v1/payments',
            headers: { ...auth, 'idempotency-key': newIdempotencyKey() },
            body: paymentBody(),
          }),
        );
      }
      const notSampledByCaller = await http(service.port, {
        method: 'POST',
        path: '/v1/payments',
        headers: { ...auth, 'idempotency-key': newIdempotencyKey(), 'x-amzn-trace-id': callerHeader(0) },
        body: paymentBody(),
      });
      const sampledByCaller = await http(service.port, {
        method: 'POST',
        path: '/v1/payments',
        headers: { ...auth, 'idempotency-key': newIdempotencyKey(), 'x-amzn-trace-id': callerHeader(1) },
        body: paymentBody(),
      });
      expect([...unsampled, notSampledByCaller, sampledByCaller].map((r) => r.status)).toEqual([201, 201, 201, 201, 201, 201, 201]);
      expect(await service.stop()).toBe(0);
      // Unsampled requests still log their trace id (the id the collector would have had).
      const ids = unsampled.map((r) => requestLine(service, r).traceId);
      expect(ids.every((id) => typeof id === 'string' && /^[0-9a-f]{32}$/.test(id))).toBe(true);
      expect(new Set(receiver.spans.map((s) => s.traceId))).toEqual(new Set([callerTraceId]));
      expect(receiver.spans.some((s) => s.kind === SPAN_KIND_SERVER && s.parentSpanId === CALLER.parent)).toBe(true);
    } finally {
      await service.stop();
      await receiver.stop();
    }
  });
});

describe('tracing off (the default)', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0)) await step();
  });

  test('GIVEN no TRACING_ENABLED THEN no OpenTelemetry module is loaded, nothing is sent, and logs carry the Root of a well-formed X-Amzn-Trace-Id only', async () => {
    const receiver = new OtlpReceiver();
    await receiver.start();
    cleanup.push(() => receiver.stop());
    const secrets = serviceSecrets();
    const service = await startServiceProcess(
      { ...secrets, ...databaseEnv(), OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}` },
      20000,
      ['-r', cacheReporter()],
    );
    cleanup.unshift(() => service.stop());
    const auth = { authorization: `Bearer ${secrets.API_KEY}` };
    const post = (traceHeader?: string): Promise<HttpResponse> =>
      http(service.port, {
        method: 'POST',
        path: '/v1/payments',
        headers: { ...auth, 'idempotency-key': newIdempotencyKey(), ...(traceHeader === undefined ? {} : { 'x-amzn-trace-id': traceHeader }) },
        body: paymentBody(),
      });
    // The load balancer's header: Root only (and Self when it is not the first hop).
    const lbRoot = '1-6a5b4c3d-fedcba9876543210fedcbaab';
    const fromLb = await post(`Self=1-6a5b4c3e-aaaabbbbccccddddeeeeffff;Root=${lbRoot}`);
    const malformed = [
      `Root=1-6a5b4c3d-${CARDS.visa}abcdefab`,
      'Root=1-6A5B4C3D-FEDCBA9876543210FEDCBAAB',
      `Root=${lbRoot};Root=${lbRoot}`,
      `Root=${lbRoot} ;junk`,
      'Root=1-6a5b4c3d-fedcba9876543210fedcba',
      `Root=${lbRoot};Note=<script>`,
    ];
    const refused: HttpResponse[] = [];
    for (const header of malformed) refused.push(await post(header));
    const none = await post();
    expect(await service.stop()).toBe(0);

    expect(requestLine(service, fromLb)).toMatchObject({ traceId: lbRoot.slice(2, 10) + lbRoot.slice(11), xrayTraceId: lbRoot });
    for (const res of [...refused, none]) {
      const line = requestLine(service, res);
      expect([res.status, 'traceId' in line, 'xrayTraceId' in line]).toEqual([201, false, false]);
    }
    const logs = service.lines.join('\n');
    expect(logs).not.toContain('<script>');
    expect(logs).not.toContain('6A5B4C3D');
    expect(findPanLeak(logs)).toBeUndefined();
    expect(otelModules(service)).toEqual([]);
    expect(receiver.requests).toEqual([]);
  });
});

describe('tracing settings are checked at start', () => {
  test.each([
    [{ TRACING_ENABLED: 'on' }, 'TRACING_ENABLED must be true or false'],
    [{ TRACING_ENABLED: 'true', TRACING_SAMPLE_RATIO: '2' }, 'TRACING_SAMPLE_RATIO must be a number from 0 to 1 (e.g. 0.05), got: 2'],
    [{ TRACING_ENABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'localhost:4318' }, "OTEL_EXPORTER_OTLP_ENDPOINT must be the collector's base URL"],
    [{ ENVIRONMENT_NAME: 'qa' }, 'ENVIRONMENT_NAME must be one of dev, staging, prod, local'],
  ])('GIVEN %p THEN the process exits 1 naming the variable', (env, message) => {
    const result = spawnSync(process.execPath, [join(__dirname, '..', 'dist', 'server.js')], {
      env: { PATH: process.env.PATH, ...serviceSecrets(), ...databaseEnv(), PORT: '0', ...env },
      encoding: 'utf8',
      timeout: 10000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(message);
    expect(result.stdout).toBe('');
  });
});
