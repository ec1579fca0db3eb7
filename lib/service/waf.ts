import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { EncryptedLogGroup } from '../common/encrypted-log-group';

export interface WebFirewallProps {
  /** The load balancer the web ACL protects. */
  readonly loadBalancer: elbv2.IApplicationLoadBalancer;
  /** Requests per 5 minutes per client IP before the rate rule blocks it. */
  readonly rateLimitPer5Min: number;
  /** Encrypts the WAF log group. */
  readonly logsKey: kms.IKey;
  readonly logRetentionDays: number;
  readonly logRemovalPolicy: RemovalPolicy;
}

/** AWS managed rule groups, in evaluation order (lower priority first). */
export const MANAGED_RULE_GROUPS = [
  'AWSManagedRulesAmazonIpReputationList',
  'AWSManagedRulesCommonRuleSet',
  'AWSManagedRulesKnownBadInputsRuleSet',
  'AWSManagedRulesSQLiRuleSet',
] as const;

/**
 * WAFv2 web ACL on the ALB (PCI DSS 6.6): IP reputation, the common rule set, known bad inputs and SQL injection,
 * plus a per-IP rate limit; every request decision is logged to an encrypted log group.
 */
export class WebFirewall extends Construct {
  public readonly webAcl: wafv2.CfnWebACL;
  public readonly logGroup: EncryptedLogGroup;

  constructor(scope: Construct, id: string, props: WebFirewallProps) {
    super(scope, id);
    const metricPrefix = Stack.of(this).stackName;
    // No request sampling: sampled requests keep every header, the Authorization header with the client's API key
    // included; the logging configuration's redaction does not apply to them (see docs/aws-contracts.md). The logs,
    // with that header redacted, are the record of what WAF saw.
    const visibility = (name: string): wafv2.CfnWebACL.VisibilityConfigProperty => ({
      cloudWatchMetricsEnabled: true,
      sampledRequestsEnabled: false,
      metricName: `${metricPrefix}-${name}`,
    });

    const managed = MANAGED_RULE_GROUPS.map((name, i): wafv2.CfnWebACL.RuleProperty => ({
      name,
      priority: 10 + i,
      overrideAction: { none: {} },
      statement: { managedRuleGroupStatement: { vendorName: 'AWS', name } },
      visibilityConfig: visibility(name),
    }));
    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      // Named as its metric: WAF's CloudWatch metrics carry the web ACL's metric name in the WebACL dimension, and
      // the monitoring reads that dimension from the name. Without a name the blocked-rate alarm watches nothing.
      name: `${metricPrefix}-web-acl`,
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility('web-acl'),
      rules: [
        {
          name: 'RateLimitPerIp',
          priority: 1,
          action: { block: {} },
          statement: { rateBasedStatement: { limit: props.rateLimitPer5Min, aggregateKeyType: 'IP' } },
          visibilityConfig: visibility('rate-limit'),
        },
        ...managed,
      ],
    });
    new wafv2.CfnWebACLAssociation(this, 'Association', { resourceArn: props.loadBalancer.loadBalancerArn, webAclArn: this.webAcl.attrArn });

    // WAF only delivers to log groups whose name starts with aws-waf-logs-.
    this.logGroup = new EncryptedLogGroup(this, 'LogGroup', {
      key: props.logsKey,
      retentionDays: props.logRetentionDays,
      removalPolicy: props.logRemovalPolicy,
      logGroupName: `aws-waf-logs-${Stack.of(this).stackName}`,
    });
    new wafv2.CfnLoggingConfiguration(this, 'Logging', {
      resourceArn: this.webAcl.attrArn,
      logDestinationConfigs: [
        Stack.of(this).formatArn({
          service: 'logs',
          resource: 'log-group',
          resourceName: this.logGroup.logGroupName,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ],
      // Card data never travels in headers, but the API key does: keep it out of the WAF logs.
      redactedFields: [{ singleHeader: { Name: 'authorization' } }],
    });
  }
}
