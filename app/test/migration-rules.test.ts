import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { loadMigrations } from '../src/db/migrate';
import { breakingStatements } from '../src/db/migration-rules';

const MIGRATIONS = join(__dirname, '..', 'migrations');

describe('migrations only expand unless marked as a contract step (blue and green share one database)', () => {
  test.each(readdirSync(MIGRATIONS).filter((f) => f.endsWith('.sql')))('%s breaks nothing the serving revision uses', (file) => {
    expect(breakingStatements(readFileSync(join(MIGRATIONS, file), 'utf8'))).toEqual([]);
  });

  test.each([
    ['DROP TABLE payments;', 'DROP'],
    ['ALTER TABLE payments DROP COLUMN description;', 'DROP'],
    ['ALTER TABLE payments RENAME COLUMN description TO memo;', 'RENAME'],
    ['ALTER TABLE payments RENAME TO charges;', 'RENAME'],
    ['ALTER TABLE payments ALTER COLUMN amount TYPE bigint;', 'TYPE'],
    ['ALTER TABLE payments ALTER COLUMN amount SET DATA TYPE bigint;', 'TYPE'],
    ['ALTER TABLE payments ALTER COLUMN description SET NOT NULL;', 'SET NOT NULL'],
    ['ALTER TABLE payments ADD COLUMN merchant text NOT NULL;', 'without DEFAULT'],
    ['ALTER TABLE payments ADD merchant text NOT NULL;', 'without DEFAULT'],
    ['TRUNCATE idempotency_keys;', 'TRUNCATE'],
    ['DELETE FROM payments WHERE true;', 'DELETE'],
    ['REVOKE INSERT ON payments FROM payment_service;', 'REVOKE'],
    // Every DROP removes something a serving revision may use, whatever it drops.
    ['DROP INDEX idempotency_keys_expires_at_idx;', 'DROP'],
    ['ALTER TABLE payments DROP CONSTRAINT payments_amount_check;', 'DROP'],
    ['ALTER TABLE payments ALTER COLUMN description DROP DEFAULT;', 'DROP'],
    ['DROP OWNED BY payment_service;', 'DROP'],
    ['DROP ROLE payment_service;', 'DROP'],
    ['ALTER TABLE payments SET SCHEMA archive;', 'SET SCHEMA'],
    ['ALTER TABLE payments OWNER TO someone_else;', 'OWNER TO'],
    ['ALTER TABLE payments ADD CONSTRAINT amount_small CHECK (amount < 100);', 'ADD CONSTRAINT'],
    ['ALTER TABLE payments ADD CONSTRAINT amount_small CHECK (amount < 100) NOT VALID;', 'ADD CONSTRAINT'],
    ['ALTER TABLE payments ADD CHECK (amount < 100);', 'ADD CONSTRAINT'],
    ['ALTER TABLE payments ADD UNIQUE (card_token);', 'ADD CONSTRAINT'],
    ['ALTER TABLE idempotency_keys ADD FOREIGN KEY (fingerprint) REFERENCES fingerprints (id);', 'ADD CONSTRAINT'],
    ['CREATE UNIQUE INDEX payments_token_key ON payments (card_token);', 'UNIQUE INDEX'],
    // Quoted names are names too.
    ['CREATE UNIQUE INDEX "payments_token_key" ON payments (card_token);', 'UNIQUE INDEX'],
    ['ALTER TABLE "payments" DROP COLUMN "description";', 'DROP'],
    ['ALTER TABLE payments ENABLE ROW LEVEL SECURITY;', 'ROW LEVEL SECURITY'],
    ['ALTER TABLE payments FORCE ROW LEVEL SECURITY;', 'ROW LEVEL SECURITY'],
    // Inside a DO block the statement runs all the same: dollar-quoted bodies are scanned, not skipped.
    ['DO $$ BEGIN DROP TABLE payments; END $$;', 'DROP'],
    ['DO $body$ BEGIN DELETE FROM payments; END $body$;', 'DELETE'],
    ['DO $$ BEGIN PERFORM 1; /* nested $x$ */ ALTER TABLE payments RENAME TO charges; END $$;', 'RENAME'],
    // ...and so is the dynamic SQL such a body runs.
    ["DO $$ BEGIN EXECUTE 'TRUNCATE payments'; END $$;", 'TRUNCATE'],
    ["DO $$ BEGIN EXECUTE format('REVOKE ALL ON %I FROM payment_service', 'payments'); END $$;", 'REVOKE'],
    // E'' strings end where PostgreSQL ends them: a backslash escapes the quote after it.
    ["SELECT E'\\''; DROP TABLE payments; SELECT '';", 'DROP'],
    ["SELECT E'it\\'s ' || 'x'; DROP TABLE payments; SELECT E'\\\\';", 'DROP'],
    // A quote inside a quoted identifier opens no string literal.
    ['CREATE TABLE "it\'s" (a int); DROP TABLE payments; CREATE TABLE "\'" (b int);', 'DROP'],
  ])('refuses %p', (sql, rule) => {
    const found = breakingStatements(`-- a change\n\n${sql}\n`);
    expect(found).toHaveLength(1);
    expect(found[0]?.line).toBe(3);
    expect(found[0]?.rule).toContain(rule);
  });

  test.each([
    'CREATE TABLE refunds (id text PRIMARY KEY);',
    "ALTER TABLE payments ADD COLUMN merchant text NOT NULL DEFAULT 'unknown';",
    'ALTER TABLE payments ADD COLUMN merchant text;',
    'CREATE INDEX CONCURRENTLY payments_created_at_idx ON payments (created_at);',
    'GRANT SELECT ON refunds TO payment_service;',
    "COMMENT ON TABLE payments IS 'never DROP TABLE this';",
    '-- DROP TABLE payments; (a comment)\nSELECT 1;',
    "SELECT E'a \\' DROP TABLE payments; \\\\';",
    "SELECT 'it''s DROP TABLE payments';",
    '/* outer /* nested */ DROP TABLE payments; */ SELECT 1;',
    'CREATE TABLE refunds (id text PRIMARY KEY, payment_id text NOT NULL REFERENCES payments (id), amount integer CHECK (amount > 0), UNIQUE (payment_id));',
    "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'auditor') THEN CREATE ROLE auditor NOLOGIN; END IF; END $$;",
    'ALTER TABLE payments ADD COLUMN dropped_at timestamptz;',
    'SELECT $1, a$b FROM t;',
  ])('accepts the expand step %p', (sql) => {
    expect(breakingStatements(sql)).toEqual([]);
  });

  test('a file whose first line says why nothing serving uses it any more may contract', () => {
    const sql = 'ALTER TABLE payments DROP COLUMN legacy_ref;';
    expect(breakingStatements(sql)).toHaveLength(1);
    expect(breakingStatements(`-- contract: legacy_ref unused since the release that stopped writing it\n${sql}`)).toEqual([]);
    // The marker needs a reason, and only on the first line.
    expect(breakingStatements(`-- contract:\n${sql}`)).toHaveLength(1);
    expect(breakingStatements(`-- a change\n-- contract: legacy_ref unused since the previous release\n${sql}`)).toHaveLength(1);
    // The marker is the first line, not a comment at the end of the statement.
    expect(breakingStatements(`${sql.trimEnd()} -- contract: legacy_ref unused since the previous release\n`)).toHaveLength(1);
  });
});

describe('the migration runner enforces it', () => {
  test('GIVEN a directory with an unmarked breaking migration WHEN loaded THEN refused, naming the file and line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
    writeFileSync(join(dir, '0001_first.sql'), 'CREATE TABLE t (a text);\n');
    writeFileSync(join(dir, '0002_second.sql'), '-- tidy up\nALTER TABLE t DROP COLUMN a;\n');
    expect(() => loadMigrations(dir)).toThrow(/0002_second\.sql breaks the revision still serving \(line 2: DROP/);
    writeFileSync(join(dir, '0002_second.sql'), '-- contract: column a unused since the release before this one\nALTER TABLE t DROP COLUMN a;\n');
    expect(loadMigrations(dir).map((m) => m.file)).toEqual(['0001_first.sql', '0002_second.sql']);
  });
});
