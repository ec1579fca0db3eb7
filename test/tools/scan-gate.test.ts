import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../tools/scan-gate/cli';
import { evaluateScan, parseIgnoreFile } from '../../tools/scan-gate/scan-gate';
import highReport from './fixtures/trivy-report-high.json';
import secretReport from './fixtures/trivy-report-secret.json';

const TODAY = new Date('2026-03-01T12:00:00Z');
const REASON = 'zlib minizip is not used by the service; Debian will not fix';

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
    expect(result.expired).toEqual([]);
  });

  test('GIVEN the ignore expires today THEN it still applies', () => {
    expect(evaluateScan(highReport, { ignores: [{ id: 'CVE-2023-45853', reason: REASON, expires: '2026-03-01' }] }, TODAY).passed).toBe(true);
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
    expect(evaluateScan(highReport, { ignores: [entry] }, TODAY).unusedIgnores).toEqual([entry]);
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

  test('accepts the checked-in file', () => {
    expect(() => parseIgnoreFile({ ignores: [] })).not.toThrow();
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
    expect(output.join('\n')).toMatch(/HIGH +1/);
    expect(output.join('\n')).toMatch(/HIGH +CVE-2023-45853 +zlib1g 1:1.2.13.dfsg-1 +zlib: integer overflow/);
  });

  test('exits 0 and shows the reason and expiry of each ignore used', () => {
    const ignore = join(dir, 'ignore.json');
    writeFileSync(ignore, JSON.stringify({ ignores: [{ id: 'CVE-2023-45853', reason: REASON, expires: '2026-06-30' }] }));
    expect(main([fixture('trivy-report-high.json'), ignore], TODAY)).toBe(0);
    expect(output.join('\n')).toContain(`expires 2026-06-30: ${REASON}`);
  });

  test('exits 2 naming the file when an input is unreadable or malformed', () => {
    expect(main([join(dir, 'missing.json')], TODAY)).toBe(2);
    expect(output.join('\n')).toMatch(/cannot read Trivy report .*missing\.json/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ "ignores": [ { "id": "CVE-2023-45853" } ] }');
    expect(main([fixture('trivy-report-high.json'), bad], TODAY)).toBe(2);
    expect(output.join('\n')).toMatch(/ignore file is malformed: ignores\.0\.reason/);
  });
});
