import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../tools/scan-gate/cli';
import { evaluateScan, parseIgnoreFile, parseTrivyReport, resourceMatches } from '../../tools/scan-gate/scan-gate';
import highReport from './fixtures/trivy-report-high.json';
import secretReport from './fixtures/trivy-report-secret.json';

const TODAY = new Date('2026-03-01T12:00:00Z');
const REASON = 'zlib minizip is not used by the service; Debian will not fix';

/** The name and message of the error `parse` throws. */
function failureOf(parse: () => unknown): { name: string; message: string } {
  try {
    parse();
  } catch (error) {
    return { name: (error as Error).name, message: (error as Error).message };
  }
  throw new Error('expected the input to be refused');
}

describe('evaluateScan', () => {
  test('GIVEN a HIGH finding and no ignores THEN fails listing it, and counts every severity', () => {
    const result = evaluateScan(highReport, { ignores: [] }, TODAY);

    expect(result.passed).toBe(false);
    expect(result.blocking).toEqual([
      expect.objectContaining({ kind: 'vulnerability', id: 'CVE-2023-45853', pkg: 'zlib1g', version: '1:1.2.13.dfsg-1', severity: 'HIGH' }),
    ]);
    expect(result.counts).toEqual({ UNKNOWN: 0, LOW: 2, MEDIUM: 0, HIGH: 1, CRITICAL: 0 });
  });

  test('GIVEN the finding is ignored until a future date THEN passes and reports the ignore', () => {
    const entry = { id: 'CVE-2023-45853', reason: REASON, expires: '2026-06-30' };

    const result = evaluateScan(highReport, { ignores: [entry] }, TODAY);

    expect(result.passed).toBe(true);
    expect(result.ignored).toEqual([{ finding: expect.objectContaining({ id: 'CVE-2023-45853' }), entry }]);
    expect(result.blocking).toEqual([]);
    expect(result.expired).toEqual([]);
  });

  test('GIVEN the ignore expires today THEN it still applies', () => {
    const result = evaluateScan(highReport, { ignores: [{ id: 'CVE-2023-45853', reason: REASON, expires: '2026-03-01' }] }, TODAY);
    expect(result.passed).toBe(true);
    expect(result.ignored.map((i) => i.finding.id)).toEqual(['CVE-2023-45853']);
    expect(result.expired).toEqual([]);
  });

  test('GIVEN the ignore expired THEN fails and reports it as expired', () => {
    const entry = { id: 'CVE-2023-45853', reason: REASON, expires: '2026-02-28' };

    const result = evaluateScan(highReport, { ignores: [entry] }, TODAY);

    expect(result.passed).toBe(false);
    expect(result.expired).toEqual([{ finding: expect.objectContaining({ id: 'CVE-2023-45853' }), entry }]);
    expect(result.blocking.map((f) => f.id)).toEqual(['CVE-2023-45853']);
    expect(result.ignored).toEqual([]);
  });

  test('GIVEN a CRITICAL secret THEN fails, never copies the match, and ignores neither PASS checks nor LOW ones', () => {
    const result = evaluateScan(secretReport, { ignores: [] }, TODAY);

    expect(result.passed).toBe(false);
    expect(result.blocking).toEqual([
      { kind: 'secret', id: 'aws-secret-access-key', severity: 'CRITICAL', target: '/app/.env', title: 'AWS Secret Access Key' },
    ]);
    expect(JSON.stringify(result)).not.toMatch(/AWS_SECRET_ACCESS_KEY=/);
    expect(result.counts).toEqual({ UNKNOWN: 0, LOW: 1, MEDIUM: 0, HIGH: 0, CRITICAL: 1 });
  });

  test('GIVEN an ignore entry nothing matches THEN it is listed as unused', () => {
    const entry = { id: 'CVE-2024-0001', reason: 'was in the old base image', expires: '2026-12-31' };
    const result = evaluateScan(highReport, { ignores: [entry] }, TODAY);
    expect(result.unusedIgnores).toEqual([entry]);
    expect(result.ignored).toEqual([]);
    expect(result.blocking.map((f) => f.id)).toEqual(['CVE-2023-45853']);
  });

  test('GIVEN a secret whose rule id has the shape of an advisory id and an entry naming it THEN the secret still blocks', () => {
    const report = {
      Results: [{ Target: '/app/config.yml', Secrets: [{ RuleID: 'ACME-2024-0001', Severity: 'HIGH', Title: 'Fake vendor token' }] }],
    };
    const entry = { id: 'ACME-2024-0001', reason: 'the token is a test double, not a credential', expires: '2026-12-31' };

    const result = evaluateScan(report, { ignores: [entry] }, TODAY);

    expect(result).toEqual({
      passed: false,
      blocking: [{ kind: 'secret', id: 'ACME-2024-0001', severity: 'HIGH', target: '/app/config.yml', title: 'Fake vendor token' }],
      ignored: [],
      expired: [],
      unusedIgnores: [entry],
      counts: { UNKNOWN: 0, LOW: 0, MEDIUM: 0, HIGH: 1, CRITICAL: 0 },
    });
  });
});

