/** Reading and validating the environment of a pipeline tool's CLI, with messages that name the bad variable and value. */

/** A CLI input that is missing or malformed; the CLI prints it and exits 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The value of `name`, or a {@link ConfigError} saying it must be set. */
export function requireEnv(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(`environment variable ${name} must be set (non-empty)`);
  return value;
}

/** The optional value of `name`, trimmed; undefined when unset or empty. */
export function optionalEnv(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

/** Parses `name` as an integer in [min, max]; `fallback` when unset. */
export function intEnv(env: NodeJS.ProcessEnv, name: string, range: { min: number; max: number }, fallback?: number): number {
  const raw = optionalEnv(env, name);
  if (raw === undefined) {
    if (fallback === undefined) throw new ConfigError(`environment variable ${name} must be set (integer ${range.min}..${range.max})`);
    return fallback;
  }
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(`${name} must be an integer ${range.min}..${range.max}, got: ${JSON.stringify(raw)}`);
  const value = Number(raw);
  if (value < range.min || value > range.max) throw new ConfigError(`${name} must be between ${range.min} and ${range.max}, got: ${value}`);
  return value;
}

/** The value of `name`, which must be exactly one of `allowed` (no case folding: `Prod` is a typo to report, not to guess at). */
export function oneOfEnv<T extends string>(env: NodeJS.ProcessEnv, name: string, allowed: readonly T[]): T {
  const value = requireEnv(env, name);
  const found = allowed.find((candidate) => candidate === value);
  if (found === undefined) throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got: ${JSON.stringify(value)}`);
  return found;
}

/** The value of `name`, which must match `pattern`; `what` describes the expected form in the error. */
export function matchEnv(env: NodeJS.ProcessEnv, name: string, pattern: RegExp, what: string): string {
  const value = requireEnv(env, name);
  if (!pattern.test(value)) throw new ConfigError(`${name} must be ${what}, got: ${JSON.stringify(value)}`);
  return value;
}
