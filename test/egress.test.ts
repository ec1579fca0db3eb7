import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { allowedDomainsOf, ConfigError, EnvironmentConfig, validateEnvironmentConfig } from '../lib/config';
import { MAX_ALLOWED_DOMAINS } from '../lib/config/egress';
import { BLOCKED_QUERIES_METRIC, DNS_RULE_PRIORITY, DnsFirewall, dnsFirewallAllows } from '../lib/network/dns-firewall';
import { allowEgress } from '../lib/network/egress';
import { S3_PREFIX_LIST_IDS } from '../lib/network/network';
import { ENVS, shippedConfigs, synthEnv } from './helpers';
import { egressTable } from './security-groups';

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };

/**
 * The egress table of docs/architecture.md, as the template must carry it: per security group, every rule, by port
 * and peer. The builds are the pipeline's steps of that environment.
 */
function expectedEgress(c: EnvironmentConfig, buildSteps: readonly string[]): Record<string, string[]> {
  const endpoints = 'tcp 443 -> Network/EndpointSecurityGroup';
  const s3 = `tcp 443 -> prefix-list ${S3_PREFIX_LIST_IDS['us-east-1']}`;
  const database = 'tcp 5432 -> Database/SecurityGroup';
  const table: Record<string, string[]> = {
    'Network/EndpointSecurityGroup': [],
    'Database/SecurityGroup': [],
    'LoadBalancer/SecurityGroup': [`tcp ${c.service.containerPort} -> PaymentService/SecurityGroup`],
    'PaymentService/SecurityGroup': [endpoints, database, s3],
    'PaymentService/SmokeTest/SecurityGroup': [endpoints, `tcp ${c.deployment.testListenerPort} -> 0.0.0.0/0`],
    'Database/RotationSecurityGroup': [endpoints, database],
    'Migration/SecurityGroup': [endpoints, database, s3],
  };
  for (const step of buildSteps) table[`Delivery/${step}/SecurityGroup`] = ['tcp 443 -> 0.0.0.0/0'];
  for (const rules of Object.values(table)) rules.sort();
  return table;
}

describe.each(ENVS)('%s: every security group sends only what its purpose needs (PCI DSS v4.0.1 1.3.2)', (env) => {
  const { stack, template } = synthEnv(env);
  const config = shippedConfigs()[env];
  const table = egressTable(stack, template);

  test('the egress of every security group equals the egress table, rule for rule', () => {
    expect(table).toEqual(expectedEgress(config, Object.keys(stack.pipeline.projects)));
  });

  test('no group allows all outbound traffic, and no rule opens a protocol or a port range', () => {
    for (const [group, rules] of Object.entries(table)) {
      for (const rule of rules) expect({ group, rule }).toEqual({ group, rule: expect.stringMatching(/^tcp \d+ -> /) });
    }
    template.allResourcesProperties('AWS::EC2::SecurityGroupEgress', { IpProtocol: 'tcp', FromPort: Match.anyValue() });
  });

  test('every security group of the template is in the table, and every standalone egress rule belongs to one of them', () => {
    const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: { GroupId?: { 'Fn::GetAtt'?: [string] } } }>;
    const groups = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::EC2::SecurityGroup');
    expect(Object.keys(table)).toHaveLength(groups.length);
    for (const [id, rule] of Object.entries(resources).filter(([, r]) => r.Type === 'AWS::EC2::SecurityGroupEgress')) {
      const owner = rule.Properties.GroupId?.['Fn::GetAtt']?.[0];
      expect({ id, owner: groups.some(([g]) => g === owner) }).toEqual({ id, owner: true });
    }
  });

  test('only the builds (HTTPS) and the smoke-test hook (the test listener port) reach addresses outside the VPC', () => {
    // Any peer that is an address range, whatever its size (0.0.0.0/0, ::/0, a public /32), counts as outside.
    const inside = (peer: string) => peer.startsWith('prefix-list ') || Object.prototype.hasOwnProperty.call(table, peer);
    const open = Object.entries(table).flatMap(([group, rules]) => rules.filter((r) => !inside(r.split(' -> ')[1]!)).map((r) => `${group}: ${r}`));
    const builds = Object.keys(stack.pipeline.projects).map((s) => `Delivery/${s}/SecurityGroup: tcp 443 -> 0.0.0.0/0`);
    expect(open.sort()).toEqual([...builds, `PaymentService/SmokeTest/SecurityGroup: tcp ${config.deployment.testListenerPort} -> 0.0.0.0/0`].sort());
  });
});

