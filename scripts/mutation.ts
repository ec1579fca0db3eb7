// `npm run mutation`: Stryker over the code that decides, incrementally, then the score per folder against the
// thresholds in stryker.config.mjs, and docs/mutation.md rewritten from the results.
//
//   npm run mutation                   every run, incremental: the platform's parts (config: lib/config/; smoke,
//                                      listener-guard, scan-gate, deploy, promote: tools/) and the service (app/src)
//   npm run mutation -- --only smoke   one run
//   npm run mutation -- --full         ignore the committed incremental results and test every mutant again
//   npm run mutation -- --report       no run: print the scores and rewrite docs/mutation.md from mutation/*.json
//   npm run mutation -- --check        no run: exit 1 when a folder is under its threshold or docs/mutation.md is stale
//
// The incremental results (mutation/*.incremental.json) are committed: they are the evidence behind the report, and
// they let the next run (a developer's or the pipeline's) test only the mutants whose code or covering tests changed.
// The service's suite needs PostgreSQL: one instance is started here for the whole run and handed to every jest run
// through PAYMENTS_TEST_DATABASE (app/test/global-setup.ts uses it instead of starting its own).
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { pathToFileURL } from 'url';
import { MutationRun, readRun, readVerdicts, renderMutationDoc, ScoreRow, scoreByFolder, Verdicts } from './lib/mutation-report';

const ROOT = path.join(__dirname, '..');
const STRYKER = path.join(ROOT, 'node_modules', '@stryker-mutator', 'core', 'bin', 'stryker.js');
const DOC = path.join(ROOT, 'docs', 'mutation.md');

/** The platform's parts (stryker.config.mjs, by MUTATION_PART), in the order they run. */
export const PLATFORM_PARTS = ['config', 'smoke', 'listener-guard', 'scan-gate', 'deploy', 'promote'] as const;

/** Every run: the platform's parts and the service. Each has its own incremental results. */
export const RUNS: Readonly<Record<string, { readonly folder: string; readonly incremental: string; readonly prefix: string }>> = {
  ...Object.fromEntries(
    PLATFORM_PARTS.map((p) => [
      p,
      { folder: p === 'config' ? 'lib/config' : 'tools', incremental: path.join(ROOT, 'mutation', `${p}.incremental.json`), prefix: '' },
    ]),
  ),
  service: { folder: 'app/src', incremental: path.join(ROOT, 'mutation', 'service.incremental.json'), prefix: 'app/' },
};

/** The runs of each folder that have no results yet (never run, or a run that did not finish). */
export function missingParts(): Record<string, string[]> {
  const missing: Record<string, string[]> = {};
  for (const [name, r] of Object.entries(RUNS)) if (!fs.existsSync(r.incremental)) (missing[r.folder] ??= []).push(name);
  return missing;
}

function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
}

/** One part of the platform's run (stryker.config.mjs chooses the folder and suites by MUTATION_PART). */
async function strykerPlatform(part: string, full: boolean): Promise<number> {
  return run(process.execPath, [STRYKER, 'run', ...(full ? ['--force'] : [])], ROOT, { ...process.env, MUTATION_PART: part });
}

async function strykerService(full: boolean): Promise<number> {
  // dist/ is what the suite's process tests start; build it from the unmutated source first.
  if ((await run('npm', ['run', 'build', '--silent'], path.join(ROOT, 'app'))) !== 0) return 1;
  // The service's own test tooling, loaded only here: the platform's parts need nothing of app/.
  const db = await import('../app/test/database');
  const { instance, database } = await db.provisionInstance('payments-mutation-');
  process.once('exit', () => instance.killSync());
  try {
    const env = { ...process.env, [db.TEST_DATABASE_ENV]: JSON.stringify(database) };
    return await run(process.execPath, [STRYKER, 'run', ...(full ? ['--force'] : [])], path.join(ROOT, 'app'), env);
  } finally {
    await instance.destroy();
  }
}

/**
 * The folder thresholds exported by stryker.config.mjs (an ES module, which Stryker loads as such): read by a child
 * node, so this script and its tests need no ES-module loader of their own.
 */
