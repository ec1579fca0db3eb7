import { z } from 'zod';
import { KEEP_ALIVE_TIMEOUT_MS } from '../../app/src/contract';
import { databaseProblems } from './database';
import { egressProblems } from './egress';
import { cidrsOverlap, EnvironmentConfig, environmentConfigSchema, EnvironmentName, FARGATE_SIZES, parseCidr } from './schema';

/** The app's keep-alive: the ALB idle timeout must stay below it (docs/deployments.md, trap 6). */
export const APP_KEEP_ALIVE_SECONDS = KEEP_ALIVE_TIMEOUT_MS / 1000;

/** Raised for any invalid configuration; `problems` holds one line per bad value. */
export class ConfigError extends Error {
  constructor(
    public readonly source: string,
    public readonly problems: readonly string[],
  ) {
    super(`Invalid configuration in ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function show(value: unknown): string {
  if (value === undefined) return '(missing)';
  return JSON.stringify(value);
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = input;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

function formatIssue(input: unknown, issue: z.core.$ZodIssue): string {
  const field = issue.path.map(String).join('.') || '(root)';
  if (issue.code === 'unrecognized_keys') {
    return `${field === '(root)' ? '' : `${field}: `}unknown field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  }
  return `${field}: ${issue.message}, got: ${show(valueAt(input, issue.path))}`;
}

/**
 * Every environment serves HTTPS only: the API key travels in a request header, so no environment may carry it in
 * clear text. Two ways to get a certificate, each complete on its own (docs/configuration.md says when to use which):
 * an existing ACM certificate (`certificateArn` + the `domainName` it covers; the DNS record is the operator's), or one
 * the stack requests and DNS-validates in a Route 53 zone of the account (`domainName` + `hostedZoneId` +
 * `hostedZoneName`; the stack also creates the alias record).
 */
function tlsProblems(c: EnvironmentConfig): string[] {
  const p: string[] = [];
  const tls = c.tls;
  const zoneGiven = tls.hostedZoneId !== undefined || tls.hostedZoneName !== undefined;
  if (!tls.certificateArn && !tls.domainName) {
    p.push(
      `tls: ${c.envName} must serve HTTPS like every environment: set tls.certificateArn and tls.domainName, or tls.domainName, tls.hostedZoneId and tls.hostedZoneName, got: ${show(tls)}`,
    );
    return p;
  }
  if (tls.certificateArn && !tls.domainName) {
    p.push(`tls.domainName: required with certificateArn (the name the certificate covers, which clients and the smoke test call), got: (missing)`);
  }
  if (tls.certificateArn && tls.certificateArn.split(':')[4] !== c.account) {
    p.push(`tls.certificateArn: must be a certificate of this environment's account ${c.account}, got: ${show(tls.certificateArn)}`);
  }
  if (tls.certificateArn && zoneGiven) {
    p.push(
      `tls.hostedZoneId/hostedZoneName: only for a certificate the stack creates; with certificateArn the stack creates no DNS record, so leave them out (or drop certificateArn), got: ${show(tls.hostedZoneId)} / ${show(tls.hostedZoneName)}`,
    );
  }
  if (tls.domainName && !tls.certificateArn && (!tls.hostedZoneId || !tls.hostedZoneName)) {
    p.push(
      `tls.hostedZoneId/hostedZoneName: required to create and DNS-validate a certificate for ${show(tls.domainName)} when no certificateArn is given, got: ${show(tls.hostedZoneId)} / ${show(tls.hostedZoneName)}`,
    );
  }
  if (tls.domainName && tls.hostedZoneName && !`.${tls.domainName}`.endsWith(`.${tls.hostedZoneName.replace(/\.$/, '')}`)) {
    p.push(`tls.domainName: must be inside hosted zone ${show(tls.hostedZoneName)}, got: ${show(tls.domainName)}`);
  }
  return p;
}

/**
 * Everything regional names the config's own region: availability zones, the certificate (an ALB uses one from its own
 * region), the CodeConnections connection (CodePipeline uses one from its own region); and the recovery region is
 * another one, since a copy in the same region survives no regional outage.
 */
function regionProblems(c: EnvironmentConfig, show: (v: unknown) => string): string[] {
  const p: string[] = [];
  c.network.availabilityZones.forEach((az, i) => {
    if (az.slice(0, -1) !== c.region) p.push(`network.availabilityZones.${i}: must be an availability zone of ${c.region}, got: ${show(az)}`);
  });
  const certRegion = c.tls.certificateArn?.split(':')[3];
  if (certRegion !== undefined && certRegion !== c.region)
    p.push(
      `tls.certificateArn: must be in ${c.region}, where the load balancer is (an ALB can only use a certificate from its own region), got: ${show(c.tls.certificateArn)}`,
    );
  const connectionRegion = c.source.connectionArn.split(':')[3];
  if (connectionRegion !== c.region)
    p.push(`source.connectionArn: must be a connection in ${c.region}, where the pipeline is, got: ${show(c.source.connectionArn)}`);
  const snapshot = c.database.restoreFromSnapshot?.split(':');
  if (snapshot && snapshot[3] !== c.region)
    p.push(
      `database.restoreFromSnapshot: must be a snapshot in ${c.region} (a cluster restores from its own region's snapshots), got: ${show(c.database.restoreFromSnapshot)}`,
    );
  if (snapshot && snapshot[4] !== c.account)
    p.push(`database.restoreFromSnapshot: must be a snapshot of account ${c.account}, got: ${show(c.database.restoreFromSnapshot)}`);
  if (c.recovery.region === c.region)
    p.push(
      `recovery.region: must differ from the environment's region ${c.region}: a copy in the same region survives no regional outage, got: ${show(c.recovery.region)}`,
    );
  return p;
}

/** Rules that involve more than one field, or depend on the environment. Returns one line per violation. */
function crossFieldProblems(c: EnvironmentConfig): string[] {
  const p: string[] = [];
  const isProd = c.envName === 'prod';
  const s = c.service;
  const d = c.deployment;

  p.push(...tlsProblems(c));
  p.push(...regionProblems(c, show));

  const azs = c.network.availabilityZones.length;
  if (isProd && azs < 2)
    p.push(`network.availabilityZones: prod needs at least 2 availability zones, got: ${azs} (${show(c.network.availabilityZones)})`);
  if (c.network.natGateways > azs) p.push(`network.natGateways: must be <= the number of availability zones (${azs}), got: ${c.network.natGateways}`);
  if (isProd && c.network.natGateways < azs)
    p.push(`network.natGateways: prod needs one NAT gateway per availability zone (${azs}), got: ${c.network.natGateways}`);

  const memories = FARGATE_SIZES[s.cpu];
  if (!memories) p.push(`service.cpu: must be one of ${Object.keys(FARGATE_SIZES).join(', ')}, got: ${s.cpu}`);
  else if (!memories.includes(s.memoryMiB)) p.push(`service.memoryMiB: with cpu ${s.cpu} must be one of ${memories.join(', ')}, got: ${s.memoryMiB}`);

  if (isProd && s.desiredCount < 2) p.push(`service.desiredCount: must be >= 2 in prod, got: ${s.desiredCount}`);
  if (isProd && s.minCapacity < 2) p.push(`service.minCapacity: must be >= 2 in prod, got: ${s.minCapacity}`);
  if (s.minCapacity > s.maxCapacity) p.push(`service.minCapacity: must be <= maxCapacity (${s.maxCapacity}), got: ${s.minCapacity}`);
  if (s.desiredCount > s.maxCapacity) p.push(`service.desiredCount: must be <= maxCapacity (${s.maxCapacity}), got: ${s.desiredCount}`);
  if (s.desiredCount < s.minCapacity) p.push(`service.desiredCount: must be >= minCapacity (${s.minCapacity}), got: ${s.desiredCount}`);
  if (s.stopTimeoutSeconds <= s.drainDeadlineSeconds) {
    p.push(
      `service.stopTimeoutSeconds: must be above drainDeadlineSeconds (${s.drainDeadlineSeconds}) so SIGKILL never cuts a drain, got: ${s.stopTimeoutSeconds}`,
    );
  }
  if (s.deregistrationDelaySeconds < s.drainDeadlineSeconds) {
    p.push(
      `service.deregistrationDelaySeconds: must be >= drainDeadlineSeconds (${s.drainDeadlineSeconds}) to cover the longest in-flight request, got: ${s.deregistrationDelaySeconds}`,
    );
  }
  if (c.loadBalancer.idleTimeoutSeconds >= APP_KEEP_ALIVE_SECONDS) {
    p.push(
      `loadBalancer.idleTimeoutSeconds: must be below the app's keep-alive (${APP_KEEP_ALIVE_SECONDS} s) or the ALB sees 502s, got: ${c.loadBalancer.idleTimeoutSeconds}`,
    );
  }
  if (isProd && !c.loadBalancer.deletionProtection) p.push('loadBalancer.deletionProtection: must be true in prod, got: false');

  const alarmWindow = d.alarmPeriodSeconds * d.alarmEvaluationPeriods;
  const bake = d.bakeTimeMinutes * 60;
  if (alarmWindow > bake) {
    p.push(
      `deployment.bakeTimeMinutes: must be at least the alarm window (${alarmWindow} s = alarmPeriodSeconds x alarmEvaluationPeriods) so an alarm can fire before the old revision is gone, got: ${d.bakeTimeMinutes} min`,
    );
  }
  if (d.strategy === 'BLUE_GREEN' && (d.stepPercent !== undefined || d.stepBakeTimeMinutes !== undefined)) {
    p.push(
      `deployment.stepPercent/stepBakeTimeMinutes: only for CANARY or LINEAR, got strategy ${show(d.strategy)} with ${show(d.stepPercent)} / ${show(d.stepBakeTimeMinutes)}`,
    );
  }
  if (d.strategy !== 'BLUE_GREEN' && (d.stepPercent === undefined || d.stepBakeTimeMinutes === undefined)) {
    p.push(`deployment.stepPercent/stepBakeTimeMinutes: required for ${d.strategy}, got: ${show(d.stepPercent)} / ${show(d.stepBakeTimeMinutes)}`);
  }
  if (d.strategy === 'LINEAR' && d.stepPercent !== undefined && d.stepPercent < 3)
    p.push(`deployment.stepPercent: LINEAR needs 3-100, got: ${d.stepPercent}`);
  if (d.stepBakeTimeMinutes !== undefined && alarmWindow > d.stepBakeTimeMinutes * 60) {
    p.push(`deployment.stepBakeTimeMinutes: must be at least the alarm window (${alarmWindow} s), got: ${d.stepBakeTimeMinutes} min`);
  }
  if ([80, 443].includes(d.testListenerPort))
    p.push(`deployment.testListenerPort: must differ from the production ports 80 and 443, got: ${d.testListenerPort}`);
  if (d.testListenerPort === s.containerPort)
    p.push(`deployment.testListenerPort: must differ from service.containerPort, got: ${d.testListenerPort}`);
  d.testListenerAllowedCidrs.forEach((cidr, i) => {
    if ((parseCidr(cidr)?.prefix ?? 0) < 16) {
      p.push(
        `deployment.testListenerAllowedCidrs.${i}: the test listener must not be reachable from the internet, use a /16 or narrower, got: ${show(cidr)}`,
      );
    }
  });

  if (isProd && c.alarms.emails.length === 0) p.push('alarms.emails: prod needs at least one alarm recipient, got: []');
  if (isProd && c.alarms.pageEmails.length === 0) p.push('alarms.pageEmails: prod needs at least one on-call to page, got: []');
  const m = c.monitoring;
  if (isProd && !m.pageOnRollback) p.push('monitoring.pageOnRollback: a rollback in prod must page, got: false');
  if (isProd && m.canaryRateMinutes > 5)
    p.push(`monitoring.canaryRateMinutes: prod checks its public URL at least every 5 minutes, got: ${m.canaryRateMinutes}`);
  for (const what of ['logs', 'artifacts', 'keys'] as const) {
    if (isProd && c.removal[what] !== 'retain')
      p.push(`removal.${what}: prod must retain ${what} on stack deletion (PCI DSS 10.7), got: ${show(c.removal[what])}`);
  }
  if (isProd && !c.pipeline.approvalRequired) p.push('pipeline.approvalRequired: prod deploys need a manual approval, got: false');
  const r = c.recovery;
  if (isProd && r.copyRetentionDays < 35)
    p.push(`recovery.copyRetentionDays: prod keeps its second-region copies at least 35 days, got: ${r.copyRetentionDays}`);
  if (isProd && r.backupEveryHours > 12)
    p.push(`recovery.backupEveryHours: prod copies the database to the second region at least twice a day, got: ${r.backupEveryHours}`);
  p.push(...databaseProblems(c, show));
  p.push(...egressProblems(c, show));
  return p;
}

/**
 * Validates one environment's raw configuration.
 * @param raw the parsed JSON
 * @param expected the environment the file is for (its envName must match)
 * @param source where the value came from, for the error message
 * @throws ConfigError naming every bad field and its value
 */
export function validateEnvironmentConfig(raw: unknown, expected: EnvironmentName, source: string): EnvironmentConfig {
  const parsed = environmentConfigSchema.safeParse(raw);
  if (!parsed.success)
    throw new ConfigError(
      source,
      parsed.error.issues.map((i) => formatIssue(raw, i)),
    );
  const problems = crossFieldProblems(parsed.data);
  if (parsed.data.envName !== expected) problems.unshift(`envName: must be ${show(expected)} in this file, got: ${show(parsed.data.envName)}`);
  if (problems.length > 0) throw new ConfigError(source, problems);
  return parsed.data;
}

/** Rules across environments: VPC CIDRs must not overlap, so the networks can be peered or joined to a transit gateway. */
export function validateAcrossEnvironments(configs: readonly EnvironmentConfig[]): void {
  const problems: string[] = [];
  configs.forEach((a, i) =>
    configs.slice(i + 1).forEach((b) => {
      if (cidrsOverlap(a.network.cidr, b.network.cidr)) {
        problems.push(
          `network.cidr: ${a.envName} (${a.network.cidr}) overlaps ${b.envName} (${b.network.cidr}); each environment needs its own range`,
        );
      }
    }),
  );
  if (problems.length > 0) throw new ConfigError('config/*.json', problems);
}
