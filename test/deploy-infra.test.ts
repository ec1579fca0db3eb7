/**
 * scripts/deploy-infra.sh, the break-glass path, run for real by bash with `aws`, `npm` and `npx` replaced by recording
 * stand-ins on PATH (no AWS, no synth): it refuses without a reason, and announces itself before and after.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SCRIPT = join(__dirname, '..', 'scripts', 'deploy-infra.sh');
const RECOVERY_SCRIPT = join(__dirname, '..', 'scripts', 'deploy-recovery.sh');
const TOPIC = 'arn:aws:sns:us-east-1:111111111111:alarms';

function run(
  reason: string | undefined,
  cdkDeployExit = 0,
  script = SCRIPT,
  args = ['prod', '-c', 'newDatabase=true'],
  topic = TOPIC,
): { status: number | null; stderr: string; calls: string[] } {
  const bin = mkdtempSync(join(tmpdir(), 'break-glass-'));
  const log = join(bin, 'calls.log');
  const stub = (name: string, body: string): void => {
    // One line per call: a multi-line argument (the announcement) is joined with "|".
    writeFileSync(join(bin, name), `#!/usr/bin/env bash\necho "${name} $(printf '%s ' "$@" | tr '\\n' '|')" >> "${log}"\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  stub(
    'aws',
    [
      'case "$*" in',
      '  *"--query Account"*) echo 111111111111 ;;',
      '  *"--query Arn"*) echo arn:aws:sts::111111111111:assumed-role/oncall/alice ;;',
      `  *describe-stacks*) echo ${topic} ;;`,
      'esac',
    ].join('\n'),
  );
  stub('npm', 'exit 0');
  stub('npx', `case "$*" in *"cdk deploy"*) exit ${cdkDeployExit} ;; esac; exit 0`);
  const env: NodeJS.ProcessEnv = { PATH: `${bin}:${process.env.PATH}`, HOME: process.env.HOME };
  if (reason !== undefined) env.BREAK_GLASS_REASON = reason;
  const result = spawnSync('bash', [script, ...args], { env, encoding: 'utf8' });
  let calls: string[] = [];
  try {
    calls = readFileSync(log, 'utf8').trim().split('\n');
  } catch {
    calls = [];
  }
  return { status: result.status, stderr: result.stderr, calls };
}

describe('scripts/deploy-infra.sh (break-glass)', () => {
  test.each([[undefined], ['urgent']])('GIVEN no reason, or one too short to say anything (%p) THEN exits 2 before calling anything', (reason) => {
    const r = run(reason);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('set BREAK_GLASS_REASON');
    expect(r.calls).toEqual([]);
  });

  test('GIVEN a reason THEN announces who and why before deploying, runs the guard, deploys with the flags, announces success', () => {
    const r = run('INC-1234: WAF rule blocks card networks');
    expect(r.status).toBe(0);
    const publishes = r.calls.filter((c) => c.startsWith('aws sns publish'));
    expect(publishes).toHaveLength(2);
    expect(publishes[0]).toContain('[prod] BREAK-GLASS infrastructure deploy started');
    expect(publishes[0]).toContain('Who: arn:aws:sts::111111111111:assumed-role/oncall/alice');
    expect(publishes[0]).toContain('Reason: INC-1234: WAF rule blocks card networks');
    expect(publishes[0]).toContain('Arguments: -c newDatabase=true');
    expect(publishes[1]).toContain('[prod] BREAK-GLASS infrastructure deploy succeeded');
    const order = (prefix: string) => r.calls.findIndex((c) => c.startsWith(prefix));
    expect(order('npx tsx tools/listener-guard/cli.ts')).toBeGreaterThan(order('npx cdk synth -q -c env=prod -c newDatabase=true'));
    expect(order('aws sns publish')).toBeGreaterThan(order('npx tsx tools/listener-guard/cli.ts'));
    expect(order('npx cdk deploy -c env=prod --app cdk.out.prod --require-approval broadening TapStack-prod -c newDatabase=true')).toBeGreaterThan(
      order('aws sns publish'),
    );
  });

  test('GIVEN the deploy fails THEN announces the failure and exits with its code', () => {
    const r = run('INC-1234: WAF rule blocks card networks', 3);
    expect(r.status).toBe(3);
    const publishes = r.calls.filter((c) => c.startsWith('aws sns publish'));
    expect(publishes[1]).toContain('BREAK-GLASS infrastructure deploy FAILED (exit 3)');
  });
});

describe('scripts/deploy-recovery.sh', () => {
  test('GIVEN an environment THEN runs the preflight and the synth, announces itself, and deploys the recovery stack alone', () => {
    const r = run(undefined, 0, RECOVERY_SCRIPT, ['staging']);
    expect(r.status).toBe(0);
    const order = (prefix: string) => r.calls.findIndex((c) => c.startsWith(prefix));
    expect(order('npm run --silent preflight -- staging 111111111111')).toBeGreaterThanOrEqual(0);
    expect(order('npx cdk synth -q -c env=staging -o cdk.out.staging')).toBeGreaterThan(order('npm run --silent preflight'));
    const deploy = order('npx cdk deploy -c env=staging --app cdk.out.staging --exclusively --require-approval broadening TapStack-staging-recovery');
    expect(deploy).toBeGreaterThan(order('npx cdk synth'));
    const publishes = r.calls.filter((c) => c.startsWith('aws sns publish'));
    expect(publishes).toHaveLength(2);
    expect(publishes[0]).toContain('[staging] recovery stack deploy started');
    expect(publishes[0]).toContain('Who: arn:aws:sts::111111111111:assumed-role/oncall/alice');
    expect(publishes[0]).toContain('Stack: TapStack-staging-recovery');
    expect(publishes[1]).toContain('[staging] recovery stack deploy succeeded');
    expect(r.calls.indexOf(publishes[0]!)).toBeLessThan(deploy);
  });

  test('GIVEN the main stack does not exist yet (first deployment) THEN deploys without announcing', () => {
    const r = run(undefined, 0, RECOVERY_SCRIPT, ['dev'], 'None');
    expect(r.status).toBe(0);
    expect(r.calls.filter((c) => c.startsWith('aws sns publish'))).toEqual([]);
    expect(r.calls.some((c) => c.startsWith('npx cdk deploy') && c.includes('TapStack-dev-recovery'))).toBe(true);
  });

  test('GIVEN the deploy fails THEN announces the failure and exits with its code', () => {
    const r = run(undefined, 4, RECOVERY_SCRIPT, ['prod']);
    expect(r.status).toBe(4);
    expect(r.calls.filter((c) => c.startsWith('aws sns publish'))[1]).toContain('recovery stack deploy FAILED (exit 4)');
  });

  test('GIVEN no environment THEN exits non-zero with the usage, before calling anything', () => {
    const r = run(undefined, 0, RECOVERY_SCRIPT, []);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('usage: npm run deploy:recovery -- <dev|staging|prod>');
    expect(r.calls).toEqual([]);
  });
});
