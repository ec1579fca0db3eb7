import { Duration } from 'aws-cdk-lib';
import { PipelineStep, TOOLING_RUNTIME } from './types';

/** The schema migration (tools/migrate): the new image's `dist/migrate.js` as a one-off Fargate task. */
export const MIGRATE_COMMAND = 'npx tsx tools/migrate/cli.ts';
/** The blue/green deploy of the service (tools/deploy). */
export const DEPLOY_COMMAND = 'npx tsx tools/deploy/cli.ts';
/**
 * Pulls the tracing collector's image through the account's ECR pull-through cache before the migration, where tracing
 * is on (tools/collector-cache): the tasks cannot make that first pull themselves.
 */
export const COLLECTOR_CACHE_COMMAND = 'npx tsx tools/collector-cache/cli.ts';
/** How long one migration may run, from RunTask to STOPPED, unless the pipeline is given another bound. */
export const DEFAULT_MIGRATION_TIMEOUT_MINUTES = 15;

/**
 * Migrate, then deploy. tools/migrate runs the migration task with the new image and waits for it to exit 0
 * (docs/deployments.md, trap 28: the schema moves before the new revision takes traffic, and every migration stays
 * compatible with the revision still serving). Then tools/deploy registers a task definition revision with the new
 * digest, updates the service, follows the ECS service deployment until it succeeds, and fails with the reason on
 * rollback, stop or timeout (docs/deployments.md, trap 3); then it records the digest in SSM (docs/deployments.md,
 * trap 1) and tags the image `deployed-<env>-*`, which only shields what runs from the ECR lifecycle rules. It does not
 * make the image promotable: {@link smokeStep} does, after the production smoke test. The preflight refuses example
 * configuration before anything is touched.
 *
 * The migration and the deploy are the two commands of one `commands` list: CodeBuild skips the rest of a list once a
 * command fails (https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html), so a failed or timed-out
 * migration never starts a deployment. Never move the deploy to another phase, `post_build` or a `finally` block.
 */
export function deployStep(
  envName: string,
  deployTimeoutMinutes: number,
  migrationTimeoutMinutes: number = DEFAULT_MIGRATION_TIMEOUT_MINUTES,
): PipelineStep {
  if (!Number.isInteger(migrationTimeoutMinutes) || migrationTimeoutMinutes < 1 || migrationTimeoutMinutes > 120) {
    throw new Error(`migration timeout must be a whole number of minutes from 1 to 120, got: ${migrationTimeoutMinutes}`);
  }
  return {
    name: 'Deploy',
    // Each tool's own timeout fires first and names what it waited for; CodeBuild's is the backstop.
    timeout: Duration.minutes(migrationTimeoutMinutes + deployTimeoutMinutes + 15),
    runsLocally: false,
    buildSpec: {
      version: '0.2',
      env: {
        shell: 'bash',
        variables: {
          DEPLOY_ENV: envName,
          DEPLOY_TIMEOUT_MINUTES: String(deployTimeoutMinutes),
          MIGRATION_TIMEOUT_SECONDS: String(migrationTimeoutMinutes * 60),
        },
      },
      phases: {
        install: { 'runtime-versions': TOOLING_RUNTIME, commands: ['npm ci --no-audit --no-fund'] },
        pre_build: {
          commands: [`npm run preflight -- ${envName} "$(aws sts get-caller-identity --query Account --output text)"`, COLLECTOR_CACHE_COMMAND],
        },
        build: { commands: [MIGRATE_COMMAND, DEPLOY_COMMAND] },
      },
    },
  };
}

/** The smoke test through the production URL: the same test the lifecycle hook runs against the test listener. */
export const SMOKE_COMMAND = 'npx tsx tools/smoke/cli.ts';
/** Tags the deployed image `promotable-<env>-<time>`: the one signal the next environment's promotion waits for. */
export const MARK_PROMOTABLE_COMMAND = 'npx tsx tools/promote/cli.ts mark';

/**
 * After the deploy: the production smoke test, then, only if it passed, the image is marked promotable. Both commands
 * sit in one `commands` list of the build phase, and CodeBuild skips the rest of that list once a command fails
 * (https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html), so a failed smoke test never marks.
 * Never move the mark to `post_build` or a `finally` block: those run after a failed build too.
 */
export function smokeStep(envName: string): PipelineStep {
  return {
    name: 'Smoke-Production',
    timeout: Duration.minutes(10),
    runsLocally: false,
    buildSpec: {
      version: '0.2',
      env: { shell: 'bash', variables: { DEPLOY_ENV: envName } },
      phases: {
        install: { 'runtime-versions': TOOLING_RUNTIME, commands: ['npm ci --no-audit --no-fund'] },
        build: { commands: [SMOKE_COMMAND, MARK_PROMOTABLE_COMMAND] },
      },
    },
  };
}
