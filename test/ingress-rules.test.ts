import { EnvironmentConfig, loadConfig } from '../lib/config';
import { ENVS, synthEnv } from './helpers';
import { egressTable, ingressTable } from './security-groups';

/** The port the database listens on (Aurora PostgreSQL's default, which the cluster keeps). */
const POSTGRES = 5432;

/**
 * The ingress every security group must carry, per group, every rule, by port and peer (the egress side is
 * test/egress.test.ts, after the egress table of docs/architecture.md). Only the load balancer takes traffic from
 * outside the VPC: HTTPS and the HTTP redirect from anywhere, and the blue/green test listener from the NAT gateways'
 * addresses (the smoke test's calls) and the configured ranges. The AWS endpoints admit HTTPS from the VPC range.
 */
function expectedIngress(c: EnvironmentConfig, groups: readonly string[]): Record<string, string[]> {
  const testPort = c.deployment.testListenerPort;
  const nat = Array.from({ length: c.network.natGateways }, (_, i) => `tcp ${testPort} <- Network/Vpc/publicSubnet${i + 1}/EIP.PublicIp/32`);
  const table: Record<string, string[]> = Object.fromEntries(groups.map((g) => [g, []]));
  Object.assign(table, {
    'Network/EndpointSecurityGroup': [`tcp 443 <- ${c.network.cidr}`],
    'LoadBalancer/SecurityGroup': [
      'tcp 443 <- 0.0.0.0/0',
      'tcp 80 <- 0.0.0.0/0',
      ...nat,
      ...c.deployment.testListenerAllowedCidrs.map((r) => `tcp ${testPort} <- ${r}`),
    ],
    'PaymentService/SecurityGroup': [`tcp ${c.service.containerPort} <- LoadBalancer/SecurityGroup`],
    'Database/SecurityGroup': [
      `tcp ${POSTGRES} <- PaymentService/SecurityGroup`,
      `tcp ${POSTGRES} <- Migration/SecurityGroup`,
      `tcp ${POSTGRES} <- Database/RotationSecurityGroup`,
    ],
  });
  for (const rules of Object.values(table)) rules.sort();
  return table;
}

describe.each(ENVS)('%s: every security group admits only what its purpose needs (PCI DSS v4.0.1 1.3.1)', (env) => {
  const config = loadConfig(env);
  const { stack, template } = synthEnv(env);
  const table = ingressTable(stack, template);
  const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: { GroupId?: { 'Fn::GetAtt'?: [string] } } }>;
  const groupIds = Object.entries(resources)
    .filter(([, r]) => r.Type === 'AWS::EC2::SecurityGroup')
    .map(([id]) => id);

  test('the ingress of every security group equals the ingress table, rule for rule (inline and standalone)', () => {
    expect(table).toEqual(expectedIngress(config, Object.keys(table)));
  });

  test('every security group of the template is in the table, and every standalone ingress rule belongs to one of them', () => {
    expect(groupIds.length).toBeGreaterThan(4);
    expect(Object.keys(table)).toHaveLength(groupIds.length);
    const rules = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::EC2::SecurityGroupIngress');
    expect(rules.length).toBeGreaterThan(0);
    for (const [id, rule] of rules) {
      expect({ id, owner: groupIds.includes(rule.Properties.GroupId?.['Fn::GetAtt']?.[0] ?? '') }).toEqual({ id, owner: true });
    }
  });

  test('only the load balancer admits an address range from outside the VPC, and only 443 and 80 from anywhere', () => {
    const ranges = Object.entries(table).flatMap(([group, rules]) =>
      rules
        .filter((r) => !/<- [A-Za-z]+\/[A-Za-z/]*SecurityGroup$/.test(r) && r !== `tcp 443 <- ${config.network.cidr}`)
        .map((r) => `${group}: ${r}`),
    );
    expect(ranges.every((r) => r.startsWith('LoadBalancer/SecurityGroup: '))).toBe(true);
    expect(ranges.filter((r) => /<- (0\.0\.0\.0\/0|::\/0)$/.test(r)).sort()).toEqual([
      'LoadBalancer/SecurityGroup: tcp 443 <- 0.0.0.0/0',
      'LoadBalancer/SecurityGroup: tcp 80 <- 0.0.0.0/0',
    ]);
  });

  // Both sides of a flow between two groups carry it: what one group sends, the other admits (test/egress.test.ts
  // holds the egress side to its table).
  test('every flow between two groups is allowed on both sides, on the same port', () => {
    const egress = egressTable(stack, template);
    const sent = Object.entries(egress).flatMap(([from, rules]) =>
      rules
        .map((r) => /^tcp (\d+) -> (.+)$/.exec(r))
        .filter((m): m is RegExpExecArray => m !== null && m[2]! in table)
        .map((m) => `${m[2]}: tcp ${m[1]} <- ${from}`),
    );
    const admitted = Object.entries(table).flatMap(([to, rules]) =>
      rules.filter((r) => /<- [A-Za-z]+\/[A-Za-z/]*SecurityGroup$/.test(r)).map((r) => `${to}: ${r}`),
    );
    expect(admitted.length).toBeGreaterThan(0);
    // The endpoint group admits the VPC range rather than each caller: every group that sends to it is inside the range.
    expect(sent.filter((f) => !f.startsWith('Network/EndpointSecurityGroup: ')).sort()).toEqual(admitted.sort());
  });
});
