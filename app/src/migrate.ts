import { Client } from 'pg';
import type { DestinationStream, Logger } from 'pino';
import { ConfigError, loadCredentialSource, loadDatabaseConfig, loadLogLevel } from './config';
import type { DatabaseConfig, LogLevel } from './config';
import { ENV } from './contract';
import { createCredentialsProvider } from './db/credentials';
import { isTransient, sqlState } from './db/errors';
import type { CredentialsProvider } from './db/credentials';
import { migrate } from './db/migrate';
import { tlsOptions } from './db/tls';
import { createLogger } from './logger';

/** The migration task may start while Aurora Serverless resumes from 0 ACU (about 15 s): connecting is retried this long. */
export const MIGRATE_CONNECT_DEADLINE_MS = 120_000;

export interface MigrateMainOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly stderr: (line: string) => void;
  /** @default - stdout */
  readonly logDestination?: DestinationStream;
  /** @default MIGRATE_CONNECT_DEADLINE_MS */
  readonly connectDeadlineMs?: number;
}

async function connectWithRetry(config: DatabaseConfig, credentials: CredentialsProvider, logger: Logger, deadlineMs: number): Promise<Client> {
  const until = Date.now() + deadlineMs;
  for (let attempt = 1; ; attempt += 1) {
    const login = await credentials.get();
    const client = new Client({
      host: config.host,
      port: config.port,
      database: config.name,
      user: login.username,
      password: login.password,
      ssl: tlsOptions(config),
      connectionTimeoutMillis: config.connectTimeoutMs,
      application_name: 'payment-service-migrate',
    });
    // An error after connect (server restarted mid-run) is reported by the failing query; it must not crash here.
    client.on('error', () => undefined);
    try {
      await client.connect();
      return client;
    } catch (err) {
      await client.end().catch(() => undefined);
      // A refused login is retried only when the secret has changed since (rotated meanwhile); other errors that do
      // not pass by themselves (database does not exist, TLS verification) are not retried at all.
      const loginRefused = sqlState(err) === '28P01';
      if (loginRefused ? !(await credentials.refresh()) : !isTransient(err)) throw err;
      if (Date.now() > until) throw err;
      logger.warn({ err, attempt }, 'database not reachable yet; retrying');
      await new Promise((resolve) => setTimeout(resolve, Math.min(1000 * attempt, 5000)));
    }
  }
}

/**
 * `node dist/migrate.js`: the pipeline's migration task (master login via DATABASE_SECRET_ARN, app login secret
 * via DATABASE_APP_SECRET_ARN) and db:start (DATABASE_CREDENTIALS / DATABASE_APP_CREDENTIALS). Applies the pending
 * migrations, then ensures the app login exists and is a member of payment_service. Resolves to the exit code.
 */
export async function migrateMain(options: MigrateMainOptions): Promise<number> {
  let config: DatabaseConfig;
  let appLogin;
  let logLevel: LogLevel;
  try {
    config = loadDatabaseConfig(options.env);
    appLogin = loadCredentialSource(options.env, ENV.databaseAppSecretArn, ENV.databaseAppCredentials, false);
    logLevel = loadLogLevel(options.env);
  } catch (err) {
    const message = err instanceof ConfigError ? err.message : 'unexpected error while reading configuration';
    options.stderr(JSON.stringify({ level: 'fatal', time: new Date().toISOString(), msg: `invalid configuration: ${message}` }));
    return 1;
  }
  const logger = createLogger({ level: logLevel, ...(options.logDestination ? { destination: options.logDestination } : {}) }).child({
    component: 'migrate',
  });
  let client: Client | undefined;
  try {
    client = await connectWithRetry(
      config,
      createCredentialsProvider(config.credentials, logger),
      logger,
      options.connectDeadlineMs ?? MIGRATE_CONNECT_DEADLINE_MS,
    );
    // Read before the advisory lock is taken, so that a slow secret read does not hold up another run.
    const serviceLogin = appLogin ? await createCredentialsProvider(appLogin, logger).get() : undefined;
    // The login is ensured inside migrate(), under its lock: two tasks of a first deployment would otherwise race to
    // CREATE ROLE it.
    const result = await migrate(client, { logger, ...(serviceLogin ? { serviceLogin } : {}) });
    logger.info(
      { applied: result.applied, schemaVersion: result.version },
      result.applied.length > 0 ? 'migrations applied' : 'schema up to date, nothing to apply',
    );
    return 0;
  } catch (err) {
    logger.error({ err }, 'migration failed');
    return 1;
  } finally {
    await client?.end().catch(() => undefined);
  }
}

/* istanbul ignore next -- exercised by the migration tests, which run this file as a process */
if (require.main === module) {
  migrateMain({ env: process.env, stderr: (line) => process.stderr.write(`${line}\n`) }).then(
    (code) => process.exit(code),
    () => process.exit(1),
  );
}
