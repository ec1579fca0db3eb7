// Cost lines of logs, metrics, alarms, dashboards, canaries and notices (scripts/lib/report-cost.ts composes them).
import { arr, count, num, obj, Resource, round, StackContext } from './report-cost-context';

/** CloudWatch Logs: ingestion by source, vended logs, storage. */
export function logLines(ctx: StackContext): void {
  const { stack, requests, a, add, ofType } = ctx;
  const logGroups = ofType('AWS::Logs::LogGroup', stack);
  let ingested = 0;
  if (logGroups.length > 0) {
    const covers = ['AWS::Logs::LogGroup'];
    const appGb = (requests * a('appLogKbPerRequest')) / 1024 / 1024;
    ingested += appGb + a('otherLogGb');
    add({
      stack,
      service: 'CloudWatch Logs',
      item: 'Ingestion: service logs',
      quantity: appGb,
      unit: 'GB',
      priceKeys: ['logsIngestGb'],
      basis: `${a('appLogKbPerRequest')} KB x requests`,
      covers,
    });
    add({
      stack,
      service: 'CloudWatch Logs',
      item: 'Ingestion: other logs',
      quantity: a('otherLogGb'),
      unit: 'GB',
      priceKeys: ['logsIngestGb'],
      basis: 'assumed otherLogGb',
      covers,
    });
  }
  const vended = (item: string, gb: number, basis: string, types: string[]): void => {
    ingested += gb;
    add({ stack, service: 'CloudWatch Logs', item, quantity: gb, unit: 'GB', priceKeys: ['logsVendedIngestGb'], basis, covers: types });
  };
  const flowLogs = ofType('AWS::EC2::FlowLog', stack);
  if (flowLogs.length > 0)
    vended('Vended logs: VPC flow logs', a('flowLogGb'), `${count(flowLogs.length, 'flow log')}, assumed flowLogGb`, ['AWS::EC2::FlowLog']);
  if (ofType('AWS::WAFv2::LoggingConfiguration', stack).length > 0) {
    vended('Vended logs: WAF logs', (requests * a('wafLogKbPerRequest')) / 1024 / 1024, `${a('wafLogKbPerRequest')} KB x requests`, [
      'AWS::WAFv2::LoggingConfiguration',
    ]);
  }
  if (ofType('AWS::Route53Resolver::ResolverQueryLoggingConfig', stack).length > 0) {
    vended(
      'Vended logs: Resolver query logs',
      (a('dnsQueriesPerMonth') * a('dnsQueryLogKb')) / 1024 / 1024,
      `${a('dnsQueryLogKb')} KB x assumed dnsQueriesPerMonth`,
      ['AWS::Route53Resolver::ResolverQueryLoggingConfig'],
    );
  }
  if (ingested > 0) {
    const retentionDays = Math.max(0, ...logGroups.map((g) => num(g.props.RetentionInDays ?? 3653, `${g.id}.RetentionInDays`)));
    const months = Math.min(a('logStorageMonths'), retentionDays / 30);
    add({
      stack,
      service: 'CloudWatch Logs',
      item: `Storage after ${round(months, 1)} months`,
      quantity: ingested * months * a('logCompression'),
      unit: 'GB-months',
      priceKeys: ['logsStorageGbMonth'],
      basis: `${round(ingested)} GB/month x ${round(months, 1)} months x ${a('logCompression')} compression (retention ${retentionDays} days)`,
      covers: ['AWS::Logs::LogGroup'],
    });
  }
}