describe.each(ENVS)('%s: the DNS Firewall lets the VPC resolve the allowed names only, and logs every query', (env) => {
  const { stack, template } = synthEnv(env);
  const config = shippedConfigs()[env];
  const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>;
  const idOf = (type: string, name: string) => Object.entries(resources).find(([, r]) => r.Type === type && r.Properties.Name === name)![0];
  const vpc = { Ref: stack.getLogicalId(stack.network.vpc.node.defaultChild as ec2.CfnVPC) };

  test('two domain lists: the config list plus the domain name and the recovery region CloudFormation endpoint, and every name', () => {
    template.resourceCountIs('AWS::Route53Resolver::FirewallDomainList', 2);
    template.hasResourceProperties('AWS::Route53Resolver::FirewallDomainList', {
      Name: `${stack.stackName}-egress-allowed`,
      Domains: [...config.egress.allowedDomains, config.tls.domainName, `cloudformation.${config.recovery.region}.amazonaws.com`],
    });
    template.hasResourceProperties('AWS::Route53Resolver::FirewallDomainList', { Name: `${stack.stackName}-egress-everything-else`, Domains: ['*'] });
  });

  test('the rule group allows the list first (trusting its CNAME chains) and answers NXDOMAIN for every other name', () => {
    const allowed = idOf('AWS::Route53Resolver::FirewallDomainList', `${stack.stackName}-egress-allowed`);
    const everything = idOf('AWS::Route53Resolver::FirewallDomainList', `${stack.stackName}-egress-everything-else`);
    template.resourceCountIs('AWS::Route53Resolver::FirewallRuleGroup', 1);
    template.hasResourceProperties('AWS::Route53Resolver::FirewallRuleGroup', {
      FirewallRules: [
        {
          Priority: DNS_RULE_PRIORITY.allow,
          Action: 'ALLOW',
          FirewallDomainListId: { 'Fn::GetAtt': [allowed, 'Id'] },
          FirewallDomainRedirectionAction: 'TRUST_REDIRECTION_DOMAIN',
        },
        {
          Priority: DNS_RULE_PRIORITY.blockEverythingElse,
          Action: 'BLOCK',
          BlockResponse: 'NXDOMAIN',
          FirewallDomainListId: { 'Fn::GetAtt': [everything, 'Id'] },
        },
      ],
    });
    expect(DNS_RULE_PRIORITY.allow).toBeLessThan(DNS_RULE_PRIORITY.blockEverythingElse);
  });

  test('the rule group is associated with the VPC, which fails closed', () => {
    const group = Object.entries(resources).find(([, r]) => r.Type === 'AWS::Route53Resolver::FirewallRuleGroup')![0];
    template.resourceCountIs('AWS::Route53Resolver::FirewallRuleGroupAssociation', 1);
    template.hasResourceProperties('AWS::Route53Resolver::FirewallRuleGroupAssociation', {
      FirewallRuleGroupId: { 'Fn::GetAtt': [group, 'Id'] },
      VpcId: vpc,
      Priority: 101,
    });
    template.resourceCountIs('AWS::Route53Resolver::FirewallConfig', 1);
    template.hasResource('AWS::Route53Resolver::FirewallConfig', {
      Properties: { ResourceId: vpc, FirewallFailOpen: 'DISABLED' },
      // cfn-lint's schemas do not know the type yet; the ignore is on this resource alone.
      Metadata: { 'cfn-lint': { config: { ignore_checks: ['E3006'] } } },
    });
  });

  test('every query of the VPC is logged to an encrypted group kept as long as the other logs', () => {
    const logGroup = stack.getLogicalId(stack.dnsFirewall.queryLogGroup.node.defaultChild as never);
    const config_ = Object.entries(resources).find(([, r]) => r.Type === 'AWS::Route53Resolver::ResolverQueryLoggingConfig')!;
    expect(config_[1].Properties.DestinationArn).toEqual({ 'Fn::GetAtt': [logGroup, 'Arn'] });
    template.hasResourceProperties('AWS::Route53Resolver::ResolverQueryLoggingConfigAssociation', {
      ResolverQueryLogConfigId: { 'Fn::GetAtt': [config_[0], 'Id'] },
      ResourceId: vpc,
    });
    expect(resources[logGroup]!.Properties).toMatchObject({
      LogGroupName: `/aws/vendedlogs/route53resolver/${stack.stackName}`,
      KmsKeyId: { 'Fn::GetAtt': [stack.getLogicalId(stack.keys.logs.node.defaultChild as never), 'Arn'] },
      RetentionInDays: config.logs.retentionDays,
    });
  });

  test('a name outside the list (blocked, or logged in alert mode) raises an alarm to the environment topics within 5 minutes (prod pages)', () => {
    const logGroup = stack.getLogicalId(stack.dnsFirewall.queryLogGroup.node.defaultChild as never);
    template.hasResourceProperties('AWS::Logs::MetricFilter', {
      LogGroupName: { Ref: logGroup },
      FilterPattern: '{ ($.firewall_rule_action = "BLOCK") || ($.firewall_rule_action = "ALERT") }',
      MetricTransformations: [
        { MetricNamespace: BLOCKED_QUERIES_METRIC.namespace, MetricName: BLOCKED_QUERIES_METRIC.name, MetricValue: '1', DefaultValue: 0 },
      ],
    });
    const ref = (t: { node: { defaultChild?: unknown } }) => ({ Ref: stack.getLogicalId(t.node.defaultChild as never) });
    const topics = env === 'prod' ? [ref(stack.alarms.topic), ref(stack.pages.topic)] : [ref(stack.alarms.topic)];
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: `${stack.stackName}-egress-dns-blocked-${env === 'prod' ? 'Critical' : 'Warning'}`,
      Namespace: BLOCKED_QUERIES_METRIC.namespace,
      MetricName: BLOCKED_QUERIES_METRIC.name,
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: topics,
      OKActions: topics,
    });
  });
});

