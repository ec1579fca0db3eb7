import { SpanKind, SpanStatusCode, context, defaultTextMapGetter, diag, propagation, trace } from '@opentelemetry/api';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { createLogger } from '../src/logger';
import { hasCardLikeDigitRun, toXrayTraceId, traceIdFromAmznHeader, traceLogFields } from '../src/trace-ids';
import { startTracing } from '../src/tracing';
import { findPanLeak } from './adversarial-helpers';
import { CARDS, LogCapture } from './helpers';

describe('trace ids from X-Amzn-Trace-Id (tracing off)', () => {
  const root = '1-6a5b4c3d-fedcba9876543210fedcbaab';
  const id = '6a5b4c3dfedcba9876543210fedcbaab';
  test.each([
    [`Root=${root}`, id],
    [`Self=1-6a5b4c3e-aaaabbbbccccddddeeeeffff;Root=${root}`, id],
    [`Root=${root};Parent=53995c3f42cd8ad8;Sampled=1`, id],
    [`Root=${root}; Parent=53995c3f42cd8ad8;Sampled=1;`, id],
    [`Root=${root};CalledFrom=app;Lineage=a87bd80c:1|68fd508a:5`, id],
  ])('%s -> %s', (header, expected) => {
    expect(traceIdFromAmznHeader(header)).toBe(expected);
  });

  test.each<[string, unknown]>([
    ['absent', undefined],
    ['an array (repeated header)', [`Root=${root}`, `Root=${root}`]],
    ['no Root', 'Parent=53995c3f42cd8ad8;Sampled=1'],
    ['two Roots', `Root=${root};Root=${root}`],
    ['upper case hex', `Root=${root.toUpperCase()}`],
    ['short id', 'Root=1-6a5b4c3d-fedcba9876543210fedcba'],
    ['version 2', 'Root=2-6a5b4c3d-fedcba9876543210fedcbaab'],
    ['a card number inside', `Root=1-6a5b4c3d-${CARDS.visa}abcdefab`],
    ['a card number across the separator', `Root=1-${CARDS.visa.slice(0, 8)}-${CARDS.visa.slice(8)}abcdefabcdefabcd`],
    ['markup', `Root=${root};Note=<script>`],
    ['space before a separator', `Root=${root} ;Sampled=1`],
    ['a field without a value separator', `Root=${root};junk`],
    ['too long', `Root=${root};Data=${'a'.repeat(300)}`],
    ['all zeros', 'Root=1-00000000-000000000000000000000000'],
  ])('%s -> nothing', (_label, header) => {
    expect(traceIdFromAmznHeader(header)).toBeUndefined();
  });

  test('log fields: both forms of the id; none for an id that could spell a card number', () => {
    expect(traceLogFields(id)).toEqual({ traceId: id, xrayTraceId: root });
    expect(toXrayTraceId(id)).toBe(root);
    expect(traceLogFields(`abcdef01${CARDS.visa}abcdefab`)).toBeUndefined();
    expect(traceLogFields('xyz')).toBeUndefined();
    // The version digit counts: `1` + 11 digits is a 12-digit run in the X-Ray form.
    expect(hasCardLikeDigitRun(`12345678901${'a'.repeat(21)}`)).toBe(true);
    expect(hasCardLikeDigitRun(`1234567890a${'a'.repeat(21)}`)).toBe(false);
  });
});

