import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cloudtrail from 'aws-cdk-lib/aws-cloudtrail';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AuditTrail } from '../lib/security/audit-trail';

/** A trail in a stack of its own, with an artifact bucket beside it. */
function auditedStack() {
  const stack = new Stack(new App(), 'S');
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  const accessLogs = new s3.Bucket(stack, 'AccessLogs');
  const artifacts = new s3.Bucket(stack, 'Artifacts');
  const audit = new AuditTrail(stack, 'Audit', { key, accessLogsBucket: accessLogs, retentionDays: 365, removalPolicy: RemovalPolicy.DESTROY });
  return { stack, audit, artifacts };
}

const arnOf = (template: Template, idPrefix: string) => {
  const id = Object.keys(template.findResources('AWS::S3::Bucket')).find((i) => i.startsWith(idPrefix))!;
  return { 'Fn::Join': ['', [{ 'Fn::GetAtt': [id, 'Arn'] }, '/']] };
};

describe('AuditTrail object-level access (PCI DSS 10.2.1)', () => {
  test('records reads and writes of the objects of exactly the audited buckets: its own and those handed to it', () => {
    // GIVEN a trail and the pipeline's artifact bucket
    const { stack, audit, artifacts } = auditedStack();
    // WHEN the stack hands the artifact bucket to the trail (twice, as two callers might)
    audit.auditObjectAccess(artifacts);
    audit.auditObjectAccess(artifacts);
    const template = Template.fromStack(stack);
    // THEN one management selector and one S3 object selector over both buckets, and no basic selector
    const trail = Object.values(template.findResources('AWS::CloudTrail::Trail'))[0]!.Properties;
    expect(trail.EventSelectors).toBeUndefined();
    expect(trail.AdvancedEventSelectors).toEqual([
      { Name: 'Management events', FieldSelectors: [{ Field: 'eventCategory', Equals: ['Management'] }] },
      {
        Name: 'Object access of audited buckets',
        FieldSelectors: [
          { Field: 'eventCategory', Equals: ['Data'] },
          { Field: 'resources.type', Equals: ['AWS::S3::Object'] },
          { Field: 'resources.ARN', StartsWith: [arnOf(template, 'AuditBucket'), arnOf(template, 'Artifacts')] },
        ],
      },
    ]);
  });

  test('still logs management events, read and write, of every region and global services', () => {
    const { stack } = auditedStack();
    Template.fromStack(stack).hasResourceProperties('AWS::CloudTrail::Trail', {
      IsMultiRegionTrail: true,
      IncludeGlobalServiceEvents: true,
      AdvancedEventSelectors: [{ Name: 'Management events', FieldSelectors: [{ Field: 'eventCategory', Equals: ['Management'] }] }, {}],
    });
  });

  test('refuses basic event selectors beside the advanced ones (CloudTrail accepts only one kind)', () => {
    const { stack, audit, artifacts } = auditedStack();
    audit.trail.addS3EventSelector([{ bucket: artifacts }], { readWriteType: cloudtrail.ReadWriteType.ALL });
    expect(() => Template.fromStack(stack)).toThrow(/basic event selectors were added to a trail with advanced ones/);
  });
});
