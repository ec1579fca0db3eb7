// Mutation testing of the service's code that decides: authentication, request validation, card handling,
// idempotency and the process lifecycle (drain). Run it from the repository root
// with `npm run mutation`, which starts one PostgreSQL for the whole run (PAYMENTS_TEST_DATABASE) and fails when the
// score is under the folder threshold in ../stryker.config.mjs.

import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { folderThresholds } from '../stryker.config.mjs';

const threshold = folderThresholds['app/src'];

/**
 * The service's parts, one source file each, chosen with SERVICE_PART: each has its own incremental results
 * (../mutation/service-<part>.incremental.json), so a long run is saved file by file and a change re-tests one file.
 */
export const serviceParts = ['auth', 'validation', 'card', 'idempotency', 'lifecycle'];
const part = process.env.SERVICE_PART ?? 'auth';
if (!serviceParts.includes(part))
  throw new Error(`SERVICE_PART must be one of ${serviceParts.join(', ')}, got ${JSON.stringify(process.env.SERVICE_PART)}`);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  testRunner: 'jest',
  // The plugins are installed once, in the repository root's node_modules.
  plugins: ['jest-runner', 'typescript-checker'].map((p) =>
    fileURLToPath(new URL(`../node_modules/@stryker-mutator/${p}/dist/src/index.js`, import.meta.url)),
  ),
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.mutation.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  mutate: [`src/${part}.ts`],
  jest: {
    projectType: 'custom',
    configFile: 'jest.config.js',
    // Suites that only start the built service as a process (node dist/server.js) or build it: they run unmutated
    // code, so they can kill no mutant and would only slow every run. The in-process suites must kill the mutants.
    config: {
      testPathIgnorePatterns: [
        '/node_modules/',
        ...['adversarial-drain', 'build', 'drain', 'local-postgres', 'multi-task'].map((t) => `/test/${t}\\.test\\.ts$`),
      ],
    },
    enableFindRelatedTests: false,
  },
  // jest runs in band under Stryker: the suite takes minutes on a small machine.
  dryRunTimeoutMinutes: 30,
  coverageAnalysis: 'perTest',
  ignoreStatic: true,
  incremental: true,
  incrementalFile: `../mutation/service-${part}.incremental.json`,
  reporters: ['json', 'clear-text', 'progress'],
  jsonReporter: { fileName: `../reports/mutation/service-${part}.json` },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true, reportMutants: false },
  // The folder's threshold is applied by scripts/mutation.ts over all the service's parts (a part alone may score lower).
  thresholds: { high: 90, low: threshold, break: null },
  concurrency: Number(process.env.STRYKER_CONCURRENCY ?? 2),
  timeoutMS: 30000,
  tempDirName: '.stryker-tmp',
  ignorePatterns: ['coverage', 'reports', '.node-matrix', '.local-postgres', '.stryker-tmp', 'dist.new-*', 'dist.old-*'],
};
