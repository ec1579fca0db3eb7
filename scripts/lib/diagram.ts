// The architecture diagram of one environment, generated from its synthesized templates (docs/architecture.md):
// a pure function from templates to Graphviz DOT, and the renderer that turns DOT into SVG with Graphviz compiled to
// WebAssembly (@hpcc-js/wasm-graphviz), so a fresh clone needs nothing but `npm ci`. Debian's `dot -Tsvg` renders
// the same .dot files.
//
// What is drawn: every resource of every stack, grouped into clusters by region, stack and the first segment of its
// construct path; security-group rules as edges between the resources that carry the groups (port on the label);
// references (Ref, Fn::GetAtt, literal names and ARNs, also across stacks) as thin edges. Clutter is folded: IAM roles
// and policies, bucket, topic and secret policies, route tables, scaling policies, saved queries and CDK's own
// custom-resource providers are only counted; subnets are one node per tier, alarms one node per construct and
// topics, interface endpoints one node per security group set; KMS keys and subnets referenced by a resource become a
// line of its label. Labels hold construct paths and chosen literal properties only, never asset hashes or code.
import { CfnElement, Stack } from 'aws-cdk-lib';
import { spawnSync } from 'child_process';
import { IConstruct } from 'constructs';
import * as path from 'path';
import { pathToFileURL } from 'url';
import type { CfnResource, CfnTemplate, Synthesized } from './synthesized';

/** One stack as the diagram sees it. */
export interface DiagramStack {
  readonly name: string;
  readonly region: string;
  readonly template: CfnTemplate;
  /** Logical id -> construct path (from `aws:cdk:path` metadata or the construct tree); absent ids use the logical id. */
  readonly paths: Readonly<Record<string, string>>;
}

/** Everything the diagram is drawn from. */
export interface DiagramInput {
  readonly env: string;
  readonly stacks: readonly DiagramStack[];
}

/** The construct path of every resource of every stack of `root`, by stack name and logical id. */
export function constructPaths(root: IConstruct): Record<string, Record<string, string>> {
  const paths: Record<string, Record<string, string>> = {};
  for (const node of root.node.findAll()) {
    if (!(node instanceof CfnElement)) continue;
    const stack = Stack.of(node);
    const logicalId: unknown = stack.resolve(node.logicalId);
    if (typeof logicalId === 'string') (paths[stack.stackName] ??= {})[logicalId] = node.node.path;
  }
  return paths;
}

/** The diagram's input from one environment's synth: the metadata path where present, else the construct tree's. */
export function diagramInputOf(synth: Synthesized): DiagramInput {
  const tree = constructPaths(synth.root);
  return {
    env: synth.env,
    stacks: Object.entries(synth.templates).map(([name, template]) => {
      const paths: Record<string, string> = { ...(tree[name] ?? {}) };
      for (const [id, resource] of Object.entries(template.Resources)) {
        const metadataPath = resource.Metadata?.['aws:cdk:path'];
        if (typeof metadataPath === 'string') paths[id] = metadataPath;
      }
      return { name, region: synth.regions[name] ?? 'unknown-region', template, paths };
    }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Template reading

type Json = unknown;
const isObject = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: Json): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);

/** A reference found in a resource's properties: the logical id it names and where in the properties it sits. */
interface Reference {
  readonly target: string;
  readonly at: readonly (string | number)[];
}

/** Every Ref / Fn::GetAtt / Fn::Sub `${X}` to a logical id (pseudo parameters excluded) under `value`. */
function referencesIn(value: Json, at: (string | number)[] = []): Reference[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => referencesIn(v, [...at, i]));
  if (!isObject(value)) return [];
  const keys = Object.keys(value);
  if (keys.length === 1) {
    const ref = value.Ref;
    if (typeof ref === 'string') return ref.startsWith('AWS::') ? [] : [{ target: ref, at }];
    const getAtt = value['Fn::GetAtt'];
    if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return [{ target: getAtt[0], at }];
    if (typeof getAtt === 'string') return [{ target: getAtt.split('.')[0] ?? getAtt, at }];
    const sub = value['Fn::Sub'];
    if (typeof sub === 'string' || Array.isArray(sub)) {
      const text = Array.isArray(sub) ? (str(sub[0]) ?? '') : sub;
      const found = [...text.matchAll(/\$\{([A-Za-z0-9]+)[.}]/g)].map((m) => m[1] ?? '').filter((id) => id && !id.startsWith('AWS'));
      return [...found.map((target) => ({ target, at })), ...(Array.isArray(sub) ? referencesIn(sub[1], at) : [])];
    }
  }
  return keys.flatMap((k) => referencesIn(value[k], [...at, k]));
}

/**
 * A value as text where it is literal but for pseudo parameters (`${AWS::AccountId}`); undefined when it depends on a
 * resource. Names and ARNs built from the account and region compare equal this way across stacks.
 */
function literalText(value: Json): string | undefined {
  const plain = str(value);
  if (plain !== undefined) return plain;
  if (!isObject(value)) return undefined;
  if (typeof value.Ref === 'string') return value.Ref.startsWith('AWS::') ? `\${${value.Ref}}` : undefined;
  const join = value['Fn::Join'];
  if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) {
    const parts = join[1].map(literalText);
    return parts.every((p): p is string => p !== undefined) ? parts.join(join[0]) : undefined;
  }
  return undefined;
}

/** Every literal (or pseudo-parameter) string under `value` with where it sits. */
function textsIn(value: Json, at: (string | number)[] = []): { text: string; at: (string | number)[] }[] {
  const text = literalText(value);
  if (text !== undefined) return [{ text, at }];
  if (Array.isArray(value)) return value.flatMap((v, i) => textsIn(v, [...at, i]));
  if (!isObject(value)) return [];
  return Object.keys(value).flatMap((k) => textsIn(value[k], [...at, k]));
}

const props = (r: CfnResource): Record<string, Json> => r.Properties ?? {};
const tagOf = (r: CfnResource, key: string): string | undefined => {
  const tags = props(r).Tags;
  if (!Array.isArray(tags)) return undefined;
  const tag: Json = tags.find((t: Json) => isObject(t) && t.Key === key);
  return isObject(tag) ? str(tag.Value) : undefined;
};
const short = (type: string) => type.replace(/^AWS::/, '');

// ---------------------------------------------------------------------------------------------------------------
// What is drawn

/** Resource types that are counted, not drawn (their meaning is carried by edges or labels, or is clutter). */
const FOLDED_TYPES = new Set([
  'AWS::IAM::Role',
  'AWS::IAM::Policy',
  'AWS::IAM::ManagedPolicy',
  'AWS::IAM::InstanceProfile',
  'AWS::Lambda::Permission',
  'AWS::S3::BucketPolicy',
  'AWS::SNS::TopicPolicy',
  'AWS::SQS::QueuePolicy',
  'AWS::SecretsManager::ResourcePolicy',
  'AWS::SecretsManager::SecretTargetAttachment',
  'AWS::Logs::QueryDefinition',
  'AWS::Logs::MetricFilter',
  'AWS::EC2::RouteTable',
  'AWS::EC2::SubnetRouteTableAssociation',
  'AWS::EC2::Route',
  'AWS::EC2::EIP',
  'AWS::EC2::VPCGatewayAttachment',
  'AWS::EC2::FlowLog',
  'AWS::EC2::SecurityGroupIngress',
  'AWS::EC2::SecurityGroupEgress',
  'AWS::ApplicationAutoScaling::ScalableTarget',
  'AWS::ApplicationAutoScaling::ScalingPolicy',
  'AWS::RDS::DBSubnetGroup',
  'AWS::RDS::DBClusterParameterGroup',
  'AWS::RDS::DBParameterGroup',
  'AWS::RDS::DBInstance',
  'AWS::WAFv2::WebACLAssociation',
  'AWS::ElasticLoadBalancingV2::ListenerRule',
  'AWS::WAFv2::LoggingConfiguration',
  'AWS::Route53Resolver::FirewallRuleGroupAssociation',
  'AWS::Route53Resolver::ResolverQueryLoggingConfigAssociation',
  'AWS::KMS::Alias',
  'AWS::SNS::Subscription',
  'AWS::CDK::Metadata',
]);

