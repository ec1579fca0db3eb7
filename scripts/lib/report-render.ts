// Renders the environment report (scripts/lib/report.ts builds it): aligned text for a terminal, or markdown for
// docs/environment-report.md, formatted as prettier writes it.
import { execFileSync } from 'child_process';
import * as path from 'path';
import { EnvironmentName } from '../../lib/config';
import { ASSUMPTIONS, AssumptionName } from './report-assumptions';
import { PriceTable } from './report-prices';
import { DEPLOYMENT_ASSUMED } from './report-timings';
import type { EnvironmentReport } from './report';

export const REPORT_DOC = path.join(__dirname, '..', '..', 'docs', 'environment-report.md');
export const REPORT_COMMAND = 'npm run report -- --write';

export type Format = 'text' | 'markdown';

const usd = (n: number): string => `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
// Unit prices keep their published digits (six significant digits cover every list price and derived task-hour price).
const unitUsd = (n: number): string => `$${n >= 1000 ? n.toLocaleString('en-US') : String(Number(n.toPrecision(6)))}`;
const qty = (n: number): string =>
  n !== 0 && Math.abs(n) < 0.01 ? String(Number(n.toPrecision(2))) : n.toLocaleString('en-US', { maximumFractionDigits: 2 });
const mmss = (s: number): string => `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
const min = (m: number): string => `${m.toLocaleString('en-US', { maximumFractionDigits: 1 })} min`;

