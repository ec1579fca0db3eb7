// Prints, per environment, how long a blue/green release takes and how fast a bad one is detected and rolled back,
// computed from config/<env>.json (docs/deployments.md quotes this table). Assumptions are named in ASSUMED.
import { ENVIRONMENT_NAMES, EnvironmentConfig, loadAllConfigs } from '../lib/config';

/** Seconds, measured or documented outside this repo; each is a stated assumption, not a config value. */
export const ASSUMED = {
  taskStart: 60, // image pull of a ~120 MB image from ECR through the VPC endpoint, plus node start
  healthChecks: 2 * 10, // healthy threshold 2 x interval 10 s (lib/service/load-balancer.ts)
  smokeTest: 10, // four HTTP calls through the test listener; the hook times out at 60 s
  metricDelay: 60, // ALB metrics reach CloudWatch about a minute late
  listenerShift: 15, // ECS rewrites the listener rule weights
};

export function timings(c: EnvironmentConfig) {
  const d = c.deployment;
  const alarmWindow = d.alarmPeriodSeconds * d.alarmEvaluationPeriods;
  const shiftSteps = d.strategy === 'BLUE_GREEN' ? 0 : Math.ceil(100 / (d.stepPercent ?? 100)) - 1;
  const stepBake = d.strategy === 'CANARY' ? (d.stepBakeTimeMinutes ?? 0) * 60 : shiftSteps * (d.stepBakeTimeMinutes ?? 0) * 60;
  const toTestTraffic = ASSUMED.taskStart + ASSUMED.healthChecks + ASSUMED.listenerShift;
  return {
    env: c.envName,
    strategy: d.strategy,
    // A release that fails the smoke test never sees a customer: ECS rolls back at POST_TEST_TRAFFIC_SHIFT.
    smokeDetect: toTestTraffic + ASSUMED.smokeTest,
    // A release that passes the smoke test but misbehaves under real traffic trips an alarm within this.
    alarmDetect: alarmWindow + ASSUMED.metricDelay,
    // Blue keeps running through the bake time, so a rollback is one listener shift back.
    rollback: ASSUMED.listenerShift,
    success: toTestTraffic + ASSUMED.smokeTest + ASSUMED.listenerShift + stepBake + d.bakeTimeMinutes * 60 + c.service.deregistrationDelaySeconds,
    timeout: d.deployTimeoutMinutes * 60,
  };
}

const m = (s: number) => `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
if (require.main === module) {
  const all = loadAllConfigs();
  console.log('| env | strategy | bad release caught by smoke test | caught by alarms | rollback | good release done | deploy step timeout |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const env of ENVIRONMENT_NAMES) {
    const t = timings(all[env]);
    console.log(`| ${t.env} | ${t.strategy} | ${m(t.smokeDetect)} | ${m(t.alarmDetect)} | ${m(t.rollback)} | ${m(t.success)} | ${m(t.timeout)} |`);
  }
}
