import { spawn } from 'child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { install, sameTree } = require('../scripts/build.cjs') as {
  install(fresh: string, target: string): 'unchanged' | 'replaced';
  sameTree(a: string, b: string): boolean;
};

const APP = join(__dirname, '..');

function tree(root: string, files: Record<string, string>): string {
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(join(root, name, '..'), { recursive: true });
    writeFileSync(join(root, name), body);
  }
  return root;
}

describe('npm run build (scripts/build.cjs): dist/ is never missing or half-written for a reader', () => {
  let work: string;
  beforeEach(() => (work = mkdtempSync(join(tmpdir(), 'build-'))));
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  test('sameTree compares names and bytes, recursively', () => {
    const a = tree(join(work, 'a'), { 'server.js': 'x', 'db/pool.js': 'y' });
    expect(sameTree(a, tree(join(work, 'b'), { 'server.js': 'x', 'db/pool.js': 'y' }))).toBe(true);
    expect(sameTree(a, tree(join(work, 'c'), { 'server.js': 'x', 'db/pool.js': 'z' }))).toBe(false);
    expect(sameTree(a, tree(join(work, 'd'), { 'server.js': 'x', 'db/pool.js': 'y', 'db/extra.js': '' }))).toBe(false);
    expect(sameTree(a, tree(join(work, 'e'), { 'server.js': 'x', 'pool.js': 'y' }))).toBe(false);
    expect(sameTree(a, join(work, 'missing'))).toBe(false);
  });

  test('GIVEN output equal to dist/ THEN dist/ is left untouched (same directory, same files) and the new output is removed', () => {
    const target = tree(join(work, 'dist'), { 'server.js': 'same' });
    const before = { dir: statSync(target).ino, file: statSync(join(target, 'server.js')).ino };
    const fresh = tree(join(work, 'dist.new-1'), { 'server.js': 'same' });
    expect(install(fresh, target)).toBe('unchanged');
    expect({ dir: statSync(target).ino, file: statSync(join(target, 'server.js')).ino }).toEqual(before);
    expect(readdirSync(work)).toEqual(['dist']);
  });

  test('GIVEN changed output THEN dist/ holds exactly the new files and nothing is left beside it', () => {
    const target = tree(join(work, 'dist'), { 'server.js': 'old', 'gone.js': 'removed source' });
    const fresh = tree(join(work, 'dist.new-1'), { 'server.js': 'new' });
    expect(install(fresh, target)).toBe('replaced');
    expect(readdirSync(target)).toEqual(['server.js']);
    expect(readFileSync(join(target, 'server.js'), 'utf8')).toBe('new');
    expect(readdirSync(work)).toEqual(['dist']);
  });

  test('GIVEN no dist/ yet THEN the new output becomes dist/', () => {
    const fresh = tree(join(work, 'dist.new-1'), { 'server.js': 'first' });
    expect(install(fresh, join(work, 'dist'))).toBe('replaced');
    expect(readFileSync(join(work, 'dist', 'server.js'), 'utf8')).toBe('first');
  });

  test('GIVEN a process reading dist/server.js all along WHEN the real build runs on the same sources THEN the file never goes missing', async () => {
    const server = join(APP, 'dist', 'server.js');
    expect(existsSync(server)).toBe(true);
    const build = spawn(process.execPath, [join(APP, 'scripts', 'build.cjs')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    build.stdout.on('data', (d) => (output += `stdout: ${String(d)}`));
    build.stderr.on('data', (d) => (output += d));
    const done = new Promise<number | null>((resolve) => build.once('exit', resolve));
    let checks = 0;
    let missing = 0;
    let finished = false;
    void done.then(() => (finished = true));
    while (!finished) {
      checks += 1;
      if (!existsSync(server)) missing += 1;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await done).toBe(0);
    // Only stderr: stdout stays free for db:start's NAME=value lines.
    expect(output).toBe('build: dist/ unchanged\n');
    expect(checks).toBeGreaterThan(100);
    expect(missing).toBe(0);
    // Only this build's own directories: the other Node versions' steps build in the same checkout at the same time,
    // so their dist.new-<pid> may exist right now and is theirs to remove.
    expect(readdirSync(APP).filter((name) => name === `dist.new-${build.pid}` || name === `dist.old-${build.pid}`)).toEqual([]);
  }, 120000);
});
