import { EnvironmentConfig } from '../config';
import { dependencyScanStep, iacCheckStep, lintStep, PipelineStep, staticAnalysisStep, testStep } from './steps';

/**
 * The Verify stage's steps for an environment, all in parallel: the service's tests once per configured Node version,
 * lint and type check, static analysis, dependency scan, IaC check. `scripts/run-step.ts --local` runs the same list.
 */
export function verifySteps(config: EnvironmentConfig): PipelineStep[] {
  return [
    ...config.pipeline.nodeVersions.map((v) => testStep(v, config.pipeline.coverageThresholdPercent)),
    lintStep(),
    staticAnalysisStep(),
    dependencyScanStep(),
    iacCheckStep(),
  ];
}
