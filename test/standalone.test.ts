import * as fs from 'fs';
import * as path from 'path';

/**
 * A user clones this repository and nothing else: no file may point outside it, every relative link in the docs must
 * land on a file of the repository, and every "docs/deployments.md, trap N" in code names a trap that has a row there.
 */
const ROOT = path.join(__dirname, '..');
const SKIP = new Set(['.git', 'node_modules', '.venv', 'coverage', 'reports', 'dist', '.node-matrix', '.build', '.stryker-tmp']);
const TEXT = /\.(ts|mts|mjs|js|json|md|sh|ya?ml|txt|toml)$|^(Dockerfile|run)$/;

function files(dir = ROOT): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (SKIP.has(e.name) || e.name.startsWith('cdk.out')) return [];
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return files(full);
    return TEXT.test(e.name) && !e.name.endsWith('.d.ts') && e.name !== 'package-lock.json' ? [full] : [];
  });
}

const ALL = files();
const rel = (f: string) => path.relative(ROOT, f);
const read = (f: string) => fs.readFileSync(f, 'utf8');

describe('the repository stands alone', () => {
  test('no file refers to the workbench outside the repository', () => {
    // Built from parts, so this file does not itself contain the strings it looks for (a `git grep` stays empty).
    const outside = new RegExp([['\\.\\.', 'shared', ''].join('/'), ['AWS', 'TRAPS'].join('-')].join('|'));
    const hits = ALL.filter((f) => outside.test(read(f))).map(rel);
    expect(hits).toEqual([]);
  });

  test('every relative link in the Markdown files lands on a file or folder of the repository', () => {
    const broken: string[] = [];
    for (const f of ALL.filter((x) => x.endsWith('.md'))) {
      for (const m of read(f).matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!.split('#')[0]!;
        if (target === '' || /^[a-z]+:/i.test(target)) continue;
        const resolved = path.resolve(path.dirname(f), target);
        if (!resolved.startsWith(ROOT + path.sep) || !fs.existsSync(resolved)) broken.push(`${rel(f)} -> ${m[1]}`);
      }
    }
    expect(broken).toEqual([]);
  });

  test('every trap the code cites has its row in docs/deployments.md', () => {
    const doc = read(path.join(ROOT, 'docs', 'deployments.md'));
    const rows = new Set([...doc.matchAll(/^\| (\d+)\. /gm)].map((m) => Number(m[1])));
    expect([...rows].sort((a, b) => a - b)).toEqual(Array.from({ length: rows.size }, (_, i) => i + 1));
    const cited = ALL.flatMap((f) =>
      [...read(f).matchAll(/(?:docs\/deployments\.md, traps? |\[trap |trap )(\d+(?:, \d+)*(?: and \d+)?)/g)].flatMap((m) =>
        m[1]!.split(/, | and /).map((n) => ({ file: rel(f), trap: Number(n) })),
      ),
    );
    expect(cited.length).toBeGreaterThan(20);
    expect(cited.filter((c) => !rows.has(c.trap))).toEqual([]);
  });
});
