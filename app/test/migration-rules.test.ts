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
    ['DROP TABLE payments;', 'DROP TABLE'],
    ['ALTER TABLE payments DROP COLUMN description;', 'DROP COLUMN'],
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
  });
});

describe('the migration runner enforces it', () => {
  test('GIVEN a directory with an unmarked breaking migration WHEN loaded THEN refused, naming the file and line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
    writeFileSync(join(dir, '0001_first.sql'), 'CREATE TABLE t (a text);\n');
    writeFileSync(join(dir, '0002_second.sql'), '-- tidy up\nALTER TABLE t DROP COLUMN a;\n');
    expect(() => loadMigrations(dir)).toThrow(/0002_second\.sql breaks the revision still serving \(line 2: DROP COLUMN/);
    writeFileSync(join(dir, '0002_second.sql'), '-- contract: column a unused since the release before this one\nALTER TABLE t DROP COLUMN a;\n');
    expect(loadMigrations(dir).map((m) => m.file)).toEqual(['0001_first.sql', '0002_second.sql']);
  });
});
