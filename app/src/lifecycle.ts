import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApp } from './app';
import type { Config } from './config';
import { ConnectionTracker, resolveHttpTimeouts } from './connections';
import type { HttpTimeouts } from './connections';
import { Database, sessionTimeouts } from './db/database';
import { waitForCompatibleSchema } from './db/schema';
import { Health } from './health';
import { IdempotencyKeySweeper } from './idempotency';
import { PaymentService } from './payments';
import { PostgresPaymentRepository } from './repository';
import type { PaymentRepository } from './repository';

export interface StartOptions {
  readonly config: Config;
  readonly logger: Logger;
  /** @default - the system clock */
  readonly clock?: () => Date;
  /** @default - a connection pool for config.database, ended after the drain */
  readonly database?: Database;
  /** @default - a PostgresPaymentRepository on the database */
  readonly repository?: PaymentRepository;
  /** @default - '0.0.0.0' (every IPv4 interface, as the container needs) */
  readonly host?: string;
  /** @default - the contract values (contract.ts); tests shorten them */
  readonly httpTimeouts?: Partial<HttpTimeouts>;
  /**
   * Set when tracing is on (tracing.ts): called with each request's matched route. Unset: log lines take their trace
   * ids from the X-Amzn-Trace-Id header instead of the active span.
   */
  readonly routeMatched?: (method: string, route: string) => void;
}

export interface RunningServer {
  readonly app: FastifyInstance;
  readonly port: number;
  readonly health: Health;
  readonly connections: ConnectionTracker;
  readonly database: Database;
  /**
   * Resolves once the service is ready: the database answered and its schema is compatible (retried until then;
   * readiness is 503 meanwhile). Resolves also when shutdown starts first.
   */
  readonly ready: Promise<void>;
  /** Drains and closes; resolves to the exit code (0 drained in time, 1 deadline passed). Idempotent. */
  shutdown(reason: string): Promise<number>;
}

export async function startServer(options: StartOptions): Promise<RunningServer> {
  const { config, logger } = options;
  const clock = options.clock ?? (() => new Date());
  const health = new Health();
  const database = options.database ?? new Database({ config: config.database, logger });
  const sweeper = new IdempotencyKeySweeper({ db: database, logger });
  const payments = new PaymentService({
    repository: options.repository ?? new PostgresPaymentRepository(database),
    tokenizationKey: config.tokenizationKey,
    clock,
    // A duplicate in this task waits for the first as long as one in another task waits on the key's row.
    duplicateWaitMs: sessionTimeouts(config.database).lock_timeout,
  });
  const timeouts = resolveHttpTimeouts(options.httpTimeouts);
  const app = buildApp({
    apiKeys: config.apiKeys,
    payments,
    logger,
    health,
    clock,
    environmentName: config.environmentName,
    requestBodyTimeoutMs: timeouts.bodyMs,
    ...(options.routeMatched ? { routeMatched: options.routeMatched } : {}),
  });
  const server = app.server;
  // See contract.ts: above the ALB idle timeout, headers timeout above keep-alive (docs/deployments.md, trap 6).
  // The tracker enforces headers, body and drain bounds itself on every Node version; Node's own requestTimeout
  // (0 = none on Node 16, and Fastify 4 sets 0 everywhere) is set as a backstop on versions that honour it.
  server.keepAliveTimeout = timeouts.keepAliveMs;
  server.headersTimeout = timeouts.headersMs;
  server.requestTimeout = timeouts.headersMs + timeouts.bodyMs;
  const connections = new ConnectionTracker(server, timeouts);

  await app.listen({ port: config.port, host: options.host ?? '0.0.0.0' });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  logger.info({ port }, 'listening; waiting for the database');
  // Not ready until the database answers with a compatible schema. After that, readiness no longer follows the
  // database: a blip gives 503 + Retry-After per request instead of taking every task out of the target groups.
  const ready = waitForCompatibleSchema({ db: database, logger, cancelled: () => health.state !== 'starting' }).then((compatible) => {
    if (!compatible || health.state !== 'starting') return;
    health.state = 'ready';
    sweeper.start();
    logger.info({ port, keepAliveTimeoutMs: server.keepAliveTimeout, headersTimeoutMs: server.headersTimeout }, 'ready');
  });

  let shuttingDown: Promise<number> | undefined;
  const shutdown = (reason: string): Promise<number> => {
    if (shuttingDown) return shuttingDown;
    shuttingDown = new Promise<number>((resolve) => {
      const started = Date.now();
      // Readiness fails first so the load balancer stops routing here while in-flight work finishes.
      health.state = 'draining';
      logger.info(
        { reason, inFlight: connections.inFlight, connections: connections.connections, deadlineMs: config.shutdownDeadlineMs },
        'draining',
      );
      const deadline = setTimeout(() => {
        logger.error({ inFlight: connections.inFlight, connections: connections.connections }, 'shutdown deadline passed, forcing exit');
        resolve(1);
      }, config.shutdownDeadlineMs);
      // app.close() stops accepting connections and resolves once the last one has closed.
      app.close().then(
        () => {
          clearTimeout(deadline);
          logger.info({ durationMs: Date.now() - started }, 'drained, exiting');
          resolve(0);
        },
        (err: unknown) => {
          clearTimeout(deadline);
          logger.error({ err }, 'error while closing');
          resolve(1);
        },
      );
      connections.drain();
    });
    return shuttingDown;
  };

  // The pool is ended after the drain (in-flight requests still use it); after a missed deadline it is not waited for.
  let closing: Promise<number> | undefined;
  const shutdownAndClose = (reason: string): Promise<number> => {
    closing ??= shutdown(reason).then(async (code) => {
      await sweeper.stop();
      const ended = database.close().catch((err: unknown) => logger.warn({ err }, 'error while closing the database pool'));
      if (code === 0) await ended;
      return code;
    });
    return closing;
  };

  return { app, port, health, connections, database, ready, shutdown: shutdownAndClose };
}
