#!/usr/bin/env node
// `npm run build`: compiles src/ to dist/ without ever leaving dist/ missing or half-written for a process that reads
// it at the same time. tsc writes into a fresh directory beside dist/; when that output equals dist/ file for file
// (the usual case when two runs build the same commit, as the Test-Node steps do when `npm test` runs them side by
// side in one checkout) dist/ is left untouched, otherwise the new directory replaces dist/ by two renames. A plain
// `rm -rf dist && tsc` let one step's build delete dist/server.js under another step's running tests.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } = require('node:fs');
const path = require('node:path');

const APP = path.join(__dirname, '..');

/** Every file under `dir`, relative to it, sorted; directories are walked, not listed. */
function files(dir, prefix = '') {
  const out = [];
  for (const entry of readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = path.join(prefix, entry.name);
    if (entry.isDirectory()) out.push(...files(dir, rel));
    else out.push(rel);
  }
  return out.sort();
}

/** True when `a` and `b` both exist and hold the same files with the same bytes. */
function sameTree(a, b) {
  if (!existsSync(a) || !existsSync(b) || !statSync(b).isDirectory()) return false;
  const left = files(a);
  const right = files(b);
  if (left.length !== right.length || left.some((f, i) => f !== right[i])) return false;
  return left.every((f) => readFileSync(path.join(a, f)).equals(readFileSync(path.join(b, f))));
}

/**
 * Puts the freshly built `fresh` in place of `target`: removes `fresh` when it equals `target` (readers never see a
 * change), otherwise swaps them by rename (the window where `target` is missing is two system calls long, and only
 * when the sources changed). Returns what it did.
 */
function install(fresh, target) {
  if (sameTree(fresh, target)) {
    rmSync(fresh, { recursive: true, force: true });
    return 'unchanged';
  }
  const old = `${target}.old-${process.pid}`;
  if (existsSync(target)) renameSync(target, old);
  renameSync(fresh, target);
  rmSync(old, { recursive: true, force: true });
  return 'replaced';
}

function main() {
  const target = path.join(APP, 'dist');
  const fresh = path.join(APP, `dist.new-${process.pid}`);
  rmSync(fresh, { recursive: true, force: true });
  const tsc = require.resolve('typescript/bin/tsc', { paths: [APP] });
  const compiled = spawnSync(process.execPath, [tsc, '-p', path.join(APP, 'tsconfig.build.json'), '--outDir', fresh], { stdio: 'inherit' });
  if (compiled.status !== 0) {
    rmSync(fresh, { recursive: true, force: true });
    process.stderr.write(`build: tsc failed (exit ${compiled.status ?? compiled.signal}); dist/ left as it was\n`);
    return 1;
  }
  // stderr: `npm run -s db:start` prints NAME=value lines on stdout that scripts read, and it builds first.
  process.stderr.write(`build: dist/ ${install(fresh, target)}\n`);
  return 0;
}

module.exports = { sameTree, install };

if (require.main === module) process.exitCode = main();
