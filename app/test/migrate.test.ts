import { spawnSync } from 'child_process';
import { randomBytes } from 'crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Client, escapeIdentifier } from 'pg';
import { HEALTH_READY_PATH } from '../src/contract';
import { Database } from '../src/db/database';
import { startServer } from '../src/lifecycle';
import { MIGRATIONS_DIR, MigrationError, ensureServiceLogin, loadMigrations, migrate, scramVerifier } from '../src/db/migrate';
import { REQUIRED_SCHEMA_VERSION, schemaVersion } from '../src/db/schema';
import { createLogger } from '../src/logger';
import { migrateMain } from '../src/migrate';
import { databaseConfig, superuserQuery, testDatabase } from './database';
import type { TestDatabase } from './database';
import { LogCapture, http, testConfig, waitFor } from './helpers';

const MIGRATE = join(__dirname, '..', 'dist', 'migrate.js');
const logger = createLogger({ level: 'silent' });
const run = testDatabase();

/** A fresh, empty database in the run's instance (migrations are per database). */
async function freshDatabase(): Promise<TestDatabase> {
  const name = `migrate_${randomBytes(5).toString('hex')}`;
  await superuserQuery(`CREATE DATABASE ${escapeIdentifier(name)}`);
  return { ...run, name };
}

async function superuserClient(db: TestDatabase): Promise<Client> {
  const client = new Client({ host: db.host, port: db.port, user: db.superuser.username, password: db.superuser.password, database: db.name });
  await client.connect();
  return client;
}

async function applied(db: TestDatabase): Promise<{ version: number; name: string; checksum: string }[]> {
  return (await superuserQuery('SELECT version, name, checksum FROM schema_migrations ORDER BY version', [], db)).rows as {
    version: number;
    name: string;
    checksum: string;
  }[];
}

