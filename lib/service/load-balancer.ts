import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as route53targets from 'aws-cdk-lib/aws-route53-targets';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { HEALTH_READY_PATH } from '../../app/src/contract';
import { acknowledge, PCI_NIST } from '../compliance/acknowledge';
import { checkovSkip } from '../compliance/checkov';
import { EnvironmentConfig } from '../config';

export interface LoadBalancerProps {
  readonly vpc: ec2.IVpc;
  /** TLS, ports, timeouts and the test listener's allowed sources. */
  readonly config: Pick<EnvironmentConfig, 'tls' | 'loadBalancer' | 'deployment' | 'service'>;
  /** Receives the ALB access logs (SSE-S3 bucket). */
  readonly accessLogsBucket: s3.IBucket;
  /**
   * Public IPs (the NAT gateways') the smoke-test function's calls to the test listener come from: the ALB is
   * internet-facing, so traffic from inside the VPC reaches it through NAT, not from a security group.
   */
  readonly natPublicIps: readonly string[];
}

/** Priority of the one rule on each listener; kept constant, it is part of the listener rule's identity. */
export const SERVICE_RULE_PRIORITY = 10;

/**
 * Internet-facing ALB for the payment API: HTTPS (TLS 1.3 and 1.2 with forward-secret ciphers) on 443, HTTP 80 only
 * redirects, invalid headers dropped, access logs, a blue and a green target group, and a test listener that only the
 * smoke test reaches. Each listener forwards through one rule, which ECS blue/green rewrites during deployments.
 */
export class LoadBalancer extends Construct {
  public readonly alb: elbv2.ApplicationLoadBalancer;
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly blueTargetGroup: elbv2.ApplicationTargetGroup;
  public readonly greenTargetGroup: elbv2.ApplicationTargetGroup;
  /** The production rule ECS shifts between blue and green (aws-cdk #36649: its definition must stay stable). */
  public readonly productionRule: elbv2.ApplicationListenerRule;
  /** The rule on the test listener that ECS points at the new revision before production traffic moves. */
  public readonly testRule: elbv2.ApplicationListenerRule;
  /** `https://host` (or `http://` in an environment without TLS). */
  public readonly productionUrl: string;
  /** URL of the test listener, for the smoke test. */
  public readonly testUrl: string;
  private zone?: route53.IHostedZone;

