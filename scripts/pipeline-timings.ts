// Estimates push-to-production time per environment from the configured values and stated step durations, and
// prints the critical path (docs/pipeline.md quotes it). Durations that are not config are named in STEP_MINUTES.
import { ENVIRONMENT_NAMES, EnvironmentConfig, EnvironmentName, loadAllConfigs, PROMOTION_ORDER } from '../lib/config';
import { timings } from './deployment-timings';

/**
 * Minutes per step on CodeBuild MEDIUM in a VPC: about 1 minute of provisioning and `npm ci`, plus the work measured
 * on this 2-core machine by `npm test` (each Test-Node step about 0.5 min, IaC-Check about 2.5 min), rounded up.
 */
export const STEP_MINUTES = {
  source: 0.5,
  test: 2,
  lint: 2,
  sast: 2,
  dependencyScan: 4, // Trivy DB download from ECR Public (every build: no CodeBuild cache in a VPC)
  iacCheck: 6, // jest suites (~1.5 min here) + synth of three environments, cfn-lint, checkov
  buildImage: 6, // multi-stage build with the inline cache of the last image, push, scan, SBOM
  // Beside Build-Image (dev only), incremental: the three suites' coverage runs (about 3 min) plus the mutants of a
  // typical change's files. A change to a widely used test file or to stryker.config.mjs re-tests far more: hours.
  mutation: 6,
  promoteCopy: 3, // crane copy, verify, re-scan
  smoke: 1.5,
  infraPlan: 4, // npm ci, synth of one environment, cdk-assets publish, change set created and reviewed
  infraApplyNoChange: 1.5, // npm ci, then nothing to execute
  infraApply: 6, // npm ci, then a typical update (alarms, WAF, IAM); a database or task definition change takes longer
};

/** One environment's push-to-production path, in minutes. */
export interface PipelineRow {
  readonly env: EnvironmentName;
  /** The Verify stage: its steps run in parallel, the longest decides. */
  readonly verify: number;
  /** The Image step: build (the first environment) or promotion copy, without the wait for the upstream. */
  readonly image: number;
  /** How long the Image step waits for the upstream environment's smoke-tested release. */
  readonly waitForUpstream: number;
  readonly infraPlan: number;
  readonly infraApplyNoChange: number;
  readonly infraApply: number;
  /** The Deploy step: the blue/green deployment until SUCCESSFUL. */
  readonly deploy: number;
  readonly smoke: number;
  /** Push to live, machine time, without and with a typical infrastructure change. */
  readonly pushToLive: number;
  readonly pushToLiveWithInfra: number;
  /** A person approves before the deployment (the time they take is not in pushToLive). */
  readonly approval: boolean;
}

/** The push-to-production path of every environment, in promotion order. */
export function pipelineRows(all: Record<EnvironmentName, EnvironmentConfig> = loadAllConfigs()): PipelineRow[] {
  const verify = Math.max(STEP_MINUTES.test, STEP_MINUTES.lint, STEP_MINUTES.sast, STEP_MINUTES.dependencyScan, STEP_MINUTES.iacCheck);
  const rows: PipelineRow[] = [];
  let upstreamDone = 0;
  for (const env of PROMOTION_ORDER.filter((e) => ENVIRONMENT_NAMES.includes(e))) {
    const c = all[env];
    const deploy = timings(c).success / 60;
    const ownPath = STEP_MINUTES.source + verify;
    // The building environment's Image stage also holds the Mutation step, in parallel.
    const image = env === 'dev' ? Math.max(STEP_MINUTES.buildImage, STEP_MINUTES.mutation) : STEP_MINUTES.promoteCopy;
    // Every environment's pipeline starts on the same push; a promoting one waits in its Image step for the upstream.
    const imageReady = Math.max(ownPath, upstreamDone) + image;
    const total = imageReady + STEP_MINUTES.infraPlan + STEP_MINUTES.infraApplyNoChange + deploy + STEP_MINUTES.smoke;
    rows.push({
      env,
      verify,
      image,
      waitForUpstream: Math.max(0, upstreamDone - ownPath),
      infraPlan: STEP_MINUTES.infraPlan,
      infraApplyNoChange: STEP_MINUTES.infraApplyNoChange,
      infraApply: STEP_MINUTES.infraApply,
      deploy,
      smoke: STEP_MINUTES.smoke,
      pushToLive: total,
      pushToLiveWithInfra: total - STEP_MINUTES.infraApplyNoChange + STEP_MINUTES.infraApply,
      approval: c.pipeline.approvalRequired,
    });
    // The next environment's promotion waits for this one's smoke test (its promotable-<env> tag is written only after
    // its production smoke test passed); taken for a release without an infrastructure change.
    upstreamDone = total;
  }
  return rows;
}

/** The table docs/pipeline.md quotes. */
export function pipelineTable(rows: readonly PipelineRow[] = pipelineRows()): string[] {
  const lines = [
    '| env | Verify (parallel, longest) | Image | waits for upstream | infra plan | approval | infra apply (none / typical) | Deploy (blue/green) | smoke | push to live (machine time, no infra change / typical) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    const approval = r.approval ? ' + approval' : '';
    lines.push(
      `| ${r.env} | ${r.verify} min | ${r.image} min | ${r.waitForUpstream.toFixed(1)} min | ${r.infraPlan} min | ${r.approval ? 'a person' : '-'} | ${r.infraApplyNoChange} / ${r.infraApply} min | ${r.deploy.toFixed(1)} min | ${r.smoke} min | ${r.pushToLive.toFixed(1)}${approval} / ${r.pushToLiveWithInfra.toFixed(1)} min${approval} |`,
    );
  }
  return lines;
}

if (require.main === module) for (const line of pipelineTable()) console.log(line);
