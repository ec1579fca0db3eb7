import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildApp } from '../lib/app';
import { EnvironmentConfig, EnvironmentName, loadAllConfigs } from '../lib/config';
import { TapStack } from '../lib/tap-stack';

const ROOT = path.join(__dirname, '..');
/** The feature flags of cdk.json, so tests synthesize exactly what `cdk synth` does. */
export const CDK_CONTEXT = JSON.parse(fs.readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')).context as Record<string, unknown>;

/** A deep copy of the shipped configuration of every environment, for tests to change. */
export function shippedConfigs(): Record<EnvironmentName, EnvironmentConfig> {
  return loadAllConfigs();
}

/** Writes configs into a temporary directory, for tests of the file loader. */
export function writeConfigDir(configs: Record<string, unknown>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tap-config-'));
  for (const [name, value] of Object.entries(configs)) fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(value));
  return dir;
}

const cache = new Map<EnvironmentName, { stack: TapStack; template: Template }>();

/** Synthesizes one environment's stack like bin/tap.ts does (cached: synthesis is the slow part of the suite). */
export function synthEnv(env: EnvironmentName): { stack: TapStack; template: Template } {
  const hit = cache.get(env);
  if (hit) return hit;
  const app = new App({ context: { ...CDK_CONTEXT, env }, outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'tap-synth-')) });
  const stack = buildApp(app);
  const result = { stack, template: Template.fromStack(stack) };
  cache.set(env, result);
  return result;
}

export const ENVS: readonly EnvironmentName[] = ['dev', 'staging', 'prod'];
