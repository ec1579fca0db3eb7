import { RemovalPolicy } from 'aws-cdk-lib';

/**
 * Maps the config's `retain | destroy` to CDK's policy in one place.
 *
 * `retain` is CloudFormation's `RetainExceptOnCreate` (with `UpdateReplacePolicy: Retain`): kept on stack deletion, on
 * removal from the template and on replacement, like `Retain`, but deleted when the operation that created it rolls
 * back. A plain `Retain` would leave a failed first deployment's fixed-name resources behind (the ECR repository
 * `tap/<env>/payment-service`, the WAF log group `aws-waf-logs-<stack>`), and the retry would fail with "already exists".
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html
 */
export function removalPolicyOf(value: 'retain' | 'destroy'): RemovalPolicy {
  return value === 'retain' ? RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE : RemovalPolicy.DESTROY;
}
