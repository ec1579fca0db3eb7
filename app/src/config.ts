import { DEFAULT_PORT, DEFAULT_SHUTDOWN_DEADLINE_MS, ENV, FARGATE_MAX_STOP_TIMEOUT_MS, MIN_SECRET_LENGTH } from './contract';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Credentials for a future real database (Secrets Manager JSON); unused by the in-memory repositories. */
export interface DatabaseCredentials {
  readonly username: string;
  readonly password: string;
  readonly host?: string;
  readonly port?: number;
  readonly dbname?: string;
}

export interface Config {
  readonly port: number;
  /**
   * Bearer keys accepted on /v1: the current key first, then the previous one while a rotation is under way.
   * API_KEY is either the key itself or the rotation secret's JSON `{"current": "...", "previous": "..."}`.
   */
  readonly apiKeys: readonly string[];
  readonly tokenizationKey: string;
  readonly logLevel: LogLevel;
  readonly shutdownDeadlineMs: number;
  readonly databaseCredentials?: DatabaseCredentials;
}

/** Thrown when the environment is invalid; its message names the variable and never contains a secret value. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function parseIntStrict(name: string, raw: string, min: number, max: number): number {
  if (!/^[0-9]{1,9}$/.test(raw)) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got: ${JSON.stringify(raw.slice(0, 32))}`);
  }
  const value = Number(raw);
  if (value < min || value > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got: ${value}`);
  }
  return value;
}

function requireSecret(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new ConfigError(`${name} is required (a secret of at least ${MIN_SECRET_LENGTH} characters)`);
  }
  // Only the length is reported: the value is a secret.
  if (value.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(`${name} must be at least ${MIN_SECRET_LENGTH} characters, got ${value.length} characters`);
  }
  return value;
}

/**
 * API_KEY as injected from the API key secret: JSON `{"current": "<key>", "previous": "<key or empty>"}`, so a key
 * can be rotated without downtime (clients move from previous to current while both are accepted). A value that is
 * not a JSON object is the key itself (local runs). Errors name the field, never a value.
 */
export function parseApiKeys(raw: string): readonly string[] {
  const name = ENV.apiKey;
  if (!raw.trimStart().startsWith('{')) return [raw];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError(`${name} looks like JSON but is not valid JSON (expected {"current": "...", "previous": "..."})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`${name} must be a JSON object with a string field current`);
  }
  const record = parsed as Record<string, unknown>;
  const unknownFields = Object.keys(record).filter((k) => k !== 'current' && k !== 'previous');
  if (unknownFields.length > 0) {
    throw new ConfigError(`${name} has unknown fields: ${unknownFields.map((k) => JSON.stringify(k.slice(0, 32))).join(', ')} (expected current, previous)`);
  }
  const keys: string[] = [];
  for (const field of ['current', 'previous'] as const) {
    const value = record[field];
    if (field === 'previous' && (value === undefined || value === '')) continue;
    if (typeof value !== 'string' || value === '') throw new ConfigError(`${name}.${field} must be a non-empty string`);
    // Only the length is reported: the value is a secret.
    if (value.length < MIN_SECRET_LENGTH) {
      throw new ConfigError(`${name}.${field} must be at least ${MIN_SECRET_LENGTH} characters, got ${value.length} characters`);
    }
    keys.push(value);
  }
  if (keys.length === 2 && keys[0] === keys[1]) throw new ConfigError(`${name}.previous must differ from ${name}.current (leave it empty when no rotation is under way)`);
  return keys;
}

function parseDatabaseCredentials(raw: string): DatabaseCredentials {
  const name = ENV.databaseCredentials;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    // The parser's message can quote the secret, so it is not passed on.
    throw new ConfigError(`${name} must be a JSON object with string fields username and password (not valid JSON)`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`${name} must be a JSON object with string fields username and password`);
  }
  const record = parsed as Record<string, unknown>;
  const missing = ['username', 'password'].filter((k) => typeof record[k] !== 'string' || record[k] === '');
  if (missing.length > 0) {
    throw new ConfigError(`${name} must be a JSON object with string fields username and password (missing or empty: ${missing.join(', ')})`);
  }
  return {
    username: record.username as string,
    password: record.password as string,
    ...(typeof record.host === 'string' ? { host: record.host } : {}),
    ...(typeof record.port === 'number' ? { port: record.port } : {}),
    ...(typeof record.dbname === 'string' ? { dbname: record.dbname } : {}),
  };
}

/** Reads and validates the whole configuration at start, so a bad task definition fails fast and says why. */
export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const rawPort = env[ENV.port];
  const port = rawPort === undefined || rawPort === '' ? DEFAULT_PORT : parseIntStrict(ENV.port, rawPort, 0, 65535);

  const rawLevel = env[ENV.logLevel];
  const logLevel = (rawLevel === undefined || rawLevel === '' ? 'info' : rawLevel) as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`${ENV.logLevel} must be one of ${LOG_LEVELS.join(', ')}, got: ${JSON.stringify(String(rawLevel).slice(0, 32))}`);
  }

  const rawDeadline = env[ENV.shutdownDeadlineMs];
  const shutdownDeadlineMs =
    rawDeadline === undefined || rawDeadline === ''
      ? DEFAULT_SHUTDOWN_DEADLINE_MS
      : parseIntStrict(ENV.shutdownDeadlineMs, rawDeadline, 1, FARGATE_MAX_STOP_TIMEOUT_MS - 1);

  const apiKeys = parseApiKeys(requireSecret(env, ENV.apiKey));
  const tokenizationKey = requireSecret(env, ENV.tokenizationKey);
  // eslint-disable-next-line security/detect-possible-timing-attacks -- start-up check of secrets against each other, no caller input
  if (apiKeys.includes(tokenizationKey)) {
    throw new ConfigError(`${ENV.apiKey} and ${ENV.tokenizationKey} must be different secrets`);
  }

  const rawDb = env[ENV.databaseCredentials];
  const databaseCredentials = rawDb === undefined || rawDb === '' ? undefined : parseDatabaseCredentials(rawDb);

  return { port, apiKeys, tokenizationKey, logLevel, shutdownDeadlineMs, ...(databaseCredentials ? { databaseCredentials } : {}) };
}
