import { DiagLogLevel, SpanKind, context, diag, isSpanContextValid, trace } from '@opentelemetry/api';
import type { Context, TextMapGetter, TextMapPropagator, TextMapSetter } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { AWSXRayIdGenerator } from '@opentelemetry/id-generator-aws-xray';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { AWSXRayPropagator } from '@opentelemetry/propagator-aws-xray';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import type { IdGenerator, ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { Logger } from 'pino';
import type { TracingConfig } from './config';
import { HEALTH_LIVE_PATH, HEALTH_READY_PATH } from './contract';
import { hasCardLikeDigitRun, traceLogFields } from './trace-ids';
import type { TraceLogFields } from './trace-ids';

/**
 * OpenTelemetry tracing, loaded only when TRACING_ENABLED=true (server.ts requires this module then, and before
 * anything that loads `http` or `pg`, so that their instrumentation is in place when they are first required).
 *
 * - Spans: the incoming HTTP request (server span, named `METHOD /route-pattern` once routed), each `pg` query and
 *   connect inside a request, and outgoing HTTP(S) calls inside a request (Secrets Manager). Health checks are not
 *   traced.
 * - Ids and propagation in X-Ray's format: trace ids start with the epoch seconds (AWS X-Ray id generator); a
 *   well-formed X-Amzn-Trace-Id with Root, Parent and Sampled is continued, and calls out carry one.
 * - Sampling: ParentBased(TraceIdRatioBased(TRACING_SAMPLE_RATIO)): a caller's decision is followed, new traces are
 *   sampled at the ratio.
 * - Export: batched, OTLP/HTTP JSON to `<OTEL_EXPORTER_OTLP_ENDPOINT>/v1/traces` (the ADOT collector beside the
 *   service, which sends them to X-Ray); flushed when the service stops.
 * - Card data and secrets: spans keep only the attributes listed in KEPT_ATTRIBUTES (never the request target, host,
 *   user agent, client address or headers), lose their events (exception messages can quote input) and status
 *   messages. Trace ids that could spell a card number are neither continued nor generated (trace-ids.ts).
 */

/** Attributes a span keeps: method, status, route pattern, and what identifies the database or the service called. */
const KEPT_ATTRIBUTES: ReadonlySet<string> = new Set([
  'http.method',
  'http.request.method',
  'http.status_code',
  'http.response.status_code',
  'http.route',
  'http.scheme',
  'http.flavor',
  'net.host.port',
  'net.peer.name',
  'net.peer.port',
  'server.address',
  'server.port',
  'db.system',
  'db.name',
  'db.statement',
  'db.operation',
]);
/** Kept on client spans only: the URL of a call the service makes (an AWS endpoint), which it composes itself. */
const KEPT_CLIENT_ATTRIBUTES: ReadonlySet<string> = new Set(['http.url', 'url.full']);

/** Each span is reduced to safe attributes before it is queued for export. */
class ScrubbingSpanProcessor implements SpanProcessor {
  constructor(private readonly next: SpanProcessor) {}

  onStart(span: Span, parentContext: Context): void {
    this.next.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    const attributes = span.attributes as Record<string, unknown>;
    for (const key of Object.keys(attributes)) {
      if (!KEPT_ATTRIBUTES.has(key) && !(span.kind === SpanKind.CLIENT && KEPT_CLIENT_ATTRIBUTES.has(key))) delete attributes[key];
    }
    (span.events as unknown[]).length = 0;
    if (span.status.message !== undefined) delete (span.status as { message?: string }).message;
    this.next.onEnd(span);
  }

  forceFlush(): Promise<void> {
    return this.next.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.next.shutdown();
  }
}

/** X-Ray trace ids, drawn again in the rare case one holds 12 consecutive digits (see trace-ids.ts). */
class CardSafeXRayIdGenerator implements IdGenerator {
  private readonly inner = new AWSXRayIdGenerator();

  generateTraceId(): string {
    let id = this.inner.generateTraceId();
    for (let attempt = 0; attempt < 100 && hasCardLikeDigitRun(id); attempt += 1) id = this.inner.generateTraceId();
    return id;
  }

  generateSpanId(): string {
    return this.inner.generateSpanId();
  }
}

/** The X-Ray propagator, refusing an incoming trace id that could spell a card number (a new trace starts instead). */
class CardSafeXRayPropagator implements TextMapPropagator {
  private readonly inner = new AWSXRayPropagator();

  inject(ctx: Context, carrier: unknown, setter: TextMapSetter): void {
    this.inner.inject(ctx, carrier, setter);
  }

  extract(ctx: Context, carrier: unknown, getter: TextMapGetter): Context {
    const extracted = this.inner.extract(ctx, carrier, getter);
    const spanContext = trace.getSpanContext(extracted);
    return spanContext && hasCardLikeDigitRun(spanContext.traceId) ? ctx : extracted;
  }

  fields(): string[] {
    return this.inner.fields();
  }
}

function isHealthCheck(url: string | undefined): boolean {
  const path = (url ?? '').split('?')[0];
  return path === HEALTH_LIVE_PATH || path === HEALTH_READY_PATH;
}

export interface TracingOptions {
  readonly config: TracingConfig;
  /** The `deployment.environment` resource attribute (ENVIRONMENT_NAME). */
  readonly environmentName: string;
  /** @default - OTLP/HTTP JSON to config.otlpEndpoint + /v1/traces */
  readonly exporter?: SpanExporter;
}

export interface Tracing {
  /** The pino mixin: `traceId` and `xrayTraceId` of the active span, in every log line written inside a request. */
  logFields(): TraceLogFields | Record<string, never>;
  /** Names the active server span after the matched route (`POST /v1/payments`) and sets `http.route`. */
  routeMatched(method: string, route: string): void;
  /** Tracing problems (export failures) go to the service log as warnings from now on. */
  attachLogger(logger: Logger): void;
  /** Exports the spans still queued and stops; gives up after `timeoutMs`. */
  shutdown(timeoutMs: number): Promise<void>;
}

/** Starts tracing: call before `http` or `pg` is first required. */
export function startTracing(options: TracingOptions): Tracing {
  const { config } = options;
  const exporter = options.exporter ?? new OTLPTraceExporter({ url: `${config.otlpEndpoint}/v1/traces`, timeoutMillis: 5000 });
  const provider = new NodeTracerProvider({
    resource: new Resource({ 'service.name': 'payment-service', 'deployment.environment': options.environmentName }),
    idGenerator: new CardSafeXRayIdGenerator(),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.sampleRatio) }),
    spanProcessors: [
      new ScrubbingSpanProcessor(
        new BatchSpanProcessor(exporter, { maxQueueSize: 2048, maxExportBatchSize: 512, scheduledDelayMillis: 2000, exportTimeoutMillis: 5000 }),
      ),
    ],
  });
  provider.register({ propagator: new CardSafeXRayPropagator() });
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => isHealthCheck(req.url),
        // Calls out are traced inside a request only (not the secret read at start or the collector's own export).
        requireParentforOutgoingSpans: true,
      }),
      new PgInstrumentation({ requireParentSpan: true, enhancedDatabaseReporting: false }),
    ],
  });

  return {
    logFields: () => {
      const spanContext = trace.getSpanContext(context.active());
      if (!spanContext || !isSpanContextValid(spanContext)) return {};
      return traceLogFields(spanContext.traceId) ?? {};
    },
    routeMatched: (method, route) => {
      const span = trace.getActiveSpan();
      if (!span) return;
      span.updateName(`${method} ${route}`);
      span.setAttribute('http.route', route);
    },
    attachLogger: (logger) => {
      // Messages only (no arguments): what failed and why, e.g. the collector refusing the connection.
      const warn = (message: string): void => logger.warn({ component: 'tracing' }, `tracing: ${message.slice(0, 300)}`);
      diag.setLogger({ error: warn, warn, info: () => undefined, debug: () => undefined, verbose: () => undefined }, DiagLogLevel.WARN);
    },
    shutdown: async (timeoutMs) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.max(0, timeoutMs));
        timer.unref();
      });
      await Promise.race([provider.shutdown().catch(() => undefined), timeout]);
      if (timer) clearTimeout(timer);
    },
  };
}
