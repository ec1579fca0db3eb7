import { App, CfnElement } from 'aws-cdk-lib';
import { spawnSync } from 'child_process';
import * as path from 'path';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp, stackNameOf } from '../lib/app';
import { EnvironmentConfig } from '../lib/config';
import { CDK_CONTEXT, ENVS, FIXED_LOG_GROUP_NAME, shippedConfigs, synthEnv, writeConfigDir } from './helpers';

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown>; DeletionPolicy?: string }>;

describe.each(ENVS)('stack-wide guarantees in %s', (env) => {
  const config = shippedConfigs()[env];
  const { stack, template } = synthEnv(env);
  const resources = template.toJSON().Resources as Resources;
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

  test('named for its environment, in us-east-1', () => {
    expect(stack.stackName).toBe(`TapStack-${env}`);
    expect(stack.region).toBe('us-east-1');
  });

  test('every log group is encrypted with the logs key and kept the configured days (>= 365)', () => {
    const groups = ofType('AWS::Logs::LogGroup');
    expect(groups.length).toBeGreaterThan(5);
    const logsKey = { 'Fn::GetAtt': [stack.getLogicalId(stack.keys.logs.node.defaultChild as CfnElement), 'Arn'] };
    for (const [id, g] of groups) {
      expect({ id, kms: g.Properties?.KmsKeyId, days: g.Properties?.RetentionInDays }).toEqual({ id, kms: logsKey, days: config.logs.retentionDays });
    }
    expect(config.logs.retentionDays).toBeGreaterThanOrEqual(365);
  });

  test('every bucket encrypts and denies requests without TLS', () => {
    const buckets = ofType('AWS::S3::Bucket');
    const policies = ofType('AWS::S3::BucketPolicy').map(([, p]) => JSON.stringify(p.Properties));
    expect(buckets.length).toBeGreaterThanOrEqual(3);
    for (const [id, b] of buckets) {
      // SSE-S3 where the writer accepts nothing else (ALB and S3 access logs), a customer key otherwise: which key is in
      // test/encryption-keys.test.ts.
      const rules = (
        b.Properties?.BucketEncryption as { ServerSideEncryptionConfiguration?: { ServerSideEncryptionByDefault: Record<string, unknown> }[] }
      )?.ServerSideEncryptionConfiguration;
      expect({
        id,
        encryption: rules?.map((r) =>
          r.ServerSideEncryptionByDefault.KMSMasterKeyID ? 'aws:kms with a key' : r.ServerSideEncryptionByDefault.SSEAlgorithm,
        ),
      }).toEqual({
        id,
        encryption: [expect.stringMatching(/^(AES256|aws:kms with a key)$/)],
      });
      const policy = policies.find((p) => p.includes(`"Ref":"${id}"`));
      expect({ id, denyNonTls: policy?.includes('"aws:SecureTransport":"false"') }).toEqual({ id, denyNonTls: true });
    }
  });

  test('every KMS key rotates', () => {
    for (const [, k] of ofType('AWS::KMS::Key')) expect(k.Properties?.EnableKeyRotation).toBe(true);
  });

  test('flow logs and the trail exist', () => {
    template.resourceCountIs('AWS::EC2::FlowLog', 1);
    template.resourceCountIs('AWS::CloudTrail::Trail', 1);
  });

  test('stays well inside CloudFormation limits (500 resources, 200 outputs)', () => {
    expect(Object.keys(resources).length).toBeLessThan(350);
    expect(Object.keys(template.toJSON().Outputs as Record<string, unknown>).length).toBeLessThan(100);
    template.hasOutput('ProductionUrl', {});
    template.hasOutput('ImageParameterName', { Value: `/tap/${env}/app/image-uri` });
  });

  test('log groups follow the configured removal policy (the fixed-name groups are not kept after a rolled-back create)', () => {
    for (const [, g] of ofType('AWS::Logs::LogGroup')) {
      const fixed = FIXED_LOG_GROUP_NAME.test(String(g.Properties?.LogGroupName ?? ''));
      expect(g.DeletionPolicy).toBe(config.removal.logs === 'retain' ? (fixed ? 'RetainExceptOnCreate' : 'Retain') : 'Delete');
    }
  });
});

