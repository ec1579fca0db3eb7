import * as fs from 'fs';
import * as path from 'path';
import { ENVIRONMENT_NAMES, EnvironmentConfig, EnvironmentName } from './schema';
import { ConfigError, validateAcrossEnvironments, validateEnvironmentConfig } from './validate';

/** Where the checked-in `config/<env>.json` files live. */
export const DEFAULT_CONFIG_DIR = path.join(__dirname, '..', '..', 'config');

/**
 * Turns the `-c env=...` context value into a known environment name. No trimming or case folding:
 * `PROD ` is a typo to report, not to guess at.
 */
export function parseEnvironmentName(value: unknown): EnvironmentName {
  if (typeof value === 'string' && (ENVIRONMENT_NAMES as readonly string[]).includes(value)) return value as EnvironmentName;
  throw new ConfigError('-c env', [`env: unknown environment ${JSON.stringify(value)}, allowed: ${ENVIRONMENT_NAMES.join(', ')}`]);
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, [`cannot read the file: ${(e as Error).message}`]);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError(file, [`not valid JSON: ${(e as Error).message}`]);
  }
}

/** Reads and validates every environment's file; rules that span environments (CIDR overlap) need all of them. */
export function loadAllConfigs(dir: string = DEFAULT_CONFIG_DIR): Record<EnvironmentName, EnvironmentConfig> {
  const entries = ENVIRONMENT_NAMES.map((name) => {
    const file = path.join(dir, `${name}.json`);
    return [name, validateEnvironmentConfig(readJson(file), name, path.relative(process.cwd(), file) || file)] as const;
  });
  const all = Object.fromEntries(entries) as Record<EnvironmentName, EnvironmentConfig>;
  validateAcrossEnvironments(Object.values(all));
  return all;
}

/** The validated configuration of one environment. Throws ConfigError before any construct is built. */
export function loadConfig(env: EnvironmentName, dir: string = DEFAULT_CONFIG_DIR): EnvironmentConfig {
  return loadAllConfigs(dir)[env];
}
