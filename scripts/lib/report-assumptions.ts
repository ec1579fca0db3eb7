// Every usage figure the cost estimate assumes, in one place: what the templates and config cannot say (traffic, data
// volumes, how often the team pushes). The report prints this table beside the figures it produced.
import { EnvironmentName } from '../../lib/config';

/** One assumed usage figure, per environment. */
export interface Assumption {
  readonly value: Readonly<Record<EnvironmentName, number>>;
  readonly unit: string;
  /** Where the figure comes from, or what it stands for. */
  readonly why: string;
}

const each = (v: number): Record<EnvironmentName, number> => ({ dev: v, staging: v, prod: v });

export const ASSUMPTIONS = {
  hoursPerMonth: { value: each(730), unit: 'hours', why: 'AWS pricing convention (8,760 hours / 12)' },
  pushesPerWorkday: { value: each(5), unit: 'pushes', why: 'pushes to the tracked branch; every environment’s pipeline runs on each push' },
  workdaysPerMonth: { value: each(21), unit: 'days', why: 'a working month' },
  requestsPerMonth: {
    value: { dev: 500_000, staging: 2_000_000, prod: 20_000_000 },
    unit: 'requests',
    why: 'API requests through the ALB and WAF (canary and smoke tests included)',
  },
  responseKb: { value: each(2), unit: 'KB', why: 'average response plus headers sent to the internet' },
  albAverageLcu: {
    value: { dev: 0.05, staging: 0.1, prod: 1 },
    unit: 'LCU',
    why: 'average load balancer capacity units over the month (new connections, active connections, bytes, rule evaluations)',
  },
  natGbPerPush: {
    value: each(3),
    unit: 'GB',
    why: 'downloads through the NAT gateways per pipeline run: npm packages of each CodeBuild step, the Trivy database, pinned tools',
  },
  natGbBase: { value: { dev: 5, staging: 5, prod: 10 }, unit: 'GB', why: 'other egress through the NAT gateways per month (tasks, Lambda)' },
  endpointGb: {
    value: { dev: 5, staging: 10, prod: 30 },
    unit: 'GB',
    why: 'data through the interface endpoints per month (ECR manifests, logs, Secrets Manager, KMS, STS, SSM, ECS); image layers use the free S3 gateway endpoint',
  },
  appLogKbPerRequest: { value: each(1), unit: 'KB', why: 'the service’s request line plus its share of other log lines' },
  wafLogKbPerRequest: { value: each(1.5), unit: 'KB', why: 'one WAF log record per request' },
  flowLogGb: { value: { dev: 3, staging: 5, prod: 15 }, unit: 'GB', why: 'VPC flow log records per month' },
  dnsQueriesPerMonth: {
    value: { dev: 2_000_000, staging: 3_000_000, prod: 10_000_000 },
    unit: 'queries',
    why: 'DNS queries from the VPC through the Resolver (DNS Firewall processes each; the query log records each)',
  },
  dnsQueryLogKb: { value: each(0.4), unit: 'KB', why: 'one Resolver query log record' },
  otherLogGb: {
    value: { dev: 2, staging: 2, prod: 4 },
    unit: 'GB',
    why: 'CloudTrail to CloudWatch Logs, build logs, PostgreSQL log, Lambda and rotation logs per month',
  },
  logCompression: { value: each(0.2), unit: 'ratio', why: 'archived (compressed) size over ingested size in CloudWatch Logs' },
  logStorageMonths: {
    value: each(12),
    unit: 'months',
    why: 'log storage is shown after this many months of ingestion (or the retention, if shorter); it keeps growing until the retention is reached',
  },
  emfMetrics: {
    value: each(20),
    unit: 'metrics',
    why: 'custom metric series the service writes in Embedded Metric Format (names x dimension values)',
  },
  dbAverageAcu: {
    value: { dev: 0.5, staging: 1, prod: 2 },
    unit: 'ACU',
    why: 'average capacity of each database instance over the month (never below the configured minimum); readers in promotion tier 0-1 follow the writer',
  },
  dbStorageGb: { value: { dev: 1, staging: 5, prod: 20 }, unit: 'GB', why: 'payments and idempotency keys stored' },
  dbIoMillions: { value: { dev: 1, staging: 5, prod: 50 }, unit: 'million I/O', why: 'storage I/O requests per month (Aurora Standard)' },
  dbDailyChange: {
    value: each(0.05),
    unit: 'ratio',
    why: 'share of the database that changes per day: sizes backups beyond the free 100 % and incremental backup copies',
  },
  kmsRequestsPerMonth: {
    value: { dev: 200_000, staging: 300_000, prod: 1_000_000 },
    unit: 'requests',
    why: 'KMS requests (S3, logs, Secrets Manager, SNS, database, pipeline artifacts)',
  },
  secretsCallsBase: {
    value: each(5_000),
    unit: 'API calls',
    why: 'secret reads per month besides the canary’s (task starts, rotation, deploy steps)',
  },
  snsPublishesPerMonth: { value: { dev: 500, staging: 500, prod: 1_000 }, unit: 'publishes', why: 'alarm and deployment notices' },
  trailDataEventsPerMonth: {
    value: { dev: 100_000, staging: 150_000, prod: 300_000 },
    unit: 'events',
    why: 'S3 object events on the audited buckets (pipeline artifacts, trail files)',
  },
  s3StoredGb: {
    value: { dev: 20, staging: 30, prod: 100 },
    unit: 'GB',
    why: 'objects in the environment’s buckets: pipeline artifacts, trail files, access logs, canary artifacts',
  },
  s3PutsPerMonth: { value: { dev: 100_000, staging: 150_000, prod: 300_000 }, unit: 'requests', why: 'PUT/COPY/POST/LIST requests' },
  replicatedGbPerMonth: {
    value: { dev: 2, staging: 4, prod: 15 },
    unit: 'GB',
    why: 'new objects per month in the buckets replicated to the recovery region (trail files, access logs)',
  },
  replicaStoredGb: {
    value: { dev: 10, staging: 20, prod: 80 },
    unit: 'GB',
    why: 'objects held in the recovery region’s replica buckets (grows with the retention)',
  },
  backupCopyShare: {
    value: each(1),
    unit: 'ratio',
    why: 'share of the database each cross-region backup copy transfers: 1 models every Aurora snapshot copy as a full copy (no incremental copy across Regions)',
  },
  imageGb: { value: each(0.12), unit: 'GB', why: 'one service image (compressed, as ECR stores it)' },
  imagesKept: { value: each(40), unit: 'images', why: 'images in the repository under its lifecycle rules, plus the pull-through cache' },
  smokeHookSeconds: { value: each(10), unit: 's', why: 'one run of the smoke-test hook Lambda (tools/smoke)' },
  migrationTaskMinutes: { value: each(2), unit: 'min', why: 'the one-off migration task the Deploy step runs before each deployment' },
} as const satisfies Record<string, Assumption>;

export type AssumptionName = keyof typeof ASSUMPTIONS;

/** The value of an assumption for one environment. */
export function assumed(name: AssumptionName, env: EnvironmentName): number {
  return ASSUMPTIONS[name].value[env];
}
