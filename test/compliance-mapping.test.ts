import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  CLAIMED_RESOURCE_TYPES,
  ComplianceMapping,
  missingConstructs,
  missingEvidence,
  parseMapping,
  testNamesOf,
  unmappedResources,
} from '../lib/compliance/mapping';
import { ASSESSED_STANDARD, EnvironmentName } from '../lib/config';
import { ENVS, shippedConfigs, synthEnv } from './helpers';

const ROOT = path.join(__dirname, '..');
const MAPPING_FILE = path.join(ROOT, 'compliance', 'pci-dss-v4.0.1.json');
const mappingJson = () => JSON.parse(fs.readFileSync(MAPPING_FILE, 'utf8')) as Record<string, unknown>;
const mapping = parseMapping(mappingJson());

/** A repository file's text, or undefined when there is none (the reader the drift checks take). */
const readRepoFile = (file: string): string | undefined => {
  const full = path.join(ROOT, file);
  return fs.existsSync(full) && fs.statSync(full).isFile() ? fs.readFileSync(full, 'utf8') : undefined;
};

/** The app of each environment, synthesized once for this file. */
const rootOf = (env: EnvironmentName) => synthEnv(env).stack.node.root;

/** A mapping of the first row only, without documents, changed by `edit`: drift in it is only what `edit` made. */
function minimal(edit: (m: ComplianceMapping) => void): ComplianceMapping {
  return changed((m) => {
    m.rows = [m.rows[0]!];
    m.rows[0]!.documents = undefined;
    m.decisions = m.decisions.map((d) => ({ ...d, documents: undefined }));
    edit(m);
  });
}

/** A deep copy of the mapping, changed by `edit`. */
function changed(edit: (m: ComplianceMapping) => void): ComplianceMapping {
  const copy = structuredClone(mapping);
  edit(copy);
  return copy;
}

describe('the mapping file', () => {
  test('assesses the standard every resource is tagged with, and the config schema enforces the same tag', () => {
    expect(mapping.standard).toBe(ASSESSED_STANDARD);
    for (const env of ENVS) expect(shippedConfigs()[env].tags.compliance).toBe(ASSESSED_STANDARD);
    expect(() => parseMapping({ ...mappingJson(), standard: 'PCI-DSS-3.2.1' })).toThrow(/standard/);
  });

  test('the schema refuses a malformed row: a 3.2.1-style id, a platform control without a test, a shared one without a note', () => {
    const rows = mappingJson().rows as Array<Record<string, unknown>>;
    const withRow = (row: Record<string, unknown>) => ({ ...mappingJson(), rows: [...rows, row] });
    const base = rows[0]!;
    expect(() => parseMapping(withRow({ ...base, requirements: ['10.5.a'] }))).toThrow(
      /rows\.\d+\.requirements\.0: must be a PCI DSS v4.0.1 requirement number/,
    );
    expect(() => parseMapping(withRow({ ...base, tests: [] }))).toThrow(/a platform control needs at least one test/);
    expect(() => parseMapping(withRow({ ...base, responsibility: 'shared', note: undefined }))).toThrow(/needs a note/);
    expect(() => parseMapping(withRow({ ...base, requirements: ['9.4.1'] }))).toThrow(/group 9 has no title in groups/);
    expect(() => parseMapping(withRow({ ...base, constructs: ['Other/Thing'] }))).toThrow(/must start with the stack name/);
  });

  test('covers the requirement groups the platform answers, and keeps the customer part and the decisions', () => {
    const ids = mapping.rows.flatMap((r) => r.requirements);
    const covered = (prefix: string) => ids.some((id) => id === prefix || id.startsWith(`${prefix}.`));
    const expected = [
      '1.2',
      '1.3',
      '1.4',
      '2.2',
      '3.5',
      '3.6',
      '3.7',
      '4.2.1',
      '5.2',
      '6.2',
      '6.3',
      '6.3.2',
      '6.4',
      '6.4.2',
      '7.2',
      '8.2',
      '8.3',
      '8.4',
    ];
    const more = ['8.5', '8.6', '10.2', '10.3', '10.4', '10.4.1.1', '10.5', '10.5.1', '10.6', '10.7', '10.7.2', '11.3', '11.5', '12.10'];
    expect([...expected, ...more].filter((p) => !covered(p))).toEqual([]);
    const customer = mapping.customerResponsibilities.map((c) => c.what).join(' ');
    for (const word of ['MFA', 'Approved Scanning Vendor', 'penetration', 'Key custodians', 'Physical', 'AWS accounts'])
      expect({ word, found: customer.includes(word) }).toEqual({ word, found: true });
    expect(mapping.decisions.map((d) => d.topic)).toContain('Cross-region replication of log buckets');
  });
});

