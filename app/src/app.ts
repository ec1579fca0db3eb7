import { randomUUID } from 'crypto';
import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { IncomingMessage } from 'http';
import type { Socket } from 'net';
import type { Logger } from 'pino';
import { createBearerVerifier } from './auth';
import { isJsonContentType, readJsonBody } from './body';
import { bodyPending, rejectConnection } from './connections';
import {
  BODY_LIMIT_BYTES,
  HEALTH_LIVE_PATH,
  HEALTH_READY_PATH,
  IDEMPOTENCY_KEY_HEADER,
  KEEP_ALIVE_TIMEOUT_MS,
  REQUEST_BODY_TIMEOUT_MS,
  REQUEST_ID_HEADER,
} from './contract';
import { ServiceUnavailableError } from './errors';
import { Health } from './health';
import { requestMetrics } from './metrics';
import type { PaymentMetricOutcome, RouteMetricScope } from './metrics';
import { IdempotencyConflictError, IdempotencyInProgressError, PaymentService } from './payments';
import { AMZN_TRACE_ID_HEADER, traceIdFromAmznHeader, traceLogFields } from './trace-ids';
import type { TraceLogFields } from './trace-ids';
import { answerUnroutedMethodsFirst } from './unrouted-methods';
import { IDEMPOTENCY_KEY_PATTERN, PAYMENT_ID_PATTERN, validatePaymentRequest } from './validation';
import type { FieldError } from './validation';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without the API key. Every route without `public: true` requires it (default deny). */
    public?: boolean;
  }
  interface FastifyRequest {
    /** The matched route's pattern (e.g. /v1/payments/:id) for the request line; null when no route matched. */
    routePattern: string | null;
    /** Outcome fields added to the request's single "request completed" line (one log write per request). */
    logOutcome: Readonly<Record<string, unknown>> | null;
    /** Set when the request's "request completed" line has been written: it is written exactly once. */
    lineWritten: boolean;
    /** What the matched route's metrics count (metrics.ts); null when no route matched. */
    metricScope: RouteMetricScope | null;
    /** The API key was missing or wrong (AuthFailures). */
    authFailed: boolean;
    /** The request failed on the database and was answered 503 (DatabaseErrors). */
    databaseError: boolean;
    /** The payment a creation request answered with (PaymentsCreated, PaymentsDeclined, IdempotentReplays). */
    paymentOutcome: PaymentMetricOutcome | null;
  }
}

export interface AppDeps {
  /** Accepted bearer keys: current, then previous during a rotation. */
  readonly apiKeys: readonly string[];
  readonly payments: PaymentService;
  readonly logger: Logger;
  readonly health: Health;
  readonly clock: () => Date;
  /** The `Environment` dimension of the request metrics (ENVIRONMENT_NAME). */
  readonly environmentName: string;
  /** @default - REQUEST_BODY_TIMEOUT_MS (contract.ts) */
  readonly requestBodyTimeoutMs?: number;
  /**
   * Tracing on: names the active span after the matched route; the logger's mixin adds the span's trace ids to every
   * line. Unset (tracing off): each request's lines carry the trace ids of its X-Amzn-Trace-Id header, when well formed.
   */
  readonly routeMatched?: (method: string, route: string) => void;
}

/** `traceId` and `xrayTraceId` from a request's X-Amzn-Trace-Id header (tracing off), or nothing. */
function headerTraceFields(req: IncomingMessage): Partial<TraceLogFields> {
  const traceId = traceIdFromAmznHeader(req.headers[AMZN_TRACE_ID_HEADER]);
  return (traceId !== undefined ? traceLogFields(traceId) : undefined) ?? {};
}

/** An error whose status and JSON body are safe to send as they are. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly body: { readonly error: string; readonly message?: string; readonly fields?: readonly FieldError[] },
  ) {
    super(body.error);
    this.name = 'HttpError';
  }
}

function validationFailed(fields: readonly FieldError[]): HttpError {
  return new HttpError(400, { error: 'validation_failed', fields });
}

/**
 * A caller's request id is kept only if it cannot carry card data into logs and responses: 8-64 characters of
 * A-Z a-z 0-9 . _ : - with at most 8 digits in all (a card number has at least 12, so none fits, whatever the
 * separators or letters between its digits). Anything else, UUIDs included (they hold ~20 digits), is replaced.
 */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{8,64}$/;
const MAX_REQUEST_ID_DIGITS = 8;
export function requestIdFor(req: IncomingMessage): string {
  const incoming = req.headers[REQUEST_ID_HEADER];
  if (typeof incoming === 'string' && SAFE_REQUEST_ID.test(incoming) && (incoming.match(/[0-9]/g) ?? []).length <= MAX_REQUEST_ID_DIGITS) {
    return incoming;
  }
  return randomUUID();
}

