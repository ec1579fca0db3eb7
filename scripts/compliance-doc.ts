/**
 * `npm run docs:compliance`: writes docs/compliance.md from the PCI DSS v4.0.1 mapping (compliance/pci-dss-v4.0.1.json),
 * formatted as prettier formats the repository. `--check [files...]` only compares (docs/compliance.md by default),
 * prints the first lines that differ and exits 1 when a page is stale; test/compliance-mapping.test.ts runs it.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as prettier from 'prettier';
import { parseMapping, renderComplianceDoc } from '../lib/compliance/mapping';

const ROOT = path.join(__dirname, '..');
const MAPPING = path.join(ROOT, 'compliance', 'pci-dss-v4.0.1.json');
const COMPLIANCE_DOC = path.join(ROOT, 'docs', 'compliance.md');

/** docs/compliance.md as the mapping generates it. */
async function rendered(): Promise<string> {
  const mapping = parseMapping(JSON.parse(fs.readFileSync(MAPPING, 'utf8')));
  const options = (await prettier.resolveConfig(COMPLIANCE_DOC)) ?? {};
  return prettier.format(renderComplianceDoc(mapping), { ...options, parser: 'markdown' });
}

/** The first lines where `actual` differs from `expected`, as `-` (on disk) and `+` (generated) lines. */
function differences(expected: string, actual: string, limit = 5): string[] {
  const want = expected.split('\n');
  const have = actual.split('\n');
  const out: string[] = [];
  for (let i = 0; i < Math.max(want.length, have.length) && out.length < limit * 2; i++) {
    if (want[i] === have[i]) continue;
    out.push(`  line ${i + 1}:`, `    - ${have[i] ?? '(end of file)'}`, `    + ${want[i] ?? '(end of file)'}`);
  }
  return out;
}

async function main(argv: string[]): Promise<number> {
  const page = await rendered();
  if (argv[0] === '--check') {
    const files = argv.length > 1 ? argv.slice(1) : [COMPLIANCE_DOC];
    let stale = 0;
    for (const file of files) {
      const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
      const fresh = current === page;
      if (!fresh) stale += 1;
      console.log(`${path.relative(ROOT, file)}: ${fresh ? 'up to date' : 'stale; run `npm run docs:compliance` and commit it'}`);
      if (!fresh) differences(page, current).forEach((line) => console.log(line));
    }
    return stale === 0 ? 0 : 1;
  }
  const before = fs.existsSync(COMPLIANCE_DOC) ? fs.readFileSync(COMPLIANCE_DOC, 'utf8') : '';
  fs.writeFileSync(COMPLIANCE_DOC, page);
  console.log(`docs/compliance.md: ${page === before ? 'up to date' : 'rewritten from compliance/pci-dss-v4.0.1.json'}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    console.error(`docs:compliance: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 2;
  },
);
