// `npm run mutation`: Stryker over the code that decides, incrementally, then the score per folder against the
// thresholds in stryker.config.mjs, and docs/mutation.md rewritten from the results.
//
//   npm run mutation                   every run, incremental: the platform's parts (config: lib/config/; smoke,
//                                      listener-guard, scan-gate, deploy, promote: tools/) and the service's, one per
//                                      file of app/src (service-auth, -validation, -card, -idempotency, -lifecycle)
//   npm run mutation -- --only smoke   one run
//   npm run mutation -- --full         ignore the committed incremental results and test every mutant again
//   npm run mutation -- --report       no run: print the scores and rewrite docs/mutation.md from mutation/*.json
//   npm run mutation -- --check        no run: exit 1 when a run has no results, results were taken on code changed
//                                      since, a folder is under its threshold, or docs/mutation.md is stale
//
// The incremental results (mutation/*.incremental.json) are committed: they are the evidence behind the report, and
// they let the next run (a developer's or the pipeline's) test only the mutants whose code or covering tests changed.
// The service's suite needs PostgreSQL: one instance is started here for each of its runs and handed to every jest
// run through PAYMENTS_TEST_DATABASE (app/test/global-setup.ts uses it instead of starting its own).
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { pathToFileURL } from 'url';
import { MutationRun, readRun, readVerdicts, renderMutationDoc, ScoreRow, scoreByFolder, staleSources, Verdicts } from './lib/mutation-report';

const ROOT = path.join(__dirname, '..');
const STRYKER = path.join(ROOT, 'node_modules', '@stryker-mutator', 'core', 'bin', 'stryker.js');
const DOC = path.join(ROOT, 'docs', 'mutation.md');

/** A run: the folder it scores and its incremental results. */
export interface Run {
  readonly folder: string;
  readonly incremental: string;
  readonly prefix: string;
}

/**
 * What stryker.config.mjs exports (an ES module, which Stryker loads as such): the folder thresholds and the
 * platform's parts with their folders. Read once by a child node, so this script and its tests need no ES-module loader.
 */
let strykerExports: { folderThresholds: Record<string, number>; partFolders: Record<string, string>; serviceParts: string[] } | undefined;
function fromStrykerConfig(): NonNullable<typeof strykerExports> {
  if (strykerExports) return strykerExports;
  const config = pathToFileURL(path.join(ROOT, 'stryker.config.mjs')).href;
  const service = pathToFileURL(path.join(ROOT, 'app', 'stryker.config.mjs')).href;
  const out = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const m = await import(${JSON.stringify(config)}); const s = await import(${JSON.stringify(service)}); ` +
        'console.log(JSON.stringify({ folderThresholds: m.folderThresholds, partFolders: m.partFolders, serviceParts: s.serviceParts }));',
    ],
    { encoding: 'utf8' },
  );
  if (out.status !== 0) throw new Error(`could not read stryker.config.mjs: ${out.stderr.trim()}`);
  strykerExports = JSON.parse(out.stdout) as NonNullable<typeof strykerExports>;
  return strykerExports;
}

/** The folder thresholds exported by stryker.config.mjs. */
export function thresholds(): Record<string, number> {
  return fromStrykerConfig().folderThresholds;
}

/**
 * Every run, in the order they run: the platform's parts (stryker.config.mjs, by MUTATION_PART), then the service's
 * (app/stryker.config.mjs, one source file each, by SERVICE_PART).
 */
export function runs(): Readonly<Record<string, Run>> {
  const parts = fromStrykerConfig().partFolders;
  return {
    ...Object.fromEntries(
      Object.entries(parts).map(([p, folder]) => [p, { folder, incremental: path.join(ROOT, 'mutation', `${p}.incremental.json`), prefix: '' }]),
    ),
    ...Object.fromEntries(
      fromStrykerConfig().serviceParts.map((p) => [
        `service-${p}`,
        { folder: 'app/src', incremental: path.join(ROOT, 'mutation', `service-${p}.incremental.json`), prefix: 'app/' },
      ]),
    ),
  };
}

/** The runs of each folder that have no results yet (never run, or a run that did not finish). */
export function missingParts(): Record<string, string[]> {
  const missing: Record<string, string[]> = {};
  for (const [name, r] of Object.entries(runs())) if (!fs.existsSync(r.incremental)) (missing[r.folder] ??= []).push(name);
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

async function strykerService(part: string, full: boolean): Promise<number> {
  // dist/ is what the suite's process tests start; build it from the unmutated source first.
  if ((await run('npm', ['run', 'build', '--silent'], path.join(ROOT, 'app'))) !== 0) return 1;
  // The service's own test tooling, loaded only here: the platform's parts need nothing of app/.
  const db = await import('../app/test/database');
  const { instance, database } = await db.provisionInstance('payments-mutation-');
  process.once('exit', () => instance.killSync());
  try {
    const env = { ...process.env, [db.TEST_DATABASE_ENV]: JSON.stringify(database), SERVICE_PART: part };
    return await run(process.execPath, [STRYKER, 'run', ...(full ? ['--force'] : [])], path.join(ROOT, 'app'), env);
  } finally {
    await instance.destroy();
  }
}

function loadRuns(): MutationRun[] {
  return Object.entries(runs())
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

/**
 * Why `--check` fails, a line each (none: it passes). The committed results are evidence only when every run has
 * them, they were taken on the code as it is, every folder meets its threshold and docs/mutation.md shows them.
 */
export function checkProblems(rows: readonly ScoreRow[], docStale: boolean, changedSources: readonly string[]): string[] {
  const problems: string[] = [];
  if (docStale) problems.push('docs/mutation.md is stale: run `npm run mutation -- --report`');
  if (changedSources.length > 0) {
    problems.push(`changed since their run (run \`npm run mutation\` and commit mutation/): ${changedSources.join(', ')}`);
  }
  const missing = rows.flatMap((r) => r.missing);
  if (missing.length > 0) problems.push(`no results for ${missing.join(', ')} (run \`npm run mutation\` and commit mutation/)`);
  for (const r of rows) {
    if (r.score < r.threshold) problems.push(`under threshold: ${r.folder} ${r.score.toFixed(2)} % < ${r.threshold} %`);
  }
  return problems;
}

