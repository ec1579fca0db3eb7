import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApp } from './app';
import type { Config } from './config';
import { ConnectionTracker } from './connections';
import { HEADERS_TIMEOUT_MS, KEEP_ALIVE_TIMEOUT_MS } from './contract';
import { Health } from './health';
import { InMemoryIdempotencyStore } from './idempotency';
import type { IdempotencyStore } from './idempotency';
import { PaymentService } from './payments';
import { InMemoryPaymentRepository } from './repository';
import type { PaymentRepository } from './repository';

export interface StartOptions {
  readonly config: Config;
  readonly logger: Logger;
  /** @default - the system clock */
  readonly clock?: () => Date;
  /** @default - a new InMemoryPaymentRepository */
  readonly repository?: PaymentRepository;
  /** @default - a new InMemoryIdempotencyStore */
  readonly idempotency?: IdempotencyStore;
  /** @default - '0.0.0.0' (every IPv4 interface, as the container needs) */
  readonly host?: string;
}

export interface RunningServer {
  readonly app: FastifyInstance;
  readonly port: number;
  readonly health: Health;
  readonly connections: ConnectionTracker;
  /** Drains and closes; resolves to the exit code (0 drained in time, 1 deadline passed). Idempotent. */
  shutdown(reason: string): Promise<number>;
}

export async function startServer(options: StartOptions): Promise<RunningServer> {
  const { config, logger } = options;
  const clock = options.clock ?? (() => new Date());
  const health = new Health();
  const payments = new PaymentService({
    repository: options.repository ?? new InMemoryPaymentRepository(),
    idempotency: options.idempotency ?? new InMemoryIdempotencyStore(),
    tokenizationKey: config.tokenizationKey,
    clock,
  });
  const app = buildApp({ apiKeys: config.apiKeys, payments, logger, health, clock });
  const server = app.server;
  // See contract.ts: above the ALB idle timeout, headers timeout above keep-alive (docs/deployments.md, trap 6).
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  const connections = new ConnectionTracker(server);

  await app.listen({ port: config.port, host: options.host ?? '0.0.0.0' });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  health.state = 'ready';
  logger.info({ port, keepAliveTimeoutMs: server.keepAliveTimeout, headersTimeoutMs: server.headersTimeout }, 'ready');

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

  return { app, port, health, connections, shutdown };
}
