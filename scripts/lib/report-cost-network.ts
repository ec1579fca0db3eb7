// Cost lines of the network edge: VPC, load balancer, WAF, DNS Firewall (scripts/lib/report-cost.ts composes them).
import { arr, count, obj, StackContext } from './report-cost-context';

/** VPC: NAT gateways, public IPv4 addresses, interface endpoints. */
export function vpcLines(ctx: StackContext): void {
  const { stack, hours, pushes, a, add, ofType } = ctx;
  const nats = ofType('AWS::EC2::NatGateway', stack);
  if (nats.length > 0) {
    const covers = ['AWS::EC2::NatGateway'];
    add({
      stack,
      service: 'VPC',
      item: 'NAT gateways',
      quantity: nats.length * hours,
      unit: 'NAT gateway-hours',
      priceKeys: ['natGatewayHour'],
      basis: `${count(nats.length, 'NAT gateway')} x ${hours} h`,
      covers,
    });
    const gb = a('natGbPerPush') * pushes + a('natGbBase');
    add({
      stack,
      service: 'VPC',
      item: 'NAT gateway data processed',
      quantity: gb,
      unit: 'GB',
      priceKeys: ['natGatewayGb'],
      basis: `${a('natGbPerPush')} GB x ${pushes} pushes + ${a('natGbBase')} GB`,
      covers,
    });
  }
  const eips = ofType('AWS::EC2::EIP', stack).length;
  const publicAlbs = ofType('AWS::ElasticLoadBalancingV2::LoadBalancer', stack).filter((r) => r.props.Scheme === 'internet-facing');
  const albIps = publicAlbs.reduce((n, r) => n + arr(r.props.Subnets).length, 0);
  if (eips + albIps > 0) {
    add({
      stack,
      service: 'VPC',
      item: 'Public IPv4 addresses',
      quantity: (eips + albIps) * hours,
      unit: 'address-hours',
      priceKeys: ['publicIpv4Hour'],
      basis: `(${count(eips, 'Elastic IP')} + ${count(albIps, 'load balancer node')}, one per public subnet) x ${hours} h`,
      covers: eips > 0 ? ['AWS::EC2::EIP'] : [],
    });
  }
  const endpoints = ofType('AWS::EC2::VPCEndpoint', stack);
  if (endpoints.length > 0) {
    const iface = endpoints.filter((r) => r.props.VpcEndpointType === 'Interface');
    const azs = iface.reduce((n, r) => n + arr(r.props.SubnetIds).length, 0);
    const covers = ['AWS::EC2::VPCEndpoint'];
    const gateways = endpoints.length - iface.length;
    add({
      stack,
      service: 'VPC',
      item: 'Interface endpoints',
      quantity: azs * hours,
      unit: 'endpoint-AZ-hours',
      priceKeys: ['interfaceEndpointAzHour'],
      basis: `${count(iface.length, 'interface endpoint')} in ${count(azs, 'endpoint-AZ')} x ${hours} h (${count(gateways, 'gateway endpoint')}: free)`,
      covers,
    });
    if (iface.length > 0) {
      add({
        stack,
        service: 'VPC',
        item: 'Interface endpoint data processed',
        quantity: a('endpointGb'),
        unit: 'GB',
        priceKeys: ['interfaceEndpointGb'],
        basis: 'assumed endpointGb',
        covers,
      });
    }
  }
}

/** The load balancer, its data transfer out, and the WAF web ACL in front of it. */
export function loadBalancerLines(ctx: StackContext): void {
  const { stack, hours, requests, a, add, ofType } = ctx;
  const albs = ofType('AWS::ElasticLoadBalancingV2::LoadBalancer', stack);
  if (albs.length > 0) {
    const covers = ['AWS::ElasticLoadBalancingV2::LoadBalancer'];
    add({
      stack,
      service: 'Elastic Load Balancing',
      item: 'Application Load Balancer',
      quantity: albs.length * hours,
      unit: 'ALB-hours',
      priceKeys: ['albHour'],
      basis: `${albs.length} x ${hours} h`,
      covers,
    });
    add({
      stack,
      service: 'Elastic Load Balancing',
      item: 'Load balancer capacity units',
      quantity: albs.length * a('albAverageLcu') * hours,
      unit: 'LCU-hours',
      priceKeys: ['albLcuHour'],
      basis: `${a('albAverageLcu')} LCU average x ${hours} h`,
      covers,
    });
    const gb = (requests * a('responseKb')) / 1024 / 1024;
    add({
      stack,
      service: 'Data transfer',
      item: 'Responses to the internet',
      quantity: gb,
      unit: 'GB',
      priceKeys: ['dataTransferOutGb'],
      basis: `${requests.toLocaleString('en-US')} requests x ${a('responseKb')} KB`,
      covers,
    });
  }
  const acls = ofType('AWS::WAFv2::WebACL', stack);
  if (acls.length > 0) {
    const covers = ['AWS::WAFv2::WebACL'];
    const rules = acls.reduce((n, r) => n + arr(r.props.Rules).length, 0);
    add({
      stack,
      service: 'WAF',
      item: 'Web ACLs',
      quantity: acls.length,
      unit: 'web ACL-months',
      priceKeys: ['wafWebAclMonth'],
      basis: count(acls.length, 'web ACL'),
      covers,
    });
    add({
      stack,
      service: 'WAF',
      item: 'Rules and managed rule groups',
      quantity: rules,
      unit: 'rule-months',
      priceKeys: ['wafRuleMonth'],
      basis: acls.flatMap((r) => arr(r.props.Rules).map((rule) => String(obj(rule).Name))).join(', '),
      covers,
    });
    add({
      stack,
      service: 'WAF',
      item: 'Requests inspected',
      quantity: requests / 1e6,
      unit: 'million requests',
      priceKeys: ['wafMillionRequests'],
      basis: 'assumed requestsPerMonth',
      covers,
    });
  }
}

/** Route 53 Resolver DNS Firewall: queries processed and domains listed. */
export function dnsFirewallLines(ctx: StackContext): void {
  const { stack, a, add, ofType } = ctx;
  const associations = ofType('AWS::Route53Resolver::FirewallRuleGroupAssociation', stack).length;
  if (associations > 0) {
    add({
      stack,
      service: 'Route 53 Resolver',
      item: 'DNS Firewall queries',
      quantity: (associations * a('dnsQueriesPerMonth')) / 1e6,
      unit: 'million queries',
      priceKeys: ['dnsFirewallMillionQueries'],
      basis: `${count(associations, 'VPC association')}, assumed dnsQueriesPerMonth`,
      covers: ['AWS::Route53Resolver::FirewallRuleGroupAssociation'],
    });
  }
  const domainLists = ofType('AWS::Route53Resolver::FirewallDomainList', stack);
  if (domainLists.length > 0) {
    const domains = domainLists.reduce((n, r) => n + arr(r.props.Domains).length, 0);
    add({
      stack,
      service: 'Route 53 Resolver',
      item: 'DNS Firewall domains',
      quantity: domains,
      unit: 'domain-months',
      priceKeys: ['dnsFirewallDomainMonth'],
      basis: count(domainLists.length, 'domain list'),
      covers: ['AWS::Route53Resolver::FirewallDomainList'],
    });
  }
}
