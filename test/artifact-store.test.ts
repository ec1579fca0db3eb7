import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { ArtifactStore } from '../lib/storage/artifact-store';

describe('ArtifactStore', () => {
  // GIVEN a key and a log bucket
  const stack = new Stack(new App(), 'S');
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  const logs = new s3.Bucket(stack, 'Logs');
  // WHEN
  const store = new ArtifactStore(stack, 'Store', {
    key,
    accessLogsBucket: logs,
    noncurrentRetention: Duration.days(30),
  });
  const template = Template.fromStack(stack);

  test('encrypts with the given key, versioned, public access blocked, access-logged', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Key'), 'Arn'] } },
          },
        ],
      },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LoggingConfiguration: { DestinationBucketName: { Ref: Match.stringLikeRegexp('^Logs') }, LogFilePrefix: 'artifact-bucket/' },
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 30 } })]) },
    });
  });

  test('denies requests without TLS 1.2', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({ Effect: 'Deny', Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } }),
        ]),
      },
    });
  });

  test('is exposed for the pipeline and kept on stack deletion', () => {
    expect(store.bucket).toBeInstanceOf(s3.Bucket);
    template.hasResource('AWS::S3::Bucket', { Properties: Match.objectLike({ LoggingConfiguration: Match.anyValue() }), DeletionPolicy: 'Retain' });
  });
});