export async function main(argv: readonly string[]): Promise<number> {
  const all = runs();
  const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;
  if (only !== undefined && !(only in all)) {
    process.stderr.write(`mutation: --only must be one of ${Object.keys(all).join(', ')}, got ${JSON.stringify(only)}\n`);
    return 2;
  }
  const known = new Set(['--only', '--full', '--report', '--check', ...Object.keys(all)]);
  const unknown = argv.filter((a) => !known.has(a));
  if (unknown.length > 0) {
    process.stderr.write(`mutation: unknown argument(s) ${JSON.stringify(unknown)}\n`);
    return 2;
  }
  const full = argv.includes('--full');
  let failed = false;
  if (!argv.includes('--report') && !argv.includes('--check')) {
    for (const name of Object.keys(all)) {
      if (only && only !== name) continue;
      // Stryker exits non-zero when the part is under its threshold (thresholds.break) or cannot run; the report
      // below is still written, so the survivors are there to read.
      const code = name.startsWith('service-') ? await strykerService(name.slice('service-'.length), full) : await strykerPlatform(name, full);
      if (code !== 0) {
        process.stderr.write(`mutation: the ${name} run failed (exit ${code})\n`);
        failed = true;
      }
    }
  }
  const results = loadRuns();
  const verdicts: Verdicts = readVerdicts(path.join(ROOT, 'mutation', 'verdicts.json'));
  const rows = scoreByFolder(results, thresholds(), missingParts());
  printScores(rows);
  const doc = renderMutationDoc(results, rows, verdicts);
  if (argv.includes('--check')) {
    const stale = !fs.existsSync(DOC) || fs.readFileSync(DOC, 'utf8') !== doc;
    const changed = staleSources(results, (file) =>
      fs.existsSync(path.join(ROOT, file)) ? fs.readFileSync(path.join(ROOT, file), 'utf8') : undefined,
    );
    const problems = checkProblems(rows, stale, changed);
    for (const p of problems) process.stderr.write(`mutation: ${p}\n`);
    return problems.length > 0 ? 1 : 0;
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