describe('tracing internals (in process, spans kept in memory)', () => {
  // Records what the batch processor exports (an in-memory exporter would forget it on shutdown).
  const exported: ReadableSpan[] = [];
  const exporter: SpanExporter = {
    export: (spans, done) => {
      exported.push(...spans);
      done({ code: 0 });
    },
    shutdown: async () => undefined,
  };
  const tracing = startTracing({
    config: { enabled: true, sampleRatio: 1, otlpEndpoint: 'http://127.0.0.1:4318' },
    environmentName: 'local',
    exporter,
  });
  afterAll(async () => {
    await tracing.shutdown(2000);
  });

  test('GIVEN a server span with client-controlled attributes, events and a status message THEN only safe attributes are exported', async () => {
    const tracer = trace.getTracer('test');
    const logs = new LogCapture();
    const logger = createLogger({ level: 'info', destination: logs, mixin: tracing.logFields });
    let traceId = '';
    tracer.startActiveSpan(
      'GET',
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.method': 'GET',
          'http.target': `/v1/payments/${CARDS.visa}`,
          'http.url': `http://svc/v1/payments/${CARDS.visa}`,
          'http.user_agent': `ua ${CARDS.mastercard}`,
          'net.host.name': 'svc',
        },
      },
      (span) => {
        traceId = span.spanContext().traceId;
        tracing.routeMatched('GET', '/v1/payments/:id');
        span.addEvent('exception', { 'exception.message': `bad ${CARDS.visa}` });
        span.setStatus({ code: SpanStatusCode.ERROR, message: `failed on ${CARDS.visa}` });
        span.setAttribute('http.status_code', 404);
        logger.info('inside the request');
        tracer.startSpan('call', { kind: SpanKind.CLIENT, attributes: { 'http.url': 'https://secretsmanager.eu-west-1.amazonaws.com/' } }).end();
        span.end();
      },
    );
    logger.info('outside any request');
    await tracing.shutdown(2000);
    const spans = exported;
    const server = spans.find((s) => s.kind === SpanKind.SERVER);
    expect(server?.name).toBe('GET /v1/payments/:id');
    expect(server?.attributes).toEqual({ 'http.method': 'GET', 'http.route': '/v1/payments/:id', 'http.status_code': 404 });
    expect(server?.events).toEqual([]);
    expect(server?.status).toEqual({ code: SpanStatusCode.ERROR });
    expect(spans.find((s) => s.kind === SpanKind.CLIENT)?.attributes).toEqual({ 'http.url': 'https://secretsmanager.eu-west-1.amazonaws.com/' });
    expect(findPanLeak(JSON.stringify(spans.map((s) => [s.name, s.attributes, s.events, s.status])))).toBeUndefined();
    // X-Ray ids: the first 8 hex are the start time in epoch seconds.
    expect(Math.abs(parseInt(traceId.slice(0, 8), 16) - Date.now() / 1000)).toBeLessThan(600);
    const [inside, outside] = logs.records();
    expect(inside).toMatchObject({ traceId, xrayTraceId: toXrayTraceId(traceId) });
    expect(outside).not.toHaveProperty('traceId');
  });

  test('an incoming X-Ray header is continued unless its trace id could spell a card number', () => {
    const carrier = (root: string): Record<string, string> => ({ 'x-amzn-trace-id': `Root=${root};Parent=53995c3f42cd8ad8;Sampled=1` });
    const good = propagation.extract(context.active(), carrier('1-6a5b4c3d-fedcba9876543210fedcbaab'), defaultTextMapGetter);
    expect(trace.getSpanContext(good)?.traceId).toBe('6a5b4c3dfedcba9876543210fedcbaab');
    const pan = propagation.extract(context.active(), carrier(`1-6a5b4c3d-${CARDS.visa}abcdefab`), defaultTextMapGetter);
    expect(trace.getSpanContext(pan)).toBeUndefined();
  });

  test('tracing problems reach the service log as warnings, message only', () => {
    const logs = new LogCapture();
    tracing.attachLogger(createLogger({ level: 'info', destination: logs }));
    diag.error('export failed: connect ECONNREFUSED 127.0.0.1:4318', { detail: 'not logged' });
    diag.info('not logged either');
    expect(logs.records().map((r) => [r.level, r.component, r.msg])).toEqual([
      ['warn', 'tracing', 'tracing: export failed: connect ECONNREFUSED 127.0.0.1:4318'],
    ]);
    diag.disable();
  });
});
