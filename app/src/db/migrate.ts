import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'crypto';
import { readFileSync, readdirSync } from 'fs';
import { breakingStatements } from './migration-rules';
import { join } from 'path';
import { escapeIdentifier, escapeLiteral } from 'pg';
import type { ClientBase } from 'pg';
import type { Logger } from 'pino';
import type { DatabaseCredentials } from '../config';
import { sqlState } from './errors';

/** app/migrations, from src/db (ts-jest) and from dist/db (the image: /app/dist/db -> /app/migrations). */
export const MIGRATIONS_DIR = join(__dirname, '..', '..', 'migrations');

/** Key of the session-level advisory lock that serializes migration runs (any constant unique to this purpose). */
export const MIGRATION_LOCK_KEY = 7_301_946_524;

/** Role the migrations grant DML to; the app login is made a member of it. */
export const SERVICE_ROLE = 'payment_service';

/** A migration waits at most this long for a table lock (the service's queries queue behind it meanwhile)... */
export const MIGRATION_LOCK_TIMEOUT_MS = 5000;
/** ...and is retried this many times when it does not get one. */
export const MIGRATION_LOCK_ATTEMPTS = 5;

const FILE_PATTERN = /^([0-9]{4})_([a-z0-9_]+)\.sql$/;

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly file: string;
  readonly sql: string;
  /** sha256 of the file, hex. */
  readonly checksum: string;
}

/** Thrown for anything that must stop a deployment: a changed applied migration, a gap, a failed statement. */
export class MigrationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message);
    this.name = 'MigrationError';
    if (options && 'cause' in options) (this as { cause?: unknown }).cause = options.cause;
  }
}

