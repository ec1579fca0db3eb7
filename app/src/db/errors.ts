import { ServiceUnavailableError } from '../errors';

/**
 * SQLSTATE classes that mean "the database cannot do this right now" rather than "this request is wrong"
 * (https://www.postgresql.org/docs/16/errcodes-appendix.html):
 * 08 connection exception, 53 insufficient resources (e.g. 53300 too_many_connections),
 * 57 operator intervention (57014 statement timeout, 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now),
 * 58 system error (I/O).
 */
const UNAVAILABLE_CLASSES = new Set(['08', '53', '57', '58']);

/**
 * Single SQLSTATEs that pass by themselves: 40001/40P01 (serialization failure, deadlock), 25006 (read-only
 * transaction: an Aurora failover in progress, the old writer is now a reader), 28P01/28000 (login refused: a
 * password rotation is in progress and the re-read secret did not help yet), 55P03 only where the caller does not
 * give it a meaning of its own (lock_timeout).
 */
const UNAVAILABLE_CODES = new Set(['40001', '40P01', '25006', '28P01', '28000', '55P03']);

/** Socket-level failures of the TCP connection to PostgreSQL. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNABORTED',
]);

/** Errors node-postgres raises without a code: connection lost, connect/pool-wait timeout, client-side query timeout. */
const DRIVER_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Query read timeout|timeout expired|Client has encountered a connection error|Cannot use a pool after calling end|Client was closed)/;

/** The SQLSTATE of a PostgreSQL error, or undefined. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** True when the connection the error came from cannot be trusted any more (it is destroyed, not pooled). */
export function isConnectionLost(err: unknown): boolean {
  // Duck-typed rather than instanceof Error: errors from node's net module may come from another realm (jest).
  if (typeof err !== 'object' || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
  const state = sqlState(err);
  if (state !== undefined && (state.startsWith('08') || state.startsWith('57P') || state.startsWith('58'))) return true;
  return typeof message === 'string' && DRIVER_MESSAGES.test(message);
}

/** True for errors that pass by themselves: the caller should get 503 + Retry-After, not 500. */
export function isTransient(err: unknown): boolean {
  if (err instanceof ServiceUnavailableError) return true;
  const state = sqlState(err);
  if (state !== undefined) return UNAVAILABLE_CLASSES.has(state.slice(0, 2)) || UNAVAILABLE_CODES.has(state);
  return isConnectionLost(err);
}

/** Seconds a client should wait before retrying. Most of these clear within a second (a pool slot, a reconnect). */
export const RETRY_AFTER_SECONDS = 1;

/** Wraps a transient error into ServiceUnavailableError (message without request data); returns others unchanged. */
export function toServiceUnavailable(err: unknown): unknown {
  if (err instanceof ServiceUnavailableError || !isTransient(err)) return err;
  const state = sqlState(err);
  const code = (err as { code?: unknown }).code;
  const reason = state ?? (typeof code === 'string' ? code : String((err as { message?: unknown }).message).slice(0, 80));
  return new ServiceUnavailableError(`database unavailable (${reason})`, RETRY_AFTER_SECONDS, { cause: err });
}
