import { App, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildApp } from '../lib/app';
import { staleAcknowledgements } from '../lib/compliance/stale';
import { compliancePacks, listAcknowledgements } from '../lib/compliance/packs';
import { CDK_CONTEXT, ENVS, synthEnv } from './helpers';

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

describe.each(ENVS)('acknowledgements of %s', (env) => {
  test('none is stale: each one silences a finding that exists without it', () => {
    const build = () => {
      const app = new App({ context: { ...CDK_CONTEXT, env }, outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'tap-stale-')) });
      const stack = buildApp(app);
      app.synth();
      return stack;
    };
    expect(staleAcknowledgements(build)).toEqual([]);
  });
});

describe('the packs catch a real violation', () => {
  test('an unencrypted, unversioned bucket is reported by all three packs', () => {
    const bad = new Stack(new App(), 'Bad');
    new s3.Bucket(bad, 'Bucket');
    for (const pack of compliancePacks()) expect(pack.validateScope(bad).violations.length).toBeGreaterThan(0);
  });
});
