// Cost lines of S3, its cross-region replication and AWS Backup (scripts/lib/report-cost.ts composes them).
import { AssumptionName } from './report-assumptions';
import { arr, count, NewLine, num, obj, Resource, StackContext } from './report-cost-context';

/** S3: storage and requests, replica storage in the recovery region, cross-region replication. */
export function s3Lines(ctx: StackContext): void {
  const { stack, isMain, all, a, add, ofType } = ctx;
  const buckets = ofType('AWS::S3::Bucket', stack);
  if (buckets.length > 0) {
    const covers = ['AWS::S3::Bucket'];
    const replicating = buckets.filter((b) => b.props.ReplicationConfiguration !== undefined);
    const anyReplication = all.some((b) => b.type === 'AWS::S3::Bucket' && b.props.ReplicationConfiguration !== undefined);
    if (isMain) {
      add({
        stack,
        service: 'S3',
        item: 'Storage (Standard)',
        quantity: a('s3StoredGb'),
        unit: 'GB-months',
        priceKeys: ['s3StandardGbMonth'],
        basis: `${count(buckets.length, 'bucket')}, assumed s3StoredGb`,
        covers,
      });
      add({
        stack,
        service: 'S3',
        item: 'PUT, COPY, POST, LIST requests',
        quantity: a('s3PutsPerMonth') / 1e3,
        unit: '1,000 requests',
        priceKeys: ['s3Put1k'],
        basis: 'assumed s3PutsPerMonth',
        covers,
      });
    } else {
      add({
        stack,
        service: 'S3',
        item: 'Replica storage (Standard)',
        quantity: anyReplication ? a('replicaStoredGb') : 0,
        unit: 'GB-months',
        priceKeys: ['s3StandardGbMonth'],
        basis: anyReplication
          ? `${count(buckets.length, 'bucket')}, assumed replicaStoredGb`
          : `${count(buckets.length, 'bucket')}, empty until the main stack replicates to them`,
        covers,
      });
    }
    if (replicating.length > 0) {
      const names = replicating.map((b) => b.id).join(', ');
      add({
        stack,
        service: 'S3',
        item: 'Cross-region replication data transfer',
        quantity: a('replicatedGbPerMonth'),
        unit: 'GB',
        priceKeys: ['s3ReplicationTransferGb'],
        basis: `${count(replicating.length, 'replicated bucket')} (${names}), assumed replicatedGbPerMonth`,
        covers,
      });
      const rules = replicating.flatMap((b) => arr(obj(b.props.ReplicationConfiguration).Rules).map(obj));
      const rtc = rules.filter((r) => obj(obj(r.Destination).ReplicationTime).Status === 'Enabled').length;
      if (rtc > 0) {
        add({
          stack,
          service: 'S3',
          item: 'Replication Time Control',
          quantity: (a('replicatedGbPerMonth') * rtc) / rules.length,
          unit: 'GB',
          priceKeys: ['s3ReplicationTimeControlGb'],
          basis: `${count(rtc, 'rule')} of ${rules.length} with Replication Time Control, assumed replicatedGbPerMonth`,
          covers,
        });
      }
      const metricRules = rules.filter((r) => obj(obj(r.Destination).Metrics).Status === 'Enabled').length;
      if (metricRules > 0) {
        add({
          stack,
          service: 'S3',
          item: 'Replication metrics',
          quantity: metricRules * 4,
          unit: 'metric-months',
          priceKeys: ['customMetricMonth'],
          basis: `${count(metricRules, 'rule')} x 4 metrics (bytes and operations pending, latency, failed operations), billed as custom metrics`,
          covers,
        });
      }
      add({
        stack,
        service: 'S3',
        item: 'Replication PUT requests',
        quantity: a('replicatedGbPerMonth'),
        unit: '1,000 requests',
        priceKeys: ['s3Put1k'],
        basis: 'one replication request per object; about 1,000 objects per replicated GB (assumed)',
        covers,
      });
    }
  }
}

