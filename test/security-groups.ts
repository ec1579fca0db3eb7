import { CfnElement, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Template } from 'aws-cdk-lib/assertions';

/** CDK's placeholder rule in a group with no egress: it matches no traffic (ICMP type 252 code 86 to 255.255.255.255). */
const NO_EGRESS_PLACEHOLDER = { CidrIp: '255.255.255.255/32', Description: 'Disallow all traffic', FromPort: 252, IpProtocol: 'icmp', ToPort: 86 };

type Props = Record<string, unknown>;

/**
 * Every security group of a stack, by its construct path below the stack (`PaymentService/SecurityGroup`), with its
 * egress as readable rules: `tcp 443 -> Network/EndpointSecurityGroup`, `tcp 443 -> prefix-list pl-…`,
 * `tcp 443 -> 0.0.0.0/0`. Inline and standalone rules both count, whatever CDK chose to emit (CDK's placeholder for "no
 * egress" matches no traffic and is left out); a protocol other than TCP or a port range shows as itself
 * (`-1 undefined`), so no rule can hide in the table.
 */
export function egressTable(stack: Stack, template: Template): Record<string, string[]> {
  return rulesTable(stack, template, 'egress');
}

/** A template value as a reader would name it: `Network/Vpc/publicSubnet1/EIP.PublicIp/32` for a NAT gateway's address. */
function readable(value: unknown, pathOf: ReadonlyMap<string, string>): string {
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  const v = value as { Ref?: string; 'Fn::GetAtt'?: [string, string]; 'Fn::Join'?: [string, unknown[]] } | undefined;
  if (v?.Ref !== undefined) return pathOf.get(v.Ref) ?? v.Ref;
  if (v?.['Fn::GetAtt']) return `${pathOf.get(v['Fn::GetAtt'][0]) ?? v['Fn::GetAtt'][0]}.${v['Fn::GetAtt'][1]}`;
  if (v?.['Fn::Join']) return v['Fn::Join'][1].map((p) => readable(p, pathOf)).join(v['Fn::Join'][0]);
  return JSON.stringify(value);
}

/** Each resource's construct path inside its stack (`Network/Vpc`, the `Resource` level dropped), by logical id. */
export function pathsByLogicalId(stack: Stack): Map<string, string> {
  const root = stack.node.path.length + 1;
  return new Map(
    stack.node
      .findAll()
      .filter((c): c is CfnElement => CfnElement.isCfnElement(c))
      .map((c) => [stack.getLogicalId(c), (c.node.id === 'Resource' ? c.node.scope!.node.path : c.node.path).slice(root)] as const),
  );
}

/**
 * Every security group of a stack, by its construct path below the stack, with its ingress as readable rules:
 * `tcp 443 <- 0.0.0.0/0`, `tcp 8080 <- LoadBalancer/SecurityGroup`, `tcp 8443 <- Network/Vpc/publicSubnet1/EIP.PublicIp/32`.
 * Inline (`SecurityGroupIngress`) and standalone (`AWS::EC2::SecurityGroupIngress`) rules both count; every peer kind
 * (group, IPv4 or IPv6 range, prefix list) and every protocol shows as itself, so no rule can hide in the table.
 */
export function ingressTable(stack: Stack, template: Template): Record<string, string[]> {
  return rulesTable(stack, template, 'ingress');
}

/** The names of a direction's rules: inline property, standalone resource type, peer properties and arrow. */
const DIRECTIONS = {
  ingress: {
    inline: 'SecurityGroupIngress',
    resourceType: 'AWS::EC2::SecurityGroupIngress',
    group: 'SourceSecurityGroupId',
    prefixList: 'SourcePrefixListId',
    arrow: '<-',
  },
  egress: {
    inline: 'SecurityGroupEgress',
    resourceType: 'AWS::EC2::SecurityGroupEgress',
    group: 'DestinationSecurityGroupId',
    prefixList: 'DestinationPrefixListId',
    arrow: '->',
  },
} as const;

function rulesTable(stack: Stack, template: Template, direction: keyof typeof DIRECTIONS): Record<string, string[]> {
  const d = DIRECTIONS[direction];
  const root = stack.node.path.length + 1;
  const pathOf = pathsByLogicalId(stack);
  const groups = stack.node
    .findAll()
    .filter((c): c is ec2.SecurityGroup => c instanceof ec2.SecurityGroup)
    .map((sg) => ({ path: sg.node.path.slice(root), id: stack.getLogicalId(sg.node.defaultChild as ec2.CfnSecurityGroup) }));
  const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: Props }>;
  const describe = (rule: Props): string => {
    const ports = rule.FromPort === rule.ToPort ? String(rule.FromPort) : `${String(rule.FromPort)}-${String(rule.ToPort)}`;
    const peer =
      rule[d.group] !== undefined
        ? readable(rule[d.group], pathOf).replace(/\.GroupId$/, '')
        : rule[d.prefixList] !== undefined
          ? `prefix-list ${readable(rule[d.prefixList], pathOf)}`
          : readable(rule.CidrIp ?? rule.CidrIpv6, pathOf);
    return `${String(rule.IpProtocol)} ${ports} ${d.arrow} ${peer}`;
  };
  const table: Record<string, string[]> = {};
  for (const { id, path } of groups) {
    const inline = ((resources[id]!.Properties[d.inline] as Props[] | undefined) ?? []).filter(
      (r) => direction === 'ingress' || JSON.stringify(r) !== JSON.stringify(NO_EGRESS_PLACEHOLDER),
    );
    const standalone = Object.values(resources)
      .filter((r) => r.Type === d.resourceType)
      .map((r) => r.Properties)
      .filter((r) => (r.GroupId as { 'Fn::GetAtt'?: [string] })['Fn::GetAtt']?.[0] === id);
    table[path] = [...inline, ...standalone].map(describe).sort();
  }
  return table;
}
