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
    expect(cmds.indexOf('docker buildx use default')).toBeLessThan(cmds.findIndex((c) => c.startsWith('docker buildx build ')));
    // THEN no builder is created, so no moby/buildkit image is pulled, and no other Docker Hub image either
    expect(text).not.toMatch(/buildx create|docker-container|moby\/buildkit|docker\.io|registry-1\.docker\.io/);
  });

  test('the image build exports only the inline cache the docker driver supports, and moves the cache tag onto what it pushed', () => {
    const build = commandsOf(buildImageStep()).find((c) => c.startsWith('docker buildx build '))!;
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
