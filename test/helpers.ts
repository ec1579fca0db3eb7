import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildApp } from '../lib/app';
import { EnvironmentName, loadAllConfigs } from '../lib/config';
import { TapStack } from '../lib/tap-stack';

const ROOT = path.join(__dirname, '..');
/** The feature flags of cdk.json, so tests synthesize exactly what `cdk synth` does. */
export const CDK_CONTEXT = JSON.parse(fs.readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')).context as Record<string, unknown>;

export { shippedConfigs, writeConfigDir } from './config-fixtures';

/**
 * How a synth sees the account: `agnostic` as `cdk synth` without credentials (the ARNs carry `<AWS::AccountId>`),
 * `bound` as `cdk deploy` and every synth with credentials (the account's number, here the config's own account,
 * with `-c synthOnly=true` as the pipeline's IaC-Check passes it). Neither makes an AWS call.
 */
export type AccountMode = 'agnostic' | 'bound';
export const ACCOUNT_MODES: readonly AccountMode[] = ['agnostic', 'bound'];

/** A fresh app and stack for one environment, exactly as bin/tap.ts builds it. */
export function buildEnv(env: EnvironmentName, mode: AccountMode = 'agnostic', extraContext: Record<string, string> = {}): TapStack {
  const bound = mode === 'bound';
  const context = { ...CDK_CONTEXT, env, ...(bound ? { synthOnly: 'true' } : {}), ...extraContext };
  const app = new App({ context, outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'tap-synth-')) });
  return buildApp(app, bound ? { deployAccount: loadAllConfigs()[env].account } : {});
}

const cache = new Map<string, { stack: TapStack; template: Template }>();

/** Synthesizes one environment's stack like bin/tap.ts does (cached: synthesis is the slow part of the suite). */
export function synthEnv(env: EnvironmentName, mode: AccountMode = 'agnostic'): { stack: TapStack; template: Template } {
  const key = `${env}/${mode}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const stack = buildEnv(env, mode);
  const result = { stack, template: Template.fromStack(stack) };
  cache.set(key, result);
  return result;
}

export const ENVS: readonly EnvironmentName[] = ['dev', 'staging', 'prod'];

/**
 * Log groups named for the service that writes to them (WAF's, RDS's, the rotation functions', Resolver's query logs):
 * a fixed name survives a rolled-back create only if the group is deleted with it.
 */
export const FIXED_LOG_GROUP_NAME = /^(aws-waf-logs-|\/aws\/rds\/cluster\/|\/aws\/lambda\/TapStack-|\/aws\/vendedlogs\/route53resolver\/)/;
