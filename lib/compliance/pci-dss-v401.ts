/**
 * cdk-nag checks for PCI DSS v4.0.1 requirements that no published pack checks (cdk-nag 3.0.2 ships PCI DSS 3.2.1
 * only). Written like cdk-nag's own packs (node_modules/cdk-nag/lib/packs): one `applyRule` per rule, each rule a
 * function of one CloudFormation resource that answers COMPLIANT, NON_COMPLIANT or NOT_APPLICABLE. Rule ids are
 * `PCI.DSS.401-<Rule>`; acknowledge one with `acknowledge(construct, ['PCI.DSS.401'], '<Rule>', reason)`.
 */
import { CfnResource, Stack } from 'aws-cdk-lib';
import { CfnTrail } from 'aws-cdk-lib/aws-cloudtrail';
import { CfnSecurityGroup, CfnSecurityGroupIngress } from 'aws-cdk-lib/aws-ec2';
import { CfnRepository } from 'aws-cdk-lib/aws-ecr';
import { CfnTaskDefinition } from 'aws-cdk-lib/aws-ecs';
import { CfnListener, CfnLoadBalancer } from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { CfnKey } from 'aws-cdk-lib/aws-kms';
import { CfnLogGroup } from 'aws-cdk-lib/aws-logs';
import { CfnWebACL } from 'aws-cdk-lib/aws-wafv2';
import { NagMessageLevel, NagPack, NagPackProps, NagRuleCompliance, NagRules } from 'cdk-nag';
import { IConstruct } from 'constructs';

/** The pack name, and the prefix of every rule id. */
export const PCI_DSS_401 = 'PCI.DSS.401';

/**
 * Load balancer security policies that negotiate TLS 1.2 or 1.3 only, with forward-secret AEAD ciphers (the
 * "restricted" and TLS 1.3-only policies): https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html
 */
export const RESTRICTED_TLS_POLICIES: readonly string[] = [
  'ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09',
  'ELBSecurityPolicy-TLS13-1-2-Res-FIPS-PQ-2025-09',
  'ELBSecurityPolicy-TLS13-1-2-Res-2021-06',
  'ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04',
  'ELBSecurityPolicy-TLS13-1-3-PQ-2025-09',
  'ELBSecurityPolicy-TLS13-1-3-FIPS-PQ-2025-09',
  'ELBSecurityPolicy-TLS13-1-3-2021-06',
  'ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04',
  'ELBSecurityPolicy-FS-1-2-Res-2020-10',
];

/** PCI DSS 10.5.1: audit log history kept for at least twelve months. */
export const MIN_LOG_RETENTION_DAYS = 365;
/** PCI DSS 3.6.1 / 3.7.4: the cryptoperiod of a key, here KMS's yearly rotation at the longest. */
export const MAX_KEY_ROTATION_DAYS = 365;
/** The only ports the internet may reach, and only on a public load balancer's security group (1.3.1, 1.4.2). */
export const PUBLIC_PORTS: readonly number[] = [80, 443];

const resolve = (node: CfnResource, value: unknown): unknown => Stack.of(node).resolve(value);
const OPEN_CIDRS = ['0.0.0.0/0', '::/0'];

/** PCI DSS 4.2.1: an HTTPS or TLS listener negotiates TLS 1.2+ with restricted ciphers (an unset policy is ELBSecurityPolicy-2016-08). */
export function elbv2RestrictedTlsPolicy(node: CfnResource): NagRuleCompliance {
  if (!(node instanceof CfnListener)) return NagRuleCompliance.NOT_APPLICABLE;
  const protocol = NagRules.resolveIfPrimitive(node, node.protocol);
  if (protocol !== 'HTTPS' && protocol !== 'TLS') return NagRuleCompliance.NOT_APPLICABLE;
  const policy = NagRules.resolveIfPrimitive(node, node.sslPolicy);
  return RESTRICTED_TLS_POLICIES.includes(policy) ? NagRuleCompliance.COMPLIANT : NagRuleCompliance.NON_COMPLIANT;
}

/** PCI DSS 10.5.1: a log group keeps its events for at least a year (no retention: kept forever). */
export function logGroupRetentionOneYear(node: CfnResource): NagRuleCompliance {
  if (!(node instanceof CfnLogGroup)) return NagRuleCompliance.NOT_APPLICABLE;
  const days = NagRules.resolveIfPrimitive(node, node.retentionInDays);
  if (days === undefined) return NagRuleCompliance.COMPLIANT;
  return Number(days) >= MIN_LOG_RETENTION_DAYS ? NagRuleCompliance.COMPLIANT : NagRuleCompliance.NON_COMPLIANT;
}

