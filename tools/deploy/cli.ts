/**
 * CodeBuild entry of the deploy step: `npx tsx tools/deploy/cli.ts`.
 *
 * Environment: CLUSTER_NAME, SERVICE_NAME, CONTAINER_NAME, IMAGE_URI (digest-pinned, in private ECR), IMAGE_PARAMETER_NAME,
 * DEPLOY_ENV (dev | staging | prod, names the ECR tag deployed-<env>-<time>), DEPLOY_TIMEOUT_MINUTES (default 30),
 * DESIRED_COUNT (used only when the service is at 0 tasks, the first deploy).
 * Exit codes: 0 deployed and recorded, 1 deployment failed, timed out, or succeeded but could not be recorded, 2 bad configuration.
 */
import { ECRClient } from '@aws-sdk/client-ecr';
import { ECSClient } from '@aws-sdk/client-ecs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { ENVIRONMENT_NAMES } from '../../lib/config/schema';
import { ConfigError, intEnv, oneOfEnv, optionalEnv, requireEnv } from '../common/env';
import { realSleep } from '../common/retry';
import {
  DeployFailedError,
  DeployImageOptions,
  DeployInputError,
  DeployRecordError,
  DeployTimeoutError,
  deployImage,
  parseDeployImage,
} from './ecs-deploy';

/** Time between two DescribeServiceDeployments calls: well under ECS's own state changes, well over its API rate limits. */
const POLL_INTERVAL_MS = 15_000;

/** Reads and validates the deploy settings from the environment. */
export function readDeployOptions(env: NodeJS.ProcessEnv): DeployImageOptions {
  const imageUri = requireEnv(env, 'IMAGE_URI');
  try {
    parseDeployImage(imageUri);
  } catch (error) {
    throw new ConfigError(`IMAGE_URI: ${(error as Error).message}`);
  }
  const desiredCount = optionalEnv(env, 'DESIRED_COUNT') === undefined ? undefined : intEnv(env, 'DESIRED_COUNT', { min: 1, max: 100 });
  return {
    cluster: requireEnv(env, 'CLUSTER_NAME'),
    service: requireEnv(env, 'SERVICE_NAME'),
    containerName: requireEnv(env, 'CONTAINER_NAME'),
    imageUri,
    envName: oneOfEnv(env, 'DEPLOY_ENV', ENVIRONMENT_NAMES),
    imageParameterName: requireEnv(env, 'IMAGE_PARAMETER_NAME'),
    timeoutMs: intEnv(env, 'DEPLOY_TIMEOUT_MINUTES', { min: 1, max: 180 }, 30) * 60_000,
    pollIntervalMs: POLL_INTERVAL_MS,
    ...(desiredCount === undefined ? {} : { desiredCountIfZero: desiredCount }),
  };
}

/** Runs the deploy and returns the process exit code. */
export async function main(env: NodeJS.ProcessEnv): Promise<number> {
  let opts: DeployImageOptions;
  try {
    opts = readDeployOptions(env);
  } catch (error) {
    console.error(`deploy: bad configuration: ${(error as Error).message} (set it in the pipeline's deploy step environment)`);
    return 2;
  }
  const log = (line: string): void => console.log(`[deploy ${new Date().toISOString()}] ${line}`);
  try {
    // The repository may sit in another region than the service's; ECR calls must go to the image's region.
    const ecr = new ECRClient({ region: parseDeployImage(opts.imageUri).region });
    const result = await deployImage(opts, { ecs: new ECSClient({}), ssm: new SSMClient({}), ecr, sleep: realSleep, now: Date.now, log });
    log(
      `done: ${result.taskDefinitionArn} via ${result.serviceDeploymentArn} in ${Math.round(result.durationMs / 1000)}s, image tagged ${result.deployedTag}`,
    );
    return 0;
  } catch (error) {
    if (error instanceof DeployRecordError) {
      console.error(`deploy: FAILED AFTER A SUCCESSFUL DEPLOYMENT: ${error.message}`);
      return 1;
    }
    if (error instanceof DeployFailedError || error instanceof DeployTimeoutError) {
      console.error(`deploy: FAILED: ${error.message}`);
      return 1;
    }
    if (error instanceof DeployInputError) {
      console.error(`deploy: cannot deploy: ${error.message}`);
      return 2;
    }
    const name = error instanceof Error ? error.name : 'Error';
    console.error(
      `deploy: FAILED calling AWS (${name}): ${(error as Error).message}; check the CodeBuild role's ECS/SSM/ECR permissions and the log above`,
    );
    return 1;
  }
}

if (require.main === module) {
  main(process.env).then((code) => {
    process.exitCode = code;
  });
}
