import { deployStep, buildImageStep, promoteImageStep, testStep, TRIVY_SHA256, CRANE_SHA256, PipelineStep } from '../lib/pipeline/steps';
import { verifySteps } from '../lib/pipeline/verify-stage';
import { Duration } from 'aws-cdk-lib';
import { shippedConfigs, synthEnv } from './helpers';

const commandsOf = (step: PipelineStep) => {
  const p = step.buildSpec.phases;
  return [...(p.install?.commands ?? []), ...(p.pre_build?.commands ?? []), ...p.build.commands, ...(p.post_build?.commands ?? [])];
};
const allSteps = [
  ...verifySteps(shippedConfigs().dev),
  buildImageStep(),
  promoteImageStep({ env: 'dev', registryId: '111111111111', repositoryName: 'tap/dev/payment-service', timeout: Duration.minutes(60) }),
  deployStep('prod', 45),
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

  test('steps with a cache name its paths in the buildspec CodeBuild runs', () => {
    const { template } = synthEnv('dev');
    const projects = Object.entries(template.findResources('AWS::CodeBuild::Project')).filter(([id]) => id.startsWith('DeliveryDependencyScan'));
    const spec = JSON.parse((projects[0]![1] as { Properties: { Source: { BuildSpec: string } } }).Properties.Source.BuildSpec) as {
      cache?: { paths: string[] };
    };
    expect(spec.cache?.paths).toEqual(['/root/.cache/trivy/**/*']);
  });
});