describe('the entry point', () => {
  test('defaults to dev and tags every resource from config, except the listener rules', () => {
    const app = new App({ context: CDK_CONTEXT });
    const stack = buildApp(app);
    expect(stack.stackName).toBe(stackNameOf('dev'));
    const dev = shippedConfigs().dev;
    const expected = {
      Project: dev.tags.project,
      Environment: 'dev',
      Owner: dev.tags.owner,
      CostCenter: dev.tags.costCenter,
      DataClassification: dev.tags.dataClassification,
      Compliance: dev.tags.compliance,
      ManagedBy: 'aws-cdk',
    };
    const resources = Template.fromStack(stack).toJSON().Resources as Record<
      string,
      { Type: string; Properties?: { Tags?: { Key: string; Value: string }[] } }
    >;
    const tagsOf = (type: string) =>
      Object.values(resources)
        .filter((r) => r.Type === type)
        .map((r) => Object.fromEntries((r.Properties?.Tags ?? []).map((t) => [t.Key, t.Value])));
    for (const type of ['AWS::EC2::VPC', 'AWS::S3::Bucket', 'AWS::ECS::Service', 'AWS::KMS::Key', 'AWS::CodePipeline::Pipeline']) {
      for (const tags of tagsOf(type)) expect(tags).toEqual(expect.objectContaining(expected));
    }
    for (const tags of tagsOf('AWS::ElasticLoadBalancingV2::ListenerRule')) expect(tags).toEqual({});
    // No stack-level tags: CloudFormation would propagate a change of them to the listener rules.
    expect(app.synth().getStackByName('TapStack-dev').tags).toEqual({});
  });

  test('prod is protected from deletion', () => {
    expect(synthEnv('prod').stack.terminationProtection).toBe(true);
  });

  test.each(['production', 'PROD '])('an unknown -c env=%p fails before any construct is built', (env) => {
    const app = new App({ context: { ...CDK_CONTEXT, env } });
    expect(() => buildApp(app)).toThrow(/unknown environment .*allowed: dev, staging, prod/);
    expect(app.node.children).toHaveLength(0);
  });

  test('with credentials, the preflight refuses example values', () => {
    const app = new App({ context: { ...CDK_CONTEXT, env: 'prod' } });
    expect(() => buildApp(app, { deployAccount: '333333333333' })).toThrow(
      /Preflight refused prod:[\s\S]*account \(333333333333\) is an example value/,
    );
    expect(app.node.children).toHaveLength(0);
  });

  test("with credentials, the preflight also refuses the next environment's example account (dev's repository grants it pulls)", () => {
    // GIVEN dev's own values made real, staging's account still the example
    const dir = writeConfigDir(Object.fromEntries(Object.entries(shippedConfigs()).map(([name, c]) => [name, name === 'dev' ? realDev(c) : c])));
    const app = new App({ context: { ...CDK_CONTEXT, env: 'dev' } });
    expect(() => buildApp(app, { deployAccount: '444444444444', configDir: dir })).toThrow(
      /Preflight refused dev:\n {2}- account of staging \(222222222222\) is an example value: dev's image repository grants that account pulls/,
    );
  });

  test('a synth-only look with credentials skips the preflight, and its template is one CloudFormation refuses to deploy', () => {
    const app = new App({ context: { ...CDK_CONTEXT, env: 'dev', synthOnly: 'true' } });
    const stack = buildApp(app, { deployAccount: '111111111111' });
    expect(stack.account).toBe('111111111111');
    const t = Template.fromStack(stack).toJSON() as { Parameters: Record<string, unknown>; Rules: Record<string, unknown> };
    // The parameter can only be synth-only; the rule demands deployable: every create and update fails the rule.
    expect(t.Parameters.SynthOnly).toEqual(expect.objectContaining({ Type: 'String', Default: 'synth-only', AllowedValues: ['synth-only'] }));
    expect(t.Rules.SynthOnlyNotDeployable).toEqual({
      Assertions: [
        {
          Assert: { 'Fn::Equals': [{ Ref: 'SynthOnly' }, 'deployable'] },
          AssertDescription:
            'Synthesized with -c synthOnly=true, which skips the deploy preflight; deploy dev through its pipeline (break-glass: npm run deploy:infra -- dev)',
        },
      ],
    });
  });

  test('npm run preflight (scripts/preflight.ts) refuses the shipped examples, the next account included, and exits 1', () => {
    const run = spawnSync(path.join(__dirname, '..', 'node_modules', '.bin', 'tsx'), ['scripts/preflight.ts', 'dev', '111111111111'], {
      cwd: path.join(__dirname, '..'),
      encoding: 'utf8',
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^Preflight refused dev:\n {2}- account \(111111111111\) is an example value/);
    expect(run.stderr).toMatch(/ {2}- account of staging \(222222222222\) is an example value: dev's image repository grants that account pulls/);
  });

  test('a deployable template carries no such rule (agnostic, and bound without synthOnly)', () => {
    const agnostic = Template.fromStack(synthEnv('dev').stack).toJSON() as { Rules?: Record<string, unknown>; Parameters?: Record<string, unknown> };
    expect(Object.keys(agnostic.Rules ?? {})).toEqual(['CheckBootstrapVersion']);
    expect(agnostic.Parameters?.SynthOnly).toBeUndefined();
  });
});

/** The shipped dev config with every example value replaced by a real-looking one (what an operator fills in). */
function realDev(c: EnvironmentConfig): EnvironmentConfig {
  const text = JSON.stringify(c)
    .replace(/111111111111/g, '444444444444')
    .replace(/example-org/g, 'acme-payments')
    .replace(/example\.com/g, 'acme-payments.io')
    .replace(/00000000-0000-0000-0000-000000000000/g, '4b1c6f1e-2b0a-4e8e-9a55-0c9f3d2e7a11')
    .replace(/Z11111111EXAMPLE/g, 'Z04517273FCIQUYJVKV9E');
  return JSON.parse(text) as EnvironmentConfig;
}