describe('migrations', () => {
  test('the files are numbered without gaps, and the service needs no more than exists', () => {
    const migrations = loadMigrations();
    expect(migrations.map((m) => m.version)).toEqual(migrations.map((_, i) => i + 1));
    expect(REQUIRED_SCHEMA_VERSION).toBeLessThanOrEqual(migrations.length);
    expect(REQUIRED_SCHEMA_VERSION).toBeGreaterThanOrEqual(1);
  });

  test('GIVEN a fresh database WHEN migrated twice THEN the second run applies nothing', async () => {
    const db = await freshDatabase();
    const client = await superuserClient(db);
    try {
      const first = await migrate(client, { logger });
      expect(first.applied).toEqual(loadMigrations().map((m) => m.version));
      const rows = await applied(db);
      expect(rows.map((r) => r.checksum)).toEqual(loadMigrations().map((m) => m.checksum));
      const second = await migrate(client, { logger });
      expect(second).toEqual({ applied: [], version: first.version });
      expect(await applied(db)).toEqual(rows);
    } finally {
      await client.end();
    }
  });

  test('GIVEN two runs at once WHEN they race THEN the advisory lock serializes them: each migration is applied once', async () => {
    const db = await freshDatabase();
    const [c1, c2] = await Promise.all([superuserClient(db), superuserClient(db)]);
    // A slow first migration widens the window in which an unserialized second run would also apply it.
    const slow = loadMigrations().map((m, i) => (i === 0 ? { ...m, sql: `SELECT pg_sleep(0.5);\n${m.sql}` } : m));
    try {
      const results = await Promise.all([migrate(c1, { logger, migrations: slow }), migrate(c2, { logger, migrations: slow })]);
      expect(results.map((r) => r.applied.length).sort()).toEqual([0, slow.length]);
      expect((await applied(db)).map((r) => r.version)).toEqual(slow.map((m) => m.version));
    } finally {
      await Promise.all([c1.end(), c2.end()]);
    }
  });

  test('GIVEN an applied migration whose file changed WHEN migrating THEN it refuses, naming the file, and applies nothing', async () => {
    const db = await freshDatabase();
    const client = await superuserClient(db);
    try {
      const original = loadMigrations();
      await migrate(client, { logger, migrations: original.slice(0, 1) });
      const edited = original.map((m, i) => (i === 0 ? { ...m, sql: `${m.sql}\n-- edited`, checksum: 'f'.repeat(64) } : m));
      await expect(migrate(client, { logger, migrations: edited })).rejects.toThrow(
        new MigrationError(
          `migration ${original[0]?.file} was changed after it was applied (checksum in database ${original[0]?.checksum.slice(0, 12)}..., file ffffffffffff...): never edit an applied migration, add a new one`,
        ),
      );
      expect((await applied(db)).map((r) => r.version)).toEqual([1]);
      // The lock was released despite the error: a correct run proceeds.
      await expect(migrate(client, { logger, migrations: original })).resolves.toMatchObject({ version: original.length });
    } finally {
      await client.end();
    }
  });

  test('GIVEN a table the service holds locked WHEN a migration needs it THEN it gives up after lock_timeout and retries, instead of queueing everyone', async () => {
    const db = await freshDatabase();
    const client = await superuserClient(db);
    const holder = await superuserClient(db);
    try {
      const base = loadMigrations();
      await migrate(client, { logger, migrations: base });
      const alter = {
        version: base.length + 1,
        name: 'add_note',
        file: 'x_add_note.sql',
        sql: 'ALTER TABLE payments ADD COLUMN note text;',
        checksum: 'c'.repeat(64),
      };
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE payments IN ACCESS SHARE MODE');
      const logs = new LogCapture();
      const running = migrate(client, {
        logger: createLogger({ level: 'info', destination: logs }),
        migrations: [...base, alter],
        lockTimeoutMs: 200,
      });
      await waitFor(() => logs.text.includes('migration did not get its lock in time (tables busy); retrying'), 5000);
      await holder.query('COMMIT');
      await expect(running).resolves.toEqual({ applied: [alter.version], version: alter.version });
    } finally {
      await Promise.all([client.end(), holder.end()]);
    }
  });

  test('a failing migration is rolled back entirely and reported with its file and SQLSTATE', async () => {
    const db = await freshDatabase();
    const client = await superuserClient(db);
    try {
      const broken = [
        {
          version: 1,
          name: 'broken',
          file: '0001_broken.sql',
          sql: 'CREATE TABLE half_done (id int); SELECT * FROM no_such_table;',
          checksum: 'a'.repeat(64),
        },
      ];
      const logs = new LogCapture();
      await expect(migrate(client, { logger: createLogger({ level: 'info', destination: logs }), migrations: broken })).rejects.toThrow(
        /migration 0001_broken.sql failed \(SQLSTATE 42P01\)/,
      );
      // Only a lock timeout is worth another attempt: a broken migration fails at once.
      expect(logs.text).not.toContain('retrying');
      expect(await applied(db)).toEqual([]);
      expect((await superuserQuery("SELECT to_regclass('half_done') AS t", [], db)).rows[0]).toEqual({ t: null });
    } finally {
      await client.end();
    }
  });

  test('a migration missing below an applied one is refused (applied out of order)', async () => {
    const db = await freshDatabase();
    const client = await superuserClient(db);
    try {
      const two = [
        { version: 1, name: 'a', file: '0001_a.sql', sql: 'SELECT 1', checksum: '1'.repeat(64) },
        { version: 2, name: 'b', file: '0002_b.sql', sql: 'SELECT 1', checksum: '2'.repeat(64) },
      ];
      await migrate(client, { logger, migrations: two });
      await superuserQuery('DELETE FROM schema_migrations WHERE version = 1', [], db);
      await expect(migrate(client, { logger, migrations: two })).rejects.toThrow(/migration 0001_a.sql is not applied but version 2 is/);
      // A version in the database that this revision does not know (a newer revision's) is left alone.
      await superuserQuery("INSERT INTO schema_migrations (version, name, checksum) VALUES (1, 'a', $1), (3, 'newer', 'x')", ['1'.repeat(64)], db);
      await expect(migrate(client, { logger, migrations: two })).resolves.toEqual({ applied: [], version: 3 });
    } finally {
      await client.end();
    }
  });

  test('the directory may hold only NNNN_snake_name.sql files numbered from 0001 without gaps', () => {
    const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
    writeFileSync(join(dir, '0001_a.sql'), 'SELECT 1;');
    writeFileSync(join(dir, '0003_c.sql'), 'SELECT 1;');
    expect(() => loadMigrations(dir)).toThrow(/without gaps or duplicates; found 0003_c.sql at position 2/);
    writeFileSync(join(dir, 'notes.txt'), '');
    expect(() => loadMigrations(dir)).toThrow(/notes.txt in .* is not a migration/);
    // An editor's or a merge tool's leftover is not a migration either, however its name begins.
    const leftovers = mkdtempSync(join(tmpdir(), 'migrations-'));
    writeFileSync(join(leftovers, '0001_a.sql'), 'SELECT 1;');
    writeFileSync(join(leftovers, '0002_b.sql.orig'), 'SELECT 1;');
    expect(() => loadMigrations(leftovers)).toThrow(/0002_b\.sql\.orig in .* is not a migration/);
    expect(loadMigrations(MIGRATIONS_DIR)[0]?.sql).toBe(readFileSync(join(MIGRATIONS_DIR, loadMigrations()[0]?.file ?? ''), 'utf8'));
  });

  test('the service login: created once with a SCRAM verifier, never re-passworded, member of payment_service, no more', async () => {
    const db = await freshDatabase();
    const client = await superuserClient(db);
    const username = `svc_${randomBytes(4).toString('hex')}`;
    const password = randomBytes(18).toString('base64url');
    try {
      await migrate(client, { logger });
      await expect(ensureServiceLogin(client, { username, password }, logger)).resolves.toEqual({ created: true });
      // A second run with another password (the secret was rotated since) leaves the password alone.
      await expect(ensureServiceLogin(client, { username, password: 'fake-other-password' }, logger)).resolves.toEqual({ created: false });
      const login = new Client({ host: db.host, port: db.port, user: username, password, database: db.name });
      await login.connect();
      try {
        await expect(login.query('SELECT count(*) FROM payments')).resolves.toMatchObject({ rowCount: 1, rows: [{ count: expect.any(String) }] });
        await expect(login.query('UPDATE payments SET amount = 1')).rejects.toMatchObject({ code: '42501' });
        await expect(login.query('DELETE FROM payments')).rejects.toMatchObject({ code: '42501' });
        await expect(login.query('CREATE TABLE intruder (id int)')).rejects.toMatchObject({ code: '42501' });
        await expect(login.query('DROP TABLE idempotency_keys')).rejects.toMatchObject({ code: '42501' });
      } finally {
        await login.end();
      }
      const role = await superuserQuery<{ rolsuper: boolean; rolcreaterole: boolean; rolcreatedb: boolean; verifier: string }>(
        'SELECT rolsuper, rolcreaterole, rolcreatedb, rolpassword AS verifier FROM pg_authid WHERE rolname = $1',
        [username],
        db,
      );
      expect(role.rows[0]).toMatchObject({
        rolsuper: false,
        rolcreaterole: false,
        rolcreatedb: false,
        verifier: expect.stringMatching(/^SCRAM-SHA-256\$4096:/),
      });
    } finally {
      await client.end();
    }
  });

  test('scramVerifier has PostgreSQL format with a fresh salt each time', () => {
    const a = scramVerifier('fake-password');
    expect(a).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}$/);
    expect(scramVerifier('fake-password')).not.toBe(a);
  });
});

