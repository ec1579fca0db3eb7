/**
 * Retry for AWS calls made by the pipeline tools: exponential backoff with full jitter
 * (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/), retrying only errors that are
 * transient by nature. Anything else (validation, access denied, a failed deployment) fails at once, because
 * retrying it only delays the message the operator needs.
 */

/** Error names AWS services use for throttling or a transient server-side fault. */
const RETRYABLE_ERROR_NAMES: ReadonlySet<string> = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'SlowDown',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalFailure',
  'InternalError',
  'InternalServerError',
  // Raised by the SDK's HTTP handler when a socket or request times out before any answer.
  'TimeoutError',
]);

/** Node.js socket / DNS error codes that mean "the network hiccupped", not "the request was wrong". */
const RETRYABLE_NETWORK_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'ETIMEDOUT', 'ECONNREFUSED', 'EPIPE', 'EAI_AGAIN', 'ENETUNREACH']);

/** Settings for {@link withRetry}. */
export interface RetryOptions {
  /**
   * How many times to retry after the first attempt.
   * @default - 5
   */
  readonly retries?: number;
  /**
   * Backoff cap for the first retry; doubles on each further retry.
   * @default - 200 ms
   */
  readonly baseDelayMs?: number;
  /**
   * Upper bound of a single backoff.
   * @default - 10 000 ms
   */
  readonly maxDelayMs?: number;
  /**
   * Waits between attempts (injected so tests do not wait).
   * @default - a real timer
   */
  readonly sleep?: (ms: number) => Promise<void>;
  /**
   * Decides whether an error is worth another attempt.
   * @default - {@link isTransientAwsError}
   */
  readonly isRetryable?: (error: unknown) => boolean;
  /**
   * Source of randomness in [0, 1) for the jitter (injected so tests are deterministic).
   * @default - Math.random
   */
  readonly random?: () => number;
  /**
   * Called before each retry, e.g. to log it.
   * @default - nothing
   */
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/** Resolves after `ms` milliseconds using a real timer. */
export function realSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function field(error: unknown, key: string): unknown {
  return typeof error === 'object' && error !== null ? (error as Record<string, unknown>)[key] : undefined;
}

/**
 * True for throttling and transient AWS / network errors: a known throttling or server-fault error name,
 * an HTTP status of 429 or >= 500 in the SDK's `$metadata`, or a socket error code such as ECONNRESET.
 */
export function isTransientAwsError(error: unknown): boolean {
  const name = field(error, 'name');
  if (typeof name === 'string' && RETRYABLE_ERROR_NAMES.has(name)) return true;
  const metadata = field(error, '$metadata');
  const status = field(metadata, 'httpStatusCode');
  if (typeof status === 'number' && (status === 429 || status >= 500)) return true;
  const code = field(error, 'code');
  if (typeof code === 'string' && RETRYABLE_NETWORK_CODES.has(code)) return true;
  // fetch() and some SDK layers wrap the socket error as the cause.
  const cause = field(error, 'cause');
  const causeCode = field(cause, 'code');
  return typeof causeCode === 'string' && RETRYABLE_NETWORK_CODES.has(causeCode);
}

/** Backoff before retry number `attempt` (1-based): uniform in [0, min(max, base * 2^(attempt-1))). */
export function backoffDelay(attempt: number, baseDelayMs: number, maxDelayMs: number, random: () => number): number {
  const cap = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * cap);
}

/**
 * Runs `fn`, retrying it on transient errors with exponential backoff and full jitter.
 * Rethrows the last error once the retries are spent, and any non-retryable error at once.
 */
export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const retries = options.retries ?? 5;
  const baseDelayMs = options.baseDelayMs ?? 200;
  const maxDelayMs = options.maxDelayMs ?? 10_000;
  const sleep = options.sleep ?? realSleep;
  const isRetryable = options.isRetryable ?? isTransientAwsError;
  const random = options.random ?? Math.random;
  if (!Number.isInteger(retries) || retries < 0) throw new RangeError(`retries must be an integer >= 0, got: ${retries}`);
  if (!(baseDelayMs >= 0) || !(maxDelayMs >= 0)) throw new RangeError(`delays must be >= 0, got: base ${baseDelayMs}, max ${maxDelayMs}`);

  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= retries || !isRetryable(error)) throw error;
      const delayMs = backoffDelay(attempt + 1, baseDelayMs, maxDelayMs, random);
      options.onRetry?.(error, attempt + 1, delayMs);
      await sleep(delayMs);
    }
  }
}
