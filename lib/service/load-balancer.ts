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
 * TLS policy of both HTTPS listeners: TLS 1.3 and 1.2 only, restricted to forward-secret AEAD ciphers, with hybrid
 * post-quantum key exchange for clients that offer it. It is the policy AWS recommends for ALBs; without one,
 * CloudFormation would apply ELBSecurityPolicy-2016-08 (docs/aws-contracts.md, the HTTPS listener SslPolicy row).
 */
export const TLS_POLICY = elbv2.SslPolicy.TLS13_12_RES_PQ;

/**
 * Internet-facing ALB for the payment API, HTTPS only in every environment: 443 and the test listener terminate TLS
 * with {@link TLS_POLICY}, HTTP 80 only answers with a permanent redirect to HTTPS 443, invalid headers are dropped,
 * access logs, a blue and a green target group. Each listener forwards through one rule, which ECS blue/green rewrites
 * during deployments.
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
  /** The certificate both HTTPS listeners present: the configured ACM certificate, or the one this construct requests. */
  public readonly certificate: acm.ICertificate;
  /** `https://<tls.domainName>`: the name the certificate covers. */
  public readonly productionUrl: string;
  /** `https://<tls.domainName>:<test port>`: the test listener, for the smoke test. */
  public readonly testUrl: string;
  private zone?: route53.IHostedZone;

  constructor(scope: Construct, id: string, props: LoadBalancerProps) {
    super(scope, id);
    const { config } = props;
    const domainName = config.tls.domainName;
    if (!domainName) {
      throw new Error(`tls.domainName: the load balancer serves HTTPS only and needs the name its certificate covers, got: (missing)`);
    }
    this.certificate = this.certificateFor(config.tls);

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
    if (this.zone) {
      new route53.ARecord(this, 'AliasRecord', {
        zone: this.zone,
        recordName: domainName,
        target: route53.RecordTarget.fromAlias(new route53targets.LoadBalancerTarget(this.alb)),
      });
    }
    // Plain Retain, not RetainExceptOnCreate: with deletion protection on, a rolled-back create could not delete the
    // load balancer and the stack would end in ROLLBACK_FAILED. A retained one has a generated name, so it never
    // blocks a retry; remove it by hand (turn deletion protection off first) after a failed first create.
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

    const notFound = elbv2.ListenerAction.fixedResponse(404, { contentType: 'application/json', messageBody: '{"error":"not_found"}' });
    const https = (port: number): elbv2.BaseApplicationListenerProps => ({
      port,
      protocol: elbv2.ApplicationProtocol.HTTPS,
      certificates: [this.certificate],
      sslPolicy: TLS_POLICY,
      defaultAction: notFound,
      open: false,
    });
    const production = this.alb.addListener('Production', https(443));
    this.securityGroup.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'Payment API from the internet');

    // HTTP 80 answers every request with a 301 to https://#{host}:443/#{path}?#{query} and serves nothing itself.
    const redirect = this.alb.addRedirect({ sourcePort: 80, targetPort: 443 });
    // A stack that served HTTP on 80 before moves its production listener to 443 in place; the redirect listener
    // can only take port 80 after that update, so CloudFormation must create it second.
    redirect.node.addDependency(production);
    this.securityGroup.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(80), 'HTTP, only redirected to HTTPS');
    checkovSkip(
      this.securityGroup,
      'CKV_AWS_260',
      'Port 80 only answers with a 301 redirect to HTTPS; closing it would break clients that type the bare host',
    );
    acknowledge(
      redirect,
      PCI_NIST,
      'ELBv2ACMCertificateRequired',
      'HTTP:80 listener whose only action is a 301 redirect to HTTPS:443; it serves no content (docs/deployments.md, trap 15)',
    );
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

    // Blue/green test traffic carries the same API key as production traffic, so it is TLS too, with the same certificate.
    const test = this.alb.addListener('Test', https(config.deployment.testListenerPort));
    const testPort = ec2.Port.tcp(config.deployment.testListenerPort);
    props.natPublicIps.forEach((ip) => this.securityGroup.addIngressRule(ec2.Peer.ipv4(`${ip}/32`), testPort, 'Test listener: smoke test via NAT'));
    config.deployment.testListenerAllowedCidrs.forEach((cidr) =>
      this.securityGroup.addIngressRule(ec2.Peer.ipv4(cidr), testPort, 'Test listener: configured'),
    );

    // One rule per listener, defined once and never changed: ECS rewrites it into a weighted forward during a
    // deployment, and a stack update that changed it would reset live traffic (docs/deployments.md, trap 2, aws-cdk #36649).
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

    this.productionUrl = `https://${domainName}`;
    this.testUrl = `https://${domainName}:${config.deployment.testListenerPort}`;
  }

  private certificateFor(tls: EnvironmentConfig['tls']): acm.ICertificate {
    if (tls.certificateArn) return acm.Certificate.fromCertificateArn(this, 'Certificate', tls.certificateArn);
    if (tls.domainName && tls.hostedZoneId && tls.hostedZoneName) {
      const zone = route53.HostedZone.fromHostedZoneAttributes(this, 'Zone', { hostedZoneId: tls.hostedZoneId, zoneName: tls.hostedZoneName });
      this.zone = zone;
      return new acm.Certificate(this, 'Certificate', { domainName: tls.domainName, validation: acm.CertificateValidation.fromDns(zone) });
    }
    throw new Error(
      `tls: the load balancer serves HTTPS only: give certificateArn, or hostedZoneId and hostedZoneName to create a certificate, got: ${JSON.stringify(tls)}`,
    );
  }
}
