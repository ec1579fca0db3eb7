/**
 * `npm run docs:operations`: rewrites the alarm table of docs/operations.md from the synthesized stacks of every
 * environment (severity, what each alarm watches, its threshold per environment, its runbook).
 * `--check [files...]` only compares (docs/operations.md by default) and exits 1 when a table is stale;
 * test/operations-doc.test.ts runs it.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as prettier from 'prettier';
import { PROMOTION_ORDER } from '../lib/config';
import { alarmTable, TemplateJson, withAlarmTable } from '../lib/monitoring/alarm-table';
import { synthesize } from './lib/synthesized';

const ROOT = path.join(__dirname, '..');
const OPERATIONS_DOC = path.join(ROOT, 'docs', 'operations.md');

/** The alarm table of the stacks every environment synthesizes, exactly as `cdk synth` builds them. */
function currentTable(): string {
  // The main stack of each environment (synthesize() lists it first): the alarms live there.
  const stacks = PROMOTION_ORDER.map((env) => {
    const [stackName, template] = Object.entries(synthesize(env).templates)[0]!;
    return { env, stackName, template: template as unknown as TemplateJson };
  });
  return alarmTable(stacks);
}

/** `file` as it should be: its text with `table` between the markers, formatted as prettier formats the repository. */
async function rendered(file: string, table: string): Promise<string> {
  const options = (await prettier.resolveConfig(OPERATIONS_DOC)) ?? {};
  return prettier.format(withAlarmTable(fs.readFileSync(file, 'utf8'), table), { ...options, parser: 'markdown' });
}

async function main(argv: string[]): Promise<number> {
  const table = currentTable();
  if (argv[0] === '--check') {
    const files = argv.length > 1 ? argv.slice(1) : [OPERATIONS_DOC];
    let stale = 0;
    for (const file of files) {
      const fresh = (await rendered(file, table)) === fs.readFileSync(file, 'utf8');
      if (!fresh) stale += 1;
      console.log(`${path.relative(ROOT, file)}: ${fresh ? 'up to date' : 'stale alarm table; run `npm run docs:operations` and commit it'}`);
    }
    return stale === 0 ? 0 : 1;
  }
  const before = fs.readFileSync(OPERATIONS_DOC, 'utf8');
  const after = await rendered(OPERATIONS_DOC, table);
  fs.writeFileSync(OPERATIONS_DOC, after);
  console.log(`docs/operations.md: ${after === before ? 'up to date' : 'alarm table rewritten'}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    console.error(`docs:operations: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 2;
  },
);
