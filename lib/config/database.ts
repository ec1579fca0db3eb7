import { z } from 'zod';
import type { EnvironmentConfig } from './schema';

/**
 * Default `max_connections` of an Aurora PostgreSQL Serverless v2 instance by its maximum capacity, from AWS's table
 * (docs/aws-contracts.md, "Database"). Aurora derives it from the memory of the maximum ACU, not the current one, and
 * the value is the same in every instance of the cluster (each has the cluster's capacity range).
 */
export const PG_MAX_CONNECTIONS_BY_MAX_ACU: readonly { readonly maxAcu: number; readonly maxConnections: number }[] = [
  { maxAcu: 1, maxConnections: 189 },
  { maxAcu: 4, maxConnections: 823 },
  { maxAcu: 8, maxConnections: 1669 },
  { maxAcu: 16, maxConnections: 3360 },
  { maxAcu: 32, maxConnections: 5000 },
];

/** With a minimum capacity of 0 or 0.5 ACU, Aurora PostgreSQL caps `max_connections` at 2,000. */
export const LOW_MINIMUM_MAX_CONNECTIONS_CAP = 2000;

/**
 * The connection limit this design counts on: the table's value for the largest listed maximum ACU at or below the
 * configured one (between two rows the smaller, so the estimate never exceeds what Aurora sets), capped at 2,000 when
 * the minimum is below 1 ACU.
 */
export function serverlessV2MaxConnections(minAcu: number, maxAcu: number): number {
  const row = [...PG_MAX_CONNECTIONS_BY_MAX_ACU].reverse().find((r) => r.maxAcu <= maxAcu);
  const fromTable = row?.maxConnections ?? 0;
  return minAcu < 1 ? Math.min(fromTable, LOW_MINIMUM_MAX_CONNECTIONS_CAP) : fromTable;
}

/** Connections beside the service's pools that must always find a free slot. */
export const CONNECTION_HEADROOM = {
  /** The migration task's session, plus a second run waiting on the advisory lock (a retried pipeline stage). */
  migration: 2,
  /**
   * The two rotation functions (master, app user), each holding one connection at a time, doubled for a retry that
   * overlaps a run that timed out.
   */
  rotation: 4,
  /** PostgreSQL's `superuser_reserved_connections` (default 3): slots no role of ours can use. */
  superuserReserved: 3,
} as const;

/** How many connections a deployment can open at its peak, and the limit they must stay below. */
export interface ConnectionBudget {
  /** service.maxCapacity x 2 (blue and green both run during a deployment) x database.poolMaxPerTask. */
  readonly servicePools: number;
  readonly headroom: number;
  readonly total: number;
  readonly maxConnections: number;
}

export function connectionBudgetOf(c: Pick<EnvironmentConfig, 'service' | 'database'>): ConnectionBudget {
  const servicePools = c.service.maxCapacity * 2 * c.database.poolMaxPerTask;
  const headroom = Object.values(CONNECTION_HEADROOM).reduce((a, b) => a + b, 0);
  return {
    servicePools,
    headroom,
    total: servicePools + headroom,
    maxConnections: serverlessV2MaxConnections(c.database.minCapacityAcu, c.database.maxCapacityAcu),
  };
}

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const BACKUP_WINDOW = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$/;
const MAINTENANCE_WINDOW = /^(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):([0-5]\d)-(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):([0-5]\d)$/;
const MINUTES_PER_DAY = 24 * 60;
const MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY;

/** Minutes since Monday 00:00 UTC of each minute of a daily `hh:mm-hh:mm` window, on every day of the week. */
function backupMinutes(window: string): number[] {
  const [, h1, m1, h2, m2] = BACKUP_WINDOW.exec(window)!.map(Number);
  const start = h1! * 60 + m1!;
  const length = (h2! * 60 + m2! - start + MINUTES_PER_DAY) % MINUTES_PER_DAY;
  return DAYS.flatMap((_, day) => Array.from({ length }, (_x, i) => (day * MINUTES_PER_DAY + start + i) % MINUTES_PER_WEEK));
}

/** Minutes since Monday 00:00 UTC of each minute of a weekly `ddd:hh:mm-ddd:hh:mm` window. */
function maintenanceMinutes(window: string): number[] {
  const m = MAINTENANCE_WINDOW.exec(window)!;
  const at = (day: string, h: string, min: string) => DAYS.indexOf(day as (typeof DAYS)[number]) * MINUTES_PER_DAY + Number(h) * 60 + Number(min);
  const start = at(m[1]!, m[2]!, m[3]!);
  const length = (at(m[4]!, m[5]!, m[6]!) - start + MINUTES_PER_WEEK) % MINUTES_PER_WEEK;
  return Array.from({ length }, (_, i) => (start + i) % MINUTES_PER_WEEK);
}

const acu = z
  .number()
  .min(0)
  .max(256, 'must be <= 256 (the Aurora Serverless v2 maximum)')
  .refine((v) => Number.isInteger(v * 2), 'must be a multiple of 0.5 ACU');

