import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as route53resolver from 'aws-cdk-lib/aws-route53resolver';
import { Construct } from 'constructs';
import { EncryptedLogGroup } from '../common/encrypted-log-group';
import { notifyBySeverity, Severity, SeverityTopics } from '../monitoring/topics';

export interface DnsFirewallProps {
  readonly vpc: ec2.IVpc;
  /** Names the VPC may resolve (`name`, or `*.name` for the names below it): config `egress.allowedDomains` + the domain name. */
  readonly allowedDomains: readonly string[];
  /** `egress.dnsFirewallMode`: `block` answers NXDOMAIN for every other name, `alert` only logs it. */
  readonly mode: 'block' | 'alert';
  /** `egress.dnsFirewallFailOpen`: false fails closed (AWS's default). */
  readonly failOpen: boolean;
  readonly logsKey: kms.IKey;
  readonly logRetentionDays: number;
  /** The query log group has a fixed name: `fixedNameRemovalPolicyOf`. */
  readonly logRemovalPolicy: RemovalPolicy;
  /** Told when a query is blocked: a name missing from the list, or something in the VPC calling where it should not. */
  readonly topics: SeverityTopics;
  /** The alarm's severity, the suffix of its name: `Critical` in prod (it pages), where a blocked name may be a task calling out. */
  readonly severity: Severity;
}

/**
 * Whether the allow list answers `name`, as this design reads DNS Firewall's matching: an entry is the name itself, or
 * `*.suffix` for any name below `suffix`. Whether `*.suffix` also matches `suffix` AWS does not say, so this takes the
 * safe reading (it does not) and a name that needs the apex must list it.
 */
export function dnsFirewallAllows(allowed: readonly string[], name: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  return allowed.some((entry) => (entry.startsWith('*.') ? n.endsWith(entry.slice(1)) : n === entry));
}

/** Rule priorities inside the group: the allow list first, then the rule that blocks every other name. */
export const DNS_RULE_PRIORITY = { allow: 100, blockEverythingElse: 200 } as const;

/** The metric the blocked-query alarm watches (a metric filter on the query log). */
export const BLOCKED_QUERIES_METRIC = { namespace: 'TAP/Egress', name: 'BlockedDnsQueries' } as const;

/**
 * A walled garden for DNS (PCI DSS v4.0.1 1.3.2, 1.4): Route 53 Resolver DNS Firewall on the whole VPC answers only
 * the allowed names and NXDOMAIN for every other one, and every query the VPC sends to Resolver is logged, encrypted
 * and kept like the other logs. Security groups cannot filter names, and they do not filter traffic to the Amazon DNS
 * server at all; this is where names are limited (docs/aws-contracts.md, "Egress"). Each allowed name's CNAME chain is
 * trusted (the registries and AWS's own endpoints answer through CDN names nobody could list); a host reached through
 * an HTTP redirect is a new query and must be listed itself. A blocked query raises an alarm.
 */
export class DnsFirewall extends Construct {
  public readonly ruleGroup: route53resolver.CfnFirewallRuleGroup;
  public readonly queryLogGroup: EncryptedLogGroup;
  public readonly blockedQueriesAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: DnsFirewallProps) {
    super(scope, id);
    const stackName = Stack.of(this).stackName;
    const allowed = new route53resolver.CfnFirewallDomainList(this, 'AllowedDomains', {
      name: `${stackName}-egress-allowed`,
      domains: [...props.allowedDomains],
    });
    const everything = new route53resolver.CfnFirewallDomainList(this, 'EveryDomain', {
      name: `${stackName}-egress-everything-else`,
      domains: ['*'],
    });
    this.ruleGroup = new route53resolver.CfnFirewallRuleGroup(this, 'Rules', {
      name: `${stackName}-egress`,
      firewallRules: [
        {
          priority: DNS_RULE_PRIORITY.allow,
          action: 'ALLOW',
          firewallDomainListId: allowed.attrId,
          firewallDomainRedirectionAction: 'TRUST_REDIRECTION_DOMAIN',
        },
        props.mode === 'block'
          ? { priority: DNS_RULE_PRIORITY.blockEverythingElse, action: 'BLOCK', blockResponse: 'NXDOMAIN', firewallDomainListId: everything.attrId }
          : { priority: DNS_RULE_PRIORITY.blockEverythingElse, action: 'ALERT', firewallDomainListId: everything.attrId },
      ],
    });
    new route53resolver.CfnFirewallRuleGroupAssociation(this, 'Association', {
      name: `${stackName}-egress`,
      firewallRuleGroupId: this.ruleGroup.attrId,
      vpcId: props.vpc.vpcId,
      // 100-9900, unique per VPC; the VPC has this one group.
      priority: 101,
    });
    // Declared even when it states AWS's default (closed), so the stack owns the setting and drift detection sees a
    // change made outside it. AWS::Route53Resolver::FirewallConfig is newer than the schemas of the pinned cfn-lint,
    // which reads it as an unknown type (E3006) and is told so on this one resource.
    const failureMode = new route53resolver.CfnFirewallConfig(this, 'FailureMode', {
      resourceId: props.vpc.vpcId,
      firewallFailOpen: props.failOpen ? 'ENABLED' : 'DISABLED',
    });
    failureMode.addMetadata('cfn-lint', { config: { ignore_checks: ['E3006'] } });

    // Under /aws/vendedlogs/ so the delivery policy AWS writes for Resolver covers the prefix and does not grow per
    // group (docs/aws-contracts.md, "Egress").
    this.queryLogGroup = new EncryptedLogGroup(this, 'QueryLogGroup', {
      key: props.logsKey,
      retentionDays: props.logRetentionDays,
      removalPolicy: props.logRemovalPolicy,
      logGroupName: `/aws/vendedlogs/route53resolver/${stackName}`,
    });
    const queryLogging = new route53resolver.CfnResolverQueryLoggingConfig(this, 'QueryLogging', {
      name: `${stackName}-dns-queries`,
      destinationArn: this.queryLogGroup.logGroupArn,
    });
    new route53resolver.CfnResolverQueryLoggingConfigAssociation(this, 'QueryLoggingAssociation', {
      resolverQueryLogConfigId: queryLogging.attrId,
      resourceId: props.vpc.vpcId,
    });

    // firewall_rule_action is written only for ALERT and BLOCK matches: this counts the names outside the list in
    // either mode.
    const blocked = new logs.MetricFilter(this, 'BlockedQueries', {
      logGroup: this.queryLogGroup,
      filterPattern: logs.FilterPattern.any(
        logs.FilterPattern.stringValue('$.firewall_rule_action', '=', 'BLOCK'),
        logs.FilterPattern.stringValue('$.firewall_rule_action', '=', 'ALERT'),
      ),
      metricNamespace: BLOCKED_QUERIES_METRIC.namespace,
      metricName: BLOCKED_QUERIES_METRIC.name,
      metricValue: '1',
      defaultValue: 0,
    });
    this.blockedQueriesAlarm = new cloudwatch.Alarm(this, 'BlockedQueriesAlarm', {
      alarmName: `${stackName}-egress-dns-blocked-${props.severity}`,
      alarmDescription:
        'DNS Firewall blocked (or, in alert mode, logged) a name outside egress.allowedDomains: a missing entry, or something in the VPC calling where it should not. The query log names it (docs/runbooks/egress-domains.md).',
      metric: blocked.metric({ statistic: 'Sum', period: Duration.minutes(5) }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    notifyBySeverity(this.blockedQueriesAlarm, props.severity, props.topics);
  }
}
