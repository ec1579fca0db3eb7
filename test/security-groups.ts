import { Stack } from 'aws-cdk-lib';
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
