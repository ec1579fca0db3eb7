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
];

describe('pipeline steps', () => {
  test('each test step runs the same script as the local matrix, for exactly one Node version', () => {
    const step = testStep('16.20.2', 90);
    expect(step.buildSpec.phases.build.commands).toEqual(['cd app && npm run test:matrix']);
    expect(step.buildSpec.env?.variables).toEqual({ NODE_MATRIX_VERSIONS: '16.20.2', COVERAGE_THRESHOLD: '90' });
    expect(step.runsLocally).toBe(true);
    expect(Object.values(step.buildSpec.reports ?? {}).map((r) => r['file-format'])).toEqual(['JUNITXML', 'COBERTURAXML']);
  });

  test('every download is checked against its pinned SHA-256 before it is unpacked', () => {
    for (const step of allSteps) {
      const cmds = commandsOf(step);
      cmds.forEach((c, i) => {
        if (!c.startsWith('curl ')) return;
        expect(cmds[i + 1]).toMatch(/^echo "[0-9a-f]{64} {2}\/tmp\/\S+" \| sha256sum -c -$/);
      });
    }
    expect(commandsOf(buildImageStep()).join('\n')).toContain(TRIVY_SHA256);
    expect(commandsOf(promoteImageStep({ env: 'dev', registryId: '1', repositoryName: 'r', timeout: Duration.minutes(1) })).join('\n')).toContain(
      CRANE_SHA256,
    );
  });

  test('no step pulls a moving :latest tag, and Trivy reads its databases from ECR Public', () => {
    for (const step of allSteps) {
      const text = commandsOf(step).join('\n');
      expect(text).not.toMatch(/:latest\b/);
      if (text.includes('trivy image') || text.includes('trivy fs')) {
        expect(text).toContain('--db-repository public.ecr.aws/aquasecurity/trivy-db:2');
        expect(text).not.toContain('ghcr.io');
      }
    }
  });

  test('every scan is judged by the scan gate with the checked-in ignore file', () => {
    for (const step of allSteps.filter((s) => commandsOf(s).some((c) => c.startsWith('trivy ')))) {
      const cmds = commandsOf(step);
      const scan = cmds.findIndex((c) => c.startsWith('trivy '));
      const gate = cmds.findIndex((c) => c.startsWith('npx tsx tools/scan-gate/cli.ts reports/trivy-'));
      expect(gate).toBeGreaterThan(scan);
      expect(commandsOf(step).join('\n')).toContain('security/scan-ignore.json');
    }
  });

  test('the image steps export the digest-pinned image URI for the deploy', () => {
    for (const step of [buildImageStep(), promoteImageStep({ env: 'dev', registryId: '1', repositoryName: 'r', timeout: Duration.minutes(1) })]) {
      expect(step.buildSpec.env?.['exported-variables']).toEqual(['IMAGE_URI', 'IMAGE_DIGEST', 'SCAN_REPORT_URL']);
      expect(commandsOf(step).join('\n')).toMatch(/IMAGE_URI="\$REPOSITORY_URI@\$IMAGE_DIGEST"/);
    }
  });

  test('the deploy step refuses example configuration before it touches the service', () => {
    const cmds = commandsOf(deployStep('prod', 45));
    expect(cmds.findIndex((c) => c.startsWith('npm run preflight -- prod'))).toBeLessThan(cmds.indexOf('npx tsx tools/deploy/cli.ts'));
    expect(deployStep('prod', 45).timeout.toMinutes()).toBeGreaterThan(45);
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
    `#!/usr/bin/env bash\necho "docker $*" >> ${log}\ncase "$*" in *buildx\\ build*) echo -n sha256:new > ${state} ;; esac\n`,
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
