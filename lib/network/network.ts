import { RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { acknowledge, acknowledgeGrantPolicy, PCI_NIST } from '../compliance/acknowledge';
import { checkovSkip } from '../compliance/checkov';
import { EncryptedLogGroup } from '../common/encrypted-log-group';
import { PrivateAwsAccess } from './egress';

export interface NetworkProps {
  /** The VPC's IPv4 range. */
  readonly cidr: string;
  /** Explicit zones, so an environment-agnostic synth gets the same subnets as a deploy. */
  readonly availabilityZones: readonly string[];
  /** NAT gateways (one per zone in prod). */
  readonly natGateways: number;
  /** Encrypts the flow log group. */
  readonly logsKey: kms.IKey;
  /** Flow log retention in days (>= 365). */
  readonly logRetentionDays: number;
  readonly logRemovalPolicy: RemovalPolicy;
  /**
   * The tasks send traces (config monitoring.tracing.enabled): adds the X-Ray endpoint the collector sidecar exports to.
   * @default false
   */
  readonly tracing?: boolean;
}

/** Interface endpoints the tasks and builds call without leaving the VPC (docs/deployments.md, trap 12). */
export const INTERFACE_ENDPOINTS: Readonly<Record<string, ec2.InterfaceVpcEndpointAwsService>> = {
  EcrApi: ec2.InterfaceVpcEndpointAwsService.ECR,
  EcrDocker: ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
  Logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
  SecretsManager: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
  Kms: ec2.InterfaceVpcEndpointAwsService.KMS,
  Sts: ec2.InterfaceVpcEndpointAwsService.STS,
  Ssm: ec2.InterfaceVpcEndpointAwsService.SSM,
  // The smoke-test hook's deployment lookups: with it, the hook needs no HTTPS to the internet.
  Ecs: ec2.InterfaceVpcEndpointAwsService.ECS,
};

/** The interface endpoint of the tracing collector, only in environments that trace. */
export const TRACING_ENDPOINTS: Readonly<Record<string, ec2.InterfaceVpcEndpointAwsService>> = {
  XRay: ec2.InterfaceVpcEndpointAwsService.XRAY,
};

/**
 * IDs of the AWS-managed prefix lists `com.amazonaws.<region>.s3` (docs/aws-contracts.md, "Database"). AWS-managed
 * prefix lists cannot be created through CloudFormation and resolving one at synth would be a context lookup (no
 * credentials in `cdk synth`), so the ID of each supported region is written here.
 */
export const S3_PREFIX_LIST_IDS: Readonly<Record<string, string>> = { 'us-east-1': 'pl-63a5400a', 'us-west-2': 'pl-68a54001' };

function s3PrefixListIdOf(region: string): string {
  const id = S3_PREFIX_LIST_IDS[region];
  if (!id) throw new Error(`Network: no S3 prefix list ID known for region ${region}; add it to S3_PREFIX_LIST_IDS`);
  return id;
}

/**
 * Public subnets for the load balancer only (no public IPs on launch), private subnets with NAT egress for tasks,
 * builds and functions, isolated subnets (no route out) for the database, private endpoints for the AWS APIs they
 * call, all-traffic flow logs and a closed default security group.
 */
export class Network extends Construct implements PrivateAwsAccess {
  public readonly vpc: ec2.Vpc;
  /** Guards the interface endpoints: HTTPS from inside the VPC only. */
  public readonly endpointSecurityGroup: ec2.SecurityGroup;
  public readonly flowLogGroup: EncryptedLogGroup;
  /** The NAT gateways' public IPs: what the internet-facing ALB sees when something in the VPC calls it. */
  public readonly natPublicIps: string[];
  /**
   * The AWS-managed prefix list of S3 in this region, which the S3 gateway endpoint routes: a security group that
   * allows HTTPS to it lets a task pull image layers from ECR (stored in S3) without any other egress.
   */
  public readonly s3PrefixListId: string;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(props.cidr),
      availabilityZones: [...props.availabilityZones],
      natGateways: props.natGateways,
      restrictDefaultSecurityGroup: true,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
        // Last, so the ranges above keep their CIDRs (CDK allocates subnets in this order): no route out of the VPC,
        // for the database only.
        { name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
    });

    // Zones come from config on purpose: the same subnets in an environment-agnostic synth and in a deploy.
    for (const subnet of [...this.vpc.publicSubnets, ...this.vpc.privateSubnets, ...this.vpc.isolatedSubnets]) {
      Validations.of(subnet.node.defaultChild!).acknowledge({
        id: 'CloudFormation-Validate::W3010',
        reason: 'Availability zones come from config/<env>.json on purpose, so every synth yields the subnets a deploy creates',
      });
    }
    this.natPublicIps = this.vpc.publicSubnets
      .map((subnet) => subnet.node.tryFindChild('EIP'))
      .filter((eip): eip is ec2.CfnEIP => eip instanceof ec2.CfnEIP)
      .map((eip) => eip.attrPublicIp);

    this.flowLogGroup = new EncryptedLogGroup(this, 'FlowLogGroup', {
      key: props.logsKey,
      retentionDays: props.logRetentionDays,
      removalPolicy: props.logRemovalPolicy,
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(this.flowLogGroup),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });
    const flowLogRole = this.vpc.node.findChild('FlowLog').node.findChild('IAMRole');
    acknowledgeGrantPolicy(flowLogRole, 'Flow log delivery role');
    for (const subnet of this.vpc.publicSubnets) {
      acknowledge(
        subnet,
        PCI_NIST,
        'VPCNoUnrestrictedRouteToIGW',
        'Public subnet: holds only the internet-facing ALB and the NAT gateways, which need the default route to the internet gateway',
      );
    }

    this.skipChecksOnDefaultSecurityGroupHandler();

    this.vpc.addGatewayEndpoint('S3Endpoint', { service: ec2.GatewayVpcEndpointAwsService.S3 });
    this.s3PrefixListId = s3PrefixListIdOf(Stack.of(this).region);
    this.endpointSecurityGroup = new ec2.SecurityGroup(this, 'EndpointSecurityGroup', {
      vpc: this.vpc,
      description: 'HTTPS to AWS API endpoints from inside the VPC only',
      allowAllOutbound: false,
    });
    // The literal CIDR, not the VPC's token, so the rule is checkable at synth (a token reads as 'open' to cdk-nag).
    this.endpointSecurityGroup.addIngressRule(ec2.Peer.ipv4(props.cidr), ec2.Port.tcp(443), 'HTTPS from the VPC');
    for (const [name, service] of Object.entries({ ...INTERFACE_ENDPOINTS, ...(props.tracing ? TRACING_ENDPOINTS : {}) })) {
      this.vpc.addInterfaceEndpoint(name, {
        service,
        privateDnsEnabled: true,
        securityGroups: [this.endpointSecurityGroup],
        subnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        open: false,
      });
    }
  }

  /**
   * CDK closes the default security group through a singleton custom-resource Lambda that runs only during
   * deployments and calls the EC2 API (it cannot be given a VPC, DLQ or concurrency through CDK).
   */
  private skipChecksOnDefaultSecurityGroupHandler(): void {
    const provider = Stack.of(this).node.tryFindChild('Custom::VpcRestrictDefaultSGCustomResourceProvider');
    const handler = provider?.node.tryFindChild('Handler');
    if (!handler) throw new Error('Network: the default security group custom resource was not found; has aws-cdk-lib changed?');
    const why = 'CDK-owned custom resource that revokes the default security group rules during deployment only';
    checkovSkip(handler, 'CKV_AWS_115', `${why}; it runs once per deployment, concurrency is not a risk`);
    checkovSkip(handler, 'CKV_AWS_116', `${why}; CloudFormation is its caller and reports failures, a DLQ adds nothing`);
    checkovSkip(handler, 'CKV_AWS_117', `${why}; it only calls the EC2 API and handles no data, so it needs no VPC`);
  }
}