/** Fastify errors (body limits, media types) mapped to this service's JSON error shape without quoting input. */
function toHttpError(err: Error & { statusCode?: number; code?: string }): HttpError | undefined {
  if (err instanceof HttpError) return err;
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || err.statusCode === 413) {
    return new HttpError(413, { error: 'payload_too_large', message: `request body must be at most ${BODY_LIMIT_BYTES} bytes` });
  }
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || err.statusCode === 415) {
    return new HttpError(415, { error: 'unsupported_media_type', message: 'Content-Type must be application/json' });
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return new HttpError(err.statusCode, { error: 'bad_request', message: 'the request could not be processed' });
  }
  return undefined;
}

const NOT_FOUND_BODY = '{"error":"not_found"}';

/** Health checks: polled every few seconds by the load balancer and the container runtime, not client traffic. */
function isHealthRoute(route: string | null): boolean {
  return route === HEALTH_LIVE_PATH || route === HEALTH_READY_PATH;
}

/** Routes that read or write payments in the database, and the one that creates them (metric scopes). */
const DATABASE_ROUTES: ReadonlySet<string> = new Set(['/v1/payments', '/v1/payments/:id']);
const PAYMENT_CREATION = 'POST /v1/payments';

/**
 * The request's one "request completed" line (the first call writes it, later calls do nothing). `aborted: true`
 * when the response did not finish: the client closed the connection first. The outcome fields (payment id, error
 * code) are there either way.
 */
function writeRequestLine(request: FastifyRequest, reply: FastifyReply, environmentName: string, clock: () => Date): void {
  if (request.lineWritten) return;
  request.lineWritten = true;
  // The matched route pattern (e.g. /v1/payments/:id), never the request target: a URL can carry anything.
  const route = request.routePattern;
  const elapsedMs = reply.elapsedTime;
  const line = {
    method: request.method,
    route,
    statusCode: reply.statusCode,
    responseTimeMs: Math.round(elapsedMs),
    ...(reply.raw.writableFinished ? {} : { aborted: true }),
    ...request.logOutcome,
  };
  // Health checks arrive every few seconds from the ALB and the container runtime: debug, not info, and no metrics
  // (a line written only at debug level cannot carry metrics; the load balancer reports target health itself).
  if (isHealthRoute(route)) {
    request.log.debug(line, 'request completed');
    return;
  }
  // The same line carries the request's metrics (metrics.ts): one log event per request, written once.
  const metrics = requestMetrics(environmentName, {
    scope: request.metricScope ?? undefined,
    latencyMs: elapsedMs,
    timestamp: clock().getTime(),
    authFailed: request.authFailed,
    databaseError: request.databaseError,
    payment: request.paymentOutcome ?? undefined,
  });
  request.log.info({ ...line, ...metrics }, 'request completed');
}