/**
 * Names something in the VPC resolves, in the forms AWS and the registries use, with who asks. A name missing from an
 * environment's list is a build that cannot fetch, or a task that cannot reach its database.
 */
const NAMES_CALLED: readonly (readonly [string, string])[] = [
  ['tasks, migration, rotation: the Aurora writer endpoint', 'tapstack-dev-payments.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com'],
  ['tasks, hook, rotation: Secrets Manager (endpoint private DNS)', 'secretsmanager.us-east-1.amazonaws.com'],
  ['tasks, builds: ECR API', 'api.ecr.us-east-1.amazonaws.com'],
  ['tasks, builds: the registry', '111111111111.dkr.ecr.us-east-1.amazonaws.com'],
  ['tasks, builds: ECR layers in S3', 'prod-us-east-1-starport-layer-bucket.s3.us-east-1.amazonaws.com'],
  ['tasks, builds: CloudWatch Logs', 'logs.us-east-1.amazonaws.com'],
  ['hook, deploy step: ECS', 'ecs.us-east-1.amazonaws.com'],
  ['builds: CodeBuild reports, artifacts (global S3 name), STS', 'codebuild.us-east-1.amazonaws.com'],
  ['builds: the artifact bucket by its global name', 'tapstack-dev-artifacts.s3.amazonaws.com'],
  ['builds: STS global endpoint', 'sts.amazonaws.com'],
  ['Infra-Plan, Infra-Apply: CloudFormation', 'cloudformation.us-east-1.amazonaws.com'],
  ['Infra-Plan: cdk-assets to the CDK bootstrap bucket', 'cdk-hnb659fds-assets-111111111111-us-east-1.s3.us-east-1.amazonaws.com'],
  ['Infra-Plan: the listener guard reads the live rule', 'elasticloadbalancing.us-east-1.amazonaws.com'],
  ['Infra-Apply: the announcement on the topic', 'sns.us-east-1.amazonaws.com'],
  ['builds: npm ci', 'registry.npmjs.org'],
  ['IaC-Check: pip', 'pypi.org'],
  ['IaC-Check: pip downloads', 'files.pythonhosted.org'],
  ['Trivy, crane: GitHub releases', 'github.com'],
  ['Trivy, crane: release assets', 'release-assets.githubusercontent.com'],
  ['Build-Image, Trivy databases: ECR Public', 'public.ecr.aws'],
  ['Build-Image: distroless base', 'gcr.io'],
];