/**
 * PCI DSS 6.3.1 and 5.2 (containers): an image repository scans every image on push, and a pushed tag can never point
 * at other content (IMMUTABLE, or IMMUTABLE_WITH_EXCLUSION whose exclusions name tags, not every tag).
 */
export function ecrScanOnPushImmutableTags(node: CfnResource): NagRuleCompliance {
  if (!(node instanceof CfnRepository)) return NagRuleCompliance.NOT_APPLICABLE;
  const scanning = resolve(node, node.imageScanningConfiguration) as { scanOnPush?: unknown } | undefined;
  if (scanning?.scanOnPush !== true) return NagRuleCompliance.NON_COMPLIANT;
  const mutability = NagRules.resolveIfPrimitive(node, node.imageTagMutability);
  if (mutability === 'IMMUTABLE') return NagRuleCompliance.COMPLIANT;
  if (mutability !== 'IMMUTABLE_WITH_EXCLUSION') return NagRuleCompliance.NON_COMPLIANT;
  const filters = (resolve(node, node.imageTagMutabilityExclusionFilters) ?? []) as Array<{ imageTagMutabilityExclusionFilterValue?: unknown }>;
  const everyTag = filters.some((f) => /^\**$/.test(String(f.imageTagMutabilityExclusionFilterValue ?? '')));
  return everyTag ? NagRuleCompliance.NON_COMPLIANT : NagRuleCompliance.COMPLIANT;
}

interface ContainerDefinition {
  readonly readonlyRootFilesystem?: unknown;
  readonly privileged?: unknown;
  readonly user?: unknown;
}

/** True when a container `User` (`name`, `uid`, `uid:gid`, `name:group`) names a user other than root. */
export function isNonRootUser(user: unknown): boolean {
  if (typeof user !== 'string' || user.trim() === '') return false;
  const name = user.split(':')[0]!.trim();
  return name !== '' && name !== 'root' && name !== '0';
}

/**
 * PCI DSS 2.2.5 and 2.2.6: every container of a task definition has a read-only root filesystem, is not privileged
 * and runs as a named non-root user (without `User`, the image decides, and most images run as root).
 */
export function ecsContainerHardened(node: CfnResource): NagRuleCompliance {
  if (!(node instanceof CfnTaskDefinition)) return NagRuleCompliance.NOT_APPLICABLE;
  const containers = (resolve(node, node.containerDefinitions) ?? []) as ContainerDefinition[];
  const hardened = containers.every((c) => c.readonlyRootFilesystem === true && c.privileged !== true && isNonRootUser(c.user));
  return hardened ? NagRuleCompliance.COMPLIANT : NagRuleCompliance.NON_COMPLIANT;
}

/** PCI DSS 3.6.1 and 3.7.4: a symmetric KMS key rotates, with a cryptoperiod of at most a year. */
export function kmsKeyCryptoperiod(node: CfnResource): NagRuleCompliance {
  if (!(node instanceof CfnKey)) return NagRuleCompliance.NOT_APPLICABLE;
  const spec = NagRules.resolveIfPrimitive(node, node.keySpec);
  // KMS rotates symmetric encryption keys only; asymmetric and HMAC keys are replaced by hand (3.7.4 still applies).
  if (spec !== undefined && spec !== 'SYMMETRIC_DEFAULT') return NagRuleCompliance.NOT_APPLICABLE;
  if (NagRules.resolveIfPrimitive(node, node.enableKeyRotation) !== true) return NagRuleCompliance.NON_COMPLIANT;
  const period = NagRules.resolveIfPrimitive(node, node.rotationPeriodInDays);
  return period === undefined || Number(period) <= MAX_KEY_ROTATION_DAYS ? NagRuleCompliance.COMPLIANT : NagRuleCompliance.NON_COMPLIANT;
}

/**
 * PCI DSS 10.2.1, 10.3.2-10.3.4: a trail records every region and the global services, is logging, validates its
 * log files, encrypts them with KMS and copies them to CloudWatch Logs for automated review (10.4.1.1).
 */
export function cloudTrailAllRegionsValidated(node: CfnResource): NagRuleCompliance {
  if (!(node instanceof CfnTrail)) return NagRuleCompliance.NOT_APPLICABLE;
  const value = (v: unknown) => NagRules.resolveIfPrimitive(node, v);
  const complete =
    value(node.isLogging) === true &&
    value(node.isMultiRegionTrail) === true &&
    value(node.includeGlobalServiceEvents) !== false &&
    value(node.enableLogFileValidation) === true &&
    resolve(node, node.kmsKeyId) !== undefined &&
    resolve(node, node.cloudWatchLogsLogGroupArn) !== undefined;
  return complete ? NagRuleCompliance.COMPLIANT : NagRuleCompliance.NON_COMPLIANT;
}