/** AWS Backup: the plan's recovery points in the main region, the copies in the recovery vault, the copy transfer. */
export function backupLines(all: readonly Resource[], a: (name: AssumptionName) => number, mainRegion: string, add: (line: NewLine) => void): void {
  const plans = all.filter((r) => r.type === 'AWS::Backup::BackupPlan');
  const vaults = all.filter((r) => r.type === 'AWS::Backup::BackupVault');
  const storage = a('dbStorageGb');
  const change = a('dbDailyChange');
  // A recovery point is the full database once, then what changed each day it is kept (AWS Backup is incremental).
  const gbKept = (days: number): number => storage * (1 + change * days);
  let copyRules = 0;
  for (const plan of plans) {
    for (const rule of arr(obj(plan.props.BackupPlan).BackupPlanRule).map(obj)) {
      const name = String(rule.RuleName);
      const keep = num(obj(rule.Lifecycle).DeleteAfterDays ?? 35, `${plan.id}.${name}.Lifecycle.DeleteAfterDays`);
      const schedule = String(rule.ScheduleExpression ?? 'cron(0 5 * * ? *)');
      const perMonth = runsPerMonth(schedule);
      add({
        stack: plan.stack,
        service: 'AWS Backup',
        item: `Database recovery points (${name})`,
        quantity: gbKept(keep),
        unit: 'GB-months',
        priceKeys: ['backupAuroraGbMonth'],
        basis: `${storage} GB x (1 + ${change} daily change x ${keep} days kept)`,
        covers: ['AWS::Backup::BackupPlan'],
      });
      for (const copy of arr(rule.CopyActions).map(obj)) {
        copyRules += 1;
        const copyKeep = num(obj(copy.Lifecycle).DeleteAfterDays ?? keep, `${plan.id}.${name}.CopyActions.Lifecycle.DeleteAfterDays`);
        const target = vaults.find((v) => v.stack !== plan.stack) ?? vaults[0];
        const region = target?.region ?? mainRegion;
        // As many copies are kept as the schedule makes in copyKeep days; each adds backupCopyShare of the database, the
        // same assumption as the transfer below (1: every copy is a full copy), so storage and transfer agree.
        const copiesKept = Math.round((perMonth * copyKeep) / 30);
        const share = a('backupCopyShare');
        add({
          stack: target?.stack ?? plan.stack,
          region,
          service: 'AWS Backup',
          item: `Database copies in the recovery vault (${name})`,
          quantity: storage * (1 + share * Math.max(0, copiesKept - 1)),
          unit: 'GB-months',
          priceKeys: ['backupAuroraGbMonth'],
          basis: `${storage} GB x (1 + ${share} x ${Math.max(0, copiesKept - 1)} further copies of the ${copiesKept} kept ${copyKeep} days), in ${region}`,
          covers: ['AWS::Backup::BackupVault'],
        });
        add({
          stack: plan.stack,
          service: 'AWS Backup',
          item: `Cross-region copy transfer to ${region} (${name})`,
          quantity: storage * a('backupCopyShare') * perMonth,
          unit: 'GB',
          priceKeys: ['interRegionTransferGb'],
          basis: `${perMonth} copies (${schedule}) x ${storage} GB x ${a('backupCopyShare')} of the database per copy (assumed backupCopyShare)`,
          covers: ['AWS::Backup::BackupPlan'],
        });
      }
    }
  }
  if (copyRules === 0) {
    for (const vault of vaults) {
      add({
        stack: vault.stack,
        service: 'AWS Backup',
        item: `Vault ${vault.id}`,
        quantity: 0,
        unit: 'GB-months',
        priceKeys: ['backupAuroraGbMonth'],
        basis: 'no backup plan copies into it yet',
        covers: ['AWS::Backup::BackupVault'],
      });
    }
  }
}

/**
 * Runs per month of an AWS Backup schedule `cron(minutes hours day-of-month month day-of-week year)`: every day
 * (day-of-month `*`, or `?` with day-of-week `*`) or on named weekdays, at one minute of the hours given as `*`,
 * `H`, `H1,H2`, `H1-H2` or `H/step`. Anything else fails: it needs a rule here first.
 */
export function runsPerMonth(expression: string): number {
  const fail = (): never => {
    throw new Error(
      `AWS Backup schedule ${expression} has no cost rule (cron with one minute, hours as *, H, H1,H2, H1-H2 or H/step, daily or on weekdays)`,
    );
  };
  if (!expression.startsWith('cron(') || !expression.endsWith(')')) fail();
  const [minute = '', hour = '', dayOfMonth = '', month = '', dayOfWeek = ''] = expression.slice(5, -1).split(' ');
  if (!/^\d+$/.test(minute) || month !== '*') return fail();
  const isInt = (x: string): boolean => /^\d+$/.test(x);
  const range = (sep: string): [number, number] | undefined => {
    const parts = hour.split(sep);
    return parts.length === 2 && parts.every(isInt) ? [Number(parts[0]), Number(parts[1])] : undefined;
  };
  const span = range('-');
  const step = range('/');
  let perDay: number;
  if (hour === '*') perDay = 24;
  else if (hour.split(',').every(isInt)) perDay = hour.split(',').length;
  else if (span) perDay = span[1] - span[0] + 1;
  else if (step && step[1] > 0) perDay = Math.floor((23 - step[0]) / step[1]) + 1;
  else return fail();
  const daily = (dayOfMonth === '*' && dayOfWeek === '?') || (dayOfMonth === '?' && dayOfWeek === '*');
  if (daily) return perDay * 30;
  const weekdays = dayOfWeek.split(',');
  if (dayOfMonth === '?' && weekdays.every((d) => /^[A-Z]{3}$/.test(d))) return perDay * weekdays.length * 4.35;
  return fail();
}
