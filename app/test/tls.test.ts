import { execFileSync } from 'child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Database } from '../src/db/database';
import { ServiceUnavailableError } from '../src/errors';
import { createLogger } from '../src/logger';
import { databaseConfig, provisionInstance, superuserQuery } from './database';
import type { LocalPostgres, TestDatabase } from './database';

const logger = createLogger({ level: 'silent' });

/** openssl CLI: a throwaway CA and server certificates signed by it (P-256 keys, valid one day). */
function makeCertificates(dir: string): { ca: string; certFor: (name: string, san: string) => { cert: string; key: string } } {
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  };
  openssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '1',
    '-subj',
    '/CN=payments-test-ca',
  );
  return {
    ca: join(dir, 'ca.pem'),
    certFor: (name, san) => {
      writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\n`);
      openssl(
        'req',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.csr`,
        '-subj',
        `/CN=${name}`,
      );
      openssl(
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        `${name}.pem`,
        '-days',
        '1',
        '-extfile',
        `${name}.ext`,
      );
      return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
    },
  };
}

/**
 * verify-full against a real PostgreSQL with TLS: the chain must verify against the configured CAs and the certificate
 * must name the host. (The RDS bundle cannot be exercised locally; DATABASE_CA_FILE takes the same code path.)
 */
describe('TLS verify-full against PostgreSQL', () => {
  let instance: LocalPostgres;
  let database: TestDatabase;
  let dir: string;
  let ca: string;
  let useCertificate: (name: string, san: string) => Promise<void>;

  beforeAll(async () => {
    ({ instance, database } = await provisionInstance('payments-tls-'));
    dir = mkdtempSync(join(tmpdir(), 'payments-tls-certs-'));
    const certs = makeCertificates(dir);
    ca = readFileSync(certs.ca, 'utf8');
    useCertificate = async (name, san) => {
      const { cert, key } = certs.certFor(name, san);
      // PostgreSQL reads the key as its own user and refuses a key others can read.
      const dataDir = join(instance.baseDir, 'data');
      for (const [from, to] of [
        [cert, `${name}.crt`],
        [key, `${name}.key`],
      ] as const) {
        writeFileSync(join(dataDir, to), readFileSync(from), { mode: 0o600 });
        if (process.getuid?.() === 0) chownSync(join(dataDir, to), 65534, 65534);
      }
      await superuserQuery(`ALTER SYSTEM SET ssl_cert_file = '${name}.crt'`, [], database);
      await superuserQuery(`ALTER SYSTEM SET ssl_key_file = '${name}.key'`, [], database);
      await superuserQuery('ALTER SYSTEM SET ssl = on', [], database);
      await superuserQuery('SELECT pg_reload_conf()', [], database);
      await new Promise((resolve) => setTimeout(resolve, 300));
    };
  });
  afterAll(async () => {
    await instance?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function connect(overrides: Parameters<typeof databaseConfig>[1]): Promise<{ ssl: boolean } | ServiceUnavailableError> {
    const db = new Database({ config: databaseConfig(database, { sslMode: 'verify-full', connectTimeoutMs: 2000, ...overrides }), logger });
    try {
      const r = await db.query<{ ssl: boolean }>({ text: 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()' });
      return r.rows[0] as { ssl: boolean };
    } catch (err) {
      return err as ServiceUnavailableError;
    } finally {
      await db.close();
    }
  }

  test('GIVEN a certificate for the host from the configured CA WHEN connecting THEN the session is encrypted', async () => {
    await useCertificate('right', 'IP:127.0.0.1');
    await expect(connect({ ca })).resolves.toEqual({ ssl: true });
  });

  test('GIVEN a certificate for another host WHEN connecting THEN refused (host name checked), as a 503', async () => {
    await useCertificate('other', 'DNS:db.example.internal');
    const err = (await connect({ ca })) as ServiceUnavailableError & { cause?: { code?: string } };
    expect(err).toBeInstanceOf(ServiceUnavailableError);
    expect(err.cause?.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  test('GIVEN the default RDS bundle WHEN the server presents a certificate of another CA THEN refused', async () => {
    await useCertificate('right2', 'IP:127.0.0.1');
    const err = (await connect({})) as ServiceUnavailableError & { cause?: { code?: string } };
    expect(err).toBeInstanceOf(ServiceUnavailableError);
    expect(err.cause?.code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });
});
