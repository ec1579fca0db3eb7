import { INTERFACE_ENDPOINTS } from '../lib/network/network';
import { ENVS, shippedConfigs, synthEnv } from './helpers';

describe.each(ENVS)('network in %s', (env) => {
  const config = shippedConfigs()[env];
  const { template } = synthEnv(env);

  test('the VPC uses the configured CIDR, zones and NAT gateways', () => {
    template.hasResourceProperties('AWS::EC2::VPC', { CidrBlock: config.network.cidr });
    template.resourceCountIs('AWS::EC2::NatGateway', config.network.natGateways);
    const azs = config.network.availabilityZones;
    template.resourceCountIs('AWS::EC2::Subnet', azs.length * 3);
    for (const az of azs) template.hasResourceProperties('AWS::EC2::Subnet', { AvailabilityZone: az, MapPublicIpOnLaunch: false });
  });

  test('the isolated subnets came last: the public and private subnets kept their logical ids and CIDRs', () => {
    // GIVEN the ranges the two first tiers had before the database's isolated tier was appended
    const base = config.network.cidr.split('.').slice(0, 2).join('.');
    const before = (tier: 'public' | 'private', i: number) => (tier === 'public' ? `${base}.${i}.0/24` : `${base}.${16 * (i + 1)}.0/20`);
    const subnets = template.findResources('AWS::EC2::Subnet') as Record<string, { Properties: { CidrBlock: string; AvailabilityZone: string } }>;
    const byId = (prefix: string) =>
      Object.entries(subnets)
        .filter(([id]) => id.startsWith(prefix))
        .map(([, s]) => [s.Properties.AvailabilityZone, s.Properties.CidrBlock]);
    // THEN each keeps its range, and the isolated /24s follow the last private range
    const azs = config.network.availabilityZones;
    expect(byId('NetworkVpcpublicSubnet')).toEqual(azs.map((az, i) => [az, before('public', i)]));
    expect(byId('NetworkVpcprivateSubnet')).toEqual(azs.map((az, i) => [az, before('private', i)]));
    expect(byId('NetworkVpcisolatedSubnet')).toEqual(azs.map((az, i) => [az, `${base}.${16 * (azs.length + 1) + i}.0/24`]));
    expect(subnets.NetworkVpcpublicSubnet1Subnet00617657?.Properties.CidrBlock).toBe(before('public', 0));
    expect(subnets.NetworkVpcprivateSubnet1Subnet9EC58498?.Properties.CidrBlock).toBe(before('private', 0));
  });

  test('no subnet gives public IPs on launch', () => {
    template.allResourcesProperties('AWS::EC2::Subnet', { MapPublicIpOnLaunch: false });
  });

  test('flow logs record all traffic into a log group encrypted with the logs key, kept the configured days (at least a year)', () => {
    template.resourceCountIs('AWS::EC2::FlowLog', 1);
    const vpc = Object.keys(template.findResources('AWS::EC2::VPC'))[0]!;
    template.hasResourceProperties('AWS::EC2::FlowLog', {
      TrafficType: 'ALL',
      LogDestinationType: 'cloud-watch-logs',
      ResourceType: 'VPC',
      ResourceId: { Ref: vpc },
    });
    const flowLog = Object.values(template.findResources('AWS::EC2::FlowLog'))[0] as { Properties: { LogGroupName: { Ref: string } } };
    const group = template.findResources('AWS::Logs::LogGroup')[flowLog.Properties.LogGroupName.Ref] as { Properties: Record<string, unknown> };
    const logsKey = Object.keys(template.findResources('AWS::KMS::Key')).find((id) => id.startsWith('KeysLogsKey'))!;
    expect(group.Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [logsKey, 'Arn'] });
    expect(group.Properties.RetentionInDays).toBe(config.logs.retentionDays);
    expect(config.logs.retentionDays).toBeGreaterThanOrEqual(365);
  });

  test('the default security group is closed', () => {
    // CDK's custom resource strips every rule from the VPC's default group (restrictDefaultSecurityGroup).
    template.resourceCountIs('Custom::VpcRestrictDefaultSG', 1);
    const vpc = Object.keys(template.findResources('AWS::EC2::VPC'))[0]!;
    template.hasResourceProperties('Custom::VpcRestrictDefaultSG', { DefaultSecurityGroupId: { 'Fn::GetAtt': [vpc, 'DefaultSecurityGroup'] } });
  });

  test('S3 gateway endpoint and every interface endpoint, private DNS, behind the endpoint group', () => {
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.s3']] },
    });
    // The X-Ray endpoint only where tracing is on (tracing is off in the shipped configs).
    const tracing = config.monitoring.tracing.enabled;
    template.resourceCountIs('AWS::EC2::VPCEndpoint', Object.keys(INTERFACE_ENDPOINTS).length + 1 + (tracing ? 1 : 0));
    const endpointGroup = Object.keys(template.findResources('AWS::EC2::SecurityGroup')).find((id) => id.startsWith('NetworkEndpointSecurityGroup'))!;
    for (const service of ['ecr.api', 'ecr.dkr', 'logs', 'secretsmanager', 'kms', 'sts', 'ssm', 'ecs', ...(tracing ? ['xray'] : [])]) {
      template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        VpcEndpointType: 'Interface',
        PrivateDnsEnabled: true,
        ServiceName: `com.amazonaws.us-east-1.${service}`,
        SecurityGroupIds: [{ 'Fn::GetAtt': [endpointGroup, 'GroupId'] }],
      });
    }
  });

  test('the endpoint security group admits HTTPS from the VPC range only', () => {
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: 'HTTPS to AWS API endpoints from inside the VPC only',
      SecurityGroupIngress: [{ CidrIp: config.network.cidr, FromPort: 443, ToPort: 443, IpProtocol: 'tcp' }],
    });
  });
});
