// Mutation testing of the platform's code that decides, part by part, each with the suites that test it:
//   config: the validation rules of each environment's configuration (lib/config);
//   smoke, listener-guard, scan-gate, deploy, promote: the pipeline tools that decide a release (tools/).
// The service (app/src) has its own config, app/stryker.config.mjs. `npm run mutation` runs every part (chosen here
// with MUTATION_PART) and the service, and fails when a folder scores under its threshold.
// docs/mutation.md lists the survivors and the verdict reviewed for each.

import process from 'node:process';

/** Minimum mutation score (killed + timed out, over all valid mutants), per folder. */
export const folderThresholds = { tools: 85, 'lib/config': 80, 'app/src': 85 };

/** One tool: its modules (not its command-line wrapper, cli.ts: argument parsing and printing) and its suites. */
function tool(folder, tests) {
  return {
    folder: 'tools',
    mutate: [`tools/${folder}/**/*.ts`, '!tools/**/cli.ts'],
    tests: tests.map((t) => `<rootDir>/test/tools/${t}.test.ts`),
  };
}

/**
 * The parts, each run on its own with its own incremental results (mutation/<part>.incremental.json), so a change
 * re-tests one part and a long run is saved part by part.
 */
const PARTS = {
  config: { folder: 'lib/config', mutate: ['lib/config/**/*.ts'], tests: ['<rootDir>/test/config.test.ts'] },
  smoke: tool('smoke', ['smoke', 'smoke-first-deployment']),
  'listener-guard': tool('listener-guard', ['listener-guard']),
  'scan-gate': tool('scan-gate', ['scan-gate']),
  deploy: tool('deploy', ['ecs-deploy']),
  promote: tool('promote', ['promote']),
};

/** Each part's folder, by name: scripts/mutation.ts reads it to know the runs and which folder each one scores. */
export const partFolders = Object.fromEntries(Object.entries(PARTS).map(([n, p]) => [n, p.folder]));

const part = PARTS[process.env.MUTATION_PART ?? 'config'];
if (!part) throw new Error(`MUTATION_PART must be one of ${Object.keys(PARTS).join(', ')}, got ${JSON.stringify(process.env.MUTATION_PART)}`);
const name = process.env.MUTATION_PART ?? 'config';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  testRunner: 'jest',
  checkers: ['typescript'],
  tsconfigFile: `tsconfig.mutation-${part.folder === 'tools' ? 'tools' : 'config'}.json`,
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  mutate: part.mutate,
  jest: {
    projectType: 'custom',
    configFile: 'jest.config.js',
    // Only the suites that test this part: the template suites synthesize whole stacks and would run for every mutant.
    config: { testMatch: part.tests },
    enableFindRelatedTests: false,
  },
  coverageAnalysis: 'perTest',
  ignoreStatic: true,
  incremental: true,
  incrementalFile: `mutation/${name}.incremental.json`,
  reporters: ['json', 'clear-text', 'progress'],
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true, reportMutants: false },
  // The folder's threshold is applied by scripts/mutation.ts over all its parts (a part alone may score lower).
  thresholds: { high: 90, low: folderThresholds[part.folder], break: null },
  concurrency: Number(process.env.STRYKER_CONCURRENCY ?? 2),
  timeoutMS: 20000,
  tempDirName: '.stryker-tmp',
  ignorePatterns: [
    // lib/ imports the service's API contract (app/src/contract.ts); the rest of app/ is not needed.
    'app/*',
    '!app/src',
    'cdk.out',
    'cdk.out.*',
    'docs',
    'reports',
    'mutation',
    '.venv',
    '.stryker-tmp',
  ],
};