describe('two migration tasks at once on the first deployment (a retried or doubled task)', () => {
  const appLogin = (): { username: string; password: string } => ({
    username: `svc_${randomBytes(4).toString('hex')}`,
    password: randomBytes(18).toString('base64url'),
  });

  test('GIVEN two runs of migrateMain at once WHEN both ensure the same new app login THEN both exit 0, one creates it (8 rounds)', async () => {
    const db = await freshDatabase();
    for (let round = 1; round <= 8; round += 1) {
      const app = appLogin();
      const env = {
        DATABASE_HOST: db.host,
        DATABASE_PORT: String(db.port),
        DATABASE_NAME: db.name,
        DATABASE_SSL_MODE: 'disable',
        DATABASE_CREDENTIALS: JSON.stringify(db.superuser),
        DATABASE_APP_CREDENTIALS: JSON.stringify(app),
      };
      const logs = [new LogCapture(), new LogCapture()];
      const codes = await Promise.all(logs.map((l) => migrateMain({ env, stderr: () => undefined, logDestination: l })));
      expect({
        round,
        codes,
        errors: logs.map((l) =>
          l
            .records()
            .filter((r) => r.msg === 'migration failed')
            .map((r) => r.err),
        ),
      }).toEqual({
        round,
        codes: [0, 0],
        errors: [[], []],
      });
      const created = logs.flatMap((l) =>
        l
          .records()
          .filter((r) => r.msg === 'service login ensured')
          .map((r) => r.created),
      );
      expect(created.sort()).toEqual([false, true]);
    }
  });

  test("GIVEN the runs as migrate() with the login (the reviewer's race) THEN no CREATE ROLE or GRANT error in 10 rounds", async () => {
    const db = await freshDatabase();
    const [c1, c2] = await Promise.all([superuserClient(db), superuserClient(db)]);
    try {
      for (let round = 1; round <= 10; round += 1) {
        const app = appLogin();
        const results = await Promise.allSettled([c1, c2].map((c) => migrate(c, { logger, serviceLogin: app })));
        expect({ round, results }).toEqual({
          round,
          results: [expect.objectContaining({ status: 'fulfilled' }), expect.objectContaining({ status: 'fulfilled' })],
        });
        const created = results.map((r) => (r.status === 'fulfilled' ? r.value.serviceLogin?.created : undefined));
        expect(created.sort()).toEqual([false, true]);
      }
    } finally {
      await Promise.all([c1.end(), c2.end()]);
    }
  });

  test('GIVEN a login created by someone else meanwhile (no lock) WHEN CREATE ROLE finds it THEN "already exists" counts as exists (10 rounds)', async () => {
    const db = await freshDatabase();
    const [c1, c2, c3] = await Promise.all([superuserClient(db), superuserClient(db), superuserClient(db)]);
    try {
      await migrate(c1, { logger });
      for (let round = 1; round <= 10; round += 1) {
        const app = appLogin();
        const results = await Promise.allSettled([c1, c2, c3].map((c) => ensureServiceLogin(c, app, logger)));
        const failures = results.flatMap((r) =>
          r.status === 'rejected' ? [`${(r.reason as { code?: string }).code} ${(r.reason as Error).message}`] : [],
        );
        expect({ round, failures }).toEqual({ round, failures: [] });
        const member = await superuserQuery<{ member: boolean }>(
          'SELECT pg_has_role($1, $2, $3) AS member',
          [app.username, 'payment_service', 'MEMBER'],
          db,
        );
        expect(member.rows[0]?.member).toBe(true);
      }
    } finally {
      await Promise.all([c1.end(), c2.end(), c3.end()]);
    }
  });
});

