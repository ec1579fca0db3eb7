// The monthly cost model of one environment: one line per billable item, read from the synthesized templates (what
// exists, its size and settings) and config, priced from pricing/aws-prices.json, with usage from ASSUMPTIONS. Every
// resource type of the templates is either covered by a line (`covers`) or listed in FREE_TYPES with the reason.
import { EnvironmentConfig } from '../../lib/config';
import { assumed, AssumptionName } from './report-assumptions';
import { NewLine, regionOf, Resource, resourcesOf, StackContext } from './report-cost-context';
import { auroraLines, fargateLines, lambdaLines } from './report-cost-compute';
import { pipelineLines, registryLines } from './report-cost-delivery';
import { dnsFirewallLines, loadBalancerLines, vpcLines } from './report-cost-network';
import { logLines, monitoringLines, snsLines } from './report-cost-observability';
import { kmsLines, secretsLines, trailLines } from './report-cost-security';
import { backupLines, s3Lines } from './report-cost-storage';
import { priceOf, PriceTable } from './report-prices';
import { PipelineTimings } from './report-timings';
import { Synthesized } from './synthesized';

export { resourcesOf } from './report-cost-context';
export { runsPerHour } from './report-cost-observability';
export { runsPerMonth } from './report-cost-storage';

/** One line of the estimate: quantity x unit price = monthly, in one stack and region. */
export interface CostLine {
  readonly stack: string;
  readonly region: string;
  /** The service, for grouping (e.g. `VPC`, `Fargate`). */
  readonly service: string;
  readonly item: string;
  readonly quantity: number;
  /** What the quantity counts, e.g. `NAT gateway-hours`. */
  readonly unit: string;
  /** USD per unit of the quantity. */
  readonly unitPrice: number;
  /** The price-table keys the unit price is made of. */
  readonly priceKeys: readonly string[];
  /** quantity x unitPrice, USD per month. */
  readonly monthly: number;
  /** How the quantity was found: the template values and the assumptions it used. */
  readonly basis: string;
  /** The resource types this line prices. */
  readonly covers: readonly string[];
}

/**
 * Resource types that cost nothing by themselves, each with the reason. A type that is neither here nor covered by a
 * line of the estimate fails test/report.test.ts, so a new billable resource cannot slip past the estimate.
 */
export const FREE_TYPES: Readonly<Record<string, string>> = {
  'AWS::ApplicationAutoScaling::ScalableTarget': 'no charge; tasks it adds above the desired count are Fargate task-hours (none assumed)',
  'AWS::ApplicationAutoScaling::ScalingPolicy': 'no charge; its alarms are created by Application Auto Scaling, not in the template',
  'AWS::Backup::BackupSelection': 'which resources a plan protects; their backups are the AWS Backup lines',
  'AWS::CDK::Metadata': 'CloudFormation metadata, no resource',
  'AWS::CertificateManager::Certificate': 'public ACM certificates are free',
  'AWS::EC2::InternetGateway': 'no charge (data transfer out is its own line)',
  'AWS::EC2::Route': 'no charge',
  'AWS::EC2::RouteTable': 'no charge',
  'AWS::EC2::SecurityGroup': 'no charge',
  'AWS::EC2::SecurityGroupEgress': 'no charge',
  'AWS::EC2::SecurityGroupIngress': 'no charge',
  'AWS::EC2::Subnet': 'no charge',
  'AWS::EC2::SubnetRouteTableAssociation': 'no charge',
  'AWS::EC2::VPC': 'no charge',
  'AWS::EC2::VPCGatewayAttachment': 'no charge',
  'AWS::ECS::Cluster': 'no charge for a Fargate cluster; its tasks are the Fargate lines',
  'AWS::ElasticLoadBalancingV2::Listener': 'part of the load balancer-hours and LCUs',
  'AWS::ElasticLoadBalancingV2::ListenerRule': 'part of the LCUs (rule evaluations)',
  'AWS::ElasticLoadBalancingV2::TargetGroup': 'part of the load balancer-hours and LCUs',
  'AWS::Events::Rule': 'EventBridge rules on AWS service events are free',
  'AWS::IAM::ManagedPolicy': 'IAM is free',
  'AWS::IAM::Policy': 'IAM is free',
  'AWS::IAM::Role': 'IAM is free',
  'AWS::KMS::Alias': 'aliases are free',
  'AWS::Lambda::Permission': 'no charge',
  'AWS::Logs::QueryDefinition': 'saved queries are free; running one is billed per GB scanned, on demand',
  'AWS::RDS::DBClusterParameterGroup': 'no charge',
  'AWS::RDS::DBSubnetGroup': 'no charge',
  'AWS::Route53::RecordSet': 'alias queries to a load balancer are free; the hosted zone is not in this stack',
  'AWS::Route53Resolver::FirewallConfig': 'a VPC setting (fail open or closed), no charge',
  'AWS::Route53Resolver::FirewallRuleGroup': 'no charge by itself: queries and domains are the DNS Firewall lines',
  'AWS::Route53Resolver::ResolverQueryLoggingConfigAssociation': 'no charge; the log delivery is the vended-log line',
  'AWS::S3::BucketPolicy': 'no charge',
  'AWS::SNS::TopicPolicy': 'no charge',
  'AWS::SecretsManager::ResourcePolicy': 'no charge',
  'AWS::SecretsManager::RotationSchedule': 'a rotation every few weeks: a few hosted-rotation Lambda runs and API calls (in secretsCallsBase)',
  'AWS::SecretsManager::SecretTargetAttachment': 'no charge',
  'AWS::WAFv2::WebACLAssociation': 'no charge',
  'Custom::VpcRestrictDefaultSG': 'runs its Lambda only when the stack is created or updated',
};