export function buildApp(deps: AppDeps): FastifyInstance {
  const { health, payments, clock, environmentName } = deps;
  const verifyBearer = createBearerVerifier(deps.apiKeys);
  const bodyTimeoutMs = deps.requestBodyTimeoutMs ?? REQUEST_BODY_TIMEOUT_MS;
  const logger: FastifyBaseLogger = deps.logger;
  const { routeMatched } = deps;
  const traceFromHeader = routeMatched === undefined;

  const app = Fastify({
    logger,
    // Request lines are logged by the onResponse hook below, with only safe fields.
    disableRequestLogging: true,
    requestIdHeader: false,
    requestIdLogLabel: 'requestId',
    genReqId: requestIdFor,
    bodyLimit: BODY_LIMIT_BYTES,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    // Draining is handled by connections.ts the same way on Node 16, 18 and 20 (Node 16 has no closeIdleConnections).
    return503OnClosing: false,
    forceCloseConnections: false,
    // Fastify's own answer to a malformed URL quotes it (FST_ERR_BAD_URL "'<url>' is not a valid url component").
    frameworkErrors: (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const status = err.code === 'FST_ERR_BAD_URL' ? 400 : 500;
      reply.header(REQUEST_ID_HEADER, request.id);
      reply.header('connection', 'close');
      request.log.info(
        {
          method: request.method,
          route: null,
          statusCode: status,
          errorCode: 'bad_request',
          ...requestMetrics(environmentName, {
            scope: undefined,
            latencyMs: reply.elapsedTime,
            timestamp: clock().getTime(),
            authFailed: false,
            databaseError: false,
            payment: undefined,
          }),
        },
        'request completed',
      );
      void reply
        .code(status)
        .send(status === 400 ? { error: 'bad_request', message: 'the request target is not a valid URL' } : { error: 'internal_error' });
    },
    // Requests Node could not parse (or took too long to send their headers): our error shape, nothing quoted or logged
    // but the error code (llhttp errors carry the raw bytes in rawPacket).
    clientErrorHandler: (err: Error & { code?: string }, socket: Socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
      deps.logger.debug({ statusCode: status, code: typeof err.code === 'string' ? err.code : undefined }, 'client error');
      rejectConnection(socket, status);
    },
  });

  // Tracing off: each request's lines carry the Root of its X-Amzn-Trace-Id (the load balancer's trace id). Set
  // before any route: each route takes the factory in place when it is registered.
  if (traceFromHeader) {
    app.setChildLoggerFactory((parent, bindings, opts, rawReq) => parent.child({ ...bindings, ...headerTraceFields(rawReq) }, opts));
  }

  // A method no route is declared for (QUERY, PURGE, DELETE, ...) gets the not-found answer before routing, with the
  // same headers and the same one request line as any other 404, and nothing from the request target in the log.
  const routedMethods = new Set<string>();
  answerUnroutedMethodsFirst({
    server: app.server,
    routedMethods,
    answer: (req, res) => {
      const id = requestIdFor(req);
      res.statusCode = 404;
      res.setHeader(REQUEST_ID_HEADER, id);
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.setHeader('content-length', NOT_FOUND_BODY.length);
      if (health.state === 'draining' || bodyPending(req)) res.setHeader('connection', 'close');
      res.end(NOT_FOUND_BODY);
      deps.logger.info(
        {
          requestId: id,
          ...(traceFromHeader ? headerTraceFields(req) : {}),
          method: req.method,
          route: null,
          statusCode: 404,
          responseTimeMs: 0,
          // Answered at once, before routing: no time worth measuring has passed.
          ...requestMetrics(environmentName, {
            scope: undefined,
            latencyMs: 0,
            timestamp: clock().getTime(),
            authFailed: false,
            databaseError: false,
            payment: undefined,
          }),
        },
        'request completed',
      );
    },
  });

  // One JSON parser, ours: a deadline for the body (Fastify's reader has none), strict UTF-8 and strict JSON
  // (duplicate keys and other ambiguity refused), and messages that never quote the input.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', (request, payload, done) => {
    if (!isJsonContentType(request.headers['content-type'])) {
      done(new HttpError(415, { error: 'unsupported_media_type', message: 'Content-Type must be application/json' }), undefined);
      return;
    }
    readJsonBody(payload, { maxBytes: BODY_LIMIT_BYTES, timeoutMs: bodyTimeoutMs }, (failure, value) => {
      if (failure)
        done(new HttpError(failure.statusCode, { error: failure.error, ...(failure.message ? { message: failure.message } : {}) }), undefined);
      else done(null, value);
    });
  });

  // Authorization belongs to the matched route, never to the spelling of the URL: every route gets the key check
  // unless it is declared `config: { public: true }`. Unmatched targets reach the not-found handler, which answers
  // the same 404 to every caller.
  const requireApiKey: onRequestHookHandler = (request, reply, done) => {
    if (verifyBearer(request.headers.authorization)) {
      done();
      return;
    }
    // Nothing but the error code: no hint whether the header was missing, malformed or wrong.
    // Replying without calling done() ends the request here: no further hook or handler runs.
    request.authFailed = true;
    void reply.code(401).send({ error: 'unauthorized' });
  };
  // Per-request log fields live on the request itself (declared here, so every request has the same shape): no
  // WeakMap entry per request, and no `request.routeOptions`, which builds and freezes a new object on every read.
  app.decorateRequest('routePattern', null);
  app.decorateRequest('logOutcome', null);
  app.decorateRequest('lineWritten', false);
  app.decorateRequest('metricScope', null);
  app.decorateRequest('authFailed', false);
  app.decorateRequest('databaseError', false);
  app.decorateRequest('paymentOutcome', null);
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) routedMethods.add(method);
    const pattern = route.url;
    const authenticated = route.config?.public !== true;
    // One scope per method of the route, built once: the Route dimension is `METHOD /pattern`, from the route table.
    const scopes = new Map<string, RouteMetricScope>(
      methods.map((method) => {
        const name = `${method} ${pattern}`;
        return [method, { route: name, authenticated, database: DATABASE_ROUTES.has(pattern), createsPayments: name === PAYMENT_CREATION }];
      }),
    );
    const markRoute: onRequestHookHandler = (request, _reply, done) => {
      request.routePattern = pattern;
      request.metricScope = scopes.get(request.method) ?? null;
      if (routeMatched) routeMatched(request.method, pattern);
      done();
    };
    const existing = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
    route.onRequest = authenticated ? [markRoute, requireApiKey, ...existing] : [markRoute, ...existing];
  });

  // Hooks take a callback rather than being async: no promise (and no extra microtask) per hook per request.
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });

  app.addHook('onSend', (request, reply, payload, done) => {
    // While draining, every response (including requests already in flight) closes its connection, so keep-alive
    // clients move to another task. A response sent before its request body arrived (401, 413, 408) closes it too:
    // the connection cannot carry another request until the rest of that body has come in, if it ever does.
    if (health.state === 'draining' || bodyPending(request.raw)) reply.header('connection', 'close');
    // Fastify runs onResponse only when the response finishes (or errors). A client that left first (a payment
    // committed after it disconnected) still gets its request line: now if it is already gone, else when the
    // connection closes before the response finished.
    if (reply.raw.destroyed) writeRequestLine(request, reply, environmentName, clock);
    else reply.raw.once('close', () => writeRequestLine(request, reply, environmentName, clock));
    done(null, payload);
  });

  app.addHook('onResponse', (request, reply, done) => {
    writeRequestLine(request, reply, environmentName, clock);
    done();
  });

  app.setErrorHandler(async (err: Error & { statusCode?: number; code?: string }, request, reply) => {
    if (err instanceof ServiceUnavailableError) {
      request.logOutcome = { errorCode: 'service_unavailable' };
      // Every ServiceUnavailableError comes from the database layer (db/database.ts, db/errors.ts).
      request.databaseError = true;
      request.log.warn({ err }, 'service unavailable');
      const seconds = Number.isFinite(err.retryAfterSeconds) ? Math.max(1, Math.ceil(err.retryAfterSeconds)) : 1;
      return reply.code(503).header('retry-after', String(seconds)).send({ error: 'service_unavailable' });
    }
    const httpError = toHttpError(err);
    if (httpError) {
      request.logOutcome = { errorCode: httpError.body.error };
      return reply.code(httpError.statusCode).send(httpError.body);
    }
    request.log.error({ err }, 'request failed');
    return reply.code(500).send({ error: 'internal_error' });
  });

  app.setNotFoundHandler(async (_request, reply) => reply.code(404).send({ error: 'not_found' }));

  const publicRoute = { config: { public: true } };
  app.get(HEALTH_LIVE_PATH, publicRoute, async () => ({ status: 'ok' }));

  app.get(HEALTH_READY_PATH, publicRoute, async (_request, reply) => reply.code(health.ready ? 200 : 503).send({ status: health.state }));

  app.post('/v1/payments', async (request, reply) => {
    if (!isJsonContentType(request.headers['content-type'])) {
      throw new HttpError(415, { error: 'unsupported_media_type', message: 'Content-Type must be application/json' });
    }
    const key = request.headers[IDEMPOTENCY_KEY_HEADER];
    if (typeof key !== 'string' || key === '') throw validationFailed([{ field: 'Idempotency-Key', message: 'header is required' }]);
    if (!IDEMPOTENCY_KEY_PATTERN.test(key)) {
      throw validationFailed([{ field: 'Idempotency-Key', message: 'must be 8 to 128 characters of A-Z, a-z, 0-9, _ or -' }]);
    }
    const validation = validatePaymentRequest(request.body, clock());
    if (!validation.ok) throw validationFailed(validation.fields);
    try {
      const { payment, replayed } = await payments.create(key, validation.value);
      if (replayed) reply.header('idempotent-replayed', 'true');
      request.logOutcome = { paymentId: payment.id, paymentStatus: payment.status, declineCode: payment.declineCode, replayed };
      request.paymentOutcome = { status: payment.status, ...(payment.declineCode ? { declineCode: payment.declineCode } : {}), replayed };
      return await reply.code(201).send(payment);
    } catch (err) {
      if (err instanceof IdempotencyConflictError) {
        throw new HttpError(422, { error: 'idempotency_key_reused', message: 'this Idempotency-Key was already used with a different request body' });
      }
      if (err instanceof IdempotencyInProgressError) {
        throw new HttpError(409, { error: 'idempotency_key_in_progress', message: 'a request with this Idempotency-Key is still being processed' });
      }
      throw err;
    }
  });

  app.get<{ Params: { id: string } }>('/v1/payments/:id', async (request, reply) => {
    const { id } = request.params;
    if (!PAYMENT_ID_PATTERN.test(id)) throw validationFailed([{ field: 'id', message: 'must be a payment id (pay_ followed by 22 characters)' }]);
    const payment = await payments.get(id);
    if (!payment) throw new HttpError(404, { error: 'not_found', message: 'no payment with this id' });
    return reply.code(200).send(payment);
  });

  return app;
}