describe('node dist/migrate.js (the migration task)', () => {
  function runCli(env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, [MIGRATE], {
      env: { PATH: process.env.PATH, LOG_LEVEL: 'info', ...env },
      encoding: 'utf8',
      timeout: 60000,
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  test('GIVEN master and app credentials WHEN run twice THEN migrates, creates the login, then has nothing to do (exit 0 both times)', async () => {
    const db = await freshDatabase();
    const app = { username: `svc_${randomBytes(4).toString('hex')}`, password: randomBytes(18).toString('base64url') };
    const env = {
      DATABASE_HOST: db.host,
      DATABASE_PORT: String(db.port),
      DATABASE_NAME: db.name,
      DATABASE_SSL_MODE: 'disable',
      DATABASE_CREDENTIALS: JSON.stringify(db.superuser),
      DATABASE_APP_CREDENTIALS: JSON.stringify(app),
    };
    const first = runCli(env);
    expect(first.status).toBe(0);
    expect(first.stdout).toContain('"msg":"migrations applied"');
    expect(first.stdout).toContain(`"username":"${app.username}","created":true`);
    const second = runCli(env);
    expect(second.status).toBe(0);
    expect(second.stdout).toContain('schema up to date, nothing to apply');
    expect(second.stdout).toContain('"created":false');
    for (const out of [first, second]) {
      expect(out.stdout + out.stderr).not.toContain(app.password);
      expect(out.stdout + out.stderr).not.toContain(db.superuser.password);
    }
    expect((await applied(db)).length).toBe(loadMigrations().length);
  });

  test('a bad configuration exits 1 naming the variable, never the secret', () => {
    const secret = 'fake-master-password-0';
    const out = runCli({
      DATABASE_HOST: 'db.example.com',
      DATABASE_SSL_MODE: 'disable',
      DATABASE_CREDENTIALS: JSON.stringify({ username: 'master', password: secret }),
    });
    expect(out.status).toBe(1);
    expect(out.stderr).toMatch(/invalid configuration: DATABASE_SSL_MODE=disable is only accepted for a loopback DATABASE_HOST/);
    const missing = runCli({
      DATABASE_HOST: '127.0.0.1',
      DATABASE_SSL_MODE: 'disable',
      DATABASE_CREDENTIALS: `{"username":"master","password":"${secret}"`,
    });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/DATABASE_CREDENTIALS must be a JSON object/);
    for (const o of [out, missing]) expect(o.stdout + o.stderr).not.toContain(secret);
  });

  test('a database that refuses the login exits 1 at once (no retry can fix a static password), without printing it', () => {
    const out = runCli({
      DATABASE_HOST: run.host,
      DATABASE_PORT: String(run.port),
      DATABASE_NAME: run.name,
      DATABASE_SSL_MODE: 'disable',
      DATABASE_CREDENTIALS: JSON.stringify({ username: 'postgres', password: 'fake-wrong-password' }),
    });
    expect(out.status).toBe(1);
    expect(out.stdout).toContain('"msg":"migration failed"');
    expect(out.stdout).toContain('28P01');
    expect(out.stdout).not.toContain('fake-wrong-password');
  });
});

describe('migrateMain (in process)', () => {
  test('GIVEN a fresh database WHEN run THEN exit code 0, migrations applied, login ensured; a bad LOG_LEVEL is a config error', async () => {
    const db = await freshDatabase();
    const logs = new LogCapture();
    const app = { username: `svc_${randomBytes(4).toString('hex')}`, password: randomBytes(18).toString('base64url') };
    const env = {
      DATABASE_HOST: db.host,
      DATABASE_PORT: String(db.port),
      DATABASE_NAME: db.name,
      DATABASE_SSL_MODE: 'disable',
      DATABASE_CREDENTIALS: JSON.stringify(db.superuser),
      DATABASE_APP_CREDENTIALS: JSON.stringify(app),
    };
    const stderr: string[] = [];
    await expect(migrateMain({ env, stderr: (l) => stderr.push(l), logDestination: logs })).resolves.toBe(0);
    expect(logs.text).toContain('"msg":"migrations applied"');
    expect(logs.text).not.toContain(app.password);
    await expect(migrateMain({ env: { ...env, LOG_LEVEL: 'chatty' }, stderr: (l) => stderr.push(l), logDestination: logs })).resolves.toBe(1);
    expect(stderr.join('\n')).toContain('invalid configuration: LOG_LEVEL must be one of');
    await expect(
      migrateMain({
        env: { ...env, DATABASE_APP_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x' },
        stderr: (l) => stderr.push(l),
      }),
    ).resolves.toBe(1);
    expect(stderr.join('\n')).toContain('set only one of DATABASE_APP_SECRET_ARN and DATABASE_APP_CREDENTIALS');
  });

  test('GIVEN an unreachable database WHEN the connect deadline passes THEN exit code 1 after retrying', async () => {
    const logs = new LogCapture();
    const env = { DATABASE_HOST: '127.0.0.1', DATABASE_PORT: '1', DATABASE_SSL_MODE: 'disable', DATABASE_CREDENTIALS: JSON.stringify(run.superuser) };
    await expect(migrateMain({ env, stderr: () => undefined, logDestination: logs, connectDeadlineMs: 500 })).resolves.toBe(1);
    expect(logs.text).toContain('database not reachable yet; retrying');
    expect(logs.text).toContain('"msg":"migration failed"');
    // The deadline bounds the retries: with 500 ms the first wait already passes it.
    const retries = logs.text.split('\n').filter((l) => l.includes('database not reachable yet; retrying'));
    expect(retries).toHaveLength(1);
    expect(retries[0]).toContain('"attempt":1');
  });
});

describe('schema version check at start', () => {
  test('GIVEN an unmigrated database WHEN the service starts THEN it stays not ready until the migrations ran, then becomes ready', async () => {
    const db = await freshDatabase();
    const app = { username: `svc_${randomBytes(4).toString('hex')}`, password: randomBytes(18).toString('base64url') };
    // The login exists before the schema (as when a deployment's service starts before its migration task ran).
    await superuserQuery(`CREATE ROLE ${escapeIdentifier(app.username)} LOGIN PASSWORD '${app.password}'`);
    const database = new Database({ config: databaseConfig({ ...db, app }), logger });
    await expect(schemaVersion(database)).resolves.toBe(0);
    const config = testConfig({ database: databaseConfig({ ...db, app }) });
    const server = await startServer({ config, logger, host: '127.0.0.1', database });
    try {
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect(server.health.state).toBe('starting');
      expect((await http(server.port, { path: HEALTH_READY_PATH })).status).toBe(503);
      const client = await superuserClient(db);
      try {
        await migrate(client, { logger });
        await ensureServiceLogin(client, app, logger);
      } finally {
        await client.end();
      }
      await server.ready;
      await waitFor(() => server.health.state === 'ready');
      expect((await http(server.port, { path: HEALTH_READY_PATH })).status).toBe(200);
      await expect(schemaVersion(database)).resolves.toBe(loadMigrations().length);
    } finally {
      await server.shutdown('test end');
    }
  });

  test('a server shut down while still waiting for the schema stops waiting and exits 0', async () => {
    const db = await freshDatabase();
    const config = testConfig({ database: databaseConfig(db, { credentials: { kind: 'static', credentials: db.superuser } }) });
    const server = await startServer({ config, logger, host: '127.0.0.1' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(server.health.state).toBe('starting');
    await expect(server.shutdown('SIGTERM')).resolves.toBe(0);
    await server.ready;
    expect(server.health.state).toBe('draining');
  });
});
