/**
 * `npx tsx tools/collector-cache/cli.ts`, in the Deploy step before the migration. Environment:
 * COLLECTOR_IMAGE_REPOSITORY and COLLECTOR_IMAGE_TAG (both unset where tracing is off: nothing to do).
 * Exit codes: 0 cached (or nothing to do), 1 the image cannot be had, 2 bad configuration.
 */
import { ECRClient } from '@aws-sdk/client-ecr';
import { REPOSITORY_NAME_PATTERN } from '../common/ecr';
import { ConfigError, matchEnv, optionalEnv } from '../common/env';
import { ensureCached } from './cache';

/** Runs the check and returns the exit code. */
export async function main(env: NodeJS.ProcessEnv, client: ECRClient = new ECRClient({})): Promise<number> {
  let repository: string;
  let tag: string;
  try {
    if (!optionalEnv(env, 'COLLECTOR_IMAGE_REPOSITORY') && !optionalEnv(env, 'COLLECTOR_IMAGE_TAG')) {
      console.log('collector-cache: tracing is off in this environment; nothing to cache');
      return 0;
    }
    repository = matchEnv(env, 'COLLECTOR_IMAGE_REPOSITORY', REPOSITORY_NAME_PATTERN, 'an ECR repository name');
    tag = matchEnv(env, 'COLLECTOR_IMAGE_TAG', /^v\d+\.\d+\.\d+$/, 'a collector version like v0.45.1');
  } catch (error) {
    console.error(`collector-cache: cannot start: ${(error as ConfigError).message}`);
    return 2;
  }
  try {
    const digest = await ensureCached(client, repository, tag);
    console.log(`collector-cache: ${repository}:${tag} is cached (${digest})`);
    return 0;
  } catch (error) {
    console.error(`collector-cache: FAILED: ${(error as Error).message}`);
    return 1;
  }
}

if (require.main === module) {
  main(process.env).then((code) => {
    process.exitCode = code;
  });
}
