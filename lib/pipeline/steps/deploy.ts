import { Duration } from 'aws-cdk-lib';
import { PipelineStep, TOOLING_RUNTIME } from './types';

/**
 * The blue/green deploy: tools/deploy registers a task definition revision with the new digest, updates the service,
 * follows the ECS service deployment until it succeeds, and fails with the reason on rollback, stop or timeout
 * (AWS-TRAPS 3); then it tags the image `deployed-<env>-*` and records the digest in SSM (AWS-TRAPS 1).
 * The preflight refuses example configuration before anything is touched.
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

/** After the deploy: the same smoke test as the lifecycle hook, through the production URL. */
export function smokeStep(): PipelineStep {
  return {
    name: 'Smoke-Production',
    timeout: Duration.minutes(10),
    runsLocally: false,
    buildSpec: {
      version: '0.2',
      env: { shell: 'bash' },
      phases: {
        install: { 'runtime-versions': TOOLING_RUNTIME, commands: ['npm ci --no-audit --no-fund'] },
        build: { commands: ['npx tsx tools/smoke/cli.ts'] },
      },
    },
  };
}