interface WebAclRule {
  readonly statement?: { managedRuleGroupStatement?: unknown; ruleGroupReferenceStatement?: unknown };
  readonly overrideAction?: { count?: unknown; none?: unknown };
}

/**
 * PCI DSS 6.4.2: a web ACL in front of a public web application uses managed rule groups that block: at least one,
 * and none whose override turns it into count-only.
 */
export function wafv2ManagedRulesBlock(node: CfnResource): NagRuleCompliance {
  if (!(node instanceof CfnWebACL)) return NagRuleCompliance.NOT_APPLICABLE;
  const rules = (resolve(node, node.rules) ?? []) as WebAclRule[];
  const groups = rules.filter((r) => r.statement?.managedRuleGroupStatement !== undefined || r.statement?.ruleGroupReferenceStatement !== undefined);
  if (groups.length === 0) return NagRuleCompliance.NON_COMPLIANT;
  return groups.every((r) => r.overrideAction?.count === undefined) ? NagRuleCompliance.COMPLIANT : NagRuleCompliance.NON_COMPLIANT;
}

interface IngressRule {
  readonly cidrIp?: unknown;
  readonly cidrIpv6?: unknown;
  readonly ipProtocol?: unknown;
  readonly fromPort?: unknown;
  readonly toPort?: unknown;
}

/** The logical id a `Ref` or `Fn::GetAtt` of a resolved value points at. */
function referencedLogicalId(value: unknown): string | undefined {
  const v = value as { Ref?: unknown; 'Fn::GetAtt'?: unknown } | undefined;
  if (typeof v?.Ref === 'string') return v.Ref;
  const getAtt = v?.['Fn::GetAtt'];
  return Array.isArray(getAtt) && typeof getAtt[0] === 'string' ? getAtt[0] : undefined;
}

/** True when the security group with this logical id belongs to an internet-facing load balancer of the stack. */
function isPublicLoadBalancerGroup(scope: IConstruct, groupLogicalId: string | undefined): boolean {
  if (groupLogicalId === undefined) return false;
  const stack = Stack.of(scope);
  return stack.node
    .findAll()
    .filter((c): c is CfnLoadBalancer => c instanceof CfnLoadBalancer)
    .some((lb) => {
      const scheme = stack.resolve(lb.scheme);
      const groups = (stack.resolve(lb.securityGroups) ?? []) as unknown[];
      return (scheme === undefined || scheme === 'internet-facing') && groups.some((g) => referencedLogicalId(g) === groupLogicalId);
    });
}

/** True when an ingress rule from anywhere is TCP 80 or 443 on a public load balancer's group; true for other sources. */
function isAcceptableIngress(scope: IConstruct, rule: IngressRule, groupLogicalId: string | undefined): boolean {
  if (!OPEN_CIDRS.includes(String(rule.cidrIp)) && !OPEN_CIDRS.includes(String(rule.cidrIpv6))) return true;
  const tcp = rule.ipProtocol === 'tcp' || rule.ipProtocol === '6' || rule.ipProtocol === 6;
  const port = Number(rule.fromPort);
  return tcp && Number(rule.toPort) === port && PUBLIC_PORTS.includes(port) && isPublicLoadBalancerGroup(scope, groupLogicalId);
}

/**
 * PCI DSS 1.3.1 and 1.4.2: traffic from anywhere (0.0.0.0/0, ::/0) is admitted only on TCP 80 and 443, and only by
 * the security group of an internet-facing load balancer; every other entry point admits named sources.
 */
export function securityGroupPublicIngressWebOnly(node: CfnResource): NagRuleCompliance {
  if (node instanceof CfnSecurityGroup) {
    const rules = (resolve(node, node.securityGroupIngress) ?? []) as IngressRule[];
    const id = Stack.of(node).getLogicalId(node);
    return rules.every((r) => isAcceptableIngress(node, r, id)) ? NagRuleCompliance.COMPLIANT : NagRuleCompliance.NON_COMPLIANT;
  }
  if (node instanceof CfnSecurityGroupIngress) {
    const rule: IngressRule = {
      cidrIp: resolve(node, node.cidrIp),
      cidrIpv6: resolve(node, node.cidrIpv6),
      ipProtocol: resolve(node, node.ipProtocol),
      fromPort: resolve(node, node.fromPort),
      toPort: resolve(node, node.toPort),
    };
    return isAcceptableIngress(node, rule, referencedLogicalId(resolve(node, node.groupId)))
      ? NagRuleCompliance.COMPLIANT
      : NagRuleCompliance.NON_COMPLIANT;
  }
  return NagRuleCompliance.NOT_APPLICABLE;
}

