import { CfnResource } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * Skips one checkov check on one resource, with its reason, through the template Metadata checkov reads
 * (`Metadata.checkov.skip`). Per resource, so the same check still runs everywhere else.
 */
export function checkovSkip(resource: IConstruct, id: string, reason: string): void {
  const cfn = resource instanceof CfnResource ? resource : resource.node.defaultChild;
  if (!(cfn instanceof CfnResource)) throw new Error(`checkovSkip: ${resource.node.path} has no CloudFormation resource`);
  const existing = (cfn.getMetadata('checkov') as { skip?: Array<{ id: string; comment: string }> } | undefined)?.skip ?? [];
  cfn.addMetadata('checkov', { skip: [...existing, { id, comment: reason }] });
}
