import { ConfigError, loadConfig } from '../src/config';
import { DEFAULT_PORT, DEFAULT_SHUTDOWN_DEADLINE_MS } from '../src/contract';

const apiKey = 'fake-api-key-for-tests-0000000000000';
const tokenizationKey = 'fake-tokenization-key-for-tests-000';
const base = { API_KEY: apiKey, TOKENIZATION_KEY: tokenizationKey };

describe('loadConfig', () => {
  test('GIVEN only the secrets WHEN loading THEN defaults apply', () => {
    expect(loadConfig(base)).toEqual({
      port: DEFAULT_PORT,
      apiKeys: [apiKey],
      tokenizationKey,
      logLevel: 'info',
      shutdownDeadlineMs: DEFAULT_SHUTDOWN_DEADLINE_MS,
    });
  });

  test('reads every variable', () => {
    const db = JSON.stringify({ username: 'app', password: 'fake-password', host: 'db.internal', port: 5432, dbname: 'payments' });
    const config = loadConfig({ ...base, PORT: '9090', LOG_LEVEL: 'warn', SHUTDOWN_DEADLINE_MS: '45000', DATABASE_CREDENTIALS: db });
    expect(config).toMatchObject({ port: 9090, logLevel: 'warn', shutdownDeadlineMs: 45000 });
    expect(config.databaseCredentials).toEqual({ username: 'app', password: 'fake-password', host: 'db.internal', port: 5432, dbname: 'payments' });
  });

  test.each([
    [{ PORT: 'abc' }, /PORT must be an integer between 0 and 65535, got: "abc"/],
    [{ PORT: '70000' }, /PORT must be an integer between 0 and 65535, got: 70000/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of .*got: "loud"/],
    [{ SHUTDOWN_DEADLINE_MS: '120000' }, /SHUTDOWN_DEADLINE_MS must be an integer between 1 and 119999, got: 120000/],
    [{ SHUTDOWN_DEADLINE_MS: '-5' }, /SHUTDOWN_DEADLINE_MS must be an integer/],
    [{ DATABASE_CREDENTIALS: '{not json' }, /DATABASE_CREDENTIALS must be a JSON object .*not valid JSON/],
    [{ DATABASE_CREDENTIALS: '[1]' }, /DATABASE_CREDENTIALS must be a JSON object/],
    [{ DATABASE_CREDENTIALS: '{"username":"app"}' }, /missing or empty: password/],
  ])('rejects %p with a message naming the variable', (env, message) => {
    expect(() => loadConfig({ ...base, ...env })).toThrow(message);
  });

  test('secrets are required, long enough and distinct; their values never appear in the message', () => {
    expect(() => loadConfig({ TOKENIZATION_KEY: tokenizationKey })).toThrow(/API_KEY is required/);
    expect(() => loadConfig({ API_KEY: apiKey })).toThrow(/TOKENIZATION_KEY is required/);
    const short = 'short-fake-secret';
    let message = '';
    try {
      loadConfig({ ...base, API_KEY: short });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    expect(message).toMatch(/API_KEY must be at least 32 characters, got 17 characters/);
    expect(message).not.toContain(short);
    expect(() => loadConfig({ API_KEY: apiKey, TOKENIZATION_KEY: apiKey })).toThrow(/must be different/);
    const dbSecret = '{"username":"app","password":"fake-pw"';
    expect(() => loadConfig({ ...base, DATABASE_CREDENTIALS: dbSecret })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('fake-pw') }),
    );
  });
});