describe.each(ENVS)('the mapping against the synthesized app of %s', (env) => {
  test('every mapped construct path exists', () => {
    expect(missingConstructs(mapping, env, rootOf(env))).toEqual([]);
  });

  test('every resource of a security-relevant type falls under a row', () => {
    const root = rootOf(env);
    expect(unmappedResources(mapping, env, root)).toEqual([]);
  });
});

describe('the mapping against the test files and documents', () => {
  test('every mapped test file exists and defines every mapped test name; every mapped document exists', () => {
    expect(missingEvidence(mapping, readRepoFile)).toEqual([]);
  });

  test('`npm run docs:compliance -- --check`: docs/compliance.md is what the mapping generates; a stale copy is named and fails', () => {
    const committed = path.join(ROOT, 'docs', 'compliance.md');
    const stale = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'compliance-doc-')), 'compliance.md');
    fs.writeFileSync(stale, fs.readFileSync(committed, 'utf8').replace('PCI DSS v4.0.1 control mapping', 'PCI DSS 3.2.1 control mapping'));
    const run = spawnSync(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/compliance-doc.ts', '--check', committed, stale], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    const lines = run.stdout.split('\n');
    expect(lines.filter((l) => /^\S.*: /.test(l))).toEqual([
      'docs/compliance.md: up to date',
      `${path.relative(ROOT, stale)}: stale; run \`npm run docs:compliance\` and commit it`,
    ]);
    expect(lines).toContain('    - # PCI DSS 3.2.1 control mapping');
    expect(run.status).toBe(1);
  }, 120_000);
});

