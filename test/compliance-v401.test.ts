import { App, Duration, Stack } from 'aws-cdk-lib';
import * as cloudtrail from 'aws-cdk-lib/aws-cloudtrail';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { IConstruct } from 'constructs';
import { acknowledge } from '../lib/compliance/acknowledge';
import { compliancePacks } from '../lib/compliance/packs';
import { isNonRootUser, PCI_DSS_401, PCI_DSS_401_RULES, PCIDSS401Checks, RESTRICTED_TLS_POLICIES } from '../lib/compliance/pci-dss-v401';
import { ENVS, synthEnv } from './helpers';

/** `<rule id> <construct path>` of every finding of the v4.0.1 pack under a scope. */
function findings(scope: IConstruct): string[] {
  return new PCIDSS401Checks()
    .validateScope(scope)
    .violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} ${r.constructPath}`))
    .sort();
}

const stack = () => new Stack(new App(), 'Checked', { env: { account: '111111111111', region: 'us-east-1' } });
const vpcOf = (s: Stack) => new ec2.Vpc(s, 'Vpc', { maxAzs: 2, natGateways: 0, restrictDefaultSecurityGroup: false });

describe('the PCI DSS v4.0.1 pack', () => {
  test('is registered with the other packs, and every rule id carries the pack prefix and cites a v4.0.1 requirement', () => {
    expect(compliancePacks().map((p) => p.readPackName)).toEqual(['AwsSolutions', 'PCI.DSS.321', 'NIST.800.53.R5', PCI_DSS_401]);
    expect(PCI_DSS_401_RULES.length).toBeGreaterThanOrEqual(6);
    for (const rule of PCI_DSS_401_RULES) expect(rule.requirements).toMatch(/^\d{1,2}(\.\d{1,2}){1,3}(, \d{1,2}(\.\d{1,2}){1,3})*$/);
    expect(new Set(PCI_DSS_401_RULES.map((r) => r.id)).size).toBe(PCI_DSS_401_RULES.length);
  });

  test('a finding names the requirement, and an acknowledgement on the construct silences exactly that finding', () => {
    const s = stack();
    const group = new logs.LogGroup(s, 'Short', { retention: logs.RetentionDays.ONE_MONTH });
    const report = new PCIDSS401Checks().validateScope(s);
    expect(report.violations.map((v) => [v.ruleName, v.description])).toEqual([
      ['PCI.DSS.401-LogGroupRetentionOneYear', 'The log group keeps its events less than 365 days - (Control ID: 10.5.1).'],
    ]);
    acknowledge(group, ['PCI.DSS.401'], 'LogGroupRetentionOneYear', 'a test of the acknowledgement mechanism for the v4.0.1 pack');
    expect(findings(s)).toEqual([]);
  });
});

describe('each rule flags a non-compliant resource and passes a compliant one', () => {
  test('SecurityGroupPublicIngressWebOnly: flags anywhere on another port or on a group that is not a public load balancer, passes 80/443 of one', () => {
    const s = stack();
    const vpc = vpcOf(s);
    const albGroup = new ec2.SecurityGroup(s, 'AlbGroup', { vpc });
    albGroup.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS');
    albGroup.addIngressRule(ec2.Peer.anyIpv6(), ec2.Port.tcp(80), 'HTTP redirect');
    new elbv2.ApplicationLoadBalancer(s, 'Alb', { vpc, internetFacing: true, securityGroup: albGroup });
    const sshOnAlb = new ec2.SecurityGroup(s, 'SshOnAlbGroup', { vpc });
    new elbv2.ApplicationLoadBalancer(s, 'Alb2', { vpc, internetFacing: true, securityGroup: sshOnAlb });
    sshOnAlb.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(22), 'SSH');
    const task = new ec2.SecurityGroup(s, 'TaskGroup', { vpc });
    task.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS straight to a task');
    const standalone = new ec2.CfnSecurityGroupIngress(s, 'Standalone', {
      groupId: task.securityGroupId,
      ipProtocol: 'tcp',
      fromPort: 8080,
      toPort: 8080,
      cidrIpv6: '::/0',
    });
    new ec2.CfnSecurityGroupIngress(s, 'FromTheVpc', {
      groupId: task.securityGroupId,
      ipProtocol: 'tcp',
      fromPort: 8080,
      toPort: 8080,
      cidrIp: '10.0.0.0/16',
    });
    const flagged = findings(s).filter((f) => f.startsWith('PCI.DSS.401-SecurityGroupPublicIngressWebOnly'));
    expect(flagged).toEqual(
      ['Checked/SshOnAlbGroup/Resource', 'Checked/TaskGroup/Resource', standalone.node.path]
        .map((p) => `PCI.DSS.401-SecurityGroupPublicIngressWebOnly ${p}`)
        .sort(),
    );
  });

  test("SecurityGroupPublicIngressWebOnly: an internal load balancer's group may not admit the internet either", () => {
    const s = stack();
    const vpc = vpcOf(s);
    const group = new ec2.SecurityGroup(s, 'Internal', { vpc });
    group.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS');
    new elbv2.ApplicationLoadBalancer(s, 'Alb', { vpc, internetFacing: false, securityGroup: group });
    expect(findings(s)).toContain('PCI.DSS.401-SecurityGroupPublicIngressWebOnly Checked/Internal/Resource');
  });

  test('ECSContainerHardened: flags a root, writable or privileged container and passes a hardened one', () => {
    const s = stack();
    const image = ecs.ContainerImage.fromRegistry(
      'public.ecr.aws/example/app@sha256:0000000000000000000000000000000000000000000000000000000000000000',
    );
    const define = (id: string, options: Partial<ecs.ContainerDefinitionOptions>) => {
      const td = new ecs.FargateTaskDefinition(s, id);
      td.addContainer('app', { image, ...options });
      return td;
    };
    define('Hardened', { readonlyRootFilesystem: true, user: '65532:65532' });
    define('NoUser', { readonlyRootFilesystem: true });
    define('Root', { readonlyRootFilesystem: true, user: '0:0' });
    define('Writable', { readonlyRootFilesystem: false, user: '65532' });
    define('Privileged', { readonlyRootFilesystem: true, user: 'app', privileged: true });
    const mixed = define('SidecarUnhardened', { readonlyRootFilesystem: true, user: '65532' });
    mixed.addContainer('sidecar', { image, readonlyRootFilesystem: true });
    expect(findings(s).filter((f) => f.includes('ECSContainerHardened'))).toEqual(
      ['NoUser', 'Privileged', 'Root', 'SidecarUnhardened', 'Writable'].map((id) => `PCI.DSS.401-ECSContainerHardened Checked/${id}/Resource`),
    );
    expect([isNonRootUser('root'), isNonRootUser('0'), isNonRootUser(':1000'), isNonRootUser(undefined), isNonRootUser('app:app')]).toEqual([
      false,
      false,
      false,
      false,
      true,
    ]);
  });

  test('KMSKeyCryptoperiod: flags a key that does not rotate or rotates less than yearly, passes yearly and shorter rotation', () => {
    const s = stack();
    new kms.Key(s, 'Yearly', { enableKeyRotation: true });
    new kms.Key(s, 'Quarterly', { enableKeyRotation: true, rotationPeriod: Duration.days(90) });
    new kms.Key(s, 'NoRotation', { enableKeyRotation: false });
    new kms.Key(s, 'TwoYears', { enableKeyRotation: true, rotationPeriod: Duration.days(730) });
    new kms.Key(s, 'Signing', { keySpec: kms.KeySpec.ECC_NIST_P256, keyUsage: kms.KeyUsage.SIGN_VERIFY });
    expect(findings(s).filter((f) => f.includes('KMSKeyCryptoperiod'))).toEqual(
      ['NoRotation', 'TwoYears'].map((id) => `PCI.DSS.401-KMSKeyCryptoperiod Checked/${id}/Resource`),
    );
  });

  test('ELBv2RestrictedTlsPolicy: flags a listener without a restricted TLS 1.2+ policy and passes one with it', () => {
    const s = stack();
    const alb = new elbv2.CfnLoadBalancer(s, 'Alb', { scheme: 'internal', subnets: ['subnet-1', 'subnet-2'] });
    const listener = (id: string, protocol: string, sslPolicy?: string) =>
      new elbv2.CfnListener(s, id, {
        loadBalancerArn: alb.ref,
        port: 443,
        protocol,
        sslPolicy,
        certificates: protocol === 'HTTP' ? undefined : [{ certificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/example' }],
        defaultActions: [{ type: 'fixed-response', fixedResponseConfig: { statusCode: '404' } }],
      });
    listener('Restricted', 'HTTPS', 'ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09');
    listener('Default', 'HTTPS');
    listener('Legacy', 'HTTPS', 'ELBSecurityPolicy-2016-08');
    listener('Tls11', 'HTTPS', 'ELBSecurityPolicy-TLS-1-1-2017-01');
    listener('Plain', 'HTTP');
    expect(findings(s).filter((f) => f.includes('ELBv2RestrictedTlsPolicy'))).toEqual(
      ['Default', 'Legacy', 'Tls11'].map((id) => `PCI.DSS.401-ELBv2RestrictedTlsPolicy Checked/${id}`),
    );
    expect(RESTRICTED_TLS_POLICIES).toContain(elbv2.SslPolicy.TLS13_12_RES_PQ);
    expect(RESTRICTED_TLS_POLICIES.every((p) => !/2016|TLS-1-1|TLS-1-0|Ext/.test(p))).toBe(true);
  });

  test('ECRScanOnPushImmutableTags: flags a mutable or unscanned repository and passes a scanned, immutable one', () => {
    const s = stack();
    new ecr.CfnRepository(s, 'Immutable', { imageScanningConfiguration: { scanOnPush: true }, imageTagMutability: 'IMMUTABLE' });
    new ecr.CfnRepository(s, 'CacheTagExcluded', {
      imageScanningConfiguration: { scanOnPush: true },
      imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION',
      imageTagMutabilityExclusionFilters: [
        { imageTagMutabilityExclusionFilterType: 'WILDCARD', imageTagMutabilityExclusionFilterValue: 'buildcache' },
      ],
    });
    new ecr.CfnRepository(s, 'EveryTagExcluded', {
      imageScanningConfiguration: { scanOnPush: true },
      imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION',
      imageTagMutabilityExclusionFilters: [{ imageTagMutabilityExclusionFilterType: 'WILDCARD', imageTagMutabilityExclusionFilterValue: '*' }],
    });
    new ecr.CfnRepository(s, 'Mutable', { imageScanningConfiguration: { scanOnPush: true }, imageTagMutability: 'MUTABLE' });
    new ecr.CfnRepository(s, 'Unscanned', { imageTagMutability: 'IMMUTABLE' });
    expect(findings(s).filter((f) => f.includes('ECRScanOnPushImmutableTags'))).toEqual(
      ['EveryTagExcluded', 'Mutable', 'Unscanned'].map((id) => `PCI.DSS.401-ECRScanOnPushImmutableTags Checked/${id}`),
    );
  });

  test('WAFv2ManagedRulesBlock: flags a web ACL that only counts and passes one whose managed rules block', () => {
    const s = stack();
    const managed = (name: string, count: boolean): wafv2.CfnWebACL.RuleProperty => ({
      name,
      priority: 1,
      statement: { managedRuleGroupStatement: { vendorName: 'AWS', name } },
      overrideAction: count ? { count: {} } : { none: {} },
      visibilityConfig: { cloudWatchMetricsEnabled: true, metricName: name, sampledRequestsEnabled: false },
    });
    const acl = (id: string, rules: wafv2.CfnWebACL.RuleProperty[]) =>
      new wafv2.CfnWebACL(s, id, {
        defaultAction: { allow: {} },
        scope: 'REGIONAL',
        rules,
        visibilityConfig: { cloudWatchMetricsEnabled: true, metricName: id, sampledRequestsEnabled: false },
      });
    acl('Blocking', [managed('AWSManagedRulesCommonRuleSet', false), managed('AWSManagedRulesSQLiRuleSet', false)]);
    acl('CountOnly', [managed('AWSManagedRulesCommonRuleSet', false), managed('AWSManagedRulesSQLiRuleSet', true)]);
    acl('NoManagedRules', []);
    expect(findings(s).filter((f) => f.includes('WAFv2ManagedRulesBlock'))).toEqual(
      ['CountOnly', 'NoManagedRules'].map((id) => `PCI.DSS.401-WAFv2ManagedRulesBlock Checked/${id}`),
    );
  });

  test("CloudTrailAllRegionsValidated: flags a single-region, unvalidated trail and passes the audit trail's settings", () => {
    const s = stack();
    const trail = (id: string, overrides: Partial<cloudtrail.CfnTrailProps>) =>
      new cloudtrail.CfnTrail(s, id, {
        isLogging: true,
        s3BucketName: 'audit-bucket',
        isMultiRegionTrail: true,
        includeGlobalServiceEvents: true,
        enableLogFileValidation: true,
        kmsKeyId: 'arn:aws:kms:us-east-1:111111111111:key/example',
        cloudWatchLogsLogGroupArn: 'arn:aws:logs:us-east-1:111111111111:log-group:trail:*',
        cloudWatchLogsRoleArn: 'arn:aws:iam::111111111111:role/trail',
        ...overrides,
      });
    trail('Complete', {});
    trail('SingleRegion', { isMultiRegionTrail: false });
    trail('Unvalidated', { enableLogFileValidation: false });
    trail('Unencrypted', { kmsKeyId: undefined });
    trail('NoCloudWatch', { cloudWatchLogsLogGroupArn: undefined, cloudWatchLogsRoleArn: undefined });
    trail('NoGlobalEvents', { includeGlobalServiceEvents: false });
    expect(findings(s).filter((f) => f.includes('CloudTrailAllRegionsValidated'))).toEqual(
      ['NoCloudWatch', 'NoGlobalEvents', 'SingleRegion', 'Unencrypted', 'Unvalidated'].map(
        (id) => `PCI.DSS.401-CloudTrailAllRegionsValidated Checked/${id}`,
      ),
    );
  });

  test('LogGroupRetentionOneYear: flags a log group kept less than a year and passes one kept a year or forever', () => {
    const s = stack();
    new logs.LogGroup(s, 'Year', { retention: logs.RetentionDays.ONE_YEAR });
    new logs.LogGroup(s, 'Forever', { retention: logs.RetentionDays.INFINITE });
    new logs.LogGroup(s, 'SixMonths', { retention: logs.RetentionDays.SIX_MONTHS });
    new logs.LogGroup(s, 'Week', { retention: logs.RetentionDays.ONE_WEEK });
    expect(findings(s)).toEqual(['SixMonths', 'Week'].map((id) => `PCI.DSS.401-LogGroupRetentionOneYear Checked/${id}/Resource`));
  });
});

describe.each(ENVS)('the real app of %s', (env) => {
  test('has zero findings of the PCI DSS v4.0.1 pack in every stack, and none of its rules is acknowledged', () => {
    const { stack: main } = synthEnv(env);
    const root = main.node.root;
    expect(findings(root)).toEqual([]);
    const acknowledged = root.node
      .findAll()
      .flatMap((c) =>
        c.node.metadata.filter((m) => typeof m.data === 'object' && m.data !== null && Object.keys(m.data).some((k) => k.includes(PCI_DSS_401))),
      );
    expect(acknowledged).toEqual([]);
  });
});