/** NNNN_snake_name.sql files in version order; any other file in the directory is an error (a typo must not be skipped). */
export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  // The directory is the image's migrations/ (tests pass their own); file names are checked against FILE_PATTERN.
  // eslint-disable-next-line security/detect-non-literal-fs-filename -- see above
  const migrations = readdirSync(dir)
    .sort()
    .map((file) => {
      const match = FILE_PATTERN.exec(file);
      if (!match) throw new MigrationError(`${file} in ${dir} is not a migration: names must be NNNN_snake_name.sql`);
      // eslint-disable-next-line security/detect-non-literal-fs-filename -- a NNNN_snake_name.sql file of that directory
      const sql = readFileSync(join(dir, file), 'utf8');
      const breaking = breakingStatements(sql);
      if (breaking.length > 0) {
        const where = breaking.map((b) => `line ${b.line}: ${b.rule}`).join('; ');
        throw new MigrationError(`${file} breaks the revision still serving (${where}); see src/db/migration-rules.ts for contract steps`);
      }
      return { version: Number(match[1]), name: match[2] as string, file, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
  migrations.forEach((m, i) => {
    if (m.version !== i + 1)
      throw new MigrationError(`migrations must be numbered 0001, 0002, ... without gaps or duplicates; found ${m.file} at position ${i + 1}`);
  });
  return migrations;
}

export interface MigrateResult {
  /** Versions applied by this run, in order. */
  readonly applied: readonly number[];
  /** Highest version in the database afterwards. */
  readonly version: number;
  /** What ensureServiceLogin did, when a login was given. */
  readonly serviceLogin?: { readonly created: boolean };
}

const BOOTSTRAP_SQL = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version    integer     PRIMARY KEY,
  name       text        NOT NULL,
  checksum   text        NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Applies the pending migrations, each in its own transaction together with its schema_migrations row, then ensures
 * the service login (`serviceLogin`). Runs hold a session-level advisory lock for their whole duration, so concurrent
 * runs (two deployments, a retried task) apply each migration once and create the login once: the second waits, then
 * finds nothing to do. Refuses to run when an applied migration's file changed (checksum) or is missing while a later
 * one exists.
 */
export async function migrate(
  client: ClientBase,
  options: {
    logger: Logger;
    dir?: string;
    migrations?: readonly Migration[];
    /** Per attempt; @default MIGRATION_LOCK_TIMEOUT_MS */
    lockTimeoutMs?: number;
    /** The app login to ensure (ensureServiceLogin) while the lock is held. @default - none */
    serviceLogin?: DatabaseCredentials;
  },
): Promise<MigrateResult> {
  const migrations = options.migrations ?? loadMigrations(options.dir);
  const { logger } = options;
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
  try {
    await client.query(BOOTSTRAP_SQL);
    const rows = (
      await client.query<{ version: number; name: string; checksum: string }>(
        'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
      )
    ).rows;
    const byVersion = new Map(migrations.map((m) => [m.version, m]));
    for (const row of rows) {
      const file = byVersion.get(row.version);
      if (!file) {
        // Applied by a newer revision (e.g. this is a rollback's migration task): expand/contract keeps it compatible.
        logger.warn({ version: row.version, name: row.name }, 'database has a migration this revision does not know; leaving it');
        continue;
      }
      if (file.checksum !== row.checksum) {
        throw new MigrationError(
          `migration ${file.file} was changed after it was applied (checksum in database ${row.checksum.slice(0, 12)}..., file ${file.checksum.slice(0, 12)}...): ` +
            'never edit an applied migration, add a new one',
        );
      }
    }
    const appliedVersions = new Set(rows.map((r) => r.version));
    const pending = migrations.filter((m) => !appliedVersions.has(m.version));
    const highestApplied = rows.reduce((max, r) => Math.max(max, r.version), 0);
    const gap = pending.find((m) => m.version < highestApplied);
    if (gap) throw new MigrationError(`migration ${gap.file} is not applied but version ${highestApplied} is: migrations must be applied in order`);

    const applied: number[] = [];
    for (const migration of pending) {
      await applyOne(client, migration, logger, options.lockTimeoutMs ?? MIGRATION_LOCK_TIMEOUT_MS);
      applied.push(migration.version);
    }
    const version = Math.max(highestApplied, ...applied);
    if (!options.serviceLogin) return { applied, version };
    // Under the lock too: two runs on a first deployment would otherwise both find the login absent and both create it.
    return { applied, version, serviceLogin: await ensureServiceLogin(client, options.serviceLogin, logger) };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
  }
}

async function applyOne(client: ClientBase, migration: Migration, logger: Logger, lockTimeoutMs: number): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    const started = Date.now();
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL lock_timeout = ${Math.floor(lockTimeoutMs)}`);
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
        migration.version,
        migration.name,
        migration.checksum,
      ]);
      await client.query('COMMIT');
      logger.info({ version: migration.version, name: migration.name, durationMs: Date.now() - started }, 'migration applied');
      return;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (sqlState(err) === '55P03' && attempt < MIGRATION_LOCK_ATTEMPTS) {
        logger.warn({ version: migration.version, attempt }, 'migration did not get its lock in time (tables busy); retrying');
        await sleep(1000 * attempt);
        continue;
      }
      const state = sqlState(err);
      throw new MigrationError(`migration ${migration.file} failed${state ? ` (SQLSTATE ${state})` : ''}: ${(err as Error).message}`, { cause: err });
    }
  }
}

/**
 * A SCRAM-SHA-256 verifier for `password` (RFC 5802/7677, PostgreSQL's format), so CREATE ROLE never carries the
 * password itself: it cannot end up in the server's statement log or pg_stat_statements.
 */
export function scramVerifier(password: string, iterations = 4096): string {
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/**
 * SQLSTATEs of a CREATE ROLE or GRANT that lost a race with another session doing the same: 42710 duplicate_object
 * (the role appeared after our check), 23505 unique_violation (both inserted the catalog row at once; the loser gets
 * the index's error), XX000 "tuple concurrently updated" (both changed the same catalog row).
 */
const LOST_RACE = new Set(['42710', '23505', 'XX000']);

/**
 * Makes sure the service's login exists and is a member of payment_service. An existing login's password is never
 * changed (the secret's rotation owns it); an absent one is created with the secret's password. migrate() runs it
 * under its advisory lock; a login created meanwhile by anyone else counts as existing.
 */
export async function ensureServiceLogin(client: ClientBase, login: DatabaseCredentials, logger: Logger): Promise<{ created: boolean }> {
  const role = escapeIdentifier(login.username);
  let created = false;
  if (!(await roleExists(client, login.username))) {
    try {
      await client.query(`CREATE ROLE ${role} LOGIN PASSWORD ${escapeLiteral(scramVerifier(login.password))}`);
      created = true;
    } catch (err) {
      if (!LOST_RACE.has(sqlState(err) ?? '') || !(await roleExists(client, login.username))) throw err;
    }
  }
  if (!(await isMember(client, login.username))) {
    try {
      await client.query(`GRANT ${escapeIdentifier(SERVICE_ROLE)} TO ${role}`);
    } catch (err) {
      if (!LOST_RACE.has(sqlState(err) ?? '') || !(await isMember(client, login.username))) throw err;
    }
  }
  logger.info({ username: login.username, created }, 'service login ensured');
  return { created };
}

async function roleExists(client: ClientBase, username: string): Promise<boolean> {
  return (await client.query('SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1', [username])).rowCount === 1;
}

async function isMember(client: ClientBase, username: string): Promise<boolean> {
  return (await client.query('SELECT pg_has_role($1, $2, $3) AS member', [username, SERVICE_ROLE, 'MEMBER'])).rows[0]?.member === true;
}
