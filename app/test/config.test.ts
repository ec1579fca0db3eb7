import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { ConfigError, isLoopback, loadConfig, loadCredentialSource, loadDatabaseConfig, loadLogLevel } from '../src/config';
import { DEFAULT_PORT, DEFAULT_SHUTDOWN_DEADLINE_MS, ENV } from '../src/contract';
import { migrateMain } from '../src/migrate';
import { main } from '../src/server';

const apiKey = 'fake-api-key-for-tests-0000000000000';
const tokenizationKey = 'fake-tokenization-key-for-tests-000';
const dbPassword = 'fake-db-password-0000';
const credentials = JSON.stringify({ username: 'payments', password: dbPassword });
const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:payments-db-AbCdEf';
const db = { DATABASE_HOST: 'db.cluster-abc.eu-west-1.rds.amazonaws.com', DATABASE_SECRET_ARN: arn };
const base = { API_KEY: apiKey, TOKENIZATION_KEY: tokenizationKey, ...db };

/** The error message of `fn`, which must throw a ConfigError. */
function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  test('GIVEN the secrets and the database endpoint WHEN loading THEN defaults apply (TLS verified, pool of 10)', () => {
    expect(loadConfig(base)).toEqual({
      port: DEFAULT_PORT,
      apiKeys: [apiKey],
      tokenizationKey,
      logLevel: 'info',
      shutdownDeadlineMs: DEFAULT_SHUTDOWN_DEADLINE_MS,
      database: {
        host: db.DATABASE_HOST,
        port: 5432,
        name: 'payments',
        sslMode: 'verify-full',
        credentials: { kind: 'secret', secretArn: arn, region: 'eu-west-1' },
        poolMax: 10,
        statementTimeoutMs: 5000,
        connectTimeoutMs: 3000,
      },
      environmentName: 'local',
      tracing: { enabled: false, sampleRatio: 0.05, otlpEndpoint: 'http://127.0.0.1:4318' },
    });
  });

  test('reads every variable', () => {
    const config = loadConfig({
      API_KEY: apiKey,
      TOKENIZATION_KEY: tokenizationKey,
      PORT: '9090',
      LOG_LEVEL: 'warn',
      SHUTDOWN_DEADLINE_MS: '45000',
      DATABASE_HOST: '127.0.0.1',
      DATABASE_PORT: '6543',
      DATABASE_NAME: 'payments_test',
      DATABASE_SSL_MODE: 'disable',
      DATABASE_CREDENTIALS: JSON.stringify({ username: 'app', password: dbPassword, host: 'ignored', engine: 'postgres' }),
      DATABASE_POOL_MAX: '25',
      DATABASE_STATEMENT_TIMEOUT_MS: '2500',
      DATABASE_CONNECT_TIMEOUT_MS: '1500',
      ENVIRONMENT_NAME: 'prod',
      TRACING_ENABLED: 'true',
      TRACING_SAMPLE_RATIO: '0.25',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector.internal:4318/',
    });
    expect(config).toMatchObject({ port: 9090, logLevel: 'warn', shutdownDeadlineMs: 45000, environmentName: 'prod' });
    expect(config.tracing).toEqual({ enabled: true, sampleRatio: 0.25, otlpEndpoint: 'http://collector.internal:4318' });
    expect(config.database).toEqual({
      host: '127.0.0.1',
      port: 6543,
      name: 'payments_test',
      sslMode: 'disable',
      credentials: { kind: 'static', credentials: { username: 'app', password: dbPassword } },
      poolMax: 25,
      statementTimeoutMs: 2500,
      connectTimeoutMs: 1500,
    });
  });

  test('DATABASE_CA_FILE replaces the bundled RDS CAs; an unreadable or non-PEM file is refused by name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ca-test-'));
    const pem = join(dir, 'ca.pem');
    writeFileSync(pem, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    expect(loadDatabaseConfig({ ...db, DATABASE_CA_FILE: pem }).ca).toContain('BEGIN CERTIFICATE');
    expect(messageOf(() => loadDatabaseConfig({ ...db, DATABASE_CA_FILE: join(dir, 'missing.pem') }))).toMatch(
      /DATABASE_CA_FILE cannot be read \(ENOENT\): a value of \d+ characters/,
    );
    const notPem = join(dir, 'not.pem');
    writeFileSync(notPem, 'hello');
    expect(messageOf(() => loadDatabaseConfig({ ...db, DATABASE_CA_FILE: notPem }))).toMatch(/DATABASE_CA_FILE must be a PEM file/);
  });

  test.each([
    [{ PORT: 'abc' }, /PORT must be an integer between 0 and 65535, got a value of 3 characters \(not shown/],
    [{ PORT: '70000' }, /PORT must be an integer between 0 and 65535, got: 70000/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of fatal, .*, got a value of 4 characters \(not shown/],
    [{ LOG_LEVEL: 'INFO' }, /LOG_LEVEL must be one of .*, got a value of 4 characters .*: did you mean "info"\?/],
    [{ SHUTDOWN_DEADLINE_MS: '120000' }, /SHUTDOWN_DEADLINE_MS must be an integer between 1 and 119999, got: 120000/],
    [{ SHUTDOWN_DEADLINE_MS: '-5' }, /SHUTDOWN_DEADLINE_MS must be an integer/],
    [{ DATABASE_HOST: '' }, /DATABASE_HOST is required/],
    [{ DATABASE_HOST: 'db host' }, /DATABASE_HOST must be a host name or IP address.*, got a value of 7 characters that contains whitespace/],
    [
      { DATABASE_HOST: 'postgres://payments:fake-pw-0@db.example.com/payments' },
      /DATABASE_HOST must be a host name or IP address.*, got a value of 53 characters that contains ':\/\/' and '@'/,
    ],
    [{ DATABASE_PORT: '0' }, /DATABASE_PORT must be an integer between 1 and 65535, got: 0/],
    [{ DATABASE_NAME: 'pay-ments' }, /DATABASE_NAME must be 1 to 63 letters.*, got a value of 9 characters/],
    [{ DATABASE_SSL_MODE: 'require' }, /DATABASE_SSL_MODE must be one of verify-full, disable, got a value of 7 characters/],
    [{ DATABASE_SSL_MODE: 'disable' }, /DATABASE_SSL_MODE=disable is only accepted for a loopback DATABASE_HOST \(127.0.0.1, ::1, localhost\)/],
    [{ DATABASE_POOL_MAX: '0' }, /DATABASE_POOL_MAX must be an integer between 1 and 1000, got: 0/],
    [{ DATABASE_STATEMENT_TIMEOUT_MS: '50' }, /DATABASE_STATEMENT_TIMEOUT_MS must be an integer between 100 and 600000, got: 50/],
    [{ DATABASE_CONNECT_TIMEOUT_MS: 'soon' }, /DATABASE_CONNECT_TIMEOUT_MS must be an integer between 100 and 60000, got a value of 4 characters/],
    [{ DATABASE_SECRET_ARN: 'payments-db' }, /DATABASE_SECRET_ARN must be a Secrets Manager secret ARN .*, got a value of 11 characters/],
    [
      { DATABASE_SECRET_ARN: '{"username":"u","password":"fake-pw-0"}' },
      /DATABASE_SECRET_ARN must be .*, not the secret's value.*, got a value of 39 characters that looks like JSON/,
    ],
    [{ DATABASE_SECRET_ARN: '' }, /database credentials are required: set DATABASE_SECRET_ARN .* or DATABASE_CREDENTIALS/],
    [{ DATABASE_CREDENTIALS: credentials }, /set only one of DATABASE_SECRET_ARN and DATABASE_CREDENTIALS/],
    [{ DATABASE_SECRET_ARN: '', DATABASE_CREDENTIALS: '{not json' }, /DATABASE_CREDENTIALS must be a JSON object .*not valid JSON/],
    [{ DATABASE_SECRET_ARN: '', DATABASE_CREDENTIALS: '[1]' }, /DATABASE_CREDENTIALS must be a JSON object/],
    [{ DATABASE_SECRET_ARN: '', DATABASE_CREDENTIALS: '{"username":"app"}' }, /DATABASE_CREDENTIALS .*missing or empty: password/],
    [{ ENVIRONMENT_NAME: 'production' }, /ENVIRONMENT_NAME must be one of dev, staging, prod, local, got a value of 10 characters/],
    [{ ENVIRONMENT_NAME: 'Prod' }, /ENVIRONMENT_NAME must be one of .*, got a value of 4 characters .*: did you mean "prod"\?/],
    [
      { ECS_CONTAINER_METADATA_URI_V4: 'http://169.254.170.2/v4/abc' },
      /ENVIRONMENT_NAME is required in ECS \(ECS_CONTAINER_METADATA_URI_V4 is set\): one of dev, staging, prod/,
    ],
    [
      { ECS_CONTAINER_METADATA_URI_V4: 'http://169.254.170.2/v4/abc', ENVIRONMENT_NAME: 'local' },
      /ENVIRONMENT_NAME must be one of dev, staging, prod in ECS, got a value of 5 characters/,
    ],
    [{ TRACING_ENABLED: 'yes' }, /TRACING_ENABLED must be true or false, got a value of 3 characters/],
    [{ TRACING_ENABLED: 'TRUE' }, /TRACING_ENABLED must be true or false, got a value of 4 characters .*: did you mean "true"\?/],
    [{ TRACING_SAMPLE_RATIO: '1.5' }, /TRACING_SAMPLE_RATIO must be a number from 0 to 1 \(e.g. 0.05\), got: 1.5$/],
    [{ TRACING_SAMPLE_RATIO: '-0.1' }, /TRACING_SAMPLE_RATIO must be a number from 0 to 1 \(e.g. 0.05\), got: -0.1$/],
    [{ TRACING_SAMPLE_RATIO: '5%' }, /TRACING_SAMPLE_RATIO must be a number from 0 to 1 .*, got a value of 2 characters/],
    [{ TRACING_SAMPLE_RATIO: 'NaN' }, /TRACING_SAMPLE_RATIO must be a number from 0 to 1 .*, got a value of 3 characters/],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: '127.0.0.1:4318' },
      /OTEL_EXPORTER_OTLP_ENDPOINT must be the collector's base URL.*, got a value of 14 characters/,
    ],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' }, /OTEL_EXPORTER_OTLP_ENDPOINT must be the collector's base URL/],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://127.0.0.1:4317' }, /OTEL_EXPORTER_OTLP_ENDPOINT must be the collector's base URL/],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'https://user:fake-pw-0@collector.example.com' },
      /OTEL_EXPORTER_OTLP_ENDPOINT must be .*, got a value of 44 characters that contains ':\/\/' and '@'/,
    ],
  ])('rejects %p with a message naming the variable', (env, message) => {
    expect(() => loadConfig({ ...base, ...env })).toThrow(message);
  });

  test.each([
    ['0', 0],
    ['1', 1],
    ['1.0', 1],
    ['0.05', 0.05],
    ['.5', 0.5],
    ['', 0.05],
  ])('TRACING_SAMPLE_RATIO %p is %p', (raw, ratio) => {
    expect(loadConfig({ ...base, TRACING_SAMPLE_RATIO: raw }).tracing.sampleRatio).toBe(ratio);
  });

  test('ENVIRONMENT_NAME: dev, staging and prod everywhere; local (the default) only outside ECS', () => {
    const ecs = { ECS_CONTAINER_METADATA_URI_V4: 'http://169.254.170.2/v4/abc' };
    for (const name of ['dev', 'staging', 'prod']) {
      expect(loadConfig({ ...base, ENVIRONMENT_NAME: name }).environmentName).toBe(name);
      expect(loadConfig({ ...base, ...ecs, ENVIRONMENT_NAME: name }).environmentName).toBe(name);
    }
    expect(loadConfig({ ...base, ENVIRONMENT_NAME: 'local' }).environmentName).toBe('local');
    expect(loadConfig({ ...base, ENVIRONMENT_NAME: '' }).environmentName).toBe('local');
  });

  test('loopback hosts are 127.0.0.0/8, ::1 and localhost, nothing else', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) expect(isLoopback(host)).toBe(true);
    for (const host of ['10.0.0.1', '128.0.0.1', 'localhost.example.com', '::2', '0.0.0.0']) expect(isLoopback(host)).toBe(false);
    expect(loadDatabaseConfig({ DATABASE_HOST: '::1', DATABASE_SSL_MODE: 'disable', DATABASE_CREDENTIALS: credentials }).sslMode).toBe('disable');
  });

  test('secrets are required, long enough and distinct; their values never appear in the message', () => {
    expect(() => loadConfig({ ...db, TOKENIZATION_KEY: tokenizationKey })).toThrow(/API_KEY is required/);
    expect(() => loadConfig({ ...db, API_KEY: apiKey })).toThrow(/TOKENIZATION_KEY is required/);
    const short = 'short-fake-secret';
    const message = messageOf(() => loadConfig({ ...base, API_KEY: short }));
    expect(message).toMatch(/API_KEY must be at least 32 characters, got 17 characters/);
    expect(message).not.toContain(short);
    expect(() => loadConfig({ ...base, API_KEY: apiKey, TOKENIZATION_KEY: apiKey })).toThrow(/must be different/);
  });

  test.each([
    ['truncated JSON', `{"username":"app","password":"${dbPassword}"`],
    ['password only', `{"password":"${dbPassword}"}`],
    ['array', `["${dbPassword}"]`],
    ['empty username', `{"username":"","password":"${dbPassword}"}`],
  ])('a bad DATABASE_CREDENTIALS (%s) is named but its password never echoed', (_name, raw) => {
    const message = messageOf(() => loadConfig({ ...base, DATABASE_SECRET_ARN: '', DATABASE_CREDENTIALS: raw }));
    expect(message).toMatch(/^DATABASE_CREDENTIALS /);
    expect(message).not.toContain(dbPassword);
  });
});

