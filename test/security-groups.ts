import { CfnElement, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Template } from 'aws-cdk-lib/assertions';

/** CDK's placeholder rule in a group with no egress: it matches no traffic (ICMP type 252 code 86 to 255.255.255.255). */
const NO_EGRESS_PLACEHOLDER = { CidrIp: '255.255.255.255/32', Description: 'Disallow all traffic', FromPort: 252, IpProtocol: 'icmp', ToPort: 86 };

type Props = Record<string, unknown>;

/**
 * Every security group of a stack, by its construct path below the stack (`PaymentService/SecurityGroup`), with its
 * egress as readable rules: `tcp 443 -> Network/EndpointSecurityGroup`, `tcp 443 -> prefix-list pl-…`,
 * `tcp 443 -> 0.0.0.0/0`. Inline and standalone rules both count, whatever CDK chose to emit; a protocol other than
 * TCP or a port range shows as itself (`-1 undefined-undefined`), so no rule can hide in the table.
 */
export function egressTable(stack: Stack, template: Template): Record<string, string[]> {
  const groups = stack.node
    .findAll()
    .filter((c): c is ec2.SecurityGroup => c instanceof ec2.SecurityGroup)
    .map((sg) => ({ path: sg.node.path.slice(stack.node.path.length + 1), id: stack.getLogicalId(sg.node.defaultChild as ec2.CfnSecurityGroup) }));
  const pathOf = new Map(groups.map((g) => [g.id, g.path]));
  const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: Props }>;
  const describe = (rule: Props): string => {
    const ports = rule.FromPort === rule.ToPort ? String(rule.FromPort) : `${String(rule.FromPort)}-${String(rule.ToPort)}`;
    const sg = rule.DestinationSecurityGroupId as { 'Fn::GetAtt'?: [string, string] } | undefined;
    const peer = sg
      ? (pathOf.get(sg['Fn::GetAtt']?.[0] ?? '') ?? JSON.stringify(sg))
      : rule.DestinationPrefixListId
        ? `prefix-list ${String(rule.DestinationPrefixListId)}`
        : String(rule.CidrIp ?? rule.CidrIpv6);
    return `${String(rule.IpProtocol)} ${ports} -> ${peer}`;
  };
  const table: Record<string, string[]> = {};
  for (const { id, path } of groups) {
    const inline = ((resources[id]!.Properties.SecurityGroupEgress as Props[] | undefined) ?? []).filter(
      (r) => JSON.stringify(r) !== JSON.stringify(NO_EGRESS_PLACEHOLDER),
    );
    const standalone = Object.values(resources)
      .filter((r) => r.Type === 'AWS::EC2::SecurityGroupEgress')
      .map((r) => r.Properties)
      .filter((r) => (r.GroupId as { 'Fn::GetAtt'?: [string] })['Fn::GetAtt']?.[0] === id);
    table[path] = [...inline, ...standalone].map(describe).sort();
  }
  return table;
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
      rule.SourceSecurityGroupId !== undefined
        ? readable(rule.SourceSecurityGroupId, pathOf).replace(/\.GroupId$/, '')
        : rule.SourcePrefixListId !== undefined
          ? `prefix-list ${readable(rule.SourcePrefixListId, pathOf)}`
          : readable(rule.CidrIp ?? rule.CidrIpv6, pathOf);
    return `${String(rule.IpProtocol)} ${ports} <- ${peer}`;
  };
  const table: Record<string, string[]> = {};
  for (const { id, path } of groups) {
    const inline = (resources[id]!.Properties.SecurityGroupIngress as Props[] | undefined) ?? [];
    const standalone = Object.values(resources)
      .filter((r) => r.Type === 'AWS::EC2::SecurityGroupIngress')
      .map((r) => r.Properties)
      .filter((r) => (r.GroupId as { 'Fn::GetAtt'?: [string] })['Fn::GetAtt']?.[0] === id);
    table[path] = [...inline, ...standalone].map(describe).sort();
  }
  return table;
}