export function thresholds(): Record<string, number> {
  const config = pathToFileURL(path.join(ROOT, 'stryker.config.mjs')).href;
  const out = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', `const m = await import(${JSON.stringify(config)}); console.log(JSON.stringify(m.folderThresholds));`],
    {
      encoding: 'utf8',
    },
  );
  if (out.status !== 0) throw new Error(`could not read folderThresholds from stryker.config.mjs: ${out.stderr.trim()}`);
  return JSON.parse(out.stdout) as Record<string, number>;
}

function loadRuns(): MutationRun[] {
  return Object.entries(RUNS)
    .filter(([, r]) => fs.existsSync(r.incremental))
    .map(([name, r]) => readRun(name, r.incremental, r.prefix));
}

function printScores(rows: readonly ScoreRow[]): void {
  process.stdout.write('\nmutation score per folder (killed + timed out over all valid mutants)\n');
  for (const r of rows) {
    const counts = `killed ${r.killed}, timeout ${r.timeout}, survived ${r.survived}, no coverage ${r.noCoverage}; threshold ${r.threshold} %`;
    const verdict =
      r.missing.length > 0 ? `INCOMPLETE: no results yet for ${r.missing.join(', ')}` : r.score >= r.threshold ? 'ok' : 'UNDER THRESHOLD';
    process.stdout.write(`mutation ${r.folder}: ${r.score.toFixed(2)} % (${counts}) ${verdict}\n`);
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;
  if (only !== undefined && !(only in RUNS)) {
    process.stderr.write(`mutation: --only must be one of ${Object.keys(RUNS).join(', ')}, got ${JSON.stringify(only)}\n`);
    return 2;
  }
  const known = new Set(['--only', '--full', '--report', '--check', ...Object.keys(RUNS)]);
  const unknown = argv.filter((a) => !known.has(a));
  if (unknown.length > 0) {
    process.stderr.write(`mutation: unknown argument(s) ${JSON.stringify(unknown)}\n`);
    return 2;
  }
  const full = argv.includes('--full');
  let failed = false;
  if (!argv.includes('--report') && !argv.includes('--check')) {
    for (const name of Object.keys(RUNS)) {
      if (only && only !== name) continue;
      // Stryker exits non-zero when the part is under its threshold (thresholds.break) or cannot run; the report
      // below is still written, so the survivors are there to read.
      const code = name === 'service' ? await strykerService(full) : await strykerPlatform(name, full);
      if (code !== 0) {
        process.stderr.write(`mutation: the ${name} run failed (exit ${code})\n`);
        failed = true;
      }
    }
  }
  const runs = loadRuns();
  const verdicts: Verdicts = readVerdicts(path.join(ROOT, 'mutation', 'verdicts.json'));
  const rows = scoreByFolder(runs, thresholds(), missingParts());
  printScores(rows);
  const doc = renderMutationDoc(runs, rows, verdicts);
  if (argv.includes('--check')) {
    const stale = !fs.existsSync(DOC) || fs.readFileSync(DOC, 'utf8') !== doc;
    if (stale) process.stderr.write('mutation: docs/mutation.md is stale: run `npm run mutation -- --report`\n');
    // A folder is judged once all its parts have results; `npm run mutation` (and the pipeline) runs them all.
    return stale || rows.some((r) => r.missing.length === 0 && r.score < r.threshold) ? 1 : 0;
  }
  fs.writeFileSync(DOC, doc);
  process.stdout.write(`wrote ${path.relative(ROOT, DOC)}\n`);
  const incomplete = rows.filter((r) => r.missing.length > 0);
  if (incomplete.length > 0 && !only && !argv.includes('--report')) {
    process.stderr.write(`mutation: no results for ${incomplete.flatMap((r) => r.missing).join(', ')}: a run did not finish\n`);
    return 1;
  }
  const under = rows.filter((r) => r.missing.length === 0 && r.score < r.threshold);
  if (under.length > 0) {
    process.stderr.write(`mutation: under threshold: ${under.map((r) => `${r.folder} ${r.score.toFixed(2)} % < ${r.threshold} %`).join('; ')}\n`);
    return 1;
  }
  return failed ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`mutation: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
