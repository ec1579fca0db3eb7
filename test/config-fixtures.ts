import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { EnvironmentConfig, EnvironmentName, loadAllConfigs } from '../lib/config';

// Kept apart from test/helpers.ts (which loads the whole CDK app) so the configuration's suite loads only lib/config:
// the mutation run reruns that suite once per mutant.

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