describe('parseTrivyReport', () => {
  test('GIVEN a vulnerability with a fixed version and no title THEN the finding carries the fixed version and an empty title', () => {
    const report = {
      Results: [
        {
          Target: 'app/package-lock.json',
          Vulnerabilities: [
            { VulnerabilityID: 'CVE-2024-0002', PkgName: 'left-pad', InstalledVersion: '1.0.0', FixedVersion: '1.0.1', Severity: 'HIGH' },
          ],
        },
      ],
    };

    expect(parseTrivyReport(report)).toEqual([
      {
        kind: 'vulnerability',
        id: 'CVE-2024-0002',
        severity: 'HIGH',
        target: 'app/package-lock.json',
        title: '',
        pkg: 'left-pad',
        version: '1.0.0',
        fixedVersion: '1.0.1',
      },
    ]);
  });

  test('GIVEN secrets without a title THEN the title is the category, else "secret"; a missing severity counts as UNKNOWN', () => {
    const report = {
      Results: [
        {
          Target: '/app/.env',
          Secrets: [
            { RuleID: 'generic-api-key', Category: 'Generic', Severity: 'CRITICAL' },
            { RuleID: 'custom-rule', Severity: 'HIGH' },
            { RuleID: 'unrated-rule' },
          ],
        },
      ],
    };

    expect(parseTrivyReport(report)).toEqual([
      { kind: 'secret', id: 'generic-api-key', severity: 'CRITICAL', target: '/app/.env', title: 'Generic' },
      { kind: 'secret', id: 'custom-rule', severity: 'HIGH', target: '/app/.env', title: 'secret' },
      { kind: 'secret', id: 'unrated-rule', severity: 'UNKNOWN', target: '/app/.env', title: 'secret' },
    ]);
  });

  test('GIVEN a misconfiguration without a title or resource THEN the finding has an empty title and no resource', () => {
    const report = { Results: [{ Target: 't', Misconfigurations: [{ ID: 'DS002', Severity: 'HIGH', Status: 'FAIL' }] }] };

    expect(parseTrivyReport(report)).toEqual([{ kind: 'misconfiguration', id: 'DS002', severity: 'HIGH', target: 't', title: '' }]);
  });

  test('GIVEN a report of the wrong shape THEN a ScanInputError names the Trivy report and the field', () => {
    expect(failureOf(() => parseTrivyReport({ Results: 'none' }))).toEqual({
      name: 'ScanInputError',
      message: 'Trivy report is malformed: Results: Invalid input: expected array, received string',
    });
  });
});

