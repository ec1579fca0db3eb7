// Reads Stryker's results (the mutation-testing-report-schema JSON Stryker writes as its incremental file), scores them
// per folder and renders docs/mutation.md with every surviving mutant and the verdict reviewed for it.
import * as fs from 'fs';
import { z } from 'zod';

/** The part of a mutation-testing-report-schema mutant this report reads. */
const MutantSchema = z.object({
  id: z.string(),
  mutatorName: z.string(),
  replacement: z.string().optional(),
  status: z.enum(['Killed', 'Survived', 'NoCoverage', 'Timeout', 'CompileError', 'RuntimeError', 'Ignored', 'Pending']),
  location: z.object({ start: z.object({ line: z.number(), column: z.number() }), end: z.object({ line: z.number(), column: z.number() }) }),
});
const ReportSchema = z.object({
  files: z.record(z.string(), z.object({ source: z.string(), mutants: z.array(MutantSchema) })),
});
export type Mutant = z.infer<typeof MutantSchema>;

export interface MutantRecord extends Mutant {
  /** Repository-relative path of the mutated file. */
  readonly file: string;
  /** The code the mutant replaced. */
  readonly original: string;
  /** The source line the mutant starts on, as written. */
  readonly sourceLine: string;
}

export interface MutationRun {
  readonly name: string;
  readonly mutants: readonly MutantRecord[];
  /** Each mutated file's source as the run saw it, by repository-relative path. */
  readonly sources: Readonly<Record<string, string>>;
}

function slice(source: string, m: Mutant): string {
  const lines = source.split('\n');
  const { start, end } = m.location;
  if (start.line === end.line) return (lines[start.line - 1] ?? '').slice(start.column - 1, end.column - 1);
  const first = (lines[start.line - 1] ?? '').slice(start.column - 1);
  const middle = lines.slice(start.line, end.line - 1);
  const last = (lines[end.line - 1] ?? '').slice(0, end.column - 1);
  return [first, ...middle, last].join('\n');
}

/** Reads one run's results; `prefix` makes its paths repository-relative (the service's run works inside app/). */
export function readRun(name: string, file: string, prefix = ''): MutationRun {
  const parsed = ReportSchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(`${file} is not a mutation-testing report: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  const mutants: MutantRecord[] = [];
  const sources: Record<string, string> = {};
  for (const [rel, f] of Object.entries(parsed.data.files)) {
    sources[`${prefix}${rel}`] = f.source;
    const lines = f.source.split('\n');
    for (const m of f.mutants) {
      mutants.push({ ...m, file: `${prefix}${rel}`, original: slice(f.source, m), sourceLine: lines[m.location.start.line - 1] ?? '' });
    }
  }
  return { name, mutants, sources };
}

/** The files whose source differs from what the run mutated (or that are gone): their results are out of date. */
export function staleSources(runs: readonly MutationRun[], read: (file: string) => string | undefined): string[] {
  return runs.flatMap((r) =>
    Object.entries(r.sources)
      .filter(([file, source]) => read(file) !== source)
      .map(([file]) => `${file} (${r.name})`),
  );
}

/**
 * A survivor reviewed and judged equivalent (no test can tell it apart), with the reason. It is matched by file,
 * mutator, original and replacement, not by line number (which moves with every edit above it), and by `context`, a
 * piece of the mutated line's code: a short original such as `''` occurs in many places of a file, and the verdict
 * covers only the place it was written for.
 */
const VerdictSchema = z.strictObject({
  file: z.string(),
  mutator: z.string(),
  original: z.string(),
  replacement: z.string(),
  context: z.string().min(8),
  reason: z.string().min(20),
});
export type Verdict = z.infer<typeof VerdictSchema>;
export type Verdicts = readonly Verdict[];

export function readVerdicts(file: string): Verdicts {
  if (!fs.existsSync(file)) return [];
  const parsed = z.array(VerdictSchema).safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${file}: ${issue?.path.join('.') ?? ''} ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

export function verdictFor(m: MutantRecord, verdicts: Verdicts): Verdict | undefined {
  return verdicts.find(
    (v) =>
      v.file === m.file &&
      v.mutator === m.mutatorName &&
      v.original === m.original &&
      v.replacement === (m.replacement ?? '') &&
      m.sourceLine.includes(v.context),
  );
}

export interface ScoreRow {
  readonly folder: string;
  readonly threshold: number;
  readonly killed: number;
  readonly timeout: number;
  readonly survived: number;
  readonly noCoverage: number;
  /** Stryker's mutation score: (killed + timeout) / (killed + timeout + survived + no coverage), in percent. */
  readonly score: number;
  /** The folder's runs that have no results yet: its score is then partial and not judged. */
  readonly missing: readonly string[];
}

/** The folder (a key of `thresholds`) a file belongs to: the longest one that contains it. */
export function folderOf(file: string, folders: readonly string[]): string | undefined {
  return [...folders].sort((a, b) => b.length - a.length).find((f) => file.startsWith(`${f}/`));
}

export function isSurvivor(m: Mutant): boolean {
  return m.status === 'Survived' || m.status === 'NoCoverage';
}

export function scoreByFolder(
  runs: readonly MutationRun[],
  thresholds: Readonly<Record<string, number>>,
  missing: Readonly<Record<string, readonly string[]>> = {},
): ScoreRow[] {
  const folders = Object.keys(thresholds);
  return folders.map((folder) => {
    const ms = runs.flatMap((r) => r.mutants).filter((m) => folderOf(m.file, folders) === folder);
    const count = (s: Mutant['status']) => ms.filter((m) => m.status === s).length;
    const killed = count('Killed');
    const timeout = count('Timeout');
    const survived = count('Survived');
    const noCoverage = count('NoCoverage');
    const valid = killed + timeout + survived + noCoverage;
    return {
      folder,
      threshold: thresholds[folder]!,
      killed,
      timeout,
      survived,
      noCoverage,
      score: valid === 0 ? 0 : (100 * (killed + timeout)) / valid,
      missing: missing[folder] ?? [],
    };
  });
}

function cell(text: string, max = 70): string {
  const one = text.replace(/\s+/g, ' ').trim();
  const cut = one.length > max ? `${one.slice(0, max - 1)}…` : one;
  return `\`${cut.replace(/`/g, "'").replace(/\|/g, '\\|')}\``;
}

