// The release timings of scripts/deployment-timings.ts and scripts/pipeline-timings.ts, for the report: the same
// functions those scripts print from, with no second copy of their arithmetic.
import { EnvironmentConfig, EnvironmentName } from '../../lib/config';
import { ASSUMED, timings } from '../deployment-timings';
import { PipelineRow, pipelineRows, STEP_MINUTES } from '../pipeline-timings';

export type { PipelineRow };

/** What scripts/pipeline-timings.ts computes: the stated step durations and each environment's row. */
export interface PipelineTimings {
  readonly stepMinutes: Readonly<Record<string, number>>;
  readonly rows: Readonly<Partial<Record<EnvironmentName, PipelineRow>>>;
}

/** The push-to-production rows of scripts/pipeline-timings.ts (the numbers `npx tsx scripts/pipeline-timings.ts` prints). */
export async function pipelineTimings(): Promise<PipelineTimings> {
  return { stepMinutes: STEP_MINUTES, rows: Object.fromEntries(pipelineRows().map((r) => [r.env, r])) };
}

/** scripts/deployment-timings.ts for one environment (seconds), and the assumptions it adds. */
export function deploymentTimings(config: EnvironmentConfig): ReturnType<typeof timings> {
  return timings(config);
}

export { ASSUMED as DEPLOYMENT_ASSUMED };