/** Properties that hold IAM-style policies: what they name is a permission, not a connection. */
const POLICY_PROPERTIES = new Set(['KeyPolicy', 'PolicyDocument', 'AccessPolicy', 'PolicyText', 'ResourcePolicy', 'Policies']);

/** CDK's own plumbing (custom-resource providers, cross-region export readers and writers): counted, not drawn. */
const isPlumbing = (type: string, constructPath: string) =>
  type.startsWith('Custom::') ||
  /\/Custom::[^/]*Provider\//.test(constructPath) ||
  /CustomResourceProvider|AWS679f53fac002430cb0da5b7982bd2287/.test(constructPath);

/**
 * Property that holds a resource's physical name, by type, and the part of its ARN just before the name: a literal
 * name lets other stacks (and other regions) point at the resource without a CloudFormation reference.
 */
const NAME_PROPERTIES: Record<string, { readonly property: string; readonly arn: string }> = {
  'AWS::S3::Bucket': { property: 'BucketName', arn: ':s3:::' },
  'AWS::SNS::Topic': { property: 'TopicName', arn: ':' },
  'AWS::CloudWatch::Alarm': { property: 'AlarmName', arn: ':alarm:' },
  'AWS::Backup::BackupVault': { property: 'BackupVaultName', arn: ':backup-vault:' },
  'AWS::ECR::Repository': { property: 'RepositoryName', arn: ':repository/' },
  'AWS::Logs::LogGroup': { property: 'LogGroupName', arn: ':log-group:' },
  'AWS::RDS::DBCluster': { property: 'DBClusterIdentifier', arn: ':cluster:' },
  'AWS::Lambda::Function': { property: 'FunctionName', arn: ':function:' },
  'AWS::SecretsManager::Secret': { property: 'Name', arn: ':secret:' },
  'AWS::KMS::Alias': { property: 'AliasName', arn: ':' },
  'AWS::CodeBuild::Project': { property: 'Name', arn: ':project/' },
};

/** Whether `text` is the name, or an ARN (or ARN prefix) that ends in it. */
function names(text: string, name: { readonly text: string; readonly arn: string }): boolean {
  if (text === name.text) return true;
  const at = text.indexOf(`${name.arn}${name.text}`);
  if (at < 0 || !text.startsWith('arn:')) return false;
  const after = text.charAt(at + name.arn.length + name.text.length);
  return after === '' || after === '/' || after === ':' || after === '*';
}

/** Friendly names of the types an ops engineer looks for. */
const TYPE_NAMES: Record<string, string> = {
  'AWS::EC2::VPC': 'VPC',
  'AWS::EC2::NatGateway': 'NAT gateway',
  'AWS::EC2::InternetGateway': 'Internet gateway',
  'AWS::EC2::SecurityGroup': 'Security group (attached at run time: no resource in the template carries it)',
  'AWS::EC2::VPCEndpoint': 'Gateway endpoint',
  'AWS::ElasticLoadBalancingV2::LoadBalancer': 'Application Load Balancer',
  'AWS::ElasticLoadBalancingV2::Listener': 'Listener',
  'AWS::ElasticLoadBalancingV2::TargetGroup': 'Target group',
  'AWS::WAFv2::WebACL': 'WAF web ACL',
  'AWS::ECS::Service': 'ECS service (Fargate tasks)',
  'AWS::ECS::TaskDefinition': 'ECS task definition',
  'AWS::ECS::Cluster': 'ECS cluster',
  'AWS::RDS::DBCluster': 'Aurora cluster',
  'AWS::SecretsManager::Secret': 'Secret',
  'AWS::SecretsManager::RotationSchedule': 'Secret rotation (hosted Lambda)',
  'AWS::ECR::Repository': 'ECR repository',
  'AWS::ECR::PullThroughCacheRule': 'ECR pull-through cache',
  'AWS::CodePipeline::Pipeline': 'CodePipeline',
  'AWS::CodeBuild::Project': 'CodeBuild',
  'AWS::SNS::Topic': 'SNS topic',
  'AWS::Synthetics::Canary': 'Synthetics canary',
  'AWS::CloudTrail::Trail': 'CloudTrail',
  'AWS::S3::Bucket': 'S3 bucket',
  'AWS::Logs::LogGroup': 'Log group',
  'AWS::KMS::Key': 'KMS key',
  'AWS::Lambda::Function': 'Lambda function',
  'AWS::Events::Rule': 'EventBridge rule',
  'AWS::CloudWatch::Dashboard': 'Dashboard',
  'AWS::Backup::BackupVault': 'Backup vault',
  'AWS::Backup::BackupPlan': 'Backup plan',
  'AWS::Backup::BackupSelection': 'Backup selection',
  'AWS::Route53::RecordSet': 'DNS record',
  'AWS::CertificateManager::Certificate': 'ACM certificate',
  'AWS::Route53Resolver::FirewallRuleGroup': 'DNS Firewall rule group',
  'AWS::Route53Resolver::FirewallDomainList': 'DNS Firewall domain list',
  'AWS::Route53Resolver::FirewallConfig': 'DNS Firewall config',
  'AWS::Route53Resolver::ResolverQueryLoggingConfig': 'Resolver query logging',
};

/** Fill colour of a node by service: network, edge, compute, data, security, delivery, monitoring, audit/logs. */
function colourOf(type: string): string {
  if (/^AWS::EC2::|Route53Resolver/.test(type)) return '#dbeafe';
  if (/ElasticLoadBalancing|WAFv2|Route53::|CertificateManager/.test(type)) return '#ffedd5';
  if (/ECS::|Lambda::/.test(type)) return '#dcfce7';
  if (/RDS::|S3::|Backup::|ECR::/.test(type)) return '#fef9c3';
  if (/KMS::|SecretsManager::/.test(type)) return '#fee2e2';
  if (/CodePipeline|CodeBuild/.test(type)) return '#ede9fe';
  if (/CloudWatch::|SNS::|Synthetics::|Events::/.test(type)) return '#f3f4f6';
  if (/CloudTrail|Logs::/.test(type)) return '#e7e5e4';
  return '#ffffff';
}

interface Node {
  readonly id: string;
  /** A node that stands for several resources: its label lists them. */
  readonly group?: 'alarms' | 'endpoints' | 'subnets';
  readonly stack: string;
  readonly cluster: string;
  readonly type: string;
  label: string[];
}

interface Edge {
  readonly from: string;
  readonly to: string;
  readonly kind: 'network' | 'reference' | 'route';
  readonly label: string;
}

const INTERNET = 'Internet';

