import { compliancePacks, listAcknowledgements } from '../lib/compliance/packs';
import { ENVS, synthEnv } from './helpers';

describe.each(ENVS)('compliance of %s', (env) => {
  const { stack } = synthEnv(env);

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

describe('the packs catch a real violation', () => {
  test('an unencrypted, unversioned bucket is reported by all three packs', () => {
    const { App, Stack } = jest.requireActual('aws-cdk-lib');
    const s3 = jest.requireActual('aws-cdk-lib/aws-s3');
    const bad = new Stack(new App(), 'Bad');
    new s3.Bucket(bad, 'Bucket');
    for (const pack of compliancePacks()) expect(pack.validateScope(bad).violations.length).toBeGreaterThan(0);
  });
});