/** CloudWatch alarms, dashboards, custom metrics and Synthetics canaries; returns the canary runs per month. */
export function monitoringLines(ctx: StackContext): number {
  const { stack, isMain, hours, a, add, ofType, services } = ctx;
  const alarms = ofType('AWS::CloudWatch::Alarm', stack);
  if (alarms.length > 0) {
    const metricsOf = (r: Resource): number => Math.max(1, arr(r.props.Metrics).filter((m) => obj(m).MetricStat !== undefined).length);
    const highRes = (r: Resource): boolean => num(r.props.Period ?? 60, `${r.id}.Period`) < 60;
    const std = alarms.filter((r) => !highRes(r)).reduce((n, r) => n + metricsOf(r), 0);
    const hi = alarms.filter(highRes).reduce((n, r) => n + metricsOf(r), 0);
    const covers = ['AWS::CloudWatch::Alarm'];
    add({
      stack,
      service: 'CloudWatch',
      item: 'Alarms (standard resolution)',
      quantity: std,
      unit: 'alarm metric-months',
      priceKeys: ['alarmMetricMonth'],
      basis: `${count(alarms.length, 'alarm')}; a metric-math alarm counts each metric it reads`,
      covers,
    });
    if (hi > 0)
      add({
        stack,
        service: 'CloudWatch',
        item: 'Alarms (high resolution)',
        quantity: hi,
        unit: 'alarm metric-months',
        priceKeys: ['alarmHighResMetricMonth'],
        basis: 'period under 60 s',
        covers,
      });
  }
  const dashboards = ofType('AWS::CloudWatch::Dashboard', stack).length;
  if (dashboards > 0)
    add({
      stack,
      service: 'CloudWatch',
      item: 'Dashboards',
      quantity: dashboards,
      unit: 'dashboard-months',
      priceKeys: ['dashboardMonth'],
      basis: count(dashboards, 'dashboard'),
      covers: ['AWS::CloudWatch::Dashboard'],
    });
  const filters = ofType('AWS::Logs::MetricFilter', stack).length;
  if (filters > 0 || (isMain && services.length > 0)) {
    const emf = isMain && services.length > 0 ? a('emfMetrics') : 0;
    add({
      stack,
      service: 'CloudWatch',
      item: 'Custom metrics',
      quantity: filters + emf,
      unit: 'metric-months',
      priceKeys: ['customMetricMonth'],
      basis: `${count(filters, 'metric filter')} + ${emf} Embedded Metric Format metrics (assumed emfMetrics)`,
      covers: filters > 0 ? ['AWS::Logs::MetricFilter'] : [],
    });
  }
  let canaryRuns = 0;
  for (const canary of ofType('AWS::Synthetics::Canary', stack)) {
    const expression = String(obj(canary.props.Schedule).Expression);
    const runs = hours * runsPerHour(expression, `${stack}/${canary.id}`);
    canaryRuns += runs;
    add({
      stack,
      service: 'CloudWatch Synthetics',
      item: `Canary ${String(canary.props.Name)}`,
      quantity: runs,
      unit: 'canary runs',
      priceKeys: ['canaryRun'],
      basis: `${expression} x ${hours} h`,
      covers: ['AWS::Synthetics::Canary'],
    });
  }
  return canaryRuns;
}

/** SNS: publishes and email deliveries. */
export function snsLines(ctx: StackContext): void {
  const { stack, a, add, ofType } = ctx;
  const topics = ofType('AWS::SNS::Topic', stack).length;
  if (topics > 0) {
    const emails = ofType('AWS::SNS::Subscription', stack).filter((r) => r.props.Protocol === 'email').length;
    const publishes = a('snsPublishesPerMonth');
    add({
      stack,
      service: 'SNS',
      item: 'Publishes',
      quantity: publishes / 1e6,
      unit: 'million publishes',
      priceKeys: ['snsMillionPublishes'],
      basis: `${count(topics, 'topic')}, assumed snsPublishesPerMonth`,
      covers: ['AWS::SNS::Topic'],
    });
    add({
      stack,
      service: 'SNS',
      item: 'Email deliveries',
      quantity: (publishes * emails) / 1e5,
      unit: '100,000 emails',
      priceKeys: ['snsEmail100k'],
      basis: `${count(emails, 'email subscription')} x ${publishes} publishes (upper bound)`,
      covers: ['AWS::SNS::Subscription'],
    });
  }
}

/** Runs per hour of a Synthetics schedule, `rate(N minute(s)|hour(s))`. */
export function runsPerHour(expression: string, what: string): number {
  const m = /^rate\((\d+) (minute|minutes|hour|hours)\)$/.exec(expression);
  if (!m) throw new Error(`${what}: schedule ${expression} has no cost rule (rate(N minutes) or rate(N hours))`);
  const n = Number(m[1]);
  return m[2]?.startsWith('minute') ? 60 / n : 1 / n;
}