/** A table as markdown (prettier aligns it) or as aligned text columns. */
function table(format: Format, header: readonly string[], rows: readonly (readonly string[])[], right: readonly number[] = []): string {
  if (format === 'markdown') {
    const esc = (c: string): string => c.replace(/\|/g, '\\|');
    const align = header.map((_, i) => (right.includes(i) ? '---:' : '---'));
    return [header, align, ...rows].map((r, i) => `| ${(i === 1 ? r : r.map(esc)).join(' | ')} |`).join('\n');
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: readonly string[]): string =>
    r
      .map((c, i) => (right.includes(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}

function heading(format: Format, level: number, text: string): string {
  if (format === 'markdown') return `${'#'.repeat(level)} ${text}`;
  return level <= 2 ? `${text}\n${'='.repeat(text.length)}` : `${text}\n${'-'.repeat(text.length)}`;
}

const code = (format: Format, s: string): string => (format === 'markdown' ? `\`${s}\`` : s);

/** One environment's sections. */
export function renderEnvironment(r: EnvironmentReport, format: Format, level = 2): string {
  const d = r.config.deployment;
  const t = r.deployment;
  const p = r.pipeline;
  const out: string[] = [];
  out.push(heading(format, level, `${r.env}: ${usd(r.total)} per month`));
  out.push(`Stacks: ${r.stacks.map((s) => `${code(format, s.name)} (${s.region})`).join(', ')}.`);

  out.push(heading(format, level + 1, `Endpoints (${r.env})`));
  out.push(
    `The stacks' outputs (${code(format, `aws cloudformation describe-stacks --stack-name <stack>`)} shows them deployed). ` +
      `${code(format, '<LogicalId: Type>')} and ${code(format, '<LogicalId.Attribute>')} are known only once deployed.`,
  );
  out.push(
    table(
      format,
      ['Stack', 'Output', 'Value', 'What'],
      r.endpoints.map((e) => [e.stack, e.name, format === 'markdown' ? `\`${e.value}\`` : e.value, e.description]),
    ),
  );

  out.push(heading(format, level + 1, `Releases (${r.env})`));
  const shift =
    d.strategy === 'BLUE_GREEN'
      ? 'all production traffic at once'
      : d.strategy === 'CANARY'
        ? `${d.stepPercent ?? '?'} % first, the rest after ${d.stepBakeTimeMinutes ?? '?'} min`
        : `${d.stepPercent ?? '?'} % steps, ${d.stepBakeTimeMinutes ?? '?'} min apart`;
  out.push(
    `Strategy ${code(format, d.strategy)} (${shift}); bake time ${d.bakeTimeMinutes} min; deployment alarms over ${d.alarmPeriodSeconds} s x ${d.alarmEvaluationPeriods}; ` +
      `smoke test through the test listener on port ${d.testListenerPort}; a person approves: ${p.approval ? 'yes' : 'no'}.`,
  );
  out.push(
    table(
      format,
      ['What', 'Time'],
      [
        ['Bad release caught by the smoke test (no customer traffic)', mmss(t.smokeDetect)],
        ['Bad release caught by the deployment alarms (after the production shift)', mmss(t.alarmDetect)],
        ['Rollback (listener shift back to the running revision)', mmss(t.rollback)],
        ['Good release: deployment until SUCCESSFUL', mmss(t.success)],
        ['Deploy step timeout', mmss(t.timeout)],
        ['Pipeline: Verify (parallel steps, longest)', min(p.verify)],
        [
          `Pipeline: Image (${r.env === 'dev' ? 'build' : 'promote'})${p.waitForUpstream > 0 ? `, after waiting ${min(p.waitForUpstream)} for the upstream` : ''}`,
          min(p.image),
        ],
        ['Push to live, no infrastructure change', `${min(p.pushToLive)}${p.approval ? ' + approval' : ''}`],
        ['Push to live, typical infrastructure change', `${min(p.pushToLiveWithInfra)}${p.approval ? ' + approval' : ''}`],
      ],
      [1],
    ),
  );

  out.push(heading(format, level + 1, `Resources (${r.env})`));
  const stacks = Object.keys(r.inventory);
  const types = [...new Set(stacks.flatMap((s) => Object.keys(r.inventory[s] ?? {})))].sort();
  const inventoryRows = types.map((type) => [code(format, type), ...stacks.map((s) => String(r.inventory[s]?.[type] ?? '-'))]);
  inventoryRows.push(['Total', ...stacks.map((s) => String(Object.values(r.inventory[s] ?? {}).reduce((a, b) => a + b, 0)))]);
  out.push(
    table(
      format,
      ['Resource type', ...stacks],
      inventoryRows,
      stacks.map((_, i) => i + 1),
    ),
  );

  out.push(heading(format, level + 1, `Monthly cost (${r.env})`));
  for (const s of r.stacks) {
    const lines = r.lines.filter((l) => l.stack === s.name);
    if (lines.length === 0) continue;
    const subtotal = lines.reduce((sum, l) => sum + l.monthly, 0);
    out.push(`${format === 'markdown' ? '**' : ''}${s.name} (${s.region}): ${usd(subtotal)}${format === 'markdown' ? '**' : ''}`);
    out.push(
      table(
        format,
        ['Service', 'Item', 'Quantity', 'Unit', 'Unit price', 'Monthly', 'Basis'],
        lines.map((l) => [l.service, l.item, qty(l.quantity), l.unit, unitUsd(l.unitPrice), usd(l.monthly), l.basis]),
        [2, 4, 5],
      ),
    );
  }
  out.push(
    table(
      format,
      ['Region', 'Monthly'],
      [...Object.entries(r.totalsByRegion).map(([region, total]) => [region, usd(total)]), ['Total', usd(r.total)]],
      [1],
    ),
  );
  return out.join('\n\n');
}

/** The assumptions the estimate used, one row each, a column per environment. */
export function renderAssumptions(format: Format, envs: readonly EnvironmentName[]): string {
  const rows = (Object.keys(ASSUMPTIONS) as AssumptionName[]).map((name) => {
    const a = ASSUMPTIONS[name];
    return [code(format, name), ...envs.map((e) => a.value[e].toLocaleString('en-US')), a.unit, a.why];
  });
  const timing = Object.entries(DEPLOYMENT_ASSUMED)
    .map(([k, v]) => `${k} ${v} s`)
    .join(', ');
  return [
    heading(format, 2, 'Assumptions'),
    `Usage the templates cannot tell (${code(format, 'scripts/lib/report-assumptions.ts')}). Step durations come from ${code(format, 'scripts/pipeline-timings.ts')} (STEP_MINUTES) and the deployment's from ${code(format, 'scripts/deployment-timings.ts')} (${timing}). No AWS Free Tier allowance is deducted.`,
    table(
      format,
      ['Assumption', ...envs, 'Unit', 'What it stands for'],
      rows,
      envs.map((_, i) => i + 1),
    ),
  ].join('\n\n');
}

/** The prices the estimate used, with their unit and source. */
export function renderPrices(format: Format, prices: PriceTable, used: ReadonlySet<string>): string {
  const regions = Object.keys(prices.regions);
  const keys = [...new Set(regions.flatMap((r) => Object.keys(prices.regions[r] ?? {})))].filter((k) => used.has(k)).sort();
  const rows = keys.map((k) => {
    const per = regions.map((r) => prices.regions[r]?.[k]);
    const first = per.find((p) => p !== undefined);
    const same = per.every((p) => p?.price === first?.price);
    const value = same ? unitUsd(first?.price ?? 0) : regions.map((r, i) => `${r} ${unitUsd(per[i]?.price ?? 0)}`).join(', ');
    return [code(format, k), value, first?.unit ?? '', first?.source ?? ''];
  });
  return [
    heading(format, 2, 'Prices'),
    `List prices as of ${prices.asOf} (${prices.currency}) from ${code(format, 'pricing/aws-prices.json')}, the same in ${regions.join(' and ')} unless shown per region. ${prices.note}`,
    table(format, ['Price', 'Value', 'Unit', 'Source'], rows, [1]),
  ].join('\n\n');
}

/** The whole document: a summary across the environments, each environment, the assumptions and the prices. */
export function renderReport(reports: readonly EnvironmentReport[], prices: PriceTable, format: Format): string {
  const envs = reports.map((r) => r.env);
  const regions = [...new Set(reports.flatMap((r) => Object.keys(r.totalsByRegion)))];
  const summary = table(
    format,
    ['Environment', ...regions, 'Total per month', 'Push to live', 'Bad release caught (smoke / alarms)', 'Rollback'],
    reports.map((r) => [
      r.env,
      ...regions.map((g) => usd(r.totalsByRegion[g] ?? 0)),
      usd(r.total),
      `${min(r.pipeline.pushToLive)}${r.pipeline.approval ? ' + approval' : ''}`,
      `${mmss(r.deployment.smokeDetect)} / ${mmss(r.deployment.alarmDetect)}`,
      mmss(r.deployment.rollback),
    ]),
    regions.map((_, i) => i + 1).concat([regions.length + 1]),
  );
  const used = new Set(reports.flatMap((r) => r.lines.flatMap((l) => l.priceKeys)));
  const intro =
    format === 'markdown'
      ? [
          '# Environment report',
          `<!-- Generated by \`${REPORT_COMMAND}\` from config/<env>.json, the synthesized templates and pricing/aws-prices.json; a test fails when it is stale. Do not edit by hand. -->`,
          `What each environment exposes, how fast a release goes and a bad one is stopped, what it is made of, and an estimate of what it costs per month at AWS list prices as of ${prices.asOf}. ` +
            'The estimate prices every billable resource in the templates; usage that the templates cannot tell (traffic, data volumes, pushes) is assumed, and every assumption is listed below. ' +
            'It is an estimate for planning, not a bill: check it against Cost Explorer once an environment runs.',
        ].join('\n\n')
      : `Environment report (prices as of ${prices.asOf}; estimate, not a bill)`;
  return (
    [intro, summary, ...reports.map((r) => renderEnvironment(r, format)), renderAssumptions(format, envs), renderPrices(format, prices, used)].join(
      '\n\n',
    ) + '\n'
  );
}

// Prettier 3 loads its formatters with dynamic import(), which a Jest VM refuses; a child node process formats the
// same way from the CLI and from the test.
const FORMAT_SCRIPT = [
  "const prettier = require('prettier');",
  "let text = '';",
  "process.stdin.on('data', (d) => (text += d)).on('end', async () => {",
  '  const file = process.argv[1];',
  '  const options = (await prettier.resolveConfig(file)) ?? {};',
  '  process.stdout.write(await prettier.format(text, { ...options, filepath: file }));',
  '});',
].join('\n');

/** The markdown document as prettier writes it, so `prettier --check` passes on the generated file. */
export function formatMarkdown(markdown: string, file: string = REPORT_DOC): string {
  return execFileSync(process.execPath, ['-e', FORMAT_SCRIPT, file], {
    input: markdown,
    encoding: 'utf8',
    cwd: path.dirname(REPORT_DOC),
    maxBuffer: 64 * 1024 * 1024,
  });
}
