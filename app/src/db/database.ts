import { Client, Pool } from 'pg';
import type { ClientConfig, PoolClient, QueryConfig, QueryResult, QueryResultRow } from 'pg';
import type { Logger } from 'pino';
import type { DatabaseConfig } from '../config';
import { ServiceUnavailableError } from '../errors';
import { createCredentialsProvider } from './credentials';
import type { CredentialsProvider } from './credentials';
import { RETRY_AFTER_SECONDS, isConnectionLost, sqlState, toServiceUnavailable } from './errors';
import { tlsOptions } from './tls';

/** The client stops waiting this long after statement_timeout: covers a server that never answers (network gone). */
export const QUERY_TIMEOUT_MARGIN_MS = 1000;
/** Upper bound of lock_timeout: how long a duplicate create waits for the first one with its key (then 409). */
export const MAX_LOCK_TIMEOUT_MS = 2000;
/** Idle pooled connections are closed after this long (Aurora Serverless v2 can then scale down). */
export const IDLE_TIMEOUT_MS = 30_000;

export interface DatabaseOptions {
  readonly config: DatabaseConfig;
  readonly logger: Logger;
  /** @default - from config.credentials (static JSON or the Secrets Manager secret) */
  readonly credentials?: CredentialsProvider;
  /** Shown in pg_stat_activity. @default - 'payment-service' */
  readonly applicationName?: string;
}

/** Timeouts derived from the configuration; sent as startup parameters, so they cost no round trip. */
export function sessionTimeouts(config: Pick<DatabaseConfig, 'statementTimeoutMs'>): {
  statement_timeout: number;
  lock_timeout: number;
  idle_in_transaction_session_timeout: number;
  query_timeout: number;
} {
  return {
    statement_timeout: config.statementTimeoutMs,
    // Below statement_timeout, so a wait for another request's key ends as 55P03 (409 in progress), not as a timeout.
    lock_timeout: Math.min(MAX_LOCK_TIMEOUT_MS, Math.floor(config.statementTimeoutMs / 2)),
    // A transaction left open by a stuck client must not hold row locks for long.
    idle_in_transaction_session_timeout: config.statementTimeoutMs * 2,
    query_timeout: config.statementTimeoutMs + QUERY_TIMEOUT_MARGIN_MS,
  };
}

/**
 * The connection pool. Every new connection logs in with the provider's current login, so a login re-read after
 * SQLSTATE 28P01 applies to the next connection without rebuilding the pool. Errors of idle connections (the server
 * restarted, an operator terminated the backend) are logged and the connection dropped: they never crash the process.
 */
export class Database {
  readonly pool: Pool;
  readonly credentials: CredentialsProvider;
  private readonly logger: Logger;
  private readonly connectTimeoutMs: number;
  private ended?: Promise<void>;

  constructor(options: DatabaseOptions) {
    const { config, logger } = options;
    this.logger = logger;
    this.connectTimeoutMs = config.connectTimeoutMs;
    // A read of the secret is abandoned (aborted) when a connect waiting for it gives up.
    const credentials = options.credentials ?? createCredentialsProvider(config.credentials, logger, config.connectTimeoutMs);
    this.credentials = credentials;
    class RotatingLoginClient extends Client {
      constructor(clientConfig: ClientConfig) {
        const login = credentials.current();
        super({ ...clientConfig, user: login?.username, password: login?.password });
      }
    }
    this.pool = new Pool({
      host: config.host,
      port: config.port,
      database: config.name,
      ssl: tlsOptions(config),
      max: config.poolMax,
      connectionTimeoutMillis: config.connectTimeoutMs,
      idleTimeoutMillis: IDLE_TIMEOUT_MS,
      keepAlive: true,
      application_name: options.applicationName ?? 'payment-service',
      ...sessionTimeouts(config),
      Client: RotatingLoginClient as unknown as new () => Client,
    });
    this.pool.on('error', (err: Error) => {
      logger.warn({ err, sqlState: sqlState(err) }, 'idle database connection failed and was dropped');
    });
    // node-postgres also emits 'error' on a checked-out client whose connection dies (the pool listens only while
    // the client is idle). The failing query already rejects with it, so this listener only keeps that second
    // report from becoming an unhandled 'error' event, which would crash the process.
    this.pool.on('connect', (client) => {
      client.on('error', (err: Error) => logger.debug({ err, sqlState: sqlState(err) }, 'database connection failed while checked out'));
    });
  }

  /**
   * A pooled connection. A refused login (28P01) re-reads the credentials once and retries. Any failure to get a
   * connection (unreachable, restarting, pool full after connectTimeoutMs, login refused, the secret not read within
   * connectTimeoutMs) throws ServiceUnavailableError.
   */
  async connect(): Promise<PoolClient> {
    if (this.ended) throw new ServiceUnavailableError('database pool is closed (shutting down)', RETRY_AFTER_SECONDS);
    let generation = this.credentials.generation;
    try {
      // Read once at start (then cached): no timer per request.
      if (!this.credentials.current()) await this.withinConnectTimeout(this.credentials.get());
      generation = this.credentials.generation;
      return await this.pool.connect();
    } catch (err) {
      if (sqlState(err) === '28P01') {
        this.logger.warn({ username: this.credentials.current()?.username }, 'database refused the login, reading the secret again');
        const changed =
          (await this.withinConnectTimeout(this.credentials.refresh()).catch(() => false)) || this.credentials.generation !== generation;
        if (changed) {
          try {
            return await this.pool.connect();
          } catch (retryErr) {
            throw unavailable(retryErr);
          }
        }
      }
      throw unavailable(err);
    }
  }

  /**
   * `credentials` (a read of the secret), or ServiceUnavailableError after connectTimeoutMs: a Secrets Manager that
   * never answers must not hold requests. The read itself is aborted by the provider (readTimeoutMs).
   */
  private withinConnectTimeout<T>(credentials: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new ServiceUnavailableError(`database secret not read within ${this.connectTimeoutMs} ms`, RETRY_AFTER_SECONDS)),
        this.connectTimeoutMs,
      );
      credentials.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  /**
   * One statement on a pooled connection. PostgreSQL's own errors are passed on unchanged (the caller knows what a
   * unique violation or lock timeout means for it); the connection is dropped if the error may have broken it.
   */
  async query<R extends QueryResultRow = QueryResultRow>(query: QueryConfig): Promise<QueryResult<R>> {
    const client = await this.connect();
    try {
      const result = await client.query<R>(query);
      client.release();
      return result;
    } catch (err) {
      client.release(isConnectionLost(err) || (err as Error).message === 'Query read timeout' ? (err as Error) : undefined);
      throw err;
    }
  }

  /** Ends the pool: waits for checked-out connections to come back, then closes all. Idempotent. */
  close(): Promise<void> {
    this.ended ??= this.pool.end();
    return this.ended;
  }
}

/** Without a connection no request can be served: every connect failure is a 503, with its cause kept for the log. */
function unavailable(err: unknown): ServiceUnavailableError {
  const mapped = toServiceUnavailable(err);
  if (mapped instanceof ServiceUnavailableError) return mapped;
  const reason = sqlState(err) ?? (err as { code?: unknown }).code ?? (err instanceof Error ? err.name : 'unknown');
  return new ServiceUnavailableError(`cannot connect to the database (${String(reason)})`, RETRY_AFTER_SECONDS, { cause: err });
}
