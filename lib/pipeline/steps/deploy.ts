import { Duration } from 'aws-cdk-lib';
import { PipelineStep, TOOLING_RUNTIME } from './types';

/**
 * The blue/green deploy: tools/deploy registers a task definition revision with the new digest, updates the service,
 * follows the ECS service deployment until it succeeds, and fails with the reason on rollback, stop or timeout
 * (docs/deployments.md, trap 3); then it records the digest in SSM (docs/deployments.md, trap 1) and tags the image `deployed-<env>-*`, which only
 * shields what runs from the ECR lifecycle rules. It does not make the image promotable: {@link smokeStep} does, after
 * the production smoke test. The preflight refuses example configuration before anything is touched.
 */
export function deployStep(envName: string, deployTimeoutMinutes: number): PipelineStep {
  return {
    name: 'Deploy',
    // The step's own timeout fires first and names the deployment; CodeBuild's is the backstop.
    timeout: Duration.minutes(deployTimeoutMinutes + 15),
    runsLocally: false,
    buildSpec: {
      version: '0.2',
      env: { shell: 'bash', variables: { DEPLOY_ENV: envName, DEPLOY_TIMEOUT_MINUTES: String(deployTimeoutMinutes) } },
      phases: {
        install: { 'runtime-versions': TOOLING_RUNTIME, commands: ['npm ci --no-audit --no-fund'] },
        pre_build: { commands: [`npm run preflight -- ${envName} "$(aws sts get-caller-identity --query Account --output text)"`] },
        build: { commands: ['npx tsx tools/deploy/cli.ts'] },
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
