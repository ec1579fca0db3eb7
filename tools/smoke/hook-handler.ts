/**
 * ECS native blue/green lifecycle hook (e.g. at POST_TEST_TRAFFIC_SHIFT): runs the smoke test against the test
 * listener, which already routes to the new revision, and answers SUCCEEDED or FAILED; on FAILED ECS rolls back
 * before any production traffic reaches the new revision.
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/lambda-lifecycle-hooks.html
 *
 * The service's first deployment (CreateService) also runs the hook; it is answered SUCCEEDED without a smoke test,
 * only when ECS confirms it is the service's one deployment and replaces no running revision (./first-deployment.ts).
 * Every other deployment is tested.
 *
 * Environment: TEST_URL (test listener URL), API_KEY_SECRET_ARN (JSON `{"current", "previous"}` or a plain key; the
 * test presents `current`), CLUSTER_NAME (the service's cluster), SMOKE_TIMEOUT_MS (optional, default 5000).
 */
import { ECSClient } from '@aws-sdk/client-ecs';
import { checkFirstDeployment, FirstDeploymentVerdict } from './first-deployment';
import { describeHookEvent, HookEventFields, readHookEvent } from './hook-event';
import { formatSteps, runSmokeTest, SmokeTestOptions, SmokeTestResult } from './smoke-test';
import { ApiKeySecretError, currentApiKey, getSecretString } from './secrets';

/** What ECS expects back from a lifecycle hook. */
export interface HookResponse {
  readonly hookStatus: 'SUCCEEDED' | 'FAILED';
}

/** Collaborators of {@link handleHook}, injected in tests. */
export interface HookDeps {
  readonly env: NodeJS.ProcessEnv;
  readonly getSecret: (arn: string) => Promise<string>;
  readonly runSmoke: (opts: SmokeTestOptions) => Promise<SmokeTestResult>;
  /** Whether this invocation is the service's first deployment; never throws (see ./first-deployment.ts). */
  readonly checkFirstDeployment: (fields: HookEventFields) => Promise<FirstDeploymentVerdict>;
  readonly log: (line: string) => void;
}

const DEFAULT_TIMEOUT_MS = 5000;

/** Runs the smoke test for one hook invocation. Never throws: any problem is a FAILED answer with a logged reason. */
export async function handleHook(event: unknown, deps: HookDeps): Promise<HookResponse> {
  const { env, log } = deps;
  const fields = readHookEvent(event);
  log(`smoke hook invoked: ${describeHookEvent(fields)}`);
  const first = await deps.checkFirstDeployment(fields).catch((error: unknown): FirstDeploymentVerdict => ({
    first: false,
    reason: `first-deployment check failed (${error instanceof Error ? error.name : 'error'})`,
  }));
  if (first.first) {
    // Nothing to test and nothing to roll back to: failing here would only fail the service's creation.
    log(`smoke hook SUCCEEDED without a smoke test, first deployment of the service: ${first.reason}`);
    return { hookStatus: 'SUCCEEDED' };
  }
  log(`smoke test required: ${first.reason}`);
  const testUrl = env.TEST_URL?.trim();
  const secretArn = env.API_KEY_SECRET_ARN?.trim();
  const timeoutRaw = env.SMOKE_TIMEOUT_MS?.trim();
  const timeoutMs = timeoutRaw ? Number(timeoutRaw) : DEFAULT_TIMEOUT_MS;
  if (!testUrl || !secretArn) {
    log(
      `smoke hook FAILED: TEST_URL and API_KEY_SECRET_ARN must be set (TEST_URL=${testUrl ? 'set' : 'missing'}, API_KEY_SECRET_ARN=${secretArn ? 'set' : 'missing'})`,
    );
    return { hookStatus: 'FAILED' };
  }
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    log(`smoke hook FAILED: SMOKE_TIMEOUT_MS must be a positive integer, got: ${JSON.stringify(timeoutRaw)}`);
    return { hookStatus: 'FAILED' };
  }
  let apiKey: string;
  try {
    apiKey = currentApiKey(await deps.getSecret(secretArn), `secret ${secretArn}`);
  } catch (error) {
    if (error instanceof ApiKeySecretError) {
      log(`smoke hook FAILED: ${error.message}`);
      return { hookStatus: 'FAILED' };
    }
    log(
      `smoke hook FAILED: cannot read ${secretArn} (${error instanceof Error ? error.name : 'error'}); check the hook role's secretsmanager:GetSecretValue and kms:Decrypt`,
    );
    return { hookStatus: 'FAILED' };
  }
  const result = await deps.runSmoke({ baseUrl: testUrl, apiKey, timeoutMs });
  log(`smoke test against ${testUrl}:\n${formatSteps(result)}`);
  log(`smoke hook ${result.ok ? 'SUCCEEDED' : 'FAILED'}`);
  return { hookStatus: result.ok ? 'SUCCEEDED' : 'FAILED' };
}

const ecs = new ECSClient({});

/** Lambda entry point. */
export async function handler(event: unknown): Promise<HookResponse> {
  return handleHook(event, {
    env: process.env,
    getSecret: (arn) => getSecretString(arn),
    runSmoke: runSmokeTest,
    checkFirstDeployment: (fields) => checkFirstDeployment(fields, { clusterName: process.env.CLUSTER_NAME, ecs }),
    log: (line) => console.log(line),
  });
}