/** Builds the DOT of one environment. Pure: same templates, same text. */
export function diagramDot(input: DiagramInput): string {
  const nodes = new Map<string, Node>();
  const edges = new Map<string, Edge>();
  const folded = new Map<string, Map<string, number>>();
  const addEdge = (from: string | undefined, to: string | undefined, kind: Edge['kind'], label = '') => {
    if (!from || !to || from === to) return;
    edges.set(JSON.stringify([from, to, kind, label]), { from, to, kind, label });
  };

  // Logical id -> node id, per stack; resources folded into another node resolve to it.
  const nodeOf = new Map<string, Map<string, string>>();
  const physicalNames: { text: string; arn: string; stack: string; id: string }[] = [];
  // Security group -> the resources that carry it, per stack.
  const holdersOf = new Map<string, Map<string, string[]>>();
  const key = (stack: string, id: string) => nodeOf.get(stack)?.get(id);

  for (const stack of input.stacks) {
    const resources = stack.template.Resources;
    const pathOf = (id: string) => stack.paths[id] ?? `${stack.name}/${id}`;
    const relative = (id: string) => relativePath(stack.name, pathOf(id));
    const clusterOf = (id: string) => relative(id).split('/')[0] ?? id;
    const ids = Object.keys(resources).sort((a, b) => relative(a).localeCompare(relative(b)) || a.localeCompare(b));
    const map = new Map<string, string>();
    nodeOf.set(stack.name, map);
    const count = (type: string) => {
      const byType = folded.get(stack.name) ?? new Map<string, number>();
      folded.set(stack.name, byType);
      byType.set(type, (byType.get(type) ?? 0) + 1);
    };
    const makeNode = (id: string, nodeId: string, type: string, label: string[], group?: Node['group']) => {
      if (!nodes.has(nodeId)) nodes.set(nodeId, { id: nodeId, group, stack: stack.name, cluster: clusterOf(id), type, label });
      map.set(id, nodeId);
      return nodes.get(nodeId) as Node;
    };
    const refId = (v: Json): string | undefined => referencesIn(v)[0]?.target;

    // Security groups: which resources carry each one.
    const carriers = new Map<string, string[]>();
    const sgIds = new Set(ids.filter((id) => resources[id]?.Type === 'AWS::EC2::SecurityGroup'));
    for (const id of ids) {
      const r = resources[id] as CfnResource;
      if (r.Type.startsWith('AWS::EC2::SecurityGroup') || nodeIsFolded(r.Type, pathOf(id))) continue;
      for (const ref of referencesIn(props(r))) {
        const holder = ref.at.find((k) => typeof k === 'string' && /SecurityGroup(s|Ids?)$/.test(k));
        if (holder && sgIds.has(ref.target)) carriers.set(ref.target, [...(carriers.get(ref.target) ?? []), id]);
      }
    }
    holdersOf.set(stack.name, carriers);

    // Subnet tiers, NAT gateways by EIP, route tables to tiers.
    const tierOf = new Map<string, string>();
    for (const id of ids) {
      const r = resources[id] as CfnResource;
      if (r.Type !== 'AWS::EC2::Subnet') continue;
      const tier =
        tagOf(r, 'aws-cdk:subnet-name') ??
        relative(id)
          .split('/')
          .slice(-2, -1)[0]
          ?.replace(/Subnet\d+$/, '') ??
        'subnets';
      const vpc = refId(props(r).VpcId) ?? 'vpc';
      const nodeId = `${stack.name}/${relative(vpc)}/${tier} subnets`;
      const node = makeNode(id, nodeId, 'AWS::EC2::Subnet', [`${tier} subnets (${tagOf(r, 'aws-cdk:subnet-type') ?? 'custom'})`], 'subnets');
      node.label.push(`${str(props(r).CidrBlock) ?? '?'} ${str(props(r).AvailabilityZone) ?? ''}`.trim());
      tierOf.set(id, nodeId);
    }
    const routeTableTier = new Map<string, string>();
    for (const id of ids) {
      const r = resources[id] as CfnResource;
      if (r.Type !== 'AWS::EC2::SubnetRouteTableAssociation') continue;
      const table = refId(props(r).RouteTableId);
      const tier = tierOf.get(refId(props(r).SubnetId) ?? '');
      if (table && tier) routeTableTier.set(table, tier);
    }
    const eipNat = new Map<string, string>();
    for (const id of ids) {
      const r = resources[id] as CfnResource;
      if (r.Type === 'AWS::EC2::NatGateway') {
        const eip = refId(props(r).AllocationId);
        if (eip) eipNat.set(eip, id);
      }
    }

    // Alarms: one node per construct cluster and set of action targets.
    const alarmGroup = (id: string, r: CfnResource) => {
      const actions = ['AlarmActions', 'OKActions', 'InsufficientDataActions']
        .flatMap((k) => referencesIn(props(r)[k]).map((ref) => ref.target))
        .sort();
      return `${stack.name}/${clusterOf(id)}/alarms → ${[...new Set(actions)].map(relative).join(', ') || 'no action'}`;
    };

    for (const id of ids) {
      const r = resources[id] as CfnResource;
      const p = props(r);
      const type = r.Type;
      if (type === 'AWS::EC2::Subnet') continue;
      if (FOLDED_TYPES.has(type) || isPlumbing(type, pathOf(id))) {
        count(type);
        continue;
      }
      if (type === 'AWS::EC2::SecurityGroup' && (carriers.get(id) ?? []).length > 0) {
        count(type);
        continue;
      }
      if (type === 'AWS::CloudWatch::Alarm') {
        const node = makeNode(id, alarmGroup(id, r), type, [], 'alarms');
        const name = str(p.AlarmName)?.replace(`${stack.name}-`, '') ?? relative(id).split('/').slice(1).join('/');
        node.label.push(name);
        continue;
      }
      if (type === 'AWS::EC2::VPCEndpoint' && p.VpcEndpointType === 'Interface') {
        const groups = referencesIn(p.SecurityGroupIds)
          .map((ref) => relative(ref.target))
          .sort();
        const node = makeNode(id, `${stack.name}/${relative(refId(p.VpcId) ?? '')}/interface endpoints ${groups.join(',')}`, type, [], 'endpoints');
        node.label.push((literalText(p.ServiceName) ?? '?').replace(/^com\.amazonaws\.(\$\{AWS::Region\}|[a-z0-9-]+)\./, ''));
        continue;
      }
      makeNode(id, `${stack.name}/${relative(id)}`, type, [TYPE_NAMES[type] ?? short(type), relative(id)]);
    }

    // Aliases: references to folded resources that stand for a drawn one.
    for (const id of ids) {
      const r = resources[id] as CfnResource;
      const p = props(r);
      let target: string | undefined;
      if (r.Type === 'AWS::SecretsManager::SecretTargetAttachment') target = refId(p.SecretId);
      if (r.Type === 'AWS::RDS::DBInstance') target = refId(p.DBClusterIdentifier);
      if (r.Type === 'AWS::EC2::EIP') target = eipNat.get(id);
      if (r.Type === 'AWS::KMS::Alias') target = refId(p.TargetKeyId);
      const to = target && map.get(target);
      if (to) map.set(id, to);
    }

    // Physical names, for references by name or ARN (also from other stacks).
    for (const id of ids) {
      const r = resources[id] as CfnResource;
      const named = NAME_PROPERTIES[r.Type];
      const text = named && literalText(props(r)[named.property]);
      if (named && text && text.length >= 6) physicalNames.push({ text, arn: named.arn, stack: stack.name, id });
    }
  }

  // Labels and edges, now that every node exists.
  const edgeFromReferences: { stack: DiagramStack; id: string; r: CfnResource }[] = [];
  for (const stack of input.stacks) {
    const resources = stack.template.Resources;
    const map = nodeOf.get(stack.name) as Map<string, string>;
    const pathOf = (id: string) => stack.paths[id] ?? `${stack.name}/${id}`;
    const relative = (id: string) => relativePath(stack.name, pathOf(id));
    const refId = (v: Json): string | undefined => referencesIn(v)[0]?.target;
    const node = (id: string | undefined) => (id ? map.get(id) : undefined);
    const typeOf = (id: string | undefined) => (id ? resources[id]?.Type : undefined);
    const ids = Object.keys(resources).sort();
    const holders = holdersOf.get(stack.name) ?? new Map<string, string[]>();
    const carriersOf = (sg: string | undefined): string[] => {
      if (!sg) return [];
      const drawn = [...new Set((holders.get(sg) ?? []).map((h) => map.get(h)).filter((n): n is string => !!n))].sort();
      const own = map.get(sg);
      return drawn.length > 0 ? drawn : own ? [own] : [];
    };

    // Security group rules, inline and standalone.
    const vpcCidrs = new Map<string, string>();
    for (const id of ids) {
      const r = resources[id] as CfnResource;
      const cidr = str(props(r).CidrBlock);
      if (r.Type === 'AWS::EC2::VPC' && cidr) vpcCidrs.set(cidr, map.get(id) ?? '');
    }
    const gatewayS3 = ids.find((id) => {
      const p = props(resources[id] as CfnResource);
      return resources[id]?.Type === 'AWS::EC2::VPCEndpoint' && p.VpcEndpointType === 'Gateway' && /\.s3$/.test(literalText(p.ServiceName) ?? '');
    });
    const peerOf = (rule: Record<string, Json>, direction: 'in' | 'out'): { nodes: string[]; note: string } => {
      const one = (n: string | undefined, note = '') => ({ nodes: n ? [n] : [], note });
      const groupRef = direction === 'in' ? rule.SourceSecurityGroupId : rule.DestinationSecurityGroupId;
      if (groupRef !== undefined) return { nodes: carriersOf(refId(groupRef)), note: '' };
      const prefixList = literalText(direction === 'in' ? rule.SourcePrefixListId : rule.DestinationPrefixListId);
      if (prefixList) return gatewayS3 ? one(node(gatewayS3), ` (prefix list ${prefixList})`) : one(`prefix list ${prefixList}`);
      const cidr = literalText(rule.CidrIp ?? rule.CidrIpv6);
      if (cidr === '0.0.0.0/0' || cidr === '::/0') return one(INTERNET);
      if (cidr && vpcCidrs.has(cidr)) return one(vpcCidrs.get(cidr), ' (VPC range)');
      if (cidr) return one(`CIDR ${cidr}`);
      const viaResource = referencesIn(rule.CidrIp)[0];
      return one(node(viaResource?.target), ' (its address)');
    };
    const portsOf = (rule: Record<string, Json>) => {
      const protocol = str(rule.IpProtocol) ?? '?';
      if (protocol === '-1') return 'all traffic';
      const from = str(rule.FromPort);
      const to = str(rule.ToPort);
      return `${protocol} ${from === to ? from : `${from}-${to}`}`;
    };
    const addRule = (group: string | undefined, rule: Record<string, Json>, direction: 'in' | 'out') => {
      // CDK's placeholder egress rule of a group without outbound rules: it allows nothing.
      if (rule.CidrIp === '255.255.255.255/32' && rule.IpProtocol === 'icmp') return;
      if (!group) return;
      const peer = peerOf(rule, direction);
      for (const own of carriersOf(group))
        for (const other of peer.nodes) {
          const [from, to] = direction === 'in' ? [other, own] : [own, other];
          addEdge(from, to, 'network', `${portsOf(rule)}${peer.note}`);
        }
    };
    for (const id of ids) {
      const r = resources[id] as CfnResource;
      const p = props(r);
      if (r.Type === 'AWS::EC2::SecurityGroup') {
        for (const rule of Array.isArray(p.SecurityGroupIngress) ? p.SecurityGroupIngress : []) if (isObject(rule)) addRule(id, rule, 'in');
        for (const rule of Array.isArray(p.SecurityGroupEgress) ? p.SecurityGroupEgress : []) if (isObject(rule)) addRule(id, rule, 'out');
      }
      if (r.Type === 'AWS::EC2::SecurityGroupIngress') addRule(refId(p.GroupId), p, 'in');
      if (r.Type === 'AWS::EC2::SecurityGroupEgress') addRule(refId(p.GroupId), p, 'out');
    }
    // Network structure: routes of each tier, NAT placement, gateway endpoints, the internet gateway.
    for (const id of ids) {
      const r = resources[id] as CfnResource;
      const p = props(r);
      if (r.Type === 'AWS::EC2::Route') {
        const tier = routeTier(resources, map, refId(p.RouteTableId) ?? '');
        const via = node(refId(p.NatGatewayId) ?? refId(p.GatewayId) ?? refId(p.TransitGatewayId) ?? refId(p.VpcEndpointId));
        addEdge(tier, via, 'route', `route ${literalText(p.DestinationCidrBlock) ?? ''}`.trim());
      }
      if (r.Type === 'AWS::EC2::NatGateway') addEdge(node(id), node(refId(p.SubnetId)), 'route', 'in');
      if (r.Type === 'AWS::EC2::InternetGateway') addEdge(node(id), INTERNET, 'route');
      if (r.Type === 'AWS::EC2::VPCEndpoint' && p.VpcEndpointType === 'Gateway') {
        for (const ref of referencesIn(p.RouteTableIds)) addEdge(routeTier(resources, map, ref.target), node(id), 'route', 'route');
      }
      if (r.Type === 'AWS::EC2::FlowLog')
        addEdge(node(refId(p.ResourceId)), node(refId(p.LogGroupName) ?? refId(p.LogDestination)), 'reference', 'flow logs');
      if (r.Type === 'AWS::WAFv2::WebACLAssociation') addEdge(node(refId(p.WebACLArn)), node(refId(p.ResourceArn)), 'reference', 'inspects');
      if (r.Type === 'AWS::WAFv2::LoggingConfiguration')
        for (const ref of referencesIn(p.LogDestinationConfigs)) addEdge(node(refId(p.ResourceArn)), node(ref.target), 'reference', 'logs');
      if (r.Type === 'AWS::Route53Resolver::FirewallRuleGroupAssociation')
        addEdge(node(refId(p.FirewallRuleGroupId)), node(refId(p.VpcId)), 'reference', 'filters DNS of');
      if (r.Type === 'AWS::Route53Resolver::ResolverQueryLoggingConfigAssociation')
        addEdge(node(refId(p.ResourceId)), node(refId(p.ResolverQueryLogConfigId)), 'reference', 'DNS queries');
      if (r.Type === 'AWS::SecretsManager::SecretTargetAttachment')
        addEdge(node(refId(p.SecretId)), node(refId(p.TargetId)), 'reference', 'credentials of');
      if (r.Type === 'AWS::Logs::MetricFilter') {
        for (const t of Array.isArray(p.MetricTransformations) ? p.MetricTransformations : []) {
          if (!isObject(t)) continue;
          for (const alarm of alarmsWatching(resources, str(t.MetricNamespace), str(t.MetricName)))
            addEdge(node(refId(p.LogGroupName)), node(alarm), 'reference', 'metric filter');
        }
      }
      if (r.Type === 'AWS::ElasticLoadBalancingV2::ListenerRule') {
        for (const action of Array.isArray(p.Actions) ? p.Actions : []) {
          for (const ref of referencesIn(action))
            addEdge(
              node(refId(p.ListenerArn)),
              node(ref.target),
              'reference',
              `rule ${str(p.Priority) ?? ''}: ${str(isObject(action) ? action.Type : '')}`,
            );
        }
      }
      if (map.get(id) && !nodeIsFolded(r.Type, pathOf(id))) edgeFromReferences.push({ stack, id, r });
    }

    // Labels: details worth reading, the subnets a resource sits in and the KMS keys it uses.
    for (const id of ids) {
      const r = resources[id] as CfnResource;
      const own = nodes.get(map.get(id) ?? '');
      if (!own || own.type !== r.Type || nodeIsFolded(r.Type, pathOf(id)) || own.id !== `${stack.name}/${relative(id)}`) continue;
      own.label.push(...detailsOf(r, id, resources));
      const tiers = new Set<string>();
      const keys = new Set<string>();
      for (const ref of referencesIn(props(r))) {
        const t = typeOf(ref.target);
        if (t === 'AWS::EC2::Subnet') tiers.add((nodes.get(map.get(ref.target) ?? '')?.label[0] ?? '').replace(/ \(.*/, ''));
        if (t === 'AWS::RDS::DBSubnetGroup')
          for (const s of referencesIn(props(resources[ref.target] as CfnResource).SubnetIds))
            tiers.add((nodes.get(map.get(s.target) ?? '')?.label[0] ?? '').replace(/ \(.*/, ''));
        if (t === 'AWS::KMS::Key' || t === 'AWS::KMS::Alias') keys.add(relative(map.get(ref.target) ? ref.target : ref.target));
      }
      if (tiers.size > 0) own.label.push(`in: ${[...tiers].sort().join(', ')}`);
      if (keys.size > 0) own.label.push(`KMS: ${[...keys].sort().join(', ')}`);
    }
  }

  // References between drawn nodes (also by literal name or ARN, across stacks).
  const regionOf = new Map(input.stacks.map((s) => [s.name, s.region]));
  const regionOfNode = (id: string) => regionOf.get(nodes.get(id)?.stack ?? '');
  for (const { stack, id, r } of edgeFromReferences) {
    const map = nodeOf.get(stack.name) as Map<string, string>;
    const from = map.get(id) as string;
    const resources = stack.template.Resources;
    const found: { to: string; at: readonly (string | number)[] }[] = [];
    for (const ref of referencesIn(props(r))) {
      const to = map.get(ref.target);
      const t = resources[ref.target]?.Type ?? '';
      if (ref.at.some((k) => typeof k === 'string' && POLICY_PROPERTIES.has(k))) continue;
      if (!to || /^AWS::(KMS|IAM)::|^AWS::EC2::(Subnet|VPC|SecurityGroup)$|DBSubnetGroup/.test(t)) continue;
      found.push({ to, at: ref.at });
    }
    const texts = textsIn(props(r)).filter(({ at }) => !at.some((k) => typeof k === 'string' && POLICY_PROPERTIES.has(k)));
    for (const { text, at } of [...texts, ...logGroupsNamedBy(r)]) {
      for (const name of physicalNames) {
        if ((name.stack === stack.name && name.id === id) || !names(text, name)) continue;
        const to = key(name.stack, name.id);
        const t = input.stacks.find((s) => s.name === name.stack)?.template.Resources[name.id]?.Type ?? '';
        if (to && !/^AWS::KMS::/.test(t)) found.push({ to, at });
      }
    }
    for (const { to, at } of found) {
      const [a, b, label] = orient(r, from, to, at);
      addEdge(a, b, 'reference', regionOfNode(a) !== regionOfNode(b) ? `${label} (cross-region)`.trim() : label);
    }
  }

  mergeAlike(nodes, edges);
  return renderDot(input, nodes, edges, folded);
}

/** How many alike resources become one node (fewer stay apart: two of a kind are still easy to read). */
const MERGE_FROM = 3;

/**
 * Folds resources that look the same on the picture into one node listing them: same stack, construct cluster, type
 * and details, and the same edges to the same other nodes (reference labels aside, port labels included). The
 * pipeline's look-alike build steps become one node; their edges keep every label.
 */
function mergeAlike(nodes: Map<string, Node>, edges: Map<string, Edge>): void {
  const all = [...edges.values()];
  const signatureOf = (n: Node) => {
    const touching = all
      .filter((e) => e.from === n.id || e.to === n.id)
      .map((e) => [e.from === n.id ? '*' : e.from, e.to === n.id ? '*' : e.to, e.kind, e.kind === 'reference' ? '' : e.label].join('|'))
      .sort();
    return JSON.stringify([n.stack, n.cluster, n.type, n.group ?? '', n.label.slice(2), [...new Set(touching)]]);
  };
  const alike = new Map<string, Node[]>();
  for (const n of [...nodes.values()].filter((m) => !m.group).sort((a, b) => a.id.localeCompare(b.id))) {
    const signature = signatureOf(n);
    alike.set(signature, [...(alike.get(signature) ?? []), n]);
  }
  const renamed = new Map<string, string>();
  for (const members of alike.values()) {
    if (members.length < MERGE_FROM) continue;
    const first = members[0] as Node;
    const id = `${first.id} and ${members.length - 1} alike`;
    const label = [`${first.label[0] ?? first.type} (${members.length})`, ...members.map((m) => m.label[1] ?? m.id), ...first.label.slice(2)];
    for (const m of members) {
      nodes.delete(m.id);
      renamed.set(m.id, id);
    }
    nodes.set(id, { ...first, id, label });
  }
  if (renamed.size === 0) return;
  const merged = new Map<string, Edge & { labels: Set<string> }>();
  for (const e of all) {
    const from = renamed.get(e.from) ?? e.from;
    const to = renamed.get(e.to) ?? e.to;
    const k = JSON.stringify([from, to, e.kind, renamed.has(e.from) || renamed.has(e.to) ? '' : e.label]);
    const entry = merged.get(k) ?? { from, to, kind: e.kind, label: '', labels: new Set<string>() };
    if (e.label) entry.labels.add(e.label);
    merged.set(k, entry);
  }
  edges.clear();
  for (const [k, e] of merged) edges.set(k, { from: e.from, to: e.to, kind: e.kind, label: [...e.labels].sort().join('\n') });
}

/**
 * The log groups a resource writes to by naming convention rather than by reference: a Lambda function's (also a
 * hosted rotation's) `/aws/lambda/<name>`, an Aurora cluster's `/aws/rds/cluster/<id>/<log>` for each exported log.
 */
function logGroupsNamedBy(r: CfnResource): { text: string; at: (string | number)[] }[] {
  const p = props(r);
  const hosted = isObject(p.HostedRotationLambda) ? literalText(p.HostedRotationLambda.RotationLambdaName) : undefined;
  const functionName = r.Type === 'AWS::Lambda::Function' ? literalText(p.FunctionName) : hosted;
  const cluster = r.Type === 'AWS::RDS::DBCluster' ? literalText(p.DBClusterIdentifier)?.toLowerCase() : undefined;
  const exports = Array.isArray(p.EnableCloudwatchLogsExports) ? p.EnableCloudwatchLogsExports.map(str) : [];
  return [
    ...(functionName ? [`/aws/lambda/${functionName}`] : []),
    ...(cluster ? exports.map((log) => `/aws/rds/cluster/${cluster}/${log ?? ''}`) : []),
  ].map((text) => ({ text, at: ['logs'] }));
}

/** A construct path without its stack and without CDK's `Resource` / `Default` leaf. */
export function relativePath(stackName: string, constructPath: string): string {
  const inStack = constructPath.startsWith(`${stackName}/`) ? constructPath.slice(stackName.length + 1) : constructPath;
  return inStack.replace(/\/(Resource|Default)$/, '');
}

function nodeIsFolded(type: string, constructPath: string): boolean {
  return FOLDED_TYPES.has(type) || isPlumbing(type, constructPath);
}

/** The tier node a route table serves. */
function routeTier(resources: Record<string, CfnResource>, map: Map<string, string>, table: string): string | undefined {
  for (const r of Object.values(resources)) {
    if (r.Type !== 'AWS::EC2::SubnetRouteTableAssociation') continue;
    const p = props(r);
    if (referencesIn(p.RouteTableId)[0]?.target === table) return map.get(referencesIn(p.SubnetId)[0]?.target ?? '');
  }
  return undefined;
}

/** Logical ids of the alarms on a metric (plain or inside metric math). */
function alarmsWatching(resources: Record<string, CfnResource>, namespace?: string, metric?: string): string[] {
  return Object.keys(resources)
    .sort()
    .filter((id) => {
      const r = resources[id] as CfnResource;
      if (r.Type !== 'AWS::CloudWatch::Alarm') return false;
      const p = props(r);
      if (p.Namespace === namespace && p.MetricName === metric) return true;
      return JSON.stringify(p.Metrics ?? []).includes(`"MetricName":${JSON.stringify(metric)},"Namespace":${JSON.stringify(namespace)}`);
    });
}

/** Which way a reference is drawn, and its label: the way data or control flows, not the way the template points. */
function orient(r: CfnResource, from: string, to: string, at: readonly (string | number)[]): [string, string, string] {
  const top = String(at[0] ?? '');
  const p = props(r);
  if (top === 'logs') return [from, to, 'logs'];
  if (r.Type === 'AWS::ElasticLoadBalancingV2::Listener' && top === 'LoadBalancerArn') return [to, from, ''];
  if (r.Type === 'AWS::ElasticLoadBalancingV2::Listener' && top === 'DefaultActions') return [from, to, 'default action'];
  if (r.Type === 'AWS::ECS::Service' && top === 'LoadBalancers') {
    const lb = Array.isArray(p.LoadBalancers) ? p.LoadBalancers[Number(at[1])] : undefined;
    const container = isObject(lb) ? `container ${str(lb.ContainerName) ?? '?'}:${str(lb.ContainerPort) ?? '?'}` : '';
    if (at.includes('ProductionListenerRule') || at.includes('TestListenerRule') || at.includes('RoleArn')) return [from, from, ''];
    return [to, from, at.includes('AlternateTargetGroupArn') ? `${container} (alternate)` : container];
  }
  if (r.Type === 'AWS::ECS::Service' && at.includes('Alarms')) return [to, from, 'rolls back'];
  if (r.Type === 'AWS::ECS::Service' && top === 'TaskDefinition') return [from, to, 'runs'];
  if (r.Type === 'AWS::ECS::Service' && at.includes('LifecycleHooks')) return [from, to, 'deployment hook'];
  if (r.Type === 'AWS::Events::Rule' && top === 'EventPattern') return [to, from, 'events'];
  if (r.Type === 'AWS::Events::Rule' && top === 'Targets') return at.includes('Arn') && at.length === 3 ? [from, to, 'target'] : [from, from, ''];
  if (r.Type === 'AWS::CloudWatch::Alarm') return /Actions$/.test(top) ? [from, to, 'alarm'] : [from, from, ''];
  if (r.Type === 'AWS::CloudWatch::Dashboard') return [from, from, ''];
  if (r.Type === 'AWS::CodePipeline::Pipeline' && top === 'Stages') {
    const stage = Array.isArray(p.Stages) ? p.Stages[Number(at[1])] : undefined;
    const action = isObject(stage) && Array.isArray(stage.Actions) ? stage.Actions[Number(at[3])] : undefined;
    return [from, to, `${isObject(stage) ? str(stage.Name) : '?'}: ${isObject(action) ? str(action.Name) : '?'}`];
  }
  if (r.Type === 'AWS::S3::Bucket' && top === 'ReplicationConfiguration') return [from, to, 'replicates to'];
  if (r.Type === 'AWS::S3::Bucket' && top === 'LoggingConfiguration') return [from, to, 'access logs'];
  if (r.Type === 'AWS::Backup::BackupPlan') return [from, to, at.includes('CopyActions') ? 'copies to' : 'backs up to'];
  if (r.Type === 'AWS::Backup::BackupSelection') return top === 'BackupPlanId' ? [to, from, ''] : [from, to, 'selects'];
  if (r.Type === 'AWS::CloudTrail::Trail' && top === 'AdvancedEventSelectors') return [to, from, 'data events'];
  if (r.Type === 'AWS::ECS::TaskDefinition' && at.includes('Secrets')) return [to, from, 'injected secret'];
  return [from, to, ''];
}

/** The lines of a node's label beyond its type and path: literal settings an ops engineer or assessor checks. */
function detailsOf(r: CfnResource, id: string, resources: Record<string, CfnResource>): string[] {
  const p = props(r);
  const lines: string[] = [];
  const attributes = (list: Json) =>
    new Map((Array.isArray(list) ? list : []).filter(isObject).map((a) => [str(a.Key) ?? '', literalText(a.Value) ?? '(reference)'] as const));
  switch (r.Type) {
    case 'AWS::EC2::SecurityGroup':
      lines.push(str(p.GroupDescription) ?? '');
      break;
    case 'AWS::EC2::VPCEndpoint':
      lines.push((literalText(p.ServiceName) ?? '?').replace(/^com\.amazonaws\.(\$\{AWS::Region\}|[a-z0-9-]+)\./, ''));
      break;
    case 'AWS::SNS::Topic': {
      // Subscriptions by protocol only: their endpoints (addresses, numbers) are contact data, not architecture.
      const protocols = Object.values(resources)
        .filter((x) => x.Type === 'AWS::SNS::Subscription' && referencesIn(props(x).TopicArn)[0]?.target === id)
        .map((x) => str(props(x).Protocol) ?? '?')
        .sort();
      const counts = [...new Set(protocols)].map((protocol) => `${protocol} ${protocols.filter((q) => q === protocol).length}`);
      lines.push(`subscriptions: ${counts.join(', ') || 'none in the template'}`);
      break;
    }
    case 'AWS::EC2::VPC':
      lines.push(`${str(p.CidrBlock) ?? ''}`);
      break;
    case 'AWS::ElasticLoadBalancingV2::LoadBalancer': {
      const a = attributes(p.LoadBalancerAttributes);
      lines.push(
        `${str(p.Scheme) ?? 'internet-facing'}, drop invalid headers: ${a.get('routing.http.drop_invalid_header_fields.enabled') ?? 'false'}`,
      );
      lines.push(`access logs: ${a.get('access_logs.s3.enabled') ?? 'false'}`);
      break;
    }
    case 'AWS::ElasticLoadBalancingV2::Listener': {
      lines.push(`${str(p.Protocol) ?? '?'} :${str(p.Port) ?? '?'}${str(p.SslPolicy) ? `, ${str(p.SslPolicy)}` : ''}`);
      for (const a of Array.isArray(p.DefaultActions) ? p.DefaultActions.filter(isObject) : []) {
        const redirect = isObject(a.RedirectConfig) ? ` to ${str(a.RedirectConfig.Protocol)}:${str(a.RedirectConfig.Port)}` : '';
        const fixed = isObject(a.FixedResponseConfig) ? ` ${str(a.FixedResponseConfig.StatusCode)}` : '';
        lines.push(`default: ${str(a.Type) ?? '?'}${redirect}${fixed}`);
      }
      break;
    }
    case 'AWS::ElasticLoadBalancingV2::TargetGroup':
      lines.push(
        `${str(p.Protocol) ?? '?'} :${str(p.Port) ?? '?'}, targets: ${str(p.TargetType) ?? 'instance'}, health: ${str(p.HealthCheckPath) ?? '/'}`,
      );
      break;
    case 'AWS::ECS::Service': {
      const d = isObject(p.DeploymentConfiguration) ? p.DeploymentConfiguration : {};
      const net =
        isObject(p.NetworkConfiguration) && isObject(p.NetworkConfiguration.AwsvpcConfiguration) ? p.NetworkConfiguration.AwsvpcConfiguration : {};
      lines.push(
        `${str(p.LaunchType) ?? 'capacity provider'}, desired ${str(p.DesiredCount) ?? '?'}, public IP: ${str(net.AssignPublicIp) ?? 'DISABLED'}`,
      );
      lines.push(`deployment: ${str(d.Strategy) ?? 'ROLLING'}${str(d.BakeTimeInMinutes) ? `, bake ${str(d.BakeTimeInMinutes)} min` : ''}`);
      break;
    }
    case 'AWS::ECS::TaskDefinition': {
      lines.push(`cpu ${str(p.Cpu) ?? '?'}, memory ${str(p.Memory) ?? '?'}`);
      for (const c of Array.isArray(p.ContainerDefinitions) ? p.ContainerDefinitions.filter(isObject) : []) {
        const ports = (Array.isArray(c.PortMappings) ? c.PortMappings.filter(isObject) : []).map((m) => str(m.ContainerPort)).join(',');
        const flags = [c.ReadonlyRootFilesystem === true ? 'read-only root' : '', str(c.User) ? `user ${str(c.User)}` : '']
          .filter(Boolean)
          .join(', ');
        lines.push(`container ${str(c.Name) ?? '?'}${ports ? `:${ports}` : ''}${flags ? ` (${flags})` : ''}`);
      }
      break;
    }
    case 'AWS::RDS::DBCluster': {
      const scaling = isObject(p.ServerlessV2ScalingConfiguration) ? p.ServerlessV2ScalingConfiguration : undefined;
      const instances = Object.values(resources).filter(
        (x) => x.Type === 'AWS::RDS::DBInstance' && referencesIn(props(x).DBClusterIdentifier)[0]?.target === id,
      );
      lines.push(
        `${str(p.Engine) ?? '?'} ${str(p.EngineVersion) ?? ''}, port ${str(p.Port) ?? '?'}, encrypted: ${String(p.StorageEncrypted === true)}`,
      );
      if (scaling) lines.push(`serverless v2 ${str(scaling.MinCapacity)}-${str(scaling.MaxCapacity)} ACU, instances: ${instances.length}`);
      break;
    }
    case 'AWS::SecretsManager::RotationSchedule': {
      const hosted = isObject(p.HostedRotationLambda) ? p.HostedRotationLambda : {};
      const rules = isObject(p.RotationRules) ? p.RotationRules : {};
      lines.push(`${str(hosted.RotationType) ?? 'custom'}, ${str(rules.ScheduleExpression) ?? `every ${str(rules.AutomaticallyAfterDays)} days`}`);
      break;
    }
    case 'AWS::ECR::Repository': {
      const scan = isObject(p.ImageScanningConfiguration) && p.ImageScanningConfiguration.ScanOnPush === true;
      lines.push(`tags: ${str(p.ImageTagMutability) ?? 'MUTABLE'}, scan on push: ${String(scan)}`);
      break;
    }
    case 'AWS::CodeBuild::Project': {
      const e = isObject(p.Environment) ? p.Environment : {};
      lines.push(`${str(e.ComputeType) ?? '?'}, privileged: ${String(e.PrivilegedMode === true)}`);
      break;
    }
    case 'AWS::CodePipeline::Pipeline':
      lines.push(`stages: ${(Array.isArray(p.Stages) ? p.Stages.filter(isObject) : []).map((s) => str(s.Name)).join(' → ')}`);
      break;
    case 'AWS::Synthetics::Canary': {
      const s = isObject(p.Schedule) ? p.Schedule : {};
      lines.push(`${str(s.Expression) ?? '?'}, ${str(p.RuntimeVersion) ?? ''}`);
      break;
    }
    case 'AWS::CloudTrail::Trail':
      lines.push(`multi-region: ${String(p.IsMultiRegionTrail === true)}, file validation: ${String(p.EnableLogFileValidation === true)}`);
      break;
    case 'AWS::S3::Bucket': {
      const sse = JSON.stringify(p.BucketEncryption ?? {}).includes('aws:kms') ? 'SSE-KMS' : 'SSE-S3';
      const versioned = isObject(p.VersioningConfiguration) && p.VersioningConfiguration.Status === 'Enabled';
      lines.push(`${sse}, versioned: ${String(versioned)}${p.ObjectLockEnabled === true ? ', object lock' : ''}`);
      break;
    }
    case 'AWS::Logs::LogGroup':
      lines.push(`retention ${str(p.RetentionInDays) ?? 'never expires'} days`);
      break;
    case 'AWS::KMS::Key':
      lines.push(`rotation: ${String(p.EnableKeyRotation === true)}${p.MultiRegion === true ? ', multi-region' : ''}`);
      break;
    case 'AWS::WAFv2::WebACL':
      lines.push(
        ...(Array.isArray(p.Rules) ? p.Rules.filter(isObject) : [])
          .map((rule) => `rule ${str(rule.Priority) ?? '?'}: ${str(rule.Name) ?? '?'}`)
          .sort((a, b) => a.localeCompare(b, 'en', { numeric: true })),
      );
      break;
    case 'AWS::Backup::BackupPlan': {
      const plan = isObject(p.BackupPlan) ? p.BackupPlan : {};
      for (const rule of Array.isArray(plan.BackupPlanRule) ? plan.BackupPlanRule.filter(isObject) : [])
        lines.push(`${str(rule.RuleName) ?? '?'}: ${str(rule.ScheduleExpression) ?? '?'}`);
      break;
    }
    case 'AWS::Route53::RecordSet':
      lines.push(`${str(p.Name) ?? '?'} ${str(p.Type) ?? ''}`);
      break;
    case 'AWS::Lambda::Function':
      lines.push(`${str(p.Runtime) ?? '?'}`);
      break;
    default:
      break;
  }
  return lines.filter((l) => l.trim() !== '');
}

// ---------------------------------------------------------------------------------------------------------------
// DOT text

const quote = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
/** A left-aligned multi-line label (`\l` ends each line, the last one too). */
const labelOf = (lines: readonly string[]) => quote(`${lines.join('\n')}\n`).replace(/\n/g, '\\l');

function renderDot(input: DiagramInput, nodes: Map<string, Node>, edges: Map<string, Edge>, folded: Map<string, Map<string, number>>): string {
  const out: string[] = [];
  out.push(`digraph ${quote(`TAP ${input.env}`)} {`);
  out.push(
    `  graph [rankdir=TB, compound=true, newrank=true, nodesep=0.25, ranksep=0.7, fontname="Helvetica", fontsize=12, label=${quote(
      `TAP ${input.env}: generated from the synthesized templates by npm run diagram (docs/architecture.md)`,
    )}, labelloc=t];`,
  );
  out.push('  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];');
  out.push('  edge [fontname="Helvetica", fontsize=9];');
  out.push(`  ${quote(INTERNET)} [shape=ellipse, fillcolor="#ffffff"];`);
  const legend = [
    'How to read this picture',
    'blue, bold: a security group rule (protocol and port), from the resource that sends to the one that receives',
    'grey: a reference in the template (Ref, GetAtt, or a literal name or ARN; "cross-region" between regions)',
    'dashed: a route, or where a NAT gateway sits',
    'clusters: region, stack, then the first part of the construct path',
    '"in:" the subnets a resource is placed in; "KMS:" the keys it is encrypted with',
  ];
  out.push(`  "Legend" [label=${labelOf(legend)}, shape=note, fillcolor="#ffffff", fontsize=9];`);
  const outside = new Set<string>();
  for (const e of edges.values()) for (const end of [e.from, e.to]) if (!nodes.has(end) && end !== INTERNET) outside.add(end);
  for (const o of [...outside].sort()) out.push(`  ${quote(o)} [shape=ellipse, fillcolor="#ffffff"];`);

  const regions = [...new Set(input.stacks.map((s) => s.region))].sort();
  let cluster = 0;
  for (const region of regions) {
    out.push(`  subgraph cluster_${cluster++} {`);
    out.push(`    graph [label=${quote(`Region ${region}`)}, style="dashed", color="#64748b"];`);
    for (const stack of input.stacks.filter((s) => s.region === region).sort((a, b) => a.name.localeCompare(b.name))) {
      out.push(`    subgraph cluster_${cluster++} {`);
      out.push(`      graph [label=${quote(`Stack ${stack.name}`)}, style="solid", color="#334155"];`);
      const mine = [...nodes.values()]
        .filter((n) => n.stack === stack.name)
        .sort((a, b) => a.cluster.localeCompare(b.cluster) || a.id.localeCompare(b.id));
      for (const group of [...new Set(mine.map((n) => n.cluster))]) {
        out.push(`      subgraph cluster_${cluster++} {`);
        out.push(`        graph [label=${quote(group)}, style="rounded,filled", fillcolor="#fafafa", color="#cbd5e1"];`);
        for (const n of mine.filter((m) => m.cluster === group))
          out.push(`        ${quote(n.id)} [label=${labelOf(nodeLines(n))}, fillcolor="${colourOf(n.type)}"];`);
        out.push('      }');
      }
      const counts = [...(folded.get(stack.name) ?? new Map<string, number>()).entries()].sort(([a], [b]) => a.localeCompare(b));
      if (counts.length > 0) {
        const lines = ['Not drawn (IAM, policies, routes, rules drawn as edges):', ...counts.map(([t, n]) => `${n} × ${short(t)}`)];
        out.push(`      ${quote(`${stack.name}/not drawn`)} [label=${labelOf(lines)}, shape=note, fillcolor="#ffffff", fontsize=8];`);
      }
      out.push('    }');
    }
    out.push('  }');
  }
  const styleOf = (e: Edge) =>
    e.kind === 'network'
      ? 'color="#1d4ed8", fontcolor="#1d4ed8", penwidth=1.6'
      : e.kind === 'route'
        ? 'style=dashed, color="#64748b"'
        : 'color="#9ca3af", fontcolor="#4b5563"';
  // One edge per pair and kind: two rules between the same resources (443 and 80 from the internet) share a line.
  const byPair = new Map<string, Edge>();
  for (const e of edges.values()) {
    const k = JSON.stringify([e.from, e.to, e.kind]);
    const seen = byPair.get(k);
    const labels = [...new Set([...(seen?.label.split('\n') ?? []), ...e.label.split('\n')].filter(Boolean))].sort((a, b) =>
      a.localeCompare(b, 'en', { numeric: true }),
    );
    byPair.set(k, { ...e, label: labels.join('\n') });
  }
  const sorted = [...byPair.values()].sort(
    (a, b) => a.from.localeCompare(b.from) || a.to.localeCompare(b.to) || a.kind.localeCompare(b.kind) || a.label.localeCompare(b.label),
  );
  for (const e of sorted)
    out.push(`  ${quote(e.from)} -> ${quote(e.to)} [${e.label ? `label=${quote(e.label).replace(/\n/g, '\\n')}, ` : ''}${styleOf(e)}];`);
  out.push('}');
  return `${out.join('\n')}\n`;
}

function nodeLines(n: Node): string[] {
  if (n.group === 'alarms') return [`CloudWatch alarms (${n.label.length})`, ...[...n.label].sort()];
  if (n.group === 'endpoints') return [`Interface endpoints (${n.label.length})`, ...[...n.label].sort()];
  if (n.group === 'subnets') return [n.label[0] ?? '', ...n.label.slice(1).sort()];
  return n.label;
}

// ---------------------------------------------------------------------------------------------------------------
// SVG and the stale check

const RENDERER = `
import { Graphviz } from ${'__MODULE__'};
let input = '';
for await (const chunk of process.stdin) input += chunk;
const graphviz = await Graphviz.load();
process.stdout.write(JSON.stringify(JSON.parse(input).map((dot) => graphviz.dot(dot, 'svg'))));
`;

/**
 * SVG of each DOT text, rendered by Graphviz compiled to WebAssembly in a child Node.js process (the package is an
 * ES module, which the test runner's CommonJS loader cannot import; one process renders all of them).
 */
export function renderSvg(dots: readonly string[]): string[] {
  const module = pathToFileURL(require.resolve('@hpcc-js/wasm-graphviz')).href;
  const script = RENDERER.replace(`${'__MODULE__'}`, JSON.stringify(module));
  const run = spawnSync(process.execPath, ['--input-type=module', '--eval', script], {
    input: JSON.stringify(dots),
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    cwd: path.join(__dirname, '..', '..'),
  });
  if (run.status !== 0) throw new Error(`Graphviz failed (exit ${String(run.status)}): ${run.stderr}`);
  const svgs: unknown = JSON.parse(run.stdout);
  if (!Array.isArray(svgs) || svgs.length !== dots.length)
    throw new Error(`Graphviz returned ${String(Array.isArray(svgs) ? svgs.length : 0)} pictures for ${dots.length}`);
  return svgs.map(String);
}

/** The files a diagram of each environment is kept in, relative to the repository. */
export const diagramFiles = (env: string) => ({ dot: `docs/architecture/${env}.dot`, svg: `docs/architecture/${env}.svg` });

/** The files whose content differs from what they should be (missing counts as stale), sorted. */
export function staleFiles(expected: Readonly<Record<string, string>>, read: (file: string) => string | undefined): string[] {
  return Object.keys(expected)
    .filter((file) => read(file) !== expected[file])
    .sort();
}
