import { METHODS } from 'http';
import pino from 'pino';
import type { DestinationStream, Logger } from 'pino';
import { maskCardNumbers } from './card';
import type { LogLevel } from './config';

/**
 * Paths censored in every log line. The service never logs bodies or headers on purpose; these catch
 * mistakes (a future `log.info({ body })`) so card data and credentials still cannot reach the logs.
 */
export const REDACT_PATHS: readonly string[] = [
  'card.number',
  'card.cvc',
  '*.card.number',
  '*.card.cvc',
  'body.card',
  'req.body.card',
  'number',
  'cvc',
  '*.number',
  '*.cvc',
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'headers["idempotency-key"]',
  'req.headers["idempotency-key"]',
  'apiKey',
  'tokenizationKey',
  '*.apiKey',
  '*.tokenizationKey',
];

interface SafeError {
  type: string;
  message: string;
  code?: string;
  statusCode?: number;
  stack?: string;
}

/**
 * Errors are reduced to what helps an operator, with anything card-number-like masked (maskCardNumbers: digit
 * sequences in any script, spacing or %/\u escaping): messages can quote input (JSON.parse, URL errors, drivers).
 */
export function serializeError(err: unknown): SafeError {
  if (!(err instanceof Error)) return { type: typeof err, message: '[non-error thrown]' };
  const { code, statusCode } = err as Error & { code?: unknown; statusCode?: unknown };
  return {
    type: err.name,
    message: maskCardNumbers(err.message.slice(0, 2000)).slice(0, 500),
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof statusCode === 'number' ? { statusCode } : {}),
    ...(err.stack ? { stack: maskCardNumbers(err.stack.slice(0, 8000)).slice(0, 4000) } : {}),
  };
}

/** What a request is logged as, whatever object a log call passes as `req`: never its target, headers or body. */
export interface SafeRequest {
  method?: string;
  route?: string;
}

const KNOWN_METHODS: ReadonlySet<string> = new Set(METHODS);

/**
 * `req` in any log line: the method (only one Node's parser can produce) and the matched route pattern when the
 * object carries one (a Fastify request after routing), nothing else. The request target can hold anything (a card
 * number in a path or query string); headers hold credentials. Fastify logs `{ req }` on some paths of its own (its
 * fallback 404, request logging if it were turned on) with a serializer that includes the URL: this one replaces it
 * (Fastify merges the logger's own serializers over its defaults), so every present or future `{ req }` is safe.
 */
export function serializeRequest(req: unknown): SafeRequest {
  if (typeof req !== 'object' || req === null) return {};
  const { method, routePattern } = req as { method?: unknown; routePattern?: unknown };
  return {
    ...(typeof method === 'string' && KNOWN_METHODS.has(method) ? { method } : {}),
    ...(typeof routePattern === 'string' ? { route: routePattern } : {}),
  };
}

/** `res` in any log line: the status code only (Fastify logs `{ res: reply }` and `{ res: { statusCode } }`). */
export function serializeResponse(res: unknown): { statusCode?: number } {
  const statusCode = typeof res === 'object' && res !== null ? (res as { statusCode?: unknown }).statusCode : undefined;
  return typeof statusCode === 'number' ? { statusCode } : {};
}

export interface LoggerOptions {
  readonly level: LogLevel;
  /** @default - stdout (synchronous writes, so nothing is lost when the process exits after draining) */
  readonly destination?: DestinationStream;
  /** Fields added to every line (the trace ids of the active span when tracing is on: tracing.ts). */
  readonly mixin?: () => object;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      // No hostname: it adds nothing in ECS (the task id is in the log stream name).
      base: { service: 'payment-service', pid: process.pid },
      // ISO time rather than epoch millis: readable, and never a long digit run in the line.
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: 'msg',
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
      serializers: { err: serializeError, req: serializeRequest, res: serializeResponse },
      ...(options.mixin ? { mixin: options.mixin } : {}),
    },
    // `dest: 1`, not `fd: 1`: pino.destination reads `process.stdout.fd` when `dest` is missing, and creating
    // process.stdout switches a pipe on fd 1 to non-blocking. A full pipe (a slow log reader) then makes each
    // synchronous write fail with EAGAIN, which sonic-boom answers by blocking the event loop 100 ms and retrying.
    // On the blocking descriptor the process inherits, the write waits only until the reader has made room.
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
