import { randomUUID } from 'crypto';
import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'http';
import type { Logger } from 'pino';
import { createBearerVerifier } from './auth';
import { scrubDigits } from './card';
import { BODY_LIMIT_BYTES, HEALTH_LIVE_PATH, HEALTH_READY_PATH, IDEMPOTENCY_KEY_HEADER, KEEP_ALIVE_TIMEOUT_MS, REQUEST_ID_HEADER } from './contract';
import { Health } from './health';
import { IdempotencyConflictError, IdempotencyInProgressError, PaymentService } from './payments';
import { IDEMPOTENCY_KEY_PATTERN, PAYMENT_ID_PATTERN, validatePaymentRequest } from './validation';
import type { FieldError } from './validation';

export interface AppDeps {
  /** Accepted bearer keys: current, then previous during a rotation. */
  readonly apiKeys: readonly string[];
  readonly payments: PaymentService;
  readonly logger: Logger;
  readonly health: Health;
  readonly clock: () => Date;
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

/** Accept the caller's request id only if it cannot smuggle anything into logs (no card-number-like digit runs). */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{8,64}$/;
export function requestIdFor(req: IncomingMessage): string {
  const incoming = req.headers[REQUEST_ID_HEADER];
  if (typeof incoming === 'string' && SAFE_REQUEST_ID.test(incoming) && !/[0-9]{6,}/.test(incoming)) return incoming;
  return randomUUID();
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
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

/** Outcome fields added to a request's single "request completed" line (one log write per request). */
const outcomeFields = new WeakMap<FastifyRequest, Record<string, unknown>>();

export function buildApp(deps: AppDeps): FastifyInstance {
  const { health, payments, clock } = deps;
  const verifyBearer = createBearerVerifier(deps.apiKeys);
  const logger: FastifyBaseLogger = deps.logger;

  const app = Fastify({
    logger,
    // Request lines are logged by the onResponse hook below, with only safe fields.
    disableRequestLogging: true,
    requestIdHeader: false,
    requestIdLogLabel: 'requestId',
    genReqId: requestIdFor,
    bodyLimit: BODY_LIMIT_BYTES,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    // Draining is handled by lifecycle.ts the same way on Node 16, 18 and 20 (Node 16 has no closeIdleConnections).
    return503OnClosing: false,
    forceCloseConnections: false,
  });

  // One JSON parser, ours: JSON.parse's own messages quote the input (Node 20), so they are never passed on.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(new HttpError(400, { error: 'malformed_json', message: 'request body is not valid JSON' }), undefined);
    }
  });

  // Hooks take a callback rather than being async: no promise (and no extra microtask) per hook per request.
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    const path = pathOf(request.url);
    if ((path === '/v1' || path.startsWith('/v1/')) && !verifyBearer(request.headers.authorization)) {
      // Nothing but the error code: no hint whether the header was missing, malformed or wrong.
      // Replying without calling done() ends the request here: no further hook or handler runs.
      reply.code(401).send({ error: 'unauthorized' });
      return;
    }
    done();
  });

  app.addHook('onSend', (_request, reply, payload, done) => {
    // While draining, every response (including requests already in flight) closes its connection,
    // so keep-alive clients move to another task instead of reusing this one.
    if (health.state === 'draining') reply.header('connection', 'close');
    done(null, payload);
  });

  app.addHook('onResponse', (request, reply, done) => {
    const path = pathOf(request.url);
    const line = {
      method: request.method,
      path: scrubDigits(path),
      statusCode: reply.statusCode,
      responseTimeMs: Math.round(reply.elapsedTime),
      ...outcomeFields.get(request),
    };
    // Health checks arrive every few seconds from the ALB and the container runtime: debug, not info.
    if (path.startsWith('/health/')) request.log.debug(line, 'request completed');
    else request.log.info(line, 'request completed');
    done();
  });

  app.setErrorHandler(async (err: Error & { statusCode?: number; code?: string }, request, reply) => {
    const httpError = toHttpError(err);
    if (httpError) {
      outcomeFields.set(request, { errorCode: httpError.body.error });
      return reply.code(httpError.statusCode).send(httpError.body);
    }
    request.log.error({ err }, 'request failed');
    return reply.code(500).send({ error: 'internal_error' });
  });

  app.setNotFoundHandler(async (_request, reply) => reply.code(404).send({ error: 'not_found' }));

  app.get(HEALTH_LIVE_PATH, async () => ({ status: 'ok' }));

  app.get(HEALTH_READY_PATH, async (_request, reply) => reply.code(health.ready ? 200 : 503).send({ status: health.state }));

  app.post('/v1/payments', async (request, reply) => {
    const contentType = request.headers['content-type'];
    if (typeof contentType !== 'string' || !/^application\/json\s*(;|$)/i.test(contentType)) {
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
      outcomeFields.set(request, { paymentId: payment.id, paymentStatus: payment.status, declineCode: payment.declineCode, replayed });
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
