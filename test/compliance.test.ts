import { App, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { staleAcknowledgements } from '../lib/compliance/stale';
import { compliancePacks, listAcknowledgements } from '../lib/compliance/packs';
import { ACCOUNT_MODES, buildEnv, ENVS, shippedConfigs, synthEnv } from './helpers';

const CASES = ENVS.flatMap((env) => ACCOUNT_MODES.map((mode) => [env, mode] as const));

describe.each(CASES)('compliance of %s, account %s', (env, mode) => {
  const { stack } = synthEnv(env, mode);

  // Every stack of the app (the main stack and the recovery stack), as the synth's policy-validation plugins see it.
  const app = stack.node.root;

  test.each(compliancePacks().map((p) => [p.readPackName, p] as const))('%s: zero unacknowledged findings', (_name, pack) => {
    const findings = pack.validateScope(app).violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`));
    expect(findings).toEqual([]);
  });

  test('every acknowledgement names one finding and gives a real reason, and none sits on the stack', () => {
    // Only this app's cdk-nag acknowledgements; CDK itself records some of its own (CloudFormation-Validate::...).
    const acks = listAcknowledgements(app).filter((a) =>
      /^(AwsSolutions|PCI\.DSS\.321|NIST\.800\.53\.R5|PCI\.DSS\.401)-/.test(a.id.replace(/^[\w.-]+::/, '')),
    );
    expect(acks.length).toBeGreaterThan(0);
    const stackPaths = app.node.children.map((c) => c.node.path);
    for (const a of acks) {
      expect(stackPaths).not.toContain(a.path);
      expect(a.id).toMatch(/^([\w.-]+::)?[\w.-]+-\w+(\[[^\]]+\])?$/);
      expect(a.reason.length).toBeGreaterThanOrEqual(40);
    }
  });
});

describe.each(CASES)('acknowledgements of %s, account %s', (env, mode) => {
  test('none is stale: each one silences a finding that exists without it', () => {
    const build = () => {
      // The whole app: the recovery stack's acknowledgements are checked too.
      const root = buildEnv(env, mode).node.root as App;
      root.synth();
      return root;
    };
    expect(staleAcknowledgements(build)).toEqual([]);
  });
});

describe('an account-bound synth needs no AWS call', () => {
  test.each(ENVS)('%s: no context lookup is left unanswered (zones come from config)', (env) => {
    const { stack } = synthEnv(env, 'bound');
    expect(stack.account).toBe(shippedConfigs()[env].account);
    const assembly = (stack.node.root as App).synth();
    expect(assembly.manifest.missing ?? []).toEqual([]);
    expect(stack.availabilityZones).toEqual(shippedConfigs()[env].network.availabilityZones);
  });
});

describe('the packs catch a real violation', () => {
  test('an unencrypted, unversioned bucket is reported by the three published packs', () => {
    const bad = new Stack(new App(), 'Bad');
    new s3.Bucket(bad, 'Bucket');
    const published = compliancePacks().filter((p) => ['AwsSolutions', 'PCI.DSS.321', 'NIST.800.53.R5'].includes(p.readPackName));
    expect(published.length).toBe(3);
    for (const pack of published) expect(pack.validateScope(bad).violations.length).toBeGreaterThan(0);
  });

  test('a log group kept a month and a key that never rotates are reported by the PCI DSS v4.0.1 pack', () => {
    const bad = new Stack(new App(), 'Bad');
    new logs.LogGroup(bad, 'Logs', { retention: logs.RetentionDays.ONE_MONTH });
    new kms.Key(bad, 'Key', { enableKeyRotation: false });
    const pack = compliancePacks().find((p) => p.readPackName === 'PCI.DSS.401')!;
    expect(
      pack
        .validateScope(bad)
        .violations.map((v) => v.ruleName)
        .sort(),
    ).toEqual(['PCI.DSS.401-KMSKeyCryptoperiod', 'PCI.DSS.401-LogGroupRetentionOneYear']);
  });
});
