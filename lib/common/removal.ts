import { RemovalPolicy } from 'aws-cdk-lib';

/**
 * Maps the config's `retain | destroy` to CDK's policy, in one place, for resources whose names CloudFormation
 * generates (keys, secrets, most log groups). `retain` is a plain `Retain`: kept on stack deletion, on replacement and
 * also when a failed first create rolls back. A generated name never collides with a retry, and what a failed create
 * leaves is evidence (the audit trail's log group and the key its files are encrypted with, the service's and the
 * hook's logs saying why it failed), which PCI DSS 10.5.1 asks to keep.
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html
 */
export function removalPolicyOf(value: 'retain' | 'destroy'): RemovalPolicy {
  return value === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
}

/**
 * The same for a resource with a fixed name (the ECR repository `tap/<env>/payment-service`, the WAF log group
 * `aws-waf-logs-<stack>`): `retain` is CloudFormation's `RetainExceptOnCreate` (with `UpdateReplacePolicy: Retain`),
 * kept like `Retain` except when the operation that created it rolls back. A plain `Retain` would leave a failed first
 * deployment's repository or log group behind, and the retry would fail with "already exists". Both are empty then
 * (nothing is pushed, WAF has logged nothing worth keeping before the stack exists), so the delete succeeds.
 */
export function fixedNameRemovalPolicyOf(value: 'retain' | 'destroy'): RemovalPolicy {
  return value === 'retain' ? RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE : RemovalPolicy.DESTROY;
}