describe.each(ENVS)('%s: the allow list answers every name the VPC calls', (env) => {
  const config = shippedConfigs()[env];
  const allowed = allowedDomainsOf(config);

  test.each(NAMES_CALLED)('%s: %s', (_who, name) => {
    expect(dnsFirewallAllows(allowed, name)).toBe(true);
  });

  test('the smoke tests reach the environment by its own domain name', () => {
    expect(dnsFirewallAllows(allowed, config.tls.domainName!)).toBe(true);
  });

  test('names nothing of ours calls are not answered', () => {
    for (const name of ['example.com', 'attacker.example.org', 'pastebin.com', 'amazonaws.com', 'evil.us-east-1.amazonaws.com.attacker.net']) {
      expect({ name, allowed: dnsFirewallAllows(allowed, name) }).toEqual({ name, allowed: false });
    }
  });
});

describe('dnsFirewallAllows reads an entry as the name, or *. for the names below it', () => {
  test.each([
    [['registry.npmjs.org'], 'registry.npmjs.org', true],
    [['registry.npmjs.org'], 'REGISTRY.npmjs.org.', true],
    [['registry.npmjs.org'], 'x.registry.npmjs.org', false],
    [['*.example.org'], 'a.b.example.org', true],
    [['*.example.org'], 'example.org', false],
    [['*.example.org'], 'badexample.org', false],
  ] as const)('%j allows %s: %s', (list, name, expected) => {
    expect(dnsFirewallAllows(list, name)).toBe(expected);
  });
});

describe('egress configuration', () => {
  function validateChanged(env: 'dev' | 'staging' | 'prod', change: (c: Mutable<EnvironmentConfig>) => void): EnvironmentConfig {
    const config = structuredClone(shippedConfigs()[env]) as Mutable<EnvironmentConfig>;
    change(config);
    return validateEnvironmentConfig(config, env, `config/${env}.json`);
  }
  const problems = (f: () => unknown): string[] => {
    try {
      f();
    } catch (e) {
      if (e instanceof ConfigError) return [...e.problems];
      throw e;
    }
    return [];
  };

  test.each([
    ['REGISTRY.npmjs.org', 'must be a lower-case DNS name'],
    ['registry.npmjs.org.', 'must be a lower-case DNS name'],
    ['*', 'must be a lower-case DNS name'],
    ['*.com', 'must be a lower-case DNS name'],
    ['a.*.example.org', 'must be a lower-case DNS name'],
    ['-bad.example.org', 'must be a lower-case DNS name'],
    ['http://github.com', 'must be a lower-case DNS name'],
    [`${'a'.repeat(64)}.example.org`, 'must be a lower-case DNS name'],
  ])('an allowed domain %j is refused, naming it', (domain, message) => {
    const index = shippedConfigs().dev.egress.allowedDomains.length;
    const found = problems(() => validateChanged('dev', (c) => c.egress.allowedDomains.push(domain)));
    expect(found).toEqual([expect.stringMatching(/^egress\.allowedDomains\.\d+: .*, got: /)]);
    expect(found[0]!.startsWith(`egress.allowedDomains.${index}: ${message}`)).toBe(true);
    expect(found[0]!.endsWith(`, got: ${JSON.stringify(domain)}`)).toBe(true);
  });

  test('a repeated name, an empty list and an over-long list are refused', () => {
    const dev = shippedConfigs().dev;
    expect(problems(() => validateChanged('dev', (c) => c.egress.allowedDomains.push(dev.egress.allowedDomains[0]!)))).toEqual([
      `egress.allowedDomains.${dev.egress.allowedDomains.length}: duplicated name, got: ${JSON.stringify(dev.egress.allowedDomains[0])}`,
    ]);
    expect(problems(() => validateChanged('dev', (c) => (c.egress.allowedDomains = [])))).toEqual([
      'egress.allowedDomains: must list at least the AWS endpoints the VPC calls, got: []',
    ]);
    const many = Array.from({ length: MAX_ALLOWED_DOMAINS + 1 }, (_, i) => `n${i}.example.org`);
    expect(problems(() => validateChanged('dev', (c) => (c.egress.allowedDomains = many)))).toEqual([
      expect.stringMatching(new RegExp(`^egress\\.allowedDomains: must list at most ${MAX_ALLOWED_DOMAINS} names, got: `)),
    ]);
  });

  test('prod blocks and fails closed; dev and staging may alert or fail open', () => {
    expect(problems(() => validateChanged('prod', (c) => (c.egress.dnsFirewallMode = 'alert')))).toEqual([
      'egress.dnsFirewallMode: prod blocks every name not allowed (PCI DSS 1.3.2), got: "alert"',
    ]);
    expect(problems(() => validateChanged('prod', (c) => (c.egress.dnsFirewallFailOpen = true)))).toEqual([
      'egress.dnsFirewallFailOpen: prod fails closed (unfiltered DNS is an open egress path, PCI DSS 1.3.2), got: true',
    ]);
    for (const env of ['dev', 'staging'] as const) {
      expect(
        problems(() =>
          validateChanged(env, (c) => {
            c.egress.dnsFirewallMode = 'alert';
            c.egress.dnsFirewallFailOpen = true;
          }),
        ),
      ).toEqual([]);
    }
    expect(problems(() => validateChanged('dev', (c) => ((c.egress as { dnsFirewallMode: string }).dnsFirewallMode = 'off')))).toEqual([
      'egress.dnsFirewallMode: Invalid option: expected one of "block"|"alert", got: "off"',
    ]);
  });

  test('the environment domain name is allowed once, after the configured names, then the recovery region CloudFormation endpoint', () => {
    const dev = shippedConfigs().dev;
    const recovery = 'cloudformation.us-west-2.amazonaws.com';
    expect(allowedDomainsOf(dev)).toEqual([...dev.egress.allowedDomains, dev.tls.domainName, recovery]);
    expect(allowedDomainsOf({ ...dev, egress: { ...dev.egress, allowedDomains: [dev.tls.domainName!] } })).toEqual([dev.tls.domainName, recovery]);
    expect(allowedDomainsOf({ ...dev, recovery: { ...dev.recovery, region: 'eu-west-1' } })).toContain('cloudformation.eu-west-1.amazonaws.com');
  });
});

