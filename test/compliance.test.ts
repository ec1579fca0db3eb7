import { App, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { staleAcknowledgements } from '../lib/compliance/stale';
import { compliancePacks, listAcknowledgements } from '../lib/compliance/packs';
import { ACCOUNT_MODES, buildEnv, ENVS, shippedConfigs, synthEnv } from './helpers';

const CASES = ENVS.flatMap((env) => ACCOUNT_MODES.map((mode) => [env, mode] as const));

describe.each(CASES)('compliance of %s, account %s', (env, mode) => {
  const { stack } = synthEnv(env, mode);

  test.each(compliancePacks().map((p) => [p.readPackName, p] as const))('%s: zero unacknowledged findings', (_name, pack) => {
    const findings = pack.validateScope(stack).violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`));
    expect(findings).toEqual([]);
  });

  test('every acknowledgement names one finding and gives a real reason, and none sits on the stack', () => {
    // Only this app's cdk-nag acknowledgements; CDK itself records some of its own (CloudFormation-Validate::...).
    const acks = listAcknowledgements(stack).filter((a) => /^(AwsSolutions|PCI\.DSS\.321|NIST\.800\.53\.R5)/.test(a.id.replace(/^[\w.-]+::/, '')));
    expect(acks.length).toBeGreaterThan(0);
    for (const a of acks) {
      expect(a.path).not.toBe(stack.node.path);
      expect(a.id).toMatch(/^([\w.-]+::)?[\w.-]+-\w+(\[[^\]]+\])?$/);
      expect(a.reason.length).toBeGreaterThanOrEqual(40);
    }
  });
});

describe.each(CASES)('acknowledgements of %s, account %s', (env, mode) => {
  test('none is stale: each one silences a finding that exists without it', () => {
    const build = () => {
      const stack = buildEnv(env, mode);
      (stack.node.root as App).synth();
      return stack;
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
  test('an unencrypted, unversioned bucket is reported by all three packs', () => {
    const bad = new Stack(new App(), 'Bad');
    new s3.Bucket(bad, 'Bucket');
    for (const pack of compliancePacks()) expect(pack.validateScope(bad).violations.length).toBeGreaterThan(0);
  });
});
