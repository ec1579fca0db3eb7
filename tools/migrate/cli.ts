/**
 * CodeBuild entry of the schema migration, run by the Deploy step before tools/deploy: `npx tsx tools/migrate/cli.ts`.
 *
 * Environment (plain names and ids, no secret: the migration task reads its database credentials itself):
 * MIGRATION_CLUSTER (name or ARN), MIGRATION_TASK_FAMILY, MIGRATION_SUBNET_IDS and MIGRATION_SECURITY_GROUP_IDS
 * (comma-separated), IMAGE_URI (digest-pinned, the image the deploy ships), MIGRATION_CONTAINER_NAME (default
 * `migrate`), MIGRATION_TIMEOUT_SECONDS (default 900). The names carry a MIGRATION_ prefix because the Deploy step's
 * environment also holds the service's CLUSTER_NAME and CONTAINER_NAME for tools/deploy.
 * Exit codes: 0 migrated, 1 the migration failed, timed out or an AWS call failed, 2 bad configuration.
 */
import { randomUUID } from 'node:crypto';
import { ECSClient } from '@aws-sdk/client-ecs';
import { ConfigError, intEnv, optionalEnv, requireEnv } from '../common/env';
import { realSleep } from '../common/retry';
import { ToolRuntime } from '../common/runtime';
import {
  MigrationFailedError,
  MigrationInputError,
  MigrationOptions,
  MigrationTimeoutError,
  runMigration,
  validateMigrationOptions,
} from './run-migration';

/** First wait between two DescribeTasks calls: a Fargate task takes tens of seconds to start. */
export const FIRST_POLL_MS = 5_000;
/** Longest wait between two DescribeTasks calls: well inside ECS's API rate limits, short next to a migration. */
export const MAX_POLL_MS = 30_000;
/** The migration task definition's container. Mirrors MIGRATION_CONTAINER_NAME in lib/database (a test keeps them equal). */
export const DEFAULT_CONTAINER_NAME = 'migrate';
/** Default bound on one migration run, from RunTask to STOPPED. */
export const DEFAULT_TIMEOUT_SECONDS = 900;

function list(env: NodeJS.ProcessEnv, name: string): string[] {
  return requireEnv(env, name)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Reads and validates the migration settings; `clientToken` is one RunTask idempotency token for this run. */
export function readMigrationOptions(env: NodeJS.ProcessEnv, clientToken: string = randomUUID()): MigrationOptions {
  const opts: MigrationOptions = {
    cluster: requireEnv(env, 'MIGRATION_CLUSTER'),
    family: requireEnv(env, 'MIGRATION_TASK_FAMILY'),
    containerName: optionalEnv(env, 'MIGRATION_CONTAINER_NAME') ?? DEFAULT_CONTAINER_NAME,
    imageUri: requireEnv(env, 'IMAGE_URI'),
    subnetIds: list(env, 'MIGRATION_SUBNET_IDS'),
    securityGroupIds: list(env, 'MIGRATION_SECURITY_GROUP_IDS'),
    timeoutMs: intEnv(env, 'MIGRATION_TIMEOUT_SECONDS', { min: 60, max: 7200 }, DEFAULT_TIMEOUT_SECONDS) * 1000,
    pollIntervalMs: FIRST_POLL_MS,
    maxPollIntervalMs: MAX_POLL_MS,
    clientToken,
  };
  try {
    validateMigrationOptions(opts);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  return opts;
}

/** Runs the migration and returns the process exit code. */
export async function main(env: NodeJS.ProcessEnv, runtime?: Partial<ToolRuntime>): Promise<number> {
  let opts: MigrationOptions;
  try {
    opts = readMigrationOptions(env);
  } catch (error) {
    console.error(`migrate: bad configuration: ${(error as Error).message} (set it in the pipeline's deploy step environment)`);
    return 2;
  }
  const log = runtime?.log ?? ((line: string): void => console.log(`[migrate ${new Date().toISOString()}] ${line}`));
  try {
    const result = await runMigration(opts, {
      ecs: new ECSClient({}),
      sleep: runtime?.sleep ?? realSleep,
      now: runtime?.now ?? Date.now,
      log,
      ...(runtime?.retry ? { retry: runtime.retry } : {}),
    });
    log(`done: ${result.taskArn} of ${result.taskDefinitionArn} in ${Math.round(result.durationMs / 1000)}s`);
    return 0;
  } catch (error) {
    if (error instanceof MigrationFailedError || error instanceof MigrationTimeoutError) {
      console.error(`migrate: FAILED: ${error.message}`);
      return 1;
    }
    if (error instanceof MigrationInputError) {
      console.error(`migrate: cannot migrate: ${error.message}`);
      return 2;
    }
    const name = error instanceof Error ? error.name : 'Error';
    console.error(
      `migrate: FAILED calling AWS (${name}): ${(error as Error).message}; the service was not deployed. ` +
        "Check the CodeBuild role's ECS and iam:PassRole permissions and the log above",
    );
    return 1;
  }
}

if (require.main === module) {
  main(process.env).then((code) => {
    process.exitCode = code;
  });
}
