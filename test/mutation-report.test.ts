import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  folderOf,
  MutationRun,
  readRun,
  readVerdicts,
  renderMutationDoc,
  scoreByFolder,
  ScoreRow,
  staleSources,
  verdictFor,
} from '../scripts/lib/mutation-report';
import { checkProblems, main, missingParts, runs, thresholds } from '../scripts/mutation';

/** A mutation-testing-report-schema file with one source file and the given mutants (status, line, columns). */
function report(file: string, source: string, mutants: ReadonlyArray<[string, string, number, number, number]>): string {
  return JSON.stringify({
    schemaVersion: '2',
    thresholds: { high: 90, low: 80 },
    files: {
      [file]: {
        language: 'typescript',
        source,
        mutants: mutants.map(([status, mutatorName, line, start, end], i) => ({
          id: String(i),
          mutatorName,
          replacement: mutatorName === 'EqualityOperator' ? '<=' : 'true',
          status,
          location: { start: { line, column: start }, end: { line, column: end } },
        })),
      },
    },
  });
}

function write(content: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tap-mutation-'));
  const file = path.join(dir, 'r.json');
  fs.writeFileSync(file, content);
  return file;
}

describe('scoring a run per folder', () => {
  const source = 'if (a < b) {\n  go(a);\n}\n';
  const run: MutationRun = readRun(
    'tools',
    write(
      report('tools/deploy/x.ts', source, [
        ['Killed', 'EqualityOperator', 1, 5, 10],
        ['Killed', 'BlockStatement', 1, 12, 13],
        ['Timeout', 'ConditionalExpression', 1, 5, 10],
        ['Survived', 'EqualityOperator', 1, 5, 10],
        ['NoCoverage', 'BlockStatement', 2, 3, 9],
        ['CompileError', 'StringLiteral', 2, 3, 9],
        ['Ignored', 'StringLiteral', 2, 3, 9],
      ]),
    ),
  );

  test('reads the code each mutant replaced, by its location', () => {
    expect(run.mutants.map((m) => m.original)).toEqual(['a < b', '{', 'a < b', 'a < b', 'go(a);', 'go(a);', 'go(a);']);
    expect(run.mutants.every((m) => m.file === 'tools/deploy/x.ts')).toBe(true);
  });

  test("the score is Stryker's: killed and timed out over killed, timed out, survived and not covered", () => {
    const [tools, config] = scoreByFolder([run], { tools: 85, 'lib/config': 80 }, { tools: ['promote'] });
    expect(tools).toEqual({ folder: 'tools', threshold: 85, killed: 2, timeout: 1, survived: 1, noCoverage: 1, score: 60, missing: ['promote'] });
    // a folder without mutants scores 0, so a mutate pattern that matches nothing cannot pass
    expect(config).toEqual({ folder: 'lib/config', threshold: 80, killed: 0, timeout: 0, survived: 0, noCoverage: 0, score: 0, missing: [] });
  });

  test("the service's paths are inside app/, and a file belongs to the longest folder that contains it", () => {
    const service = readRun('service', write(report('src/auth.ts', 'x', [['Killed', 'BlockStatement', 1, 1, 2]])), 'app/');
    expect(service.mutants[0]!.file).toBe('app/src/auth.ts');
    expect(folderOf('lib/config/schema.ts', ['lib', 'lib/config'])).toBe('lib/config');
    expect(folderOf('lib/configuration.ts', ['lib/config'])).toBeUndefined();
  });

  test('results are out of date when the mutated file has changed or is gone', () => {
    expect(staleSources([run], () => source)).toEqual([]);
    expect(staleSources([run], () => source.replace('<', '<='))).toEqual(['tools/deploy/x.ts (tools)']);
    expect(staleSources([run], () => undefined)).toEqual(['tools/deploy/x.ts (tools)']);
  });

  test('a file that is not a mutation report is refused, naming the file', () => {
    const file = write('{"files": {"a.ts": {"source": "x", "mutants": [{"id": "1"}]}}}');
    expect(() => readRun('tools', file)).toThrow(`${file} is not a mutation-testing report`);
  });

  /** The verdict both tests below use: the first survivor of the fixture run, reviewed as equivalent. */
  const EQUIVALENT_A_LT_B = {
    file: 'tools/deploy/x.ts',
    mutator: 'EqualityOperator',
    original: 'a < b',
    replacement: '<=',
    context: 'if (a < b)',
    reason: 'a and b are never equal here',
  };

  test('a survivor is matched to its verdict by file, mutator, original, replacement and a piece of its line, not by line number', () => {
    const survivor = run.mutants.find((m) => m.status === 'Survived')!;
    const verdict = EQUIVALENT_A_LT_B;
    expect(verdictFor(survivor, [verdict])).toBe(verdict);
    expect(verdictFor(survivor, [{ ...verdict, replacement: '>' }])).toBeUndefined();
    expect(verdictFor(survivor, [{ ...verdict, file: 'tools/deploy/y.ts' }])).toBeUndefined();
    expect(verdictFor(survivor, [{ ...verdict, original: 'a > b' }])).toBeUndefined();
    expect(verdictFor(survivor, [{ ...verdict, mutator: 'ConditionalExpression' }])).toBeUndefined();
    // The same change elsewhere in the file (another line) is not covered by this verdict.
    const twice = readRun(
      'tools',
      write(
        report('tools/deploy/x.ts', 'if (a < b) {\n  while (a < b) go(a);\n}\n', [
          ['Survived', 'EqualityOperator', 1, 5, 10],
          ['Survived', 'EqualityOperator', 2, 10, 15],
        ]),
      ),
    );
    expect(twice.mutants.map((m) => m.original)).toEqual(['a < b', 'a < b']);
    expect(twice.mutants.map((m) => verdictFor(m, [verdict]))).toEqual([verdict, undefined]);
  });

  test('the page lists every survivor with its verdict, open ones as open, and verdicts no longer needed', () => {
    const verdicts = [
      EQUIVALENT_A_LT_B,
      {
        file: 'tools/deploy/gone.ts',
        mutator: 'BlockStatement',
        original: '{}',
        replacement: 'true',
        context: 'function gone() {}',
        reason: 'a verdict for a mutant that is gone',
      },
    ];
    const doc = renderMutationDoc([run], scoreByFolder([run], { tools: 85 }), verdicts);
    expect(doc).toContain('| `tools` | 60.00 % | 85 % | 2 | 1 | 1 | 1 | complete |');
    const partial = renderMutationDoc([run], scoreByFolder([run], { tools: 85 }, { tools: ['deploy', 'promote'] }), verdicts);
    expect(partial).toContain('| `tools` | 60.00 % | 85 % | 2 | 1 | 1 | 1 | incomplete: not yet run for deploy, promote |');
    expect(doc).toContain('| tools/deploy/x.ts:1 | EqualityOperator | `a < b` | `<=` | equivalent: a and b are never equal here |');
    expect(doc).toContain('| tools/deploy/x.ts:2 | BlockStatement | `go(a);` | `true` | open (no test reaches it) |');
    expect(doc).toContain('## Survivors in `tools/` (2)');
    expect(doc).toMatch(/## Verdicts no longer needed[\s\S]*tools\/deploy\/gone\.ts/);
  });

  test('a verdict without a real reason is refused', () => {
    const file = write(
      JSON.stringify([{ file: 'a.ts', mutator: 'X', original: 'a', replacement: 'b', context: 'const a = b;', reason: 'equivalent' }]),
    );
    expect(() => readVerdicts(file)).toThrow(/0\.reason/);
    const noContext = write(
      JSON.stringify([{ file: 'a.ts', mutator: 'X', original: 'a', replacement: 'b', reason: 'equivalent, because a is b here' }]),
    );
    expect(() => readVerdicts(noContext)).toThrow(/0\.context/);
  });
});

describe('what --check refuses', () => {
  const row = (over: Partial<ScoreRow> = {}): ScoreRow => ({
    folder: 'tools',
    threshold: 85,
    killed: 90,
    timeout: 0,
    survived: 10,
    noCoverage: 0,
    score: 90,
    missing: [],
    ...over,
  });

  test('nothing when every run has results on the code as it is, every folder meets its threshold and the page is current', () => {
    expect(checkProblems([row(), row({ folder: 'lib/config', threshold: 80, score: 80 })], false, [])).toEqual([]);
  });

  test.each<[string, ScoreRow[], boolean, string[], string[]]>([
    ['a stale page', [row()], true, [], ['docs/mutation.md is stale: run `npm run mutation -- --report`']],
    [
      'results on code changed since',
      [row()],
      false,
      ['app/src/card.ts'],
      ['changed since their run (run `npm run mutation` and commit mutation/): app/src/card.ts'],
    ],
    [
      'a run without results, even when the folder scores well without it',
      [row({ folder: 'app/src', score: 99, missing: ['service-card'] })],
      false,
      [],
      ['no results for service-card (run `npm run mutation` and commit mutation/)'],
    ],
    ['a folder just under its threshold', [row({ score: 84.99 })], false, [], ['under threshold: tools 84.99 % < 85 %']],
  ])('%s', (_name, rows, stale, changed, expected) => {
    expect(checkProblems(rows, stale, changed)).toEqual(expected);
  });
});

describe('the committed mutation results', () => {
  test('every run has results, docs/mutation.md is current, the results are of the code as it is, and every folder meets its threshold', async () => {
    expect(missingParts()).toEqual({});
    const out: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
    const err = jest.spyOn(process.stderr, 'write').mockImplementation((s) => (out.push(String(s)), true));
    try {
      expect(await main(['--check'])).toBe(0);
    } finally {
      write.mockRestore();
      err.mockRestore();
    }
    const scores = out.join('').match(/^mutation \S+: .*$/gm) ?? [];
    expect(scores.map((l) => l.split(':')[0])).toEqual(['mutation tools', 'mutation lib/config', 'mutation app/src']);
    expect(scores.filter((l) => l.includes('INCOMPLETE'))).toEqual([]);
    expect(scores.filter((l) => !l.endsWith(' ok'))).toEqual([]);
  });

  test('each reviewed verdict names one place: its context occurs on exactly one line of its file', () => {
    const root = path.join(__dirname, '..');
    const verdicts = readVerdicts(path.join(root, 'mutation', 'verdicts.json'));
    expect(verdicts.length).toBeGreaterThan(0);
    const places = verdicts.map((v) => ({
      file: v.file,
      context: v.context,
      lines: fs
        .readFileSync(path.join(root, v.file), 'utf8')
        .split('\n')
        .filter((l) => l.includes(v.context)).length,
    }));
    expect(places).toEqual(verdicts.map((v) => ({ file: v.file, context: v.context, lines: 1 })));
  });

  test('the thresholds are the ones the platform promises: 85 % for tools/ and app/src, 80 % for lib/config', () => {
    expect(thresholds()).toEqual({ tools: 85, 'lib/config': 80, 'app/src': 85 });
  });

  test("the runs are the parts stryker.config.mjs defines, each scored in its folder, then one for each of the service's files", () => {
    expect(Object.fromEntries(Object.entries(runs()).map(([name, r]) => [name, r.folder]))).toEqual({
      config: 'lib/config',
      smoke: 'tools',
      'listener-guard': 'tools',
      'scan-gate': 'tools',
      deploy: 'tools',
      promote: 'tools',
      'service-auth': 'app/src',
      'service-validation': 'app/src',
      'service-card': 'app/src',
      'service-idempotency': 'app/src',
      'service-lifecycle': 'app/src',
    });
  });

  test('unknown arguments are refused, naming them', async () => {
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await main(['--only', 'everything'])).toBe(2);
      expect(err).toHaveBeenCalledWith(
        'mutation: --only must be one of config, smoke, listener-guard, scan-gate, deploy, promote, service-auth, service-validation, service-card, service-idempotency, service-lifecycle, got "everything"\n',
      );
      expect(await main(['--fast'])).toBe(2);
      expect(err).toHaveBeenCalledWith('mutation: unknown argument(s) ["--fast"]\n');
    } finally {
      err.mockRestore();
    }
  });
});
