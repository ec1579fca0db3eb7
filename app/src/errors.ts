/**
 * The service cannot answer right now for a reason that passes by itself (the database is unreachable, restarting
 * or out of connections). The HTTP layer answers 503 with Retry-After instead of hanging or failing with 500.
 * The message is for operators and must never contain request data.
 */
export class ServiceUnavailableError extends Error {
  constructor(
    message: string,
    /** Seconds the client should wait before retrying (the Retry-After header). */
    readonly retryAfterSeconds: number = 1,
    options?: { cause?: unknown },
  ) {
    super(message);
    this.name = 'ServiceUnavailableError';
    if (options && 'cause' in options) (this as { cause?: unknown }).cause = options.cause;
  }
}
