// The environment report (scripts/report.ts): the dated price table, a cost line for every billable resource type,
// totals that are the sums of their lines, values that follow config, and docs/environment-report.md up to date.
import * as fs from 'fs';
import { ENVIRONMENT_NAMES, EnvironmentName, loadAllConfigs } from '../lib/config';
import { ASSUMPTIONS } from '../scripts/lib/report-assumptions';
import { CostLine, costLines, FREE_TYPES, resourcesOf, runsPerHour, runsPerMonth, uncoveredTypes } from '../scripts/lib/report-cost';
import { loadPrices, priceOf, PriceTable, priceTableProblems } from '../scripts/lib/report-prices';
import { deploymentTimings, pipelineTimings, PipelineTimings } from '../scripts/lib/report-timings';
import { buildReport, EnvironmentReport, formatMarkdown, renderReport, REPORT_DOC } from '../scripts/lib/report';
import { CfnTemplate, Synthesized, synthesize } from '../scripts/lib/synthesized';

const configs = loadAllConfigs();
const synthOf: Partial<Record<EnvironmentName, Synthesized>> = {};
const reportOf: Partial<Record<EnvironmentName, EnvironmentReport>> = {};
const must = <T>(value: T | undefined, env: EnvironmentName): T => {
  if (value === undefined) throw new Error(`${env}: not built in beforeAll`);
  return value;
};
const synth = (env: EnvironmentName): Synthesized => must(synthOf[env], env);
const report = (env: EnvironmentName): EnvironmentReport => must(reportOf[env], env);
let prices: PriceTable;
let pipeline: PipelineTimings;

beforeAll(async () => {
  prices = loadPrices();
  pipeline = await pipelineTimings();
  // Synthesis takes seconds per environment: once per environment for the whole file.
  for (const env of ENVIRONMENT_NAMES) {
    const synthesized = synthesize(env);
    synthOf[env] = synthesized;
    reportOf[env] = await buildReport(env, { synthesized, prices, pipeline });
  }
}, 240_000);

const mainStackOf = (s: Synthesized): string => Object.keys(s.templates)[0] ?? '';

/** A copy of a synth whose main template has `change` applied to its resources. */
function withMainResources(s: Synthesized, change: (resources: Record<string, CfnTemplate['Resources'][string]>) => void): Synthesized {
  const main = mainStackOf(s);
  const template = s.templates[main] as CfnTemplate;
  const resources = JSON.parse(JSON.stringify(template.Resources)) as Record<string, CfnTemplate['Resources'][string]>;
  change(resources);
  return { ...s, templates: { ...s.templates, [main]: { ...template, Resources: resources } } };
}

const linesOf = (s: Synthesized, env: EnvironmentName): CostLine[] =>
  costLines({ config: configs[env], synthesized: s, prices, pipeline, deployment: deploymentTimings(configs[env]) });

const find = (lines: readonly CostLine[], service: string, item: RegExp): CostLine => {
  const found = lines.filter((l) => l.service === service && item.test(l.item));
  expect(found).toHaveLength(1);
  return found[0] as CostLine;
};

