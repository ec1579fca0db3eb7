/**
 * Post-deploy smoke test from the pipeline: `npx tsx tools/smoke/cli.ts`.
 * Environment: BASE_URL, and API_KEY_SECRET_ARN (preferred) or API_KEY; SMOKE_TIMEOUT_MS (default 5000). The secret (or
 * API_KEY) holds JSON `{"current": "...", "previous": "..."}` or a plain key; the test presents `current`.
 * Exit codes: 0 passed, 1 a step failed, 2 bad configuration.
 */
import { ConfigError, intEnv, optionalEnv, requireEnv } from '../common/env';
import { currentApiKey, getSecretString } from './secrets';
import { formatSteps, runSmokeTest } from './smoke-test';

/** Runs the smoke test and returns the exit code. */
export async function main(env: NodeJS.ProcessEnv, getSecret: (arn: string) => Promise<string> = (arn) => getSecretString(arn)): Promise<number> {
  let baseUrl: string;
  let timeoutMs: number;
  let apiKey: string;
  try {
    baseUrl = requireEnv(env, 'BASE_URL');
    timeoutMs = intEnv(env, 'SMOKE_TIMEOUT_MS', { min: 100, max: 60_000 }, 5000);
    const secretArn = optionalEnv(env, 'API_KEY_SECRET_ARN');
    const direct = optionalEnv(env, 'API_KEY');
    if (!secretArn && !direct) throw new ConfigError('set API_KEY_SECRET_ARN (preferred) or API_KEY');
    apiKey = secretArn ? currentApiKey(await getSecret(secretArn), `secret ${secretArn}`) : currentApiKey(direct ?? '', 'API_KEY');
  } catch (error) {
    console.error(`smoke: cannot start: ${(error as Error).message}`);
    return 2;
  }
  const result = await runSmokeTest({ baseUrl, apiKey, timeoutMs });
  console.log(`smoke test against ${baseUrl}:\n${formatSteps(result)}`);
  if (!result.ok) {
    console.error('smoke: FAILED; see the failing step above and the service logs (CloudWatch log group of the ECS service)');
    return 1;
  }
  console.log('smoke: passed');
  return 0;
}

if (require.main === module) {
  main(process.env).then((code) => {
    process.exitCode = code;
  });
}
