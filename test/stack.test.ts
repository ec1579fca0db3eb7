import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp, stackNameOf } from '../lib/app';
import { CDK_CONTEXT, ENVS, shippedConfigs, synthEnv } from './helpers';

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

  test('every log group has a KMS key and retention >= 365 days', () => {
    const groups = ofType('AWS::Logs::LogGroup');
    expect(groups.length).toBeGreaterThan(0);
    for (const [id, g] of groups) {
      expect({ id, kms: g.Properties?.KmsKeyId !== undefined }).toEqual({ id, kms: true });
      expect(g.Properties?.RetentionInDays as number).toBeGreaterThanOrEqual(365);
    }
  });

  test('every bucket encrypts and denies requests without TLS', () => {
    const buckets = ofType('AWS::S3::Bucket');
    const policies = ofType('AWS::S3::BucketPolicy').map(([, p]) => JSON.stringify(p.Properties));
    expect(buckets.length).toBeGreaterThanOrEqual(3);
    for (const [id, b] of buckets) {
      expect(b.Properties?.BucketEncryption).toBeDefined();
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
    template.hasOutput('ProductionUrl', {});
    template.hasOutput('ImageParameterName', { Value: `/tap/${env}/app/image-uri` });
  });

  test('log groups follow the configured removal policy', () => {
    for (const [, g] of ofType('AWS::Logs::LogGroup'))
      expect(g.DeletionPolicy).toBe(config.removal.logs === 'retain' ? 'RetainExceptOnCreate' : 'Delete');
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

  test('a synth-only look with credentials can opt out of the preflight', () => {
    const app = new App({ context: { ...CDK_CONTEXT, env: 'dev', synthOnly: 'true' } });
    expect(buildApp(app, { deployAccount: '111111111111' }).account).toBe('111111111111');
  });
});