describe('GIVEN the price table pricing/aws-prices.json', () => {
  test('THEN it is dated (an ISO date, not in the future) and every price has a unit and an AWS pricing page', () => {
    expect(prices.asOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(new Date(`${prices.asOf}T00:00:00Z`).getTime()).toBeLessThanOrEqual(Date.now());
    expect(priceTableProblems(prices)).toEqual([]);
    for (const region of Object.values(prices.regions)) {
      for (const p of Object.values(region)) {
        expect(p.unit.trim()).not.toBe('');
        expect(p.source).toMatch(/^https:\/\/aws\.amazon\.com\/[a-z0-9/-]+\/$/);
      }
    }
  });

  test('WHEN a table is undated, dated in the future, or a price lacks its unit or source THEN each problem is named', () => {
    const bad: PriceTable = {
      ...prices,
      asOf: '2999-01-01',
      regions: { 'us-east-1': { natGatewayHour: { price: 0.045, unit: '', source: 'https://example.com/' } } },
    };
    expect(priceTableProblems(bad)).toEqual([
      'asOf: must not be in the future, got: 2999-01-01',
      'us-east-1.natGatewayHour.unit: must not be empty',
      'us-east-1.natGatewayHour.source: must be an AWS pricing page (https://aws.amazon.com/...), got: https://example.com/',
    ]);
    expect(priceTableProblems({ ...prices, asOf: '1 June 2025' })).toEqual(['asOf: must be an ISO date (YYYY-MM-DD), got: 1 June 2025']);
  });

  test('THEN every price a line uses exists in the region of its line', () => {
    for (const env of ENVIRONMENT_NAMES) {
      for (const l of report(env).lines) for (const key of l.priceKeys) expect(() => priceOf(prices, l.region, key)).not.toThrow();
    }
  });
});

describe.each(ENVIRONMENT_NAMES)('GIVEN the synthesized %s environment', (env) => {
  test('THEN every resource type is priced by a line or listed as free with a reason, and never both', () => {
    const r = report(env);
    expect(uncoveredTypes(synth(env), r.lines)).toEqual([]);
    const covered = new Set(r.lines.flatMap((l) => l.covers));
    for (const type of covered) expect(FREE_TYPES[type]).toBeUndefined();
    for (const reason of Object.values(FREE_TYPES)) expect(reason.trim()).not.toBe('');
  });

  test('WHEN a template gains a resource type the model does not know THEN it is reported as a gap', () => {
    const modified = withMainResources(synth(env), (resources) => {
      resources.NewGateway = { Type: 'AWS::EC2::TransitGateway', Properties: {} };
    });
    expect(uncoveredTypes(modified, linesOf(modified, env))).toEqual(['AWS::EC2::TransitGateway']);
  });

  test('WHEN the only line of a billable type disappears THEN that type is a gap too', () => {
    const r = report(env);
    const withoutWaf = r.lines.filter((l) => !l.covers.includes('AWS::WAFv2::WebACL'));
    expect(uncoveredTypes(synth(env), withoutWaf)).toEqual(['AWS::WAFv2::WebACL']);
  });

  test('THEN each line is quantity x unit price, and the totals are the sums of the lines, per region and overall', () => {
    const r = report(env);
    for (const l of r.lines) expect(l.monthly).toBeCloseTo(l.quantity * l.unitPrice, 9);
    const sum = r.lines.reduce((s, l) => s + l.monthly, 0);
    expect(r.total).toBeCloseTo(sum, 6);
    for (const [region, total] of Object.entries(r.totalsByRegion)) {
      expect(total).toBeCloseTo(
        r.lines.filter((l) => l.region === region).reduce((s, l) => s + l.monthly, 0),
        6,
      );
    }
    expect(Object.values(r.totalsByRegion).reduce((a, b) => a + b, 0)).toBeCloseTo(r.total, 6);
  });

  test('THEN the Fargate service line follows the desired count, CPU and memory of config', () => {
    const c = configs[env].service;
    const hours = ASSUMPTIONS.hoursPerMonth.value[env];
    const vcpu = priceOf(prices, 'us-east-1', 'fargateVcpuHourX86').price;
    const gb = priceOf(prices, 'us-east-1', 'fargateGbHourX86').price;
    const line = find(report(env).lines, 'Fargate', /^Service tasks/);
    expect(line.quantity).toBe(c.desiredCount * hours);
    expect(line.monthly).toBeCloseTo(c.desiredCount * hours * ((c.cpu / 1024) * vcpu + (c.memoryMiB / 1024) * gb), 6);
    // One more task in the template is one more task's month.
    const more = withMainResources(synth(env), (resources) => {
      const svc = Object.values(resources).find((r) => r.Type === 'AWS::ECS::Service');
      (svc?.Properties as Record<string, unknown>).DesiredCount = c.desiredCount + 1;
    });
    const moreLine = find(linesOf(more, env), 'Fargate', /^Service tasks/);
    expect(moreLine.monthly - line.monthly).toBeCloseTo(hours * line.unitPrice, 6);
  });

  test('THEN the NAT gateway, endpoint, database and canary lines follow config', () => {
    const c = configs[env];
    const hours = ASSUMPTIONS.hoursPerMonth.value[env];
    const lines = report(env).lines;
    expect(find(lines, 'VPC', /^NAT gateways$/).quantity).toBe(c.network.natGateways * hours);
    const endpoints = find(lines, 'VPC', /^Interface endpoints$/);
    expect(endpoints.quantity % (c.network.availabilityZones.length * hours)).toBe(0);
    expect(find(lines, 'Aurora', /^Capacity at the configured minimum$/).quantity).toBe((1 + c.database.readers) * c.database.minCapacityAcu * hours);
    const canary = find(lines, 'CloudWatch Synthetics', /^Canary/);
    expect(canary.quantity).toBe((hours * 60) / c.monitoring.canaryRateMinutes);
  });

  test('THEN one CodeBuild line per CodeBuild action of the pipeline, priced by its compute type', () => {
    const s = synth(env);
    const resources = resourcesOf(s);
    const pipelineResource = resources.find((r) => r.type === 'AWS::CodePipeline::Pipeline');
    const actions = ((pipelineResource?.props.Stages ?? []) as { Actions: { Name: string; ActionTypeId: { Provider: string } }[] }[])
      .flatMap((st) => st.Actions)
      .filter((a) => a.ActionTypeId.Provider === 'CodeBuild')
      .map((a) => a.Name);
    const lines = report(env).lines.filter((l) => l.service === 'CodeBuild');
    expect(lines.map((l) => l.item.replace(/ \(.*\)$/, ''))).toEqual(actions);
    for (const l of lines) expect(l.priceKeys).toEqual([`codebuildMinute.${/\((\w+)\)$/.exec(l.item)?.[1]}`]);
  });

  test('THEN the recovery region has its own lines and total (replicas, backup copies, its key)', () => {
    const r = report(env);
    const recovery = r.stacks.find((st) => st.name === `TapStack-${env}-recovery`);
    expect(recovery).toBeDefined();
    const region = recovery?.region ?? '';
    expect(region).not.toBe(configs[env].region);
    const items = r.lines.filter((l) => l.region === region).map((l) => `${l.service}: ${l.item}`);
    expect(items).toEqual(expect.arrayContaining(['KMS: Customer managed keys', 'S3: Replica storage (Standard)']));
    expect(items.some((i) => i.startsWith('AWS Backup: Database copies in the recovery vault'))).toBe(true);
    expect(r.totalsByRegion[region]).toBeGreaterThan(0);
    const main = r.lines.filter((l) => l.region === configs[env].region).map((l) => l.item);
    expect(main).toEqual(expect.arrayContaining(['Cross-region replication data transfer']));
    expect(main.some((i) => i.startsWith('Cross-region copy transfer'))).toBe(true);
  });

  test('THEN the release timings are those of scripts/deployment-timings.ts and scripts/pipeline-timings.ts', () => {
    const r = report(env);
    expect(r.deployment).toEqual(deploymentTimings(configs[env]));
    expect(r.pipeline.deploy).toBeCloseTo(r.deployment.success / 60, 1);
    expect(r.pipeline.pushToLive).toBeGreaterThan(r.pipeline.deploy);
    expect(r.pipeline.approval).toBe(configs[env].pipeline.approvalRequired);
  });

  test('THEN every stack output is listed as an endpoint', () => {
    const r = report(env);
    const outputs = Object.values(synth(env).templates).reduce((n, t) => n + Object.keys(t.Outputs ?? {}).length, 0);
    expect(r.endpoints).toHaveLength(outputs);
    expect(r.endpoints.find((e) => e.name === 'ProductionUrl')?.value).toBe(`https://${configs[env].tls.domainName}`);
  });
});

describe('GIVEN schedules', () => {
  test('THEN backup and canary schedules are counted, and an unknown one fails', () => {
    expect(runsPerMonth('cron(0 1/4 * * ? *)')).toBe(180);
    expect(runsPerMonth('cron(0 5 * * ? *)')).toBe(30);
    expect(runsPerMonth('cron(0 5 ? * MON *)')).toBeCloseTo(4.35, 6);
    expect(() => runsPerMonth('rate(1 day)')).toThrow(/has no cost rule/);
    expect(runsPerHour('rate(5 minutes)', 'x')).toBe(12);
    expect(() => runsPerHour('cron(0 * * * ? *)', 'x')).toThrow(/has no cost rule/);
  });
});

describe('GIVEN docs/environment-report.md', () => {
  test('THEN it is what `npm run report -- --write` generates now', async () => {
    const doc = formatMarkdown(
      renderReport(
        ENVIRONMENT_NAMES.map((e) => report(e)),
        prices,
        'markdown',
      ),
    );
    const committed = fs.readFileSync(REPORT_DOC, 'utf8');
    // On failure: regenerate with `npm run report -- --write`.
    expect(committed).toBe(doc);
  });
});