describe('the drift checks report drift', () => {
  test('GIVEN a mapped construct path the app does not have THEN it is reported for each environment the row claims', () => {
    const bogus = changed((m) => m.rows[0]!.constructs.push('TapStack-{env}/Network/NoSuchThing'));
    expect(missingConstructs(bogus, 'dev', rootOf('dev'))).toEqual([
      { kind: 'missing-construct', detail: 'dev: TapStack-dev/Network/NoSuchThing is mapped but not in the synthesized app' },
    ]);
    const prodOnly = changed((m) => {
      m.rows[0]!.constructs.push('TapStack-{env}/Network/NoSuchThing');
      m.rows[0]!.environments = ['prod'];
    });
    expect(missingConstructs(prodOnly, 'dev', rootOf('dev'))).toEqual([]);
  });

  test('GIVEN a mapping without the row of a claimed resource THEN every resource it covered is reported', () => {
    const keysRow = mapping.rows.findIndex((r) => r.constructs.includes('TapStack-{env}/Keys'));
    expect(keysRow).toBeGreaterThanOrEqual(0);
    const withoutKeys = changed((m) => m.rows.splice(keysRow, 1));
    const byDetail = (x: { detail: string }, y: { detail: string }) => x.detail.localeCompare(y.detail);
    expect(unmappedResources(withoutKeys, 'dev', rootOf('dev')).sort(byDetail)).toEqual(
      ['ArtifactsKey', 'DataKey', 'LogsKey'].map((k) => ({
        kind: 'unmapped-resource',
        detail: `dev: AWS::KMS::Key TapStack-dev/Keys/${k}/Resource has no row in the mapping`,
      })),
    );
    // A row for the environments a resource is not in does not cover it.
    const keysInProdOnly = changed((m) => (m.rows[keysRow]!.environments = ['prod']));
    expect(unmappedResources(keysInProdOnly, 'dev', rootOf('dev')).length).toBe(3);
    expect(unmappedResources(keysInProdOnly, 'prod', rootOf('prod'))).toEqual([]);
  });

  test('GIVEN a prefix that only starts like a construct id THEN it covers nothing (paths match whole segments)', () => {
    const partial = changed((m) => {
      for (const r of m.rows) r.constructs = r.constructs.map((c) => (c === 'TapStack-{env}/Keys' ? 'TapStack-{env}/Key' : c));
    });
    expect(unmappedResources(partial, 'dev', rootOf('dev')).map((d) => d.detail)).toContain(
      'dev: AWS::KMS::Key TapStack-dev/Keys/LogsKey/Resource has no row in the mapping',
    );
  });

  test('GIVEN a bogus test name, a missing test file or a missing document THEN each is reported', () => {
    expect(
      missingEvidence(
        minimal(() => undefined),
        readRepoFile,
      ),
    ).toEqual([]);
    const bogus = minimal((m) => {
      m.rows[0]!.tests.push({ file: 'test/network.test.ts', name: 'the VPC is made of cheese' });
      m.rows[0]!.tests.push({ file: 'test/no-such.test.ts', name: 'anything' });
      m.rows[0]!.documents = ['docs/runbooks/no-such-runbook.md'];
    });
    expect(missingEvidence(bogus, readRepoFile)).toEqual([
      { kind: 'missing-test', detail: 'test/network.test.ts has no test "the VPC is made of cheese"' },
      { kind: 'missing-test-file', detail: 'test/no-such.test.ts does not exist (mapped for "anything")' },
      { kind: 'missing-document', detail: 'docs/runbooks/no-such-runbook.md does not exist' },
    ]);
  });

  test('GIVEN a name that appears only in a comment or another string of the file THEN it is not a test', () => {
    const file = 'test/fixture.test.ts';
    const source = [
      "// test('in a line comment', () => {});",
      "/* it('in a block comment', () => {}); */",
      "const label = 'in a plain string';",
      "record('in a call that is not a test', () => {});",
      "describe('outer', () => {",
      "  describe.each(['a'])('inner %s', () => {",
      "    test('real one', () => expect(label).toBe('x'));",
      '    it.each([1])(`each %d`, () => {});',
      '    test(`built ${label}`, () => {});',
      '  });',
      '});',
      "test.skip('skipped at the top', () => {});",
    ].join('\n');
    expect(testNamesOf(source, file).sort()).toEqual(
      ['each %d', 'outer > inner %s > each %d', 'outer > inner %s > real one', 'real one', 'skipped at the top'].sort(),
    );
    const reads = (text: string) => (f: string) => (f === file ? text : readRepoFile(f));
    for (const name of ['in a line comment', 'in a block comment', 'in a plain string', 'in a call that is not a test', 'outer > real one']) {
      const m = minimal((x) => (x.rows[0]!.tests = [{ file, name }]));
      expect(missingEvidence(m, reads(source))).toEqual([{ kind: 'missing-test', detail: `${file} has no test "${name}"` }]);
    }
    const m = minimal((x) => (x.rows[0]!.tests = [{ file, name: 'outer > inner %s > real one' }]));
    expect(missingEvidence(m, reads(source))).toEqual([]);
  });

  test('the claimed types are CloudFormation resource types, each listed once', () => {
    expect(new Set(CLAIMED_RESOURCE_TYPES).size).toBe(CLAIMED_RESOURCE_TYPES.length);
    for (const type of CLAIMED_RESOURCE_TYPES) expect(type).toMatch(/^AWS::\w+::\w+$/);
  });
});