describe('parseIgnoreFile', () => {
  test.each([
    [
      { ignores: [{ id: 'CVE-2023-45853', reason: 'short', expires: '2026-06-30' }] },
      /ignores\.0\.reason: must explain the decision in at least 10 characters/,
    ],
    [{ ignores: [{ id: 'CVE-2023-45853', reason: REASON, expires: '2026-02-30' }] }, /ignores\.0\.expires: must be a real calendar date YYYY-MM-DD/],
    [{ ignores: [{ id: 'CVE-2023-45853', reason: REASON, expires: '30/06/2026' }] }, /ignores\.0\.expires/],
    [{ ignores: [{ id: 'zlib please', reason: REASON, expires: '2026-06-30' }] }, /ignores\.0\.id: must be an advisory id/],
    [{ ignores: [{ id: 'CVE-2023-45853', reason: REASON }] }, /ignores\.0\.expires/],
    [{ ignores: [{ id: 'CVE-2023-45853', reason: REASON, expiry: '2026-06-30', expires: '2026-06-30' }] }, /ignores\.0: .*expiry/],
    [{ ignore: [] }, /ignore file is malformed: .*ignores/],
  ])('rejects %j naming the field', (file, message) => {
    expect(() => parseIgnoreFile(file)).toThrow(message);
  });

  test('rejects duplicate ids', () => {
    const entry = { id: 'CVE-2023-45853', reason: REASON, expires: '2026-06-30' };
    expect(() => parseIgnoreFile({ ignores: [entry, entry] })).toThrow(/ignores\.1\.id: duplicate entry for CVE-2023-45853/);
  });

  test('a duplicate entry without resources is named as covering the id everywhere', () => {
    const entry = { id: 'CVE-2023-45853', reason: REASON, expires: '2026-06-30' };
    expect(failureOf(() => parseIgnoreFile({ ignores: [entry, entry] }))).toEqual({
      name: 'ScanInputError',
      message: 'ignore file is malformed: ignores.1.id: duplicate entry for CVE-2023-45853 (everywhere)',
    });
  });

  test.each(['x2026-06-30', '2026-06-30x', '2026-06-30T00:00:00Z', '2026-02-30', '2026-13-01', '2026-00-10', '2026-06-00', '0050-01-01'])(
    'refuses the expiry %j, which is not a real calendar date YYYY-MM-DD',
    (expires) => {
      expect(failureOf(() => parseIgnoreFile({ ignores: [{ id: 'CVE-2023-45853', reason: REASON, expires }] }))).toEqual({
        name: 'ScanInputError',
        message: 'ignore file is malformed: ignores.0.expires: must be a real calendar date YYYY-MM-DD',
      });
    },
  );

  test.each(['2028-02-29', '2026-12-31', '2026-01-01'])('accepts the expiry %j', (expires) => {
    const entry = { id: 'CVE-2023-45853', reason: REASON, expires };
    expect(parseIgnoreFile({ ignores: [entry] })).toEqual({ ignores: [entry] });
  });

  test('GIVEN input that is not an object THEN the message names the root', () => {
    expect(failureOf(() => parseIgnoreFile('ignore everything'))).toEqual({
      name: 'ScanInputError',
      message: 'ignore file is malformed: (root): Invalid input: expected object, received string',
    });
  });

  test('GIVEN several bad fields THEN the message names each, separated by "; "', () => {
    expect(failureOf(() => parseIgnoreFile({ ignores: [{ id: 'zlib please', reason: 'short', expires: '2026-06-30' }] }))).toEqual({
      name: 'ScanInputError',
      message:
        'ignore file is malformed: ignores.0.id: must be an advisory id such as CVE-2023-45853, GHSA-xxxx-xxxx-xxxx or AVD-AWS-0001; ' +
        'ignores.0.reason: must explain the decision in at least 10 characters',
    });
  });

  test('GIVEN an id that only contains a cloud check id THEN it is refused as an id, not asked for resources', () => {
    const entry = { id: 'XAVD-AWS-0104', reason: REASON, expires: '2026-06-30' };
    expect(failureOf(() => parseIgnoreFile({ ignores: [entry] }))).toEqual({
      name: 'ScanInputError',
      message: 'ignore file is malformed: ignores.0.id: must be an advisory id such as CVE-2023-45853, GHSA-xxxx-xxxx-xxxx or AVD-AWS-0001',
    });
  });

  test('accepts the checked-in file', () => {
    const checkedIn: unknown = JSON.parse(readFileSync(join(__dirname, '../../security/scan-ignore.json'), 'utf8'));
    const entries = (checkedIn as { ignores: unknown[] }).ignores;

    const parsed = parseIgnoreFile(checkedIn);

    // Every entry survives parsing as written (nothing dropped or rewritten).
    expect(entries.length).toBeGreaterThan(0);
    expect(parsed.ignores).toEqual(entries);
  });
});