/** The `database` section of config/<env>.json (docs/configuration.md, "Database"). */
export const databaseConfigSchema = z
  .object({
    /** Aurora Serverless v2 capacity range per instance; 0 lets an idle instance pause (dev). */
    minCapacityAcu: acu,
    maxCapacityAcu: acu.refine((v) => v >= 1, 'must be >= 1 ACU'),
    /** Reader instances beside the writer, in other zones: failover targets that scale with the writer. */
    readers: z.number().int().min(0).max(15, 'must be <= 15 (Aurora replicas per cluster)'),
    backupRetentionDays: z.number().int().min(1).max(35, 'must be 1-35 (Aurora automated backups)'),
    /** Daily backup window, UTC `hh:mm-hh:mm`, at least 30 minutes. */
    backupWindow: z.string().regex(BACKUP_WINDOW, 'must be a UTC window like 03:00-03:30'),
    /** Weekly maintenance window, UTC `ddd:hh:mm-ddd:hh:mm`, at least 30 minutes, outside the backup window. */
    maintenanceWindow: z.string().regex(MAINTENANCE_WINDOW, 'must be a UTC window like sun:04:00-sun:04:30 (days mon..sun)'),
    deletionProtection: z.boolean(),
    /** What stack deletion or replacement does with the cluster: a final snapshot, or keep it running. */
    removal: z.enum(['snapshot', 'retain']),
    /** Days between automatic rotations of the master and the app user's passwords. */
    rotationDays: z.number().int().min(1).max(90, 'must be <= 90 (PCI DSS 8.2.4: passwords change at least every 90 days)'),
    /** Connections each service task may open (DATABASE_POOL_MAX). */
    poolMaxPerTask: z.number().int().min(1).max(100),
    /**
     * Builds the cluster from this snapshot instead of an empty database: an environment rebuilt in the recovery region
     * from the copy AWS Backup made there (docs/runbooks/disaster-recovery.md). Once set it stays: CloudFormation
     * replaces a cluster whose snapshot changes or goes away.
     */
    restoreFromSnapshot: z
      .string()
      .regex(
        /^arn:aws:rds:[a-z0-9-]+:\d{12}:cluster-snapshot:[A-Za-z0-9:_-]{1,255}$/,
        'must be an Aurora cluster snapshot ARN: arn:aws:rds:<region>:<account>:cluster-snapshot:<name>',
      )
      .optional(),
  })
  .strict();

/** Rules of the `database` section that involve more than one field or the environment. */
export function databaseProblems(c: EnvironmentConfig, show: (v: unknown) => string): string[] {
  const p: string[] = [];
  const d = c.database;
  const isProd = c.envName === 'prod';
  if (d.minCapacityAcu > d.maxCapacityAcu)
    p.push(`database.minCapacityAcu: must be <= maxCapacityAcu (${d.maxCapacityAcu}), got: ${d.minCapacityAcu}`);
  if (isProd && d.minCapacityAcu === 0) {
    p.push('database.minCapacityAcu: prod must not pause (0 ACU): the first request after a pause waits about 15 s for the resume, got: 0');
  }
  if (isProd && d.readers < 1) p.push(`database.readers: prod needs at least 1 reader to fail over to, got: ${d.readers}`);
  if (isProd && !d.deletionProtection) p.push('database.deletionProtection: must be true in prod, got: false');
  if (isProd && d.removal !== 'retain') p.push(`database.removal: prod must retain the cluster on stack deletion, got: ${show(d.removal)}`);
  if (isProd && d.backupRetentionDays < 7)
    p.push(`database.backupRetentionDays: prod keeps at least 7 days of backups, got: ${d.backupRetentionDays}`);

  const backup = backupMinutes(d.backupWindow);
  const maintenance = maintenanceMinutes(d.maintenanceWindow);
  if (backup.length / 7 < 30) p.push(`database.backupWindow: must last at least 30 minutes, got: ${show(d.backupWindow)}`);
  if (maintenance.length < 30) p.push(`database.maintenanceWindow: must last at least 30 minutes, got: ${show(d.maintenanceWindow)}`);
  const inMaintenance = new Set(maintenance);
  if (backup.some((minute) => inMaintenance.has(minute))) {
    p.push(`database.maintenanceWindow: must not overlap the daily backup window ${show(d.backupWindow)}, got: ${show(d.maintenanceWindow)}`);
  }

  const budget = connectionBudgetOf(c);
  if (budget.total >= budget.maxConnections) {
    p.push(
      `database.poolMaxPerTask: service.maxCapacity (${c.service.maxCapacity}) x 2 (blue and green during a deployment) x poolMaxPerTask + ${budget.headroom} (migration, rotation, reserved) = ${budget.total} must stay below the ${budget.maxConnections} connections Aurora allows with ${d.minCapacityAcu}-${d.maxCapacityAcu} ACU; lower poolMaxPerTask or raise maxCapacityAcu, got: ${d.poolMaxPerTask}`,
    );
  }
  return p;
}