/** One rule of the pack: its id suffix, the v4.0.1 requirements it checks, and what a finding means. */
interface Rule {
  readonly id: string;
  readonly requirements: string;
  readonly info: string;
  readonly explanation: string;
  readonly check: (node: CfnResource) => NagRuleCompliance;
}

/** Every rule of the pack, in the order they run. */
export const PCI_DSS_401_RULES: readonly Rule[] = [
  {
    id: 'SecurityGroupPublicIngressWebOnly',
    requirements: '1.3.1, 1.4.2',
    info: 'The security group admits traffic from 0.0.0.0/0 or ::/0 on something other than TCP 80/443 of an internet-facing load balancer',
    explanation: 'Inbound traffic to the CDE is restricted to what is necessary; only the public load balancer faces untrusted networks.',
    check: securityGroupPublicIngressWebOnly,
  },
  {
    id: 'ECSContainerHardened',
    requirements: '2.2.5, 2.2.6',
    info: 'A container of the task definition has a writable root filesystem, is privileged, or does not name a non-root user',
    explanation:
      'System components are configured to prevent misuse: a read-only, unprivileged, non-root container leaves an attacker little to change.',
    check: ecsContainerHardened,
  },
  {
    id: 'KMSKeyCryptoperiod',
    requirements: '3.6.1, 3.7.4',
    info: `The KMS key does not rotate, or rotates less often than every ${MAX_KEY_ROTATION_DAYS} days`,
    explanation: 'Cryptographic keys are changed at the end of their defined cryptoperiod, here one year at most.',
    check: kmsKeyCryptoperiod,
  },
  {
    id: 'ELBv2RestrictedTlsPolicy',
    requirements: '4.2.1',
    info: `The HTTPS or TLS listener does not use one of the restricted TLS 1.2+ policies (${RESTRICTED_TLS_POLICIES.join(', ')})`,
    explanation: 'PAN crossing open, public networks is protected with strong cryptography: TLS 1.2 or later with forward-secret AEAD ciphers only.',
    check: elbv2RestrictedTlsPolicy,
  },
  {
    id: 'ECRScanOnPushImmutableTags',
    requirements: '5.2.2, 6.3.1',
    info: 'The image repository does not scan on push, or lets a pushed tag be overwritten',
    explanation: 'Vulnerabilities and malware in images are identified before they run, and a scanned tag cannot later name other content.',
    check: ecrScanOnPushImmutableTags,
  },
  {
    id: 'WAFv2ManagedRulesBlock',
    requirements: '6.4.2',
    info: 'The web ACL has no managed rule group, or one of its rule groups only counts',
    explanation: 'Public-facing web applications are protected by an automated solution that detects and blocks web-based attacks.',
    check: wafv2ManagedRulesBlock,
  },
  {
    id: 'CloudTrailAllRegionsValidated',
    requirements: '10.2.1, 10.3.2, 10.3.4',
    info: 'The trail is not logging every region and the global services, or lacks log file validation, KMS encryption or a CloudWatch Logs copy',
    explanation: 'Audit logs capture all actions, are protected from modification and change detection shows tampering.',
    check: cloudTrailAllRegionsValidated,
  },
  {
    id: 'LogGroupRetentionOneYear',
    requirements: '10.5.1',
    info: `The log group keeps its events less than ${MIN_LOG_RETENTION_DAYS} days`,
    explanation: 'Audit log history is retained for at least twelve months, the most recent three immediately available.',
    check: logGroupRetentionOneYear,
  },
];

/** PCI DSS v4.0.1 checks no published cdk-nag pack makes; each rule cites the requirement it checks. */
export class PCIDSS401Checks extends NagPack {
  public readonly name = PCI_DSS_401;

  constructor(scope?: IConstruct, props?: NagPackProps) {
    super(scope, props);
    this.packName = PCI_DSS_401;
  }

  protected checkResource(node: CfnResource): void {
    for (const rule of PCI_DSS_401_RULES) {
      this.applyRule({
        ruleSuffixOverride: rule.id,
        info: `${rule.info} - (Control ID: ${rule.requirements}).`,
        explanation: rule.explanation,
        level: NagMessageLevel.ERROR,
        rule: rule.check,
        node,
      });
    }
  }
}
