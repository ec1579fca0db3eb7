import { randomBytes } from 'crypto';
import { Client } from 'pg';
import type { QueryResult, QueryResultRow } from 'pg';
import type { DatabaseConfig, DatabaseCredentials } from '../src/config';
import { ensureServiceLogin, migrate } from '../src/db/migrate';
import { createLogger } from '../src/logger';

/** The local PostgreSQL manager (scripts/local-postgres.cjs), typed for the tests. */
export interface LocalPostgres {
  readonly host: string;
  port: number | undefined;
  readonly baseDir: string;
  readonly superuser: DatabaseCredentials;
  pid: number | undefined;
  start(options?: { detached?: boolean }): Promise<LocalPostgres>;
  stop(options?: { immediate?: boolean }): Promise<void>;
  destroy(): Promise<void>;
  killSync(): void;
  createDatabase(name: string): Promise<void>;
  connection(database: string): { host: string; port: number; user: string; password: string; database: string };
}

interface LocalPostgresModule {
  createTempInstance(prefix?: string): LocalPostgres;
}

// Plain CommonJS (not TypeScript) so that db:start and the benchmark run it without a build step.
const manager = require('../scripts/local-postgres.cjs') as LocalPostgresModule;

/** Where the jest run's database is: set by test/global-setup.ts for every worker. */
export const TEST_DATABASE_ENV = 'PAYMENTS_TEST_DATABASE';

export interface TestDatabase {
  readonly host: string;
  readonly port: number;
  readonly name: string;
  readonly superuser: DatabaseCredentials;
  /** The service's login: a member of payment_service, not a superuser. */
  readonly app: DatabaseCredentials;
}

export const DATABASE_NAME = 'payments';

/** A PostgreSQL instance with the migrations applied and a service login, as db:start and the pipeline leave it. */
export async function provisionInstance(prefix?: string): Promise<{ instance: LocalPostgres; database: TestDatabase }> {
  const instance = manager.createTempInstance(prefix);
  try {
    await instance.start();
    await instance.createDatabase(DATABASE_NAME);
    const app = { username: 'payments_app', password: randomBytes(24).toString('base64url') };
    const client = new Client(instance.connection(DATABASE_NAME));
    await client.connect();
    try {
      const logger = createLogger({ level: 'silent' });
      await migrate(client, { logger });
      await ensureServiceLogin(client, app, logger);
    } finally {
      await client.end();
    }
    return { instance, database: { host: instance.host, port: instance.port as number, name: DATABASE_NAME, superuser: instance.superuser, app } };
  } catch (err) {
    await instance.destroy();
    throw err;
  }
}

/** The jest run's shared database. */
export function testDatabase(): TestDatabase {
  const raw = process.env[TEST_DATABASE_ENV];
  if (!raw) throw new Error(`${TEST_DATABASE_ENV} is not set: run the tests with jest (jest.config.js globalSetup starts PostgreSQL)`);
  return JSON.parse(raw) as TestDatabase;
}

/** Service configuration for `db` (default: the run's database) with the service login. */
export function databaseConfig(db: TestDatabase = testDatabase(), overrides: Partial<DatabaseConfig> = {}): DatabaseConfig {
  return {
    host: db.host,
    port: db.port,
    name: db.name,
    sslMode: 'disable',
    credentials: { kind: 'static', credentials: db.app },
    poolMax: 10,
    statementTimeoutMs: 5000,
    connectTimeoutMs: 3000,
    ...overrides,
  };
}

/** DATABASE_* variables for a service process (node dist/server.js) on `db`, as `npm run db:start` prints them. */
export function databaseEnv(db: TestDatabase = testDatabase()): Record<string, string> {
  return {
    DATABASE_HOST: db.host,
    DATABASE_PORT: String(db.port),
    DATABASE_NAME: db.name,
    DATABASE_SSL_MODE: 'disable',
    DATABASE_CREDENTIALS: JSON.stringify(db.app),
  };
}

/** One statement as the superuser (inspection and fault injection in tests). */
export async function superuserQuery<R extends QueryResultRow = QueryResultRow>(
  sql: string,
  values: unknown[] = [],
  db: TestDatabase = testDatabase(),
): Promise<QueryResult<R>> {
  const client = new Client({ host: db.host, port: db.port, user: db.superuser.username, password: db.superuser.password, database: db.name });
  await client.connect();
  try {
    return await client.query<R>(sql, values);
  } finally {
    await client.end();
  }
}