describe('scan-gate CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scan-gate-'));
  const fixture = (name: string): string => join(__dirname, 'fixtures', name);
  let output: string[];

  beforeEach(() => {
    output = [];
    jest.spyOn(console, 'log').mockImplementation((line: string) => void output.push(line));
    jest.spyOn(console, 'error').mockImplementation((line: string) => void output.push(line));
  });
  afterEach(() => jest.restoreAllMocks());

  test('exits 1 with the blocking finding in the table', () => {
    expect(main([fixture('trivy-report-high.json'), join(__dirname, '../../security/scan-ignore.json')], TODAY)).toBe(1);
    const printed = output.join('\n');
    expect(printed).toMatch(/^ {2}HIGH +1$/m);
    expect(printed).toMatch(/^BLOCKING \(1\):\n {2}HIGH +CVE-2023-45853 +zlib1g 1:1\.2\.13\.dfsg-1 +zlib: integer overflow/m);
    expect(printed).toMatch(/^Scan gate FAILED: fix \(upgrade the package or base image\) or accept each finding in .*scan-ignore\.json/m);
  });

  test('exits 0 and shows the reason and expiry of each ignore used', () => {
    const ignore = join(dir, 'ignore.json');
    writeFileSync(ignore, JSON.stringify({ ignores: [{ id: 'CVE-2023-45853', reason: REASON, expires: '2026-06-30' }] }));
    expect(main([fixture('trivy-report-high.json'), ignore], TODAY)).toBe(0);
    const printed = output.join('\n');
    expect(printed).toContain(`Accepted (${ignore}):\n  ${'CVE-2023-45853'.padEnd(20)} ${'zlib1g'.padEnd(20)} expires 2026-06-30: ${REASON}`);
    expect(printed).toMatch(/Scan gate passed: no blocking HIGH or CRITICAL findings\.$/);
  });

  test('exits 2 naming the file when an input is unreadable or malformed', () => {
    const missing = join(dir, 'missing.json');
    expect(main([missing], TODAY)).toBe(2);
    expect(output).toEqual([expect.stringMatching(new RegExp(`^scan-gate: cannot read Trivy report ${missing}: ENOENT`))]);

    output.length = 0;
    const notJson = join(dir, 'not-json.json');
    writeFileSync(notJson, '{ "ignores": [');
    expect(main([fixture('trivy-report-high.json'), notJson], TODAY)).toBe(2);
    expect(output).toEqual([expect.stringMatching(new RegExp(`^scan-gate: ignore file ${notJson} is not valid JSON: `))]);

    // A file that parses but breaks the schema is named by its role, its path and the field.
    output.length = 0;
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ "ignores": [ { "id": "CVE-2023-45853" } ] }');
    expect(main([fixture('trivy-report-high.json'), bad], TODAY)).toBe(2);
    expect(output).toEqual([
      `scan-gate: ignore file ${bad} is malformed: ignores.0.reason: Invalid input: expected string, received undefined; ` +
        'ignores.0.expires: Invalid input: expected string, received undefined',
    ]);

    output.length = 0;
    const badReport = join(dir, 'bad-report.json');
    writeFileSync(badReport, '{ "Results": "none" }');
    expect(main([badReport, bad], TODAY)).toBe(2);
    expect(output).toEqual([`scan-gate: Trivy report ${badReport} is malformed: Results: Invalid input: expected array, received string`]);
  });
});

