import type { Logger } from 'pino';
import type { Database } from './database';
import { sqlState } from './errors';

/**
 * The schema version this code needs: the highest migration whose tables or columns it uses. A new migration the
 * code does not depend on yet (expand first) leaves this unchanged, so the revision still serving keeps starting.
 */
export const REQUIRED_SCHEMA_VERSION = 1;

/** The highest applied migration (0 when none has run yet). */
export async function schemaVersion(db: Database): Promise<number> {
  try {
    const result = await db.query<{ version: number | null }>({
      name: 'schema-version',
      text: 'SELECT max(version) AS version FROM schema_migrations',
    });
    return result.rows[0]?.version ?? 0;
  } catch (err) {
    // 42P01: no migration has ever run against this database.
    if (sqlState(err) === '42P01') return 0;
    throw err;
  }
}

export interface WaitForSchemaOptions {
  readonly db: Database;
  readonly logger: Logger;
  /** @default REQUIRED_SCHEMA_VERSION */
  readonly required?: number;
  /** Stop retrying (the service is shutting down). */
  readonly cancelled: () => boolean;
  /** First retry delay, doubled up to maxDelayMs. @default - 250 ms */
  readonly initialDelayMs?: number;
  /** @default - 5000 ms */
  readonly maxDelayMs?: number;
}

/**
 * Waits until the database answers and its schema is at least the required version. Every failed check is logged
 * (the reason, never the login) and retried with backoff, for as long as it takes: the task stays not ready, and the
 * deployment's health checks decide when to give up. Resolves true when compatible, false when cancelled.
 */
export async function waitForCompatibleSchema(options: WaitForSchemaOptions): Promise<boolean> {
  const required = options.required ?? REQUIRED_SCHEMA_VERSION;
  const maxDelay = options.maxDelayMs ?? 5000;
  let delay = options.initialDelayMs ?? 250;
  for (let attempt = 1; !options.cancelled(); attempt += 1) {
    try {
      const version = await schemaVersion(options.db);
      if (version >= required) {
        options.logger.info({ schemaVersion: version, requiredSchemaVersion: required }, 'database schema is compatible');
        return true;
      }
      options.logger.warn(
        { schemaVersion: version, requiredSchemaVersion: required, attempt },
        'database schema is older than this service needs; run the migrations',
      );
    } catch (err) {
      options.logger.warn({ err, attempt }, 'database not reachable yet');
    }
    await new Promise((resolve) => setTimeout(resolve, delay).unref());
    delay = Math.min(delay * 2, maxDelay);
  }
  return false;
}
