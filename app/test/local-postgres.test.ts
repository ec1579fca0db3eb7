import { spawnSync } from 'child_process';
import { randomBytes } from 'crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Client } from 'pg';
import { http, paymentBody } from './helpers';
import { serviceSecrets, startServiceProcess } from './service-process';

const SCRIPT = join(__dirname, '..', 'scripts', 'local-postgres.cjs');

// Plain CommonJS script (see test/database.ts).
const { hydrateSymlinks } = require('../scripts/local-postgres.cjs') as { hydrateSymlinks: (packageDir: string) => void };

function cli(command: 'start' | 'stop', stateDir: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [SCRIPT, command], {
    env: { PATH: process.env.PATH, LOCAL_POSTGRES_DIR: stateDir },
    encoding: 'utf8',
    timeout: 60000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('db:start / db:stop (scripts/local-postgres.cjs)', () => {
  test('GIVEN start WHEN it succeeds THEN stdout is exactly the NAME=value lines, the service runs on them, and stop deletes everything', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'payments-dbstart-'));
    // As root, PostgreSQL runs as nobody, which must be able to reach the state directory (mkdtemp makes it 0700).
    chmodSync(parent, 0o755);
    const stateDir = join(parent, 'state');
    const started = cli('start', stateDir);
    try {
      expect(started.status).toBe(0);
      const lines = started.stdout.trimEnd().split('\n');
      expect(lines.map((l) => l.slice(0, l.indexOf('=')))).toEqual([
        'DATABASE_HOST',
        'DATABASE_PORT',
        'DATABASE_NAME',
        'DATABASE_SSL_MODE',
        'DATABASE_CREDENTIALS',
      ]);
      const env = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])) as Record<string, string>;
      expect(env).toMatchObject({
        DATABASE_HOST: '127.0.0.1',
        DATABASE_PORT: expect.stringMatching(/^[0-9]+$/),
        DATABASE_NAME: 'payments',
        DATABASE_SSL_MODE: 'disable',
      });
      const login = JSON.parse(env.DATABASE_CREDENTIALS as string) as { username: string; password: string };
      expect(Object.keys(login).sort()).toEqual(['password', 'username']);

      // The printed login: not a superuser, a member of payment_service.
      const client = new Client({
        host: '127.0.0.1',
        port: Number(env.DATABASE_PORT),
        user: login.username,
        password: login.password,
        database: 'payments',
      });
      await client.connect();
      try {
        const role = await client.query(
          "SELECT rolsuper, pg_has_role(current_user, 'payment_service', 'MEMBER') AS member FROM pg_roles WHERE rolname = current_user",
        );
        expect(role.rows[0]).toEqual({ rolsuper: false, member: true });
      } finally {
        await client.end();
      }
      // Every login needs its password: a wrong one for the superuser is refused (no trust authentication).
      const intruder = new Client({
        host: '127.0.0.1',
        port: Number(env.DATABASE_PORT),
        user: 'postgres',
        password: 'fake-guess',
        database: 'payments',
      });
      await expect(intruder.connect()).rejects.toMatchObject({ code: '28P01' });

      // With those variables plus the two keys, node dist/server.js serves payments.
      const service = await startServiceProcess({ ...serviceSecrets(), ...env });
      try {
        const res = await http(service.port, {
          method: 'POST',
          path: '/v1/payments',
          headers: { ...service.auth, 'idempotency-key': `dbstart-${randomBytes(6).toString('hex')}` },
          body: paymentBody(),
        });
        expect(res.status).toBe(201);
      } finally {
        await service.stop();
      }

      // PostgreSQL runs in the background, as nobody when we are root, and a second start prints the same lines.
      const state = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as { pid: number };
      expect(alive(state.pid)).toBe(true);
      if (process.getuid?.() === 0) expect(readFileSync(`/proc/${state.pid}/status`, 'utf8')).toMatch(/^Uid:\s+65534\s/m);
      expect(cli('start', stateDir).stdout).toBe(started.stdout);

      expect(cli('stop', stateDir).status).toBe(0);
      expect(alive(state.pid)).toBe(false);
      expect(existsSync(stateDir)).toBe(false);
    } finally {
      cli('stop', stateDir);
      rmSync(parent, { recursive: true, force: true });
    }
  }, 60000);

  test('the shared-library symlinks an --ignore-scripts install skipped are recreated, relative, idempotently', () => {
    const pkg = mkdtempSync(join(tmpdir(), 'payments-hydrate-'));
    mkdirSync(join(pkg, 'native', 'bin'), { recursive: true });
    mkdirSync(join(pkg, 'native', 'lib'), { recursive: true });
    writeFileSync(join(pkg, 'native', 'bin', 'postgres'), '');
    writeFileSync(join(pkg, 'native', 'lib', 'libpq.so.5.16'), '');
    const links = [
      { source: 'native/lib/libpq.so.5.16', target: 'native/lib/libpq.so.5' },
      { source: 'native/lib/libpq.so.5.16', target: 'native/lib/libpq.so' },
    ];
    writeFileSync(join(pkg, 'native', 'pg-symlinks.json'), JSON.stringify(links));
    try {
      hydrateSymlinks(pkg);
      hydrateSymlinks(pkg);
      expect(readlinkSync(join(pkg, 'native', 'lib', 'libpq.so.5'))).toBe('libpq.so.5.16');
      expect(readlinkSync(join(pkg, 'native', 'lib', 'libpq.so'))).toBe('libpq.so.5.16');
      rmSync(join(pkg, 'native', 'bin', 'postgres'));
      expect(() => hydrateSymlinks(pkg)).toThrow(/PostgreSQL binaries not found in .*: run npm ci in app\//);
    } finally {
      rmSync(pkg, { recursive: true, force: true });
    }
  });
});