describe('misconfigurations of the synthesized templates: acceptances per resource', () => {
  /** A Trivy config report with AVD-AWS-0104 on the given logical ids (and one PASS, which never counts). */
  const report = (...resources: string[]) => ({
    Results: [
      {
        Target: 'cdk.out.dev/TapStack-dev.template.json',
        Misconfigurations: [
          ...resources.map((Resource) => ({
            ID: 'AWS-0104',
            AVDID: 'AVD-AWS-0104',
            Severity: 'CRITICAL',
            Title: 'A security group rule should not allow unrestricted egress to any IP address.',
            Status: 'FAIL',
            CauseMetadata: { Resource, Provider: 'AWS', Service: 'ec2' },
          })),
          {
            ID: 'AWS-0104',
            AVDID: 'AVD-AWS-0104',
            Severity: 'CRITICAL',
            Status: 'PASS',
            CauseMetadata: { Resource: 'DatabaseSecurityGroup5C91FDCB' },
          },
        ],
      },
    ],
  });
  const builds = {
    id: 'AVD-AWS-0104',
    reason: 'builds fetch packages over HTTPS through NAT',
    expires: '2026-12-31',
    resources: ['Delivery*SecurityGroup*'],
  };

  test('GIVEN an entry naming the build groups THEN their findings pass and the same rule on another group blocks', () => {
    const result = evaluateScan(
      report('DeliveryTestNode16SecurityGroupF754DFA0', 'PaymentServiceSecurityGroupA6B8193F'),
      { ignores: [builds] },
      TODAY,
    );

    expect(result.passed).toBe(false);
    expect(result.ignored.map((i) => i.finding.resource)).toEqual(['DeliveryTestNode16SecurityGroupF754DFA0']);
    expect(result.blocking).toEqual([
      expect.objectContaining({ id: 'AVD-AWS-0104', resource: 'PaymentServiceSecurityGroupA6B8193F', severity: 'CRITICAL' }),
    ]);
    expect(result.counts.CRITICAL).toBe(2);
  });

  test('GIVEN two entries for one id on different resources, each with its reason THEN each covers its own', () => {
    const hook = {
      id: 'AVD-AWS-0104',
      reason: 'the hook calls the test listener at public addresses',
      expires: '2026-12-31',
      resources: ['PaymentServiceSmokeTestSecurityGroup*'],
    };

    const result = evaluateScan(
      report('DeliveryDeploySecurityGroupA5AB9686', 'PaymentServiceSmokeTestSecurityGroupEDAD5F95'),
      { ignores: [builds, hook] },
      TODAY,
    );

    expect(result.passed).toBe(true);
    expect(result.ignored.map((i) => [i.finding.resource, i.entry.reason])).toEqual([
      ['DeliveryDeploySecurityGroupA5AB9686', builds.reason],
      ['PaymentServiceSmokeTestSecurityGroupEDAD5F95', hook.reason],
    ]);
    expect(result.unusedIgnores).toEqual([]);
  });

  test('GIVEN a finding without a resource, or a vulnerability with the same id THEN an entry with resources does not cover it', () => {
    const noResource = {
      Results: [{ Target: 't', Misconfigurations: [{ ID: 'AWS-0104', AVDID: 'AVD-AWS-0104', Severity: 'HIGH', Status: 'FAIL' }] }],
    };
    const unplaced = evaluateScan(noResource, { ignores: [builds] }, TODAY);
    expect(unplaced.passed).toBe(false);
    expect(unplaced.blocking.map((f) => f.id)).toEqual(['AVD-AWS-0104']);
    expect(unplaced.ignored).toEqual([]);
    const entry = { id: 'CVE-2023-45853', reason: REASON, expires: '2026-06-30', resources: ['Zlib*'] };
    const vulnerability = evaluateScan(highReport, { ignores: [entry] }, TODAY);
    expect(vulnerability.passed).toBe(false);
    expect(vulnerability.blocking.map((f) => f.id)).toEqual(['CVE-2023-45853']);
    expect(vulnerability.ignored).toEqual([]);
  });

  test('a pattern: * stands for letters and digits only, anchored at both ends', () => {
    expect(resourceMatches('Delivery*SecurityGroup*', 'DeliveryIaCCheckSecurityGroup2648B734')).toBe(true);
    expect(resourceMatches('Delivery*SecurityGroup*', 'XDeliveryIaCCheckSecurityGroup2648B734')).toBe(false);
    expect(resourceMatches('Delivery*SecurityGroup', 'DeliveryIaCCheckSecurityGroup2648B734')).toBe(false);
    expect(resourceMatches('Delivery*SecurityGroup*', 'Delivery.SecurityGroup')).toBe(false);
    expect(resourceMatches('LoadBalancerSecurityGroupA28D6DD7', 'LoadBalancerSecurityGroupA28D6DD7')).toBe(true);
    expect(resourceMatches('LoadBalancerSecurityGroupA28D6DD7', 'LoadBalancerSecurityGroupA28D6DD70')).toBe(false);
    expect(resourceMatches('Delivery*Node*SecurityGroup*', 'DeliveryTestNode20SecurityGroupEECD482D')).toBe(true);
    expect(resourceMatches('Delivery*Node*SecurityGroup*', 'DeliveryLintTypecheckSecurityGroup390B1A66')).toBe(false);
    expect(resourceMatches('AbcdAbcd*', 'Abcd')).toBe(false);
    expect(resourceMatches('Ab*Ab', 'Ab')).toBe(false);
  });

  test('a pattern: * may stand for nothing, so the literal pieces alone match', () => {
    expect(resourceMatches('Abcd*Efgh', 'AbcdEfgh')).toBe(true);
    expect(resourceMatches('Abcd*', 'Abcd')).toBe(true);
    expect(resourceMatches('Abcd*Efgh', 'AbcdEfg')).toBe(false);
  });

  test('a pattern: the last piece must end the id, wherever else it appears', () => {
    expect(resourceMatches('Abcd*Zz', 'AbcdXZz')).toBe(true);
    expect(resourceMatches('Abcd*Ab', 'AbcdXyz')).toBe(false);
    expect(resourceMatches('Abcd*Ab', 'AbcdAbX')).toBe(false);
  });

  test('a pattern: a middle piece must fit before the last piece, without sharing its characters', () => {
    expect(resourceMatches('Abcd*Mid*Mid', 'AbcdXMid')).toBe(false);
    expect(resourceMatches('Abcd*Mid*Mid', 'AbcdMidMid')).toBe(true);
    expect(resourceMatches('Abcd*Mid*Zz', 'AbcdMidZz')).toBe(true);
    expect(resourceMatches('Abcd*Mid*Zz', 'AbcdMiZz')).toBe(false);
  });

  test('a pattern: the middle pieces match in their order, each after the previous one', () => {
    expect(resourceMatches('Abcd*Second*First*', 'AbcdSecondFirstX')).toBe(true);
    expect(resourceMatches('Abcd*Second*First*', 'AbcdFirstSecondX')).toBe(false);
    expect(resourceMatches('Abcd*Xy*Xy*Zz', 'AbcdXyQZz')).toBe(false);
    expect(resourceMatches('Abcd*Xy*Xy*Zz', 'AbcdXyXyZz')).toBe(true);
  });

  test('the matcher alone places a piece at the very start when the pattern begins with * (the ignore file refuses such patterns)', () => {
    expect(resourceMatches('*Mid*', 'MidXyz')).toBe(true);
    expect(resourceMatches('*Mid*', 'XyzAbc')).toBe(false);
  });

  test('GIVEN an entry with two patterns of which one names the resource THEN it covers the finding', () => {
    const twoPlaces = { ...builds, resources: ['LoadBalancer*', 'Delivery*SecurityGroup*'] };

    const result = evaluateScan(report('DeliveryDeploySecurityGroupA5AB9686'), { ignores: [twoPlaces] }, TODAY);

    expect(result.passed).toBe(true);
    expect(result.ignored).toEqual([
      {
        finding: {
          kind: 'misconfiguration',
          id: 'AVD-AWS-0104',
          severity: 'CRITICAL',
          target: 'cdk.out.dev/TapStack-dev.template.json',
          title: 'A security group rule should not allow unrestricted egress to any IP address.',
          resource: 'DeliveryDeploySecurityGroupA5AB9686',
        },
        entry: twoPlaces,
      },
    ]);
    expect(result.blocking).toEqual([]);
  });

  test.each([
    [['*'], 'ignores.0.resources.0: must begin with at least 4 letters or digits of the logical id (a leading * would name every resource)'],
    [['*Bucket*'], 'ignores.0.resources.0: must begin with at least 4 letters or digits of the logical id (a leading * would name every resource)'],
    [['Ab*'], 'ignores.0.resources.0: must begin with at least 4 letters or digits of the logical id (a leading * would name every resource)'],
    [['Bad-Id'], 'ignores.0.resources.0: must be a CloudFormation logical id, with * for the generated suffix'],
    [[], 'ignores.0.resources: must name at least one resource'],
  ])('GIVEN resources %j THEN the ignore file is refused, naming the field', (resources, message) => {
    expect(() => parseIgnoreFile({ ignores: [{ ...builds, resources }] })).toThrow(`ignore file is malformed: ${message}`);
  });

  test('GIVEN a cloud misconfiguration accepted without resources THEN the ignore file is refused (it would cover every resource)', () => {
    const everywhere = { id: builds.id, reason: builds.reason, expires: builds.expires };
    expect(() => parseIgnoreFile({ ignores: [everywhere] })).toThrow(
      'ignore file is malformed: ignores.0.resources: a cloud misconfiguration is accepted on named resources only: list the logical ids it covers',
    );
    expect(() =>
      parseIgnoreFile({ ignores: [{ id: 'DS002', reason: 'the build stage runs as root by design', expires: '2026-12-31' }] }),
    ).not.toThrow();
  });

  test('GIVEN the same id and resources twice THEN refused; the same id on other resources is fine', () => {
    expect(() => parseIgnoreFile({ ignores: [builds, builds] })).toThrow('duplicate entry for AVD-AWS-0104 Delivery*SecurityGroup*');
    expect(() => parseIgnoreFile({ ignores: [builds, { ...builds, resources: ['LoadBalancer*'] }] })).not.toThrow();
  });

  test('GIVEN the same id and several resources twice THEN the refusal lists the resources joined by commas', () => {
    const twoPlaces = { ...builds, resources: ['Delivery*SecurityGroup*', 'LoadBalancer*'] };
    expect(failureOf(() => parseIgnoreFile({ ignores: [twoPlaces, twoPlaces] }))).toEqual({
      name: 'ScanInputError',
      message: 'ignore file is malformed: ignores.1.id: duplicate entry for AVD-AWS-0104 Delivery*SecurityGroup*,LoadBalancer*',
    });
  });
});

test('a check printed without its AVD prefix (Trivy 0.69 and later) is read as the AVD id the acceptances use; other ids stay', () => {
  const report = {
    Results: [
      {
        Target: 't',
        Misconfigurations: [
          { ID: 'AWS-0104', Severity: 'CRITICAL', Status: 'FAIL' },
          { ID: 'DS002', Severity: 'HIGH', Status: 'FAIL' },
        ],
      },
    ],
  };
  expect(evaluateScan(report, { ignores: [] }, TODAY).blocking.map((f) => f.id)).toEqual(['AVD-AWS-0104', 'DS002']);
});

test('only a whole check id of the form PREFIX-0000 gets the AVD prefix', () => {
  const report = {
    Results: [
      {
        Target: 't',
        Misconfigurations: [
          { ID: 'my-AWS-0104', Severity: 'HIGH', Status: 'FAIL' },
          { ID: 'AWS-01040', Severity: 'HIGH', Status: 'FAIL' },
          { ID: 'AWS-0104', Severity: 'HIGH', Status: 'FAIL' },
        ],
      },
    ],
  };
  expect(parseTrivyReport(report).map((f) => f.id)).toEqual(['my-AWS-0104', 'AWS-01040', 'AVD-AWS-0104']);
});