  constructor(scope: Construct, id: string, props: LoadBalancerProps) {
    super(scope, id);
    const { config } = props;
    const certificate = this.certificate(config.tls);

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Payment API load balancer: HTTPS from the internet, test port from NAT and configured CIDRs only',
      allowAllOutbound: false,
    });
    this.alb = new elbv2.ApplicationLoadBalancer(this, 'Alb', {
      vpc: props.vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      securityGroup: this.securityGroup,
      dropInvalidHeaderFields: true,
      idleTimeout: Duration.seconds(config.loadBalancer.idleTimeoutSeconds),
      deletionProtection: config.loadBalancer.deletionProtection,
      http2Enabled: true,
      desyncMitigationMode: elbv2.DesyncMitigationMode.STRICTEST,
    });
    this.alb.logAccessLogs(props.accessLogsBucket, 'alb');
    if (this.zone && config.tls.domainName) {
      new route53.ARecord(this, 'AliasRecord', {
        zone: this.zone,
        recordName: config.tls.domainName,
        target: route53.RecordTarget.fromAlias(new route53targets.LoadBalancerTarget(this.alb)),
      });
    }
    this.alb.applyRemovalPolicy(config.loadBalancer.deletionProtection ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY);

    const targetGroupProps: elbv2.ApplicationTargetGroupProps = {
      vpc: props.vpc,
      port: config.service.containerPort,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targetType: elbv2.TargetType.IP,
      deregistrationDelay: Duration.seconds(config.service.deregistrationDelaySeconds),
      healthCheck: {
        path: HEALTH_READY_PATH,
        healthyHttpCodes: '200',
        interval: Duration.seconds(10),
        timeout: Duration.seconds(5),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 2,
      },
    };
    this.blueTargetGroup = new elbv2.ApplicationTargetGroup(this, 'BlueTargetGroup', targetGroupProps);
    this.greenTargetGroup = new elbv2.ApplicationTargetGroup(this, 'GreenTargetGroup', targetGroupProps);

    const tls = certificate !== undefined;
    const notFound = elbv2.ListenerAction.fixedResponse(404, { contentType: 'application/json', messageBody: '{"error":"not_found"}' });
    const production = this.alb.addListener('Production', {
      port: tls ? 443 : 80,
      protocol: tls ? elbv2.ApplicationProtocol.HTTPS : elbv2.ApplicationProtocol.HTTP,
      certificates: certificate ? [certificate] : undefined,
      sslPolicy: tls ? elbv2.SslPolicy.TLS13_RES : undefined,
      defaultAction: notFound,
      open: false,
    });
    this.securityGroup.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(tls ? 443 : 80), 'Payment API from the internet');
    if (tls) {
      this.alb.addRedirect({ sourcePort: 80, targetPort: 443 });
      this.securityGroup.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(80), 'HTTP, only redirected to HTTPS');
      checkovSkip(
        this.securityGroup,
        'CKV_AWS_260',
        'Port 80 only answers with a 301 redirect to HTTPS; closing it would break clients that type the bare host',
      );
      const redirect = this.alb.node.findChild('Redirect80To443');
      acknowledge(
        redirect,
        PCI_NIST,
        'ELBv2ACMCertificateRequired',
        'HTTP:80 listener whose only action is a 301 redirect to HTTPS:443; it serves no content (AWS-TRAPS 15)',
      );
    } else {
      acknowledge(
        production,
        PCI_NIST,
        'ELBv2ACMCertificateRequired',
        'Only an environment without tls config (validation allows it in dev alone) serves plain HTTP; staging and prod must use HTTPS',
      );
      acknowledge(
        production,
        PCI_NIST,
        'ALBHttpToHttpsRedirection',
        'Dev without a certificate has no HTTPS listener to redirect to; staging and prod redirect',
      );
      checkovSkip(
        this.securityGroup,
        'CKV_AWS_260',
        'Dev without a certificate serves its API on port 80 (validation forbids this in staging and prod)',
      );
    }
    for (const rule of ['EC2RestrictedCommonPorts', 'EC2RestrictedSSH']) {
      acknowledge(
        this.securityGroup,
        PCI_NIST,
        rule,
        'Ingress is 443 and 80 from anywhere plus the test port from the NAT gateway IPs (tokens the rule cannot read); no SSH or admin port is open',
      );
    }
    if (!config.loadBalancer.deletionProtection) {
      acknowledge(
        this.alb,
        ['NIST.800.53.R5'],
        'ELBDeletionProtectionEnabled',
        'Deletion protection is a config value, validated true for prod; dev and staging are torn down freely',
      );
    }
    acknowledge(
      this.securityGroup,
      ['AwsSolutions'],
      'EC23',
      'The payment API is public by design: 443 (and 80, which only redirects) from anywhere, behind WAF',
    );

    const test = this.alb.addListener('Test', {
      port: config.deployment.testListenerPort,
      protocol: tls ? elbv2.ApplicationProtocol.HTTPS : elbv2.ApplicationProtocol.HTTP,
      certificates: certificate ? [certificate] : undefined,
      sslPolicy: tls ? elbv2.SslPolicy.TLS13_RES : undefined,
      defaultAction: notFound,
      open: false,
    });
    if (!tls) {
      for (const listener of [production, test]) {
        checkovSkip(listener, 'CKV_AWS_2', 'Dev without a certificate (tls config empty) serves HTTP; validation forbids this in staging and prod');
        checkovSkip(
          listener,
          'CKV_AWS_103',
          'Dev without a certificate (tls config empty) has no TLS policy; validation forbids this in staging and prod',
        );
      }
      acknowledge(
        test,
        PCI_NIST,
        'ELBv2ACMCertificateRequired',
        'Test listener of an environment without a certificate (dev only); reachable only from its NAT gateways',
      );
      acknowledge(
        test,
        PCI_NIST,
        'ALBHttpToHttpsRedirection',
        'Test listener of an environment without a certificate (dev only); reachable only from its NAT gateways',
      );
    }
    const testPort = ec2.Port.tcp(config.deployment.testListenerPort);
    props.natPublicIps.forEach((ip) => this.securityGroup.addIngressRule(ec2.Peer.ipv4(`${ip}/32`), testPort, 'Test listener: smoke test via NAT'));
    config.deployment.testListenerAllowedCidrs.forEach((cidr) =>
      this.securityGroup.addIngressRule(ec2.Peer.ipv4(cidr), testPort, 'Test listener: configured'),
    );

    // One rule per listener, defined once and never changed: ECS rewrites it into a weighted forward during a
    // deployment, and a stack update that changed it would reset live traffic (AWS-TRAPS 2, aws-cdk #36649).
    this.productionRule = new elbv2.ApplicationListenerRule(this, 'ProductionRule', {
      listener: production,
      priority: SERVICE_RULE_PRIORITY,
      conditions: [elbv2.ListenerCondition.pathPatterns(['/*'])],
      action: elbv2.ListenerAction.forward([this.blueTargetGroup]),
    });
    // The test rule starts on green, the group a first deployment fills; ECS points it at each new revision.
    this.testRule = new elbv2.ApplicationListenerRule(this, 'TestRule', {
      listener: test,
      priority: SERVICE_RULE_PRIORITY,
      conditions: [elbv2.ListenerCondition.pathPatterns(['/*'])],
      action: elbv2.ListenerAction.forward([this.greenTargetGroup]),
    });

    const scheme = tls ? 'https' : 'http';
    const host = config.tls.domainName ?? this.alb.loadBalancerDnsName;
    this.productionUrl = `${scheme}://${host}`;
    this.testUrl = `${scheme}://${host}:${config.deployment.testListenerPort}`;
  }

  private certificate(tls: EnvironmentConfig['tls']): acm.ICertificate | undefined {
    if (tls.certificateArn) return acm.Certificate.fromCertificateArn(this, 'Certificate', tls.certificateArn);
    if (tls.domainName && tls.hostedZoneId && tls.hostedZoneName) {
      const zone = route53.HostedZone.fromHostedZoneAttributes(this, 'Zone', { hostedZoneId: tls.hostedZoneId, zoneName: tls.hostedZoneName });
      this.zone = zone;
      return new acm.Certificate(this, 'Certificate', { domainName: tls.domainName, validation: acm.CertificateValidation.fromDns(zone) });
    }
    return undefined;
  }
}