describe('no configuration error shows a value that is, or holds, a secret (a password pasted into the wrong variable)', () => {
  // Host-name shaped on purpose: it is a valid DATABASE_HOST, so only the message about it could show it.
  const PASSWORD = 'fake-pw-Qz7x0';
  const shapes: Record<string, string> = {
    'the password': PASSWORD,
    'a connection string': `postgres://payments:${PASSWORD}@db.example.com:5432/payments`,
    'a secret value (JSON)': JSON.stringify({ username: 'payments', password: PASSWORD }),
    'the password in spaces': ` ${PASSWORD} `,
    'a JSON object keyed by the password': JSON.stringify({ [PASSWORD]: 'x' }),
  };
  const serviceEnv = { API_KEY: apiKey, TOKENIZATION_KEY: tokenizationKey, ...db };
  const migrationEnv = { ...db };
  /** What else a variable needs so that its value is the culprit. */
  const context: Partial<Record<string, Record<string, string>>> = {
    // A host-shaped password is a valid host: only the check of SSL mode against it can complain about it.
    [ENV.databaseHost]: { [ENV.databaseSslMode]: 'disable' },
    [ENV.databaseCredentials]: { [ENV.databaseSecretArn]: '' },
  };
  const migrationOnly: readonly string[] = [ENV.databaseAppSecretArn, ENV.databaseAppCredentials];
  const serviceOnly: readonly string[] = [ENV.port, ENV.apiKey, ENV.tokenizationKey, ENV.shutdownDeadlineMs];

  function rejected(load: () => unknown): boolean {
    try {
      load();
      return false;
    } catch {
      return true;
    }
  }

  test.each(Object.values(ENV))('%s', async (variable) => {
    let refused = 0;
    for (const [shape, value] of Object.entries(shapes)) {
      const extra = { ...context[variable], [variable]: value };
      const runs: { entry: string; run: (stderr: (l: string) => void) => Promise<number> }[] = [];
      const service = { ...serviceEnv, ...extra };
      if (!migrationOnly.includes(variable) && rejected(() => loadConfig(service))) {
        runs.push({
          entry: 'node dist/server.js',
          run: async (stderr) => {
            const exits: number[] = [];
            await main({ env: service, exit: (c) => exits.push(c), stderr });
            return exits[0] ?? 0;
          },
        });
      }
      const migration = { ...migrationEnv, ...extra };
      const migrationRefused = rejected(() => {
        loadDatabaseConfig(migration);
        loadCredentialSource(migration, ENV.databaseAppSecretArn, ENV.databaseAppCredentials, false);
        loadLogLevel(migration);
      });
      if (!serviceOnly.includes(variable) && migrationRefused)
        runs.push({ entry: 'node dist/migrate.js', run: (stderr) => migrateMain({ env: migration, stderr }) });
      for (const { entry, run } of runs) {
        const lines: string[] = [];
        const code = await run((l) => lines.push(l));
        const stderr = lines.join('\n');
        expect({ variable, shape, entry, code }).toEqual({ variable, shape, entry, code: 1 });
        expect(stderr).toContain('invalid configuration: ');
        expect(stderr).toContain(variable);
        if (stderr.includes('Qz7x0')) throw new Error(`${entry} showed ${shape} given in ${variable}: ${stderr}`);
        refused += 1;
      }
    }
    // Every variable was tried with at least one value its entry point refuses.
    expect(refused).toBeGreaterThan(0);
  });
});
