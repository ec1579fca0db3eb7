import { RemovalPolicy } from 'aws-cdk-lib';

/** Maps the config's `retain | destroy` to CDK's policy in one place. */
export function removalPolicyOf(value: 'retain' | 'destroy'): RemovalPolicy {
  return value === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
}