describe('DnsFirewall in alert mode', () => {
  test('the last rule only logs (ALERT, no block response); the allow rule and the alarm stay', () => {
    const stack = new Stack();
    const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0 });
    const key = new kms.Key(stack, 'Key');
    const topic = new sns.Topic(stack, 'Topic');
    new DnsFirewall(stack, 'Dns', {
      vpc,
      allowedDomains: ['registry.npmjs.org'],
      mode: 'alert',
      failOpen: true,
      logsKey: key,
      logRetentionDays: 365,
      logRemovalPolicy: RemovalPolicy.DESTROY,
      topics: { notice: topic, page: topic },
      severity: 'Warning',
    });
    const template = Template.fromStack(stack);
    const rules = Object.values(template.findResources('AWS::Route53Resolver::FirewallRuleGroup'))[0]!.Properties.FirewallRules as Record<
      string,
      unknown
    >[];
    expect(rules.map((r) => [r.Priority, r.Action, r.BlockResponse])).toEqual([
      [DNS_RULE_PRIORITY.allow, 'ALLOW', undefined],
      [DNS_RULE_PRIORITY.blockEverythingElse, 'ALERT', undefined],
    ]);
    template.hasResource('AWS::Route53Resolver::FirewallConfig', {
      Properties: { ResourceId: { Ref: stack.getLogicalId(vpc.node.defaultChild as ec2.CfnVPC) }, FirewallFailOpen: 'ENABLED' },
      Metadata: { 'cfn-lint': { config: { ignore_checks: ['E3006'] } } },
    });
    template.resourceCountIs('AWS::CloudWatch::Alarm', 1);
  });
});

describe('allowEgress', () => {
  const access = () => {
    const stack = new Stack();
    const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0 });
    return { stack, vpc, access: { endpointSecurityGroup: new ec2.SecurityGroup(stack, 'Endpoints', { vpc }), s3PrefixListId: 'pl-1' } };
  };

  test('refuses a group that already allows all outbound traffic', () => {
    const { stack, vpc, access: a } = access();
    const open = new ec2.SecurityGroup(stack, 'Open', { vpc, allowAllOutbound: true });
    expect(() => allowEgress(open, a, [{ to: 's3', why: 'x' }])).toThrow(
      'Default/Open: egress flows need a group created with allowAllOutbound: false',
    );
  });

  test.each([0, 65536, 1.5, Number.NaN])('refuses the port %p', (port) => {
    const { stack, vpc, access: a } = access();
    const group = new ec2.SecurityGroup(stack, 'G', { vpc, allowAllOutbound: false });
    expect(() => allowEgress(group, a, [{ to: 'internet', port, why: 'x' }])).toThrow(
      `Default/G: egress port must be one port 1-65535, got: ${port}`,
    );
  });
});
