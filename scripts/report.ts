// `npm run report -- <env>|--all [--markdown]`: what an environment exposes, how fast a release goes and a bad one is
// stopped, its resources and its estimated monthly cost (scripts/lib/report.ts).
// `npm run report -- --write` regenerates docs/environment-report.md (all environments, markdown);
// `npm run report -- --check` exits 1 when that document differs from what the code, config and prices give now.
import * as fs from 'fs';
import * as path from 'path';
import { ENVIRONMENT_NAMES, EnvironmentName, parseEnvironmentName } from '../lib/config';
import { loadPrices } from './lib/report-prices';
import { buildReport, formatMarkdown, renderReport, REPORT_COMMAND, REPORT_DOC } from './lib/report';

const USAGE = 'usage: npm run report -- <env>|--all [--markdown] | --write | --check   (env: ' + ENVIRONMENT_NAMES.join(', ') + ')';

interface Args {
  readonly envs: readonly EnvironmentName[];
  readonly mode: 'print' | 'write' | 'check';
  readonly markdown: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const flags = new Set(argv.filter((a) => a.startsWith('--')));
  const names = argv.filter((a) => !a.startsWith('--'));
  const unknown = [...flags].filter((f) => !['--all', '--markdown', '--write', '--check', '--help'].includes(f));
  if (flags.has('--help')) {
    console.log(USAGE);
    process.exit(0);
  }
  if (unknown.length > 0) throw new Error(`unknown option ${unknown.join(', ')}\n${USAGE}`);
  const write = flags.has('--write');
  const check = flags.has('--check');
  if (write && check) throw new Error(`--write and --check exclude each other\n${USAGE}`);
  if (write || check) {
    if (names.length > 0) throw new Error(`--write and --check cover every environment; drop ${names.join(' ')}\n${USAGE}`);
    return { envs: ENVIRONMENT_NAMES, mode: write ? 'write' : 'check', markdown: true };
  }
  if (flags.has('--all') === names.length > 0) throw new Error(`name one environment or --all\n${USAGE}`);
  const envs = flags.has('--all') ? ENVIRONMENT_NAMES : names.map((n) => parseEnvironmentName(n));
  return { envs, mode: 'print', markdown: flags.has('--markdown') };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const prices = loadPrices();
  const reports = [];
  for (const env of args.envs) reports.push(await buildReport(env, { prices }));
  const doc = args.markdown ? formatMarkdown(renderReport(reports, prices, 'markdown')) : renderReport(reports, prices, 'text');
  const relative = path.relative(process.cwd(), REPORT_DOC);
  if (args.mode === 'print') {
    process.stdout.write(doc);
  } else if (args.mode === 'write') {
    fs.writeFileSync(REPORT_DOC, doc);
    console.log(`wrote ${relative}`);
  } else {
    const current = fs.existsSync(REPORT_DOC) ? fs.readFileSync(REPORT_DOC, 'utf8') : '';
    if (current !== doc) {
      console.error(`${relative} is stale: regenerate it with \`${REPORT_COMMAND}\``);
      process.exit(1);
    }
    console.log(`${relative} is up to date`);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
