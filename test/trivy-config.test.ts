import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TRIVY_VERSION } from '../lib/pipeline/steps/trivy';
import {
  cachedTrivyPath,
  main,
  MIN_CHECKS_PER_RECOVERY_TEMPLATE,
  MIN_CHECKS_PER_TEMPLATE,
  nameResources,
  reportProblem,
  templates,
  TRIVY_CONFIG_FLAGS,
} from '../scripts/trivy-config';

/**
 * scripts/trivy-config.ts against a stand-in `trivy` (a shell script that records its arguments and writes the report
 * it is given), in a scratch checkout with one synthesized template: the lookup, the offline flags, the gate.
 */
describe('npm run iac:trivy (scripts/trivy-config.ts)', () => {
  let root: string;
  let output: string[];
  let spy: jest.SpyInstance[];

  const misconfiguration = (Resource: string, Severity = 'CRITICAL') => ({
    ID: 'AWS-0104',
    AVDID: 'AVD-AWS-0104',
    Severity,
    Title: 'A security group rule should not allow unrestricted egress to any IP address.',
    Status: 'FAIL',
    CauseMetadata: { Resource },
  });

  /** A report as Trivy 0.73 writes it for the scratch template, with these misconfigurations. */
  const scanned = (misconfigurations: unknown[], overrides: Record<string, unknown> = {}) => ({
    Trivy: { Version: TRIVY_VERSION },
    ArtifactName: path.join(root, 'cdk.out.dev', 'TapStack-dev.template.json'),
    Results: [
      {
        Target: 'TapStack-dev.template.json',
        Class: 'config',
        Type: 'cloudformation',
        MisconfSummary: { Successes: 66, Failures: misconfigurations.length },
        Misconfigurations: misconfigurations,
      },
    ],
    ...overrides,
  });

  /**
   * A `trivy` that answers --version with `version` and writes `report` to the --output path (`report` undefined:
   * writes nothing), then exits with `exitCode`.
   */
  function fakeTrivy(version: string, report: unknown, exitCode = 0): string {
    const bin = path.join(root, 'bin', 'trivy');
    fs.mkdirSync(path.dirname(bin), { recursive: true });
    if (report !== undefined) fs.writeFileSync(path.join(root, 'report.json'), JSON.stringify(report));
    fs.writeFileSync(
      bin,
      [
        '#!/bin/sh',
        `if [ "$1" = "--version" ]; then echo "Version: ${version}"; exit 0; fi`,
        `echo "$@" >> "${path.join(root, 'calls.txt')}"`,
        'while [ $# -gt 0 ]; do if [ "$1" = "--output" ]; then out="$2"; fi; shift; done',
        report === undefined ? 'true' : `cp "${path.join(root, 'report.json')}" "$out"`,
        `exit ${exitCode}`,
      ].join('\n'),
      { mode: 0o755 },
    );
    return bin;
  }

  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({ PATH: '/nonexistent', HOME: root, ...extra });

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'trivy-config-'));
    fs.mkdirSync(path.join(root, 'cdk.out.dev'));
    fs.writeFileSync(path.join(root, 'cdk.out.dev', 'TapStack-dev.template.json'), JSON.stringify({ Resources: {} }));
    fs.mkdirSync(path.join(root, 'security'));
    fs.writeFileSync(path.join(root, 'security', 'scan-ignore.json'), JSON.stringify({ ignores: [] }));
    output = [];
    spy = [
      jest.spyOn(console, 'log').mockImplementation((line: string) => void output.push(line)),
      jest.spyOn(console, 'error').mockImplementation((line: string) => void output.push(line)),
    ];
  });
  afterEach(() => {
    spy.forEach((s) => s.mockRestore());
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('GIVEN no Trivy and no Go THEN a local run is skipped with the reason printed, never silently', () => {
    expect(main(env(), root)).toBe(0);
    expect(output).toEqual([
      `trivy config: SKIPPED: no trivy ${TRIVY_VERSION} (TRIVY_BIN unset, none on PATH, none in ${cachedTrivyPath(env())}) and no Go toolchain to build it. Install Go (go.dev) or set TRIVY_BIN to run it; the pipeline always runs it.`,
    ]);
  });

  test('GIVEN no Trivy in CodeBuild (or TRIVY_REQUIRED=1) THEN the step fails', () => {
    expect(main(env({ CODEBUILD_BUILD_ID: 'tap:1' }), root)).toBe(2);
    expect(main(env({ TRIVY_REQUIRED: '1' }), root)).toBe(2);
    expect(output[0]).toMatch(/^trivy config: FAILED: no trivy /);
  });

  test('GIVEN a Trivy of another version THEN it is not used', () => {
    const bin = fakeTrivy('0.50.0', { Results: [] });
    expect(main(env({ TRIVY_BIN: bin, TRIVY_REQUIRED: '1' }), root)).toBe(2);
    expect(output).toEqual([`trivy config: FAILED: TRIVY_BIN=${bin} reports version 0.50.0, the pinned version is ${TRIVY_VERSION}`]);
    expect(fs.existsSync(path.join(root, 'calls.txt'))).toBe(false);
  });

  test('GIVEN a CRITICAL misconfiguration nobody accepted THEN it blocks, offline flags were passed, and the counts are printed', () => {
    const bin = fakeTrivy(TRIVY_VERSION, scanned([misconfiguration('PaymentServiceSecurityGroupA6B8193F')]));
    expect(main(env({ PATH: path.dirname(bin) }), root)).toBe(1);
    const template = path.join(root, 'cdk.out.dev', 'TapStack-dev.template.json');
    const report = path.join(root, 'reports', 'trivy-config-dev.json');
    expect(fs.readFileSync(path.join(root, 'calls.txt'), 'utf8').trim()).toBe(
      ['config', ...TRIVY_CONFIG_FLAGS, '--format', 'json', '--output', report, template].join(' '),
    );
    expect(output).toContain('trivy config dev: CRITICAL 1, HIGH 0, MEDIUM 0, LOW 0; 0 HIGH/CRITICAL accepted with a reason, 1 blocking');
    expect(output.join('\n')).toMatch(/BLOCKING \(1\):\n.*AVD-AWS-0104.*PaymentServiceSecurityGroupA6B8193F/);
  });

  test('GIVEN the finding accepted for that resource THEN it passes', () => {
    const bin = fakeTrivy(TRIVY_VERSION, scanned([misconfiguration('DeliveryDeploySecurityGroupA5AB9686', 'HIGH')]));
    fs.writeFileSync(
      path.join(root, 'security', 'scan-ignore.json'),
      JSON.stringify({
        ignores: [{ id: 'AVD-AWS-0104', reason: 'builds fetch packages over HTTPS', expires: '2999-12-31', resources: ['Delivery*SecurityGroup*'] }],
      }),
    );
    expect(main(env({ TRIVY_BIN: bin }), root)).toBe(0);
    expect(output).toEqual([
      `trivy config: Trivy ${TRIVY_VERSION} (TRIVY_BIN)`,
      'trivy config dev: CRITICAL 0, HIGH 1, MEDIUM 0, LOW 0; 1 HIGH/CRITICAL accepted with a reason, 0 blocking',
    ]);
  });

  test.each([
    [
      'read nothing as CloudFormation (empty results)',
      { Results: null },
      0,
      'the report is without a CloudFormation result for TapStack-dev.template.json',
    ],
    ['ran too few checks', { MisconfSummary: { Successes: 3, Failures: 0 } }, 0, 'the report is with 3 checks run, fewer than 40'],
    ['came from another version', { Trivy: { Version: '0.60.0' } }, 0, `the report is written by Trivy 0.60.0, not ${TRIVY_VERSION}`],
    ['exited 1', {}, 1, 'trivy did not complete'],
  ])('GIVEN Trivy %s THEN the step fails, whatever the findings', (_what, change, exitCode, message) => {
    const report = scanned([]);
    const changed = 'MisconfSummary' in change ? { ...report, Results: [{ ...report.Results[0], ...change }] } : { ...report, ...change };
    const bin = fakeTrivy(TRIVY_VERSION, changed, exitCode);
    expect(main(env({ TRIVY_BIN: bin }), root)).toBe(1);
    expect(output.join('\n')).toContain(`trivy config dev: FAILED: ${message}`);
  });

  test('GIVEN Trivy writes no report THEN the step fails, and a report left by an earlier run is not read', () => {
    fs.mkdirSync(path.join(root, 'reports'));
    fs.writeFileSync(path.join(root, 'reports', 'trivy-config-dev.json'), JSON.stringify(scanned([])));
    const bin = fakeTrivy(TRIVY_VERSION, undefined);
    expect(main(env({ TRIVY_BIN: bin }), root)).toBe(1);
    expect(output.join('\n')).toContain(`trivy config dev: FAILED: trivy wrote no report to ${path.join(root, 'reports', 'trivy-config-dev.json')}`);
  });

  test('GIVEN no synthesized template THEN it fails and says to synthesize first', () => {
    fs.rmSync(path.join(root, 'cdk.out.dev'), { recursive: true });
    expect(main(env(), root)).toBe(2);
    expect(output).toEqual(['trivy config: no templates; run scripts/synth-all.sh first']);
  });
});

