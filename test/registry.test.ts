import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import { ImageRepository } from '../lib/registry/image-repository';
import { CDK_CONTEXT, shippedConfigs, synthEnv } from './helpers';

type Statement = Record<string, unknown>;
const NEXT_ACCOUNT = '444455556666';
const PULL = ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:DescribeImages', 'ecr:GetDownloadUrlForLayer'];

function repositoryStack(downstreamAccount?: string) {
  // The app's feature flags, as `cdk synth` applies them.
  const stack = new Stack(new App({ context: CDK_CONTEXT }), 'S', { env: { account: '111122223333', region: 'us-east-1' } });
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  new ImageRepository(stack, 'Images', { key, removalPolicy: RemovalPolicy.DESTROY, repositoryName: 'tap/dev/payment-service', downstreamAccount });
  const template = Template.fromStack(stack);
  const keyStatements = (Object.values(template.findResources('AWS::KMS::Key'))[0]!.Properties.KeyPolicy as { Statement: Statement[] }).Statement;
  const repository = Object.values(template.findResources('AWS::ECR::Repository'))[0]!.Properties;
  return { keyStatements, repository };
}

describe('ImageRepository shared with the next environment', () => {
  test('the next account may pull and describe images of this repository, nothing else', () => {
    const { repository } = repositoryStack(NEXT_ACCOUNT);
    expect(repository.RepositoryPolicyText).toEqual({
      Version: '2012-10-17',
      Statement: [{ Sid: 'PromoteToNextEnvironment', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${NEXT_ACCOUNT}:root` }, Action: PULL }],
    });
  });

  // The layers are encrypted with the data key; the next account gets it through ECR, for this repository's layers only.
  test("the key lets the next account decrypt only through ECR and only this repository's layers", () => {
    const { keyStatements } = repositoryStack(NEXT_ACCOUNT);
    expect(keyStatements.filter((s) => s.Sid === 'PullPromotedImagesFromNextEnvironment')).toEqual([
      {
        Sid: 'PullPromotedImagesFromNextEnvironment',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${NEXT_ACCOUNT}:root` },
        Action: 'kms:Decrypt',
        Resource: '*',
        Condition: {
          StringEquals: {
            'kms:ViaService': 'ecr.us-east-1.amazonaws.com',
            'kms:EncryptionContext:aws:ecr:arn': 'arn:aws:ecr:us-east-1:111122223333:repository/tap/dev/payment-service',
          },
        },
      },
    ]);
  });

  test('the last environment shares nothing: no repository policy, no foreign principal on the key', () => {
    const { repository, keyStatements } = repositoryStack();
    expect(repository.RepositoryPolicyText).toBeUndefined();
    expect(keyStatements.map((s) => JSON.stringify(s.Principal))).toEqual([JSON.stringify({ AWS: 'arn:aws:iam::111122223333:root' })]);
  });
});

describe('the shipped chain', () => {
  test("staging's repository admits prod's account, and its data key lets prod pull through ECR", () => {
    const { template } = synthEnv('staging');
    const prod = shippedConfigs().prod.account;
    const repository = Object.values(template.findResources('AWS::ECR::Repository'))[0]!.Properties;
    expect((repository.RepositoryPolicyText as { Statement: Statement[] }).Statement).toEqual([
      { Sid: 'PromoteToNextEnvironment', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${prod}:root` }, Action: PULL },
    ]);
    const keys = Object.values(template.findResources('AWS::KMS::Key')).flatMap(
      (k) => (k.Properties.KeyPolicy as { Statement: Statement[] }).Statement,
    );
    expect(keys.filter((s) => s.Sid === 'PullPromotedImagesFromNextEnvironment').map((s) => s.Principal)).toEqual([
      { AWS: `arn:aws:iam::${prod}:root` },
    ]);
  });
});