/** Everything the cost model reads. */
export interface CostInput {
  readonly config: EnvironmentConfig;
  readonly synthesized: Synthesized;
  readonly prices: PriceTable;
  readonly pipeline: PipelineTimings;
  /** scripts/deployment-timings.ts for this environment: `success` is a good release's deployment, in seconds. */
  readonly deployment: { readonly success: number };
}

/** The resource types the lines of an estimate price. */
export function coveredTypes(lines: readonly CostLine[]): Set<string> {
  return new Set(lines.flatMap((l) => l.covers));
}

/** Resource types of a synth that no line prices and FREE_TYPES does not list: each is a gap in the estimate. */
export function uncoveredTypes(s: Synthesized, lines: readonly CostLine[]): string[] {
  const covered = coveredTypes(lines);
  return [...new Set(resourcesOf(s).map((r) => r.type))].filter((t) => !covered.has(t) && !(t in FREE_TYPES)).sort();
}

/** The monthly estimate of one environment, line by line, in the order of the stacks and then of the groups below. */
export function costLines(input: CostInput): CostLine[] {
  const { config, synthesized, prices } = input;
  const env = config.envName;
  const a = (name: AssumptionName): number => assumed(name, env);
  const all = resourcesOf(synthesized);
  const mainStack = Object.keys(synthesized.templates)[0];
  if (!mainStack) throw new Error(`${env}: the synth produced no stack`);
  const lines: CostLine[] = [];
  const add = (l: NewLine): void => {
    const region = l.region ?? regionOf(synthesized, l.stack);
    const unitPrice = l.unitPrice ?? l.priceKeys.reduce((sum, k) => sum + priceOf(prices, region, k).price, 0);
    lines.push({ ...l, region, unitPrice, monthly: l.quantity * unitPrice });
  };
  const ofType = (type: string, stack?: string): Resource[] => all.filter((r) => r.type === type && (stack === undefined || r.stack === stack));
  const shared = {
    env,
    config,
    input,
    hours: a('hoursPerMonth'),
    pushes: a('pushesPerWorkday') * a('workdaysPerMonth'),
    requests: a('requestsPerMonth'),
    all,
    a,
    add,
    ofType,
    byId: (stack: string, id: string | undefined, what: string): Resource => {
      const r = all.find((x) => x.stack === stack && x.id === id);
      if (!r) throw new Error(`${stack}: ${what} refers to ${String(id)}, which is not in the template`);
      return r;
    },
    price: (region: string, key: string): number => priceOf(prices, region, key).price,
  };
  for (const stack of Object.keys(synthesized.templates)) {
    const ctx: StackContext = {
      ...shared,
      stack,
      region: regionOf(synthesized, stack),
      isMain: stack === mainStack,
      services: ofType('AWS::ECS::Service', stack),
    };
    vpcLines(ctx);
    loadBalancerLines(ctx);
    fargateLines(ctx);
    auroraLines(ctx);
    kmsLines(ctx);
    logLines(ctx);
    const canaryRuns = monitoringLines(ctx);
    secretsLines(ctx, canaryRuns);
    pipelineLines(ctx);
    snsLines(ctx);
    trailLines(ctx);
    s3Lines(ctx);
    registryLines(ctx);
    dnsFirewallLines(ctx);
    lambdaLines(ctx);
  }
  backupLines(all, a, regionOf(synthesized, mainStack), add);
  return lines;
}