describe('nameResources: a finding Trivy places by line range is given the resource that holds the line', () => {
  // As CDK writes templates: one-space indentation.
  const template = JSON.stringify(
    {
      Resources: {
        AuditTrail49D399D8: { Type: 'AWS::CloudTrail::Trail', Properties: { KMSKeyId: { 'Fn::GetAtt': ['Key', 'Arn'] }, IsLogging: true } },
        AccessLogsBucketCD784A59: { Type: 'AWS::S3::Bucket', Properties: { BucketEncryption: {} } },
      },
      Outputs: { Url: { Value: 'x' } },
    },
    null,
    1,
  );
  const lines = template.split('\n');
  const lineOf = (text: string) => lines.findIndex((l) => l.includes(text)) + 1;
  const finding = (Resource: string, StartLine: number) => ({ ID: 'AWS-0015', Status: 'FAIL', CauseMetadata: { Resource, StartLine } });

  test('GIVEN line ranges inside two resources THEN each gets its logical id; a named finding keeps its name', () => {
    const report = {
      Results: [
        {
          Target: 't',
          Misconfigurations: [
            finding('TapStack-dev.template.json:3-9', lineOf('"IsLogging"')),
            finding('TapStack-dev.template.json:12-15', lineOf('"BucketEncryption"')),
            // Named by Trivy, inside another resource's lines: the name stands.
            finding('LoadBalancerAlb240B1141', lineOf('"IsLogging"')),
          ],
        },
      ],
    };
    const named = nameResources(report, template) as typeof report;
    expect(named.Results[0]!.Misconfigurations.map((m) => m.CauseMetadata.Resource)).toEqual([
      'AuditTrail49D399D8',
      'AccessLogsBucketCD784A59',
      'LoadBalancerAlb240B1141',
    ]);
  });

  test('GIVEN a range that runs from one resource into the next THEN it is given neither', () => {
    const start = lineOf('"IsLogging"');
    const report = {
      Results: [
        {
          Target: 't',
          Misconfigurations: [
            { ID: 'AWS-0015', Status: 'FAIL', CauseMetadata: { Resource: 'r', StartLine: start, EndLine: lineOf('"BucketEncryption"') } },
          ],
        },
      ],
    };
    const named = nameResources(report, template) as typeof report;
    expect(named.Results[0]!.Misconfigurations[0]!.CauseMetadata.Resource).toBe('r');
  });

  test('GIVEN a line outside Resources (an output) THEN the finding is not given a resource it is not in', () => {
    const report = {
      Results: [
        {
          Target: 't',
          Misconfigurations: [finding('TapStack-dev.template.json:1-2', 1), finding('TapStack-dev.template.json:30-31', lineOf('"Url"'))],
        },
      ],
    };
    const named = nameResources(report, template) as typeof report;
    expect(named.Results[0]!.Misconfigurations.map((m) => m.CauseMetadata.Resource)).toEqual([
      'TapStack-dev.template.json:1-2',
      'TapStack-dev.template.json:30-31',
    ]);
  });
});

