/**
 * The service's contract with the delivery platform (load balancer, ECS task definition, alarms).
 * The platform imports or mirrors these values; changing one is a breaking change for it.
 */

/** Port the service listens on when PORT is not set (container port / target group port). */
export const DEFAULT_PORT = 8080;

/** Shallow liveness: 200 as long as the event loop answers (container HEALTHCHECK). */
export const HEALTH_LIVE_PATH = '/health/live';

/** Readiness: 503 while starting or draining, 200 when ready (ALB target group health check). */
export const HEALTH_READY_PATH = '/health/ready';

/** Names of the environment variables the service reads. */
export const ENV = {
  port: 'PORT',
  apiKey: 'API_KEY',
  tokenizationKey: 'TOKENIZATION_KEY',
  logLevel: 'LOG_LEVEL',
  shutdownDeadlineMs: 'SHUTDOWN_DEADLINE_MS',
  databaseCredentials: 'DATABASE_CREDENTIALS',
  databaseHost: 'DATABASE_HOST',
  databasePort: 'DATABASE_PORT',
  databaseName: 'DATABASE_NAME',
  databaseSslMode: 'DATABASE_SSL_MODE',
  databaseCaFile: 'DATABASE_CA_FILE',
  databaseSecretArn: 'DATABASE_SECRET_ARN',
  databasePoolMax: 'DATABASE_POOL_MAX',
  databaseStatementTimeoutMs: 'DATABASE_STATEMENT_TIMEOUT_MS',
  databaseConnectTimeoutMs: 'DATABASE_CONNECT_TIMEOUT_MS',
  /** Migration task only: the app login's secret (ARN) or, locally, its JSON credentials. */
  databaseAppSecretArn: 'DATABASE_APP_SECRET_ARN',
  databaseAppCredentials: 'DATABASE_APP_CREDENTIALS',
  /** The environment's name (dev, staging, prod): the `Environment` dimension of every metric the service emits. */
  environmentName: 'ENVIRONMENT_NAME',
  /** `true` sends OpenTelemetry traces to the collector beside the service; anything else but `false` is refused. */
  tracingEnabled: 'TRACING_ENABLED',
  /** Share of new traces (0 to 1) the service samples; a caller's sampled trace is always continued. */
  tracingSampleRatio: 'TRACING_SAMPLE_RATIO',
  /** The collector's OTLP/HTTP endpoint (the ADOT sidecar listens on 127.0.0.1:4318 in the task). */
  otlpEndpoint: 'OTEL_EXPORTER_OTLP_ENDPOINT',
} as const;

/**
 * The metrics the service writes in CloudWatch Embedded Metric Format, one log line per request: no API call, the
 * log group's ingestion extracts them. The platform's alarms and dashboard read these names.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */
export const METRICS = {
  namespace: 'TapPayments',
  dimensions: { environment: 'Environment', route: 'Route', status: 'Status', declineCode: 'DeclineCode' },
  names: {
    /** Count per created payment; dimension sets [Environment] and [Environment, Status]. */
    paymentsCreated: 'PaymentsCreated',
    /** Count per declined payment; dimension sets [Environment] and [Environment, DeclineCode]. */
    paymentsDeclined: 'PaymentsDeclined',
    /** Milliseconds per request; dimension set [Environment, Route] (`METHOD /pattern`, or `unrouted`). */
    requestLatency: 'RequestLatency',
    /** Count per answered idempotent replay; [Environment]. */
    idempotentReplays: 'IdempotentReplays',
    /** Count per request refused for a missing or wrong API key; [Environment]. */
    authFailures: 'AuthFailures',
    /** Count per request that failed on the database (503); [Environment]. */
    databaseErrors: 'DatabaseErrors',
  },
} as const;

/** Where the ADOT collector sidecar receives OTLP over HTTP inside the task. */
export const DEFAULT_OTLP_ENDPOINT = 'http://127.0.0.1:4318';

/** Secrets (inject with ecs.Secret.fromSecretsManager, never as plain environment values). */
export const SECRET_ENV_NAMES: readonly string[] = [ENV.apiKey, ENV.tokenizationKey, ENV.databaseCredentials, ENV.databaseAppCredentials];

/** Minimum length of API_KEY and TOKENIZATION_KEY. */
export const MIN_SECRET_LENGTH = 32;

/** Default time the service gives in-flight requests after SIGTERM before it force-exits (non-zero). */
export const DEFAULT_SHUTDOWN_DEADLINE_MS = 30_000;

/**
 * Fargate's maximum stopTimeout (SIGTERM -> SIGKILL). The drain deadline must be below it, and the
 * task definition's stopTimeout should be above the deadline so the service exits on its own.
 */
export const FARGATE_MAX_STOP_TIMEOUT_MS = 120_000;

/** Above the ALB idle timeout (60 s) so the service never closes a connection the ALB is about to reuse (502s). */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/**
 * Must be above keepAliveTimeout, otherwise Node can drop a reused connection while waiting for headers.
 * Counted from the connection opening or the previous response ending to the end of the request headers
 * (enforced by the service itself: src/connections.ts, identical on Node 16, 18 and 20).
 */
export const HEADERS_TIMEOUT_MS = 66_000;

/**
 * Time a client has, once its headers are in, to send the whole body (at most BODY_LIMIT_BYTES); then 408 and the
 * connection is closed. Node 16 has no limit by default (requestTimeout 0) and Fastify 4 sets 0 on every version.
 */
export const REQUEST_BODY_TIMEOUT_MS = 10_000;

/** Node's own server.requestTimeout (headers + body), a backstop behind the service's timers on Node 18 and 20. */
export const REQUEST_TIMEOUT_MS = HEADERS_TIMEOUT_MS + REQUEST_BODY_TIMEOUT_MS;

/**
 * While draining, an idle keep-alive connection stays open this long for a request the client may already have
 * sent on it (answered with `Connection: close`), then it is closed.
 */
export const DRAIN_IDLE_GRACE_MS = 1_000;

/** The ALB idle timeout the keep-alive values are chosen against. */
export const ALB_IDLE_TIMEOUT_MS = 60_000;

/** Largest request body accepted; larger bodies get 413. */
export const BODY_LIMIT_BYTES = 16 * 1024;

/** Header carrying the client's idempotency key on POST /v1/payments. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

/** Header carrying the request id (accepted from the caller when safe, otherwise generated; echoed back). */
export const REQUEST_ID_HEADER = 'x-request-id';

/** Health check command baked into the image (exec form, no shell needed). */
export const CONTAINER_HEALTHCHECK_COMMAND: readonly string[] = ['/nodejs/bin/node', 'dist/healthcheck.js'];
