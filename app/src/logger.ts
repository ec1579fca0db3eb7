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

export interface LoggerOptions {
  readonly level: LogLevel;
  /** @default - stdout (synchronous writes, so nothing is lost when the process exits after draining) */
  readonly destination?: DestinationStream;
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
      serializers: { err: serializeError },
    },
    options.destination ?? pino.destination({ fd: 1, sync: true }),
  );
}
