import * as fs from 'fs';
import * as path from 'path';

/**
 * docs/aws-contracts.md cannot drift from the tests: every row names a source and at least one test file that exists,
 * and every test it quotes by name is in that file.
 */
const ROOT = path.join(__dirname, '..');
const doc = fs.readFileSync(path.join(ROOT, 'docs', 'aws-contracts.md'), 'utf8');
const rows = doc
  .split('\n')
  .filter((l) => l.startsWith('| ') && !l.startsWith('| What we rely on') && !/^\| -+ \|/.test(l))
  .map((l) => {
    const cells = l.slice(2, -2).split(' | ');
    return { behaviour: cells[0]!, source: cells[1]!, pinnedBy: cells.slice(2).join(' | ') };
  });

/** `test/x.test.ts: "name" and "other"` and `test/y.test.ts` references inside a "Pinned by" cell. */
function references(cell: string): { file: string; names: string[] }[] {
  // Not inside a path: `app/test/x.test.ts` is one reference (the service's tests), not `app/` and `test/x.test.ts`.
  const parts = cell.split(/(?=(?<![\w/])(?:app\/)?test\/[\w./-]+\.test\.ts)/).filter((p) => /^(app\/)?test\//.test(p));
  return parts.map((p) => ({
    file: p.match(/^[\w./-]+\.test\.ts/)![0],
    names: [...p.matchAll(/"([^"]+)"/g)].map((m) => m[1]!),
  }));
}

describe('docs/aws-contracts.md', () => {
  test('has rows', () => {
    expect(rows.length).toBeGreaterThanOrEqual(50);
  });

  test.each(rows.map((r) => [r.behaviour.slice(0, 90), r] as const))('%s…: a source and tests that exist', (_short, row) => {
    expect(row.source).toMatch(/https:\/\/|aws-samples\//);
    const refs = references(row.pinnedBy);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) {
      const file = path.join(ROOT, ref.file);
      expect(fs.existsSync(file) ? ref.file : `missing: ${ref.file}`).toBe(ref.file);
      const text = fs.readFileSync(file, 'utf8');
      // A quoted name is matched up to its first placeholder or ellipsis (names built with %s or template strings).
      for (const name of ref.names) {
        const stem = name.split(/%[sdi]|\$\{|…|\.\.\./)[0]!.trim();
        expect(text.includes(stem) ? stem : `not in ${ref.file}: ${stem}`).toBe(stem);
      }
    }
  });
});