const INTRO = `# Mutation testing

Generated by \`npm run mutation\` (or \`npm run mutation -- --report\` from the committed results); do not edit by hand.
The reviewed verdicts live in \`mutation/verdicts.json\`.

Stryker changes one piece of the code that decides at a time (a condition, a comparison, a string, a removed call) and
reruns the tests that cover it. A mutant the tests notice is killed; one they do not notice survived. The score is
killed and timed-out mutants over all valid ones (compile errors, found by Stryker's TypeScript checker, do not count).
A folder under its threshold in \`stryker.config.mjs\` fails \`npm run mutation\` and the pipeline's Mutation step.

What is mutated, and why there:

- \`tools/\`: deploy, promote, the scan gate, the smoke test and its ECS lifecycle hook, and the listener guard (their
  modules; the command-line wrappers, \`cli.ts\`, are not mutated). These decide whether a release goes out, rolls
  back or stops.
- \`lib/config/\`: the validation rules of each environment's configuration, including the rules only prod has.
- \`app/src\`: authentication, request validation, card handling, idempotency and the process lifecycle (drain).

Not mutated yet, though covered by their suites: the rest of \`tools/\` (common, infra, migrate, seed-image, canary,
collector-cache) and of \`app/src\` (strict JSON parsing, the request body, the payment handler, the database layer).
A full run of what is mutated takes hours on a 2-core machine; each added file adds to every run that touches it.
The service's suites that only start the built service as a process (drain, multi-task, build, local PostgreSQL)
are left out of the runs: they run unmutated code and can kill no mutant. Code that runs once, when its module loads,
is not mutated either (Stryker's \`ignoreStatic\`: such a mutant needs every test rerun): the request schema's bounds,
patterns and messages, the card number pattern, the decline rules. Tests state those values exactly instead (the
rejection table of \`app/test/validation.test.ts\`, the decline rules in \`app/test/card.test.ts\`).

Every survivor is listed below, with the verdict reviewed for it: *equivalent* (no test can tell the change apart: the
behaviour is the same) with the reason, or *open* (a test is missing; the score counts it against the folder). An
equivalent mutant still counts against the score. A verdict names the file, the mutator, the original and replacement
code and a piece of the mutated line (\`context\`), so it covers that one place: the same change elsewhere in the file is
open until it is reviewed on its own.
`;

export function renderMutationDoc(runs: readonly MutationRun[], rows: readonly ScoreRow[], verdicts: Verdicts): string {
  const out: string[] = [
    INTRO,
    '## Scores',
    '',
    '| Folder | Score | Threshold | Killed | Timed out | Survived | No coverage | Results |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const r of rows) {
    const results = r.missing.length > 0 ? `incomplete: not yet run for ${r.missing.join(', ')}` : 'complete';
    out.push(
      `| \`${r.folder}\` | ${r.score.toFixed(2)} % | ${r.threshold} % | ${r.killed} | ${r.timeout} | ${r.survived} | ${r.noCoverage} | ${results} |`,
    );
  }
  const folders = rows.map((r) => r.folder);
  for (const folder of folders) {
    const survivors = runs
      .flatMap((r) => r.mutants)
      .filter((m) => folderOf(m.file, folders) === folder && isSurvivor(m))
      .sort(
        (a, b) => a.file.localeCompare(b.file) || a.location.start.line - b.location.start.line || a.location.start.column - b.location.start.column,
      );
    out.push('', `## Survivors in \`${folder}/\` (${survivors.length})`, '');
    if (survivors.length === 0) {
      out.push('None.');
      continue;
    }
    out.push('| Where | Mutator | Original | Replacement | Verdict |', '| --- | --- | --- | --- | --- |');
    for (const m of survivors) {
      const v = verdictFor(m, verdicts);
      const verdict = v ? `equivalent: ${v.reason.replace(/\|/g, '\\|')}` : m.status === 'NoCoverage' ? 'open (no test reaches it)' : 'open';
      out.push(`| ${m.file}:${m.location.start.line} | ${m.mutatorName} | ${cell(m.original)} | ${cell(m.replacement ?? '')} | ${verdict} |`);
    }
  }
  const unused = verdicts.filter((v) => !runs.some((r) => r.mutants.some((m) => isSurvivor(m) && verdictFor(m, [v]) !== undefined)));
  if (unused.length > 0) {
    out.push(
      '',
      '## Verdicts no longer needed',
      '',
      'These reviewed survivors are now killed or gone; remove them from `mutation/verdicts.json`:',
      '',
    );
    for (const v of unused) out.push(`- ${v.file}: ${v.mutator} ${cell(v.original)} → ${cell(v.replacement)}`);
  }
  return `${out.join('\n')}\n`;
}
