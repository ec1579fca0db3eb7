/**
 * CloudWatch Synthetics canary: the pipeline's post-deploy smoke test (tools/smoke/smoke-test.ts, the same code, not a
 * copy), run on a schedule against the environment's public URL. Synthetics records a run as failed when the handler
 * throws, and publishes SuccessPercent/Failed in the CloudWatchSynthetics namespace (dimension CanaryName), which the
 * alarm of lib/monitoring/canary.ts reads.
 *
 * What it writes (the console, and the step report Synthetics uploads from /tmp to the encrypted artifact bucket) is
 * the step lines of formatSteps and the failing step's reason only: never the API key, the card number or a response
 * body (runSmokeTest's results never contain them).
 *
 * Environment: BASE_URL (service root), API_KEY_SECRET_ARN (the service's API key secret: JSON {"current","previous"}
 * or a plain key), SMOKE_TIMEOUT_MS (optional limit of each HTTP call, default 10000).
 */
import { writeFileSync } from 'node:fs';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { currentApiKey, getSecretString } from '../smoke/secrets';
import { formatSteps, runSmokeTest, SmokeTestResult } from '../smoke/smoke-test';

/** Default limit of each HTTP call: the canary's own timeout (lib/monitoring/canary.ts) leaves room for four. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** Synthetics uploads the files under /tmp to the run's artifacts. */
export const REPORT_PATH = '/tmp/smoke-steps.txt';

/** What the handler reads and calls; the tests replace each part. */
export interface CanaryDeps {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly secrets?: SecretsManagerClient;
  readonly fetchImpl?: typeof fetch;
  readonly log?: (line: string) => void;
  /** Writes the step report; `undefined` to write none. */
  readonly writeReport?: ((text: string) => void) | undefined;
}

/** The canary's configuration is wrong (missing or malformed variable): never a statement about the service. */
export class CanaryConfigError extends Error {
  override readonly name = 'CanaryConfigError';
}

/** The smoke test failed: names the failing step and its (safe) reason. */
export class SmokeTestFailure extends Error {
  override readonly name = 'SmokeTestFailure';
  constructor(readonly result: SmokeTestResult) {
    const failed = result.steps.find((s) => !s.ok);
    super(failed ? `smoke test failed at step "${failed.name}": ${failed.error ?? 'failed'}` : 'smoke test failed');
  }
}

function required(env: CanaryDeps['env'], name: string): string {
  const value = env[name];
  if (value === undefined || value.trim() === '') throw new CanaryConfigError(`environment variable ${name} is not set`);
  return value;
}

function timeoutOf(env: CanaryDeps['env']): number {
  const raw = env.SMOKE_TIMEOUT_MS;
  if (raw === undefined || raw === '') return DEFAULT_TIMEOUT_MS;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0)
    throw new CanaryConfigError(`SMOKE_TIMEOUT_MS must be a positive integer of milliseconds, got ${JSON.stringify(raw)}`);
  return value;
}

/** The URL's origin only (no path or query, which are not the canary's to log); runSmokeTest reports a bad URL. */
function originOf(baseUrl: string): string {
  try {
    return new URL(baseUrl).origin;
  } catch {
    return 'an invalid BASE_URL';
  }
}

/**
 * One canary run: reads the key at run time (a rotation takes effect on the next run), runs the smoke test, logs one
 * line per step, and throws SmokeTestFailure naming the failing step, so that Synthetics records the run as failed.
 */
export async function runCanary(deps: CanaryDeps): Promise<string> {
  const log = deps.log ?? ((line: string) => console.log(line));
  const baseUrl = required(deps.env, 'BASE_URL');
  const secretArn = required(deps.env, 'API_KEY_SECRET_ARN');
  const timeoutMs = timeoutOf(deps.env);

  const apiKey = currentApiKey(await getSecretString(secretArn, deps.secrets), `secret ${secretArn}`);
  const result = await runSmokeTest({ baseUrl, apiKey, timeoutMs, ...(deps.fetchImpl ? { fetchImpl: deps.fetchImpl } : {}) });
  const report = `smoke test of ${originOf(baseUrl)}: ${result.ok ? 'PASSED' : 'FAILED'}\n${formatSteps(result)}`;
  for (const line of report.split('\n')) log(line);
  try {
    deps.writeReport?.(`${report}\n`);
  } catch (error) {
    // The report is a convenience; the verdict comes from the steps.
    log(`could not write the step report (${error instanceof Error ? error.name : 'unknown error'})`);
  }
  if (!result.ok) throw new SmokeTestFailure(result);
  return `smoke test passed (${result.steps.length} steps)`;
}

/** The Synthetics entry point (handler `smoke-canary.handler`). */
export const handler = async (): Promise<string> =>
  runCanary({ env: process.env, writeReport: (text) => writeFileSync(REPORT_PATH, text, { mode: 0o600 }) });
