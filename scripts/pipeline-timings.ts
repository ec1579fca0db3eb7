// Estimates push-to-production time per environment from the configured values and stated step durations, and
// prints the critical path (docs/pipeline.md quotes it). Durations that are not config are named in STEP_MINUTES.
import { ENVIRONMENT_NAMES, loadAllConfigs, PROMOTION_ORDER } from '../lib/config';
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
  promoteCopy: 3, // crane copy, verify, re-scan
  smoke: 1.5,
  infraPlan: 4, // npm ci, synth of one environment, cdk-assets publish, change set created and reviewed
  infraApplyNoChange: 1.5, // npm ci, then nothing to execute
  infraApply: 6, // npm ci, then a typical update (alarms, WAF, IAM); a database or task definition change takes longer
};

const all = loadAllConfigs();
const verify = Math.max(STEP_MINUTES.test, STEP_MINUTES.lint, STEP_MINUTES.sast, STEP_MINUTES.dependencyScan, STEP_MINUTES.iacCheck);
let upstreamDone = 0;
console.log(
  '| env | Verify (parallel, longest) | Image | waits for upstream | infra plan | approval | infra apply (none / typical) | Deploy (blue/green) | smoke | push to live (machine time, no infra change / typical) |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const env of PROMOTION_ORDER.filter((e) => ENVIRONMENT_NAMES.includes(e))) {
  const c = all[env];
  const deploy = timings(c).success / 60;
  const ownPath = STEP_MINUTES.source + verify;
  const image = env === 'dev' ? STEP_MINUTES.buildImage : STEP_MINUTES.promoteCopy;
  // Every environment's pipeline starts on the same push; a promoting one waits in its Image step for the upstream.
  const imageReady = Math.max(ownPath, upstreamDone) + image;
  const total = imageReady + STEP_MINUTES.infraPlan + STEP_MINUTES.infraApplyNoChange + deploy + STEP_MINUTES.smoke;
  const withInfra = total - STEP_MINUTES.infraApplyNoChange + STEP_MINUTES.infraApply;
  const wait = Math.max(0, upstreamDone - ownPath);
  const approval = c.pipeline.approvalRequired ? ' + approval' : '';
  console.log(
    `| ${env} | ${verify} min | ${image} min | ${wait.toFixed(1)} min | ${STEP_MINUTES.infraPlan} min | ${c.pipeline.approvalRequired ? 'a person' : '-'} | ${STEP_MINUTES.infraApplyNoChange} / ${STEP_MINUTES.infraApply} min | ${deploy.toFixed(1)} min | ${STEP_MINUTES.smoke} min | ${total.toFixed(1)}${approval} / ${withInfra.toFixed(1)} min${approval} |`,
  );
  // The next environment's promotion waits for this one's smoke test; taken for a release without an infrastructure change.
  upstreamDone = total; // the upstream's promotable-<env> tag is written only after its production smoke test passed
}