describe('the templates Trivy scans (scripts/trivy-config.ts templates())', () => {
  test("each environment's main stack and its recovery stack, each with the fewest checks a full read of it runs", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'trivy-templates-'));
    fs.mkdirSync(path.join(root, 'cdk.out.dev'));
    for (const name of ['TapStack-dev.template.json', 'TapStack-dev-recovery.template.json', 'manifest.json']) {
      fs.writeFileSync(path.join(root, 'cdk.out.dev', name), '{}');
    }
    expect(templates(root)).toEqual([
      { env: 'dev', file: path.join(root, 'cdk.out.dev', 'TapStack-dev.template.json'), minChecks: MIN_CHECKS_PER_TEMPLATE },
      {
        env: 'dev-recovery',
        file: path.join(root, 'cdk.out.dev', 'TapStack-dev-recovery.template.json'),
        minChecks: MIN_CHECKS_PER_RECOVERY_TEMPLATE,
      },
    ]);
  });

  test('a recovery report with 30 checks is a full read; a main-stack report with 30 is not', () => {
    const file = '/x/cdk.out.dev/TapStack-dev-recovery.template.json';
    const report = {
      Trivy: { Version: TRIVY_VERSION },
      ArtifactName: file,
      Results: [{ Target: path.basename(file), Class: 'config', Type: 'cloudformation', MisconfSummary: { Successes: 28, Failures: 2 } }],
    };
    expect(reportProblem(report, file, MIN_CHECKS_PER_RECOVERY_TEMPLATE)).toBeUndefined();
    expect(reportProblem(report, file)).toBe(`with 30 checks run, fewer than ${MIN_CHECKS_PER_TEMPLATE} (the template was not fully read)`);
  });
});
