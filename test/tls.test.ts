import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { EnvironmentConfig } from '../lib/config';
import { LoadBalancer, TLS_POLICY } from '../lib/service/load-balancer';
import { ENVS, shippedConfigs, synthEnv } from './helpers';
import { ingressTable } from './security-groups';

type Resource = { Type: string; Properties: Record<string, unknown>; DependsOn?: string[] };

/** The policy AWS recommends for ALBs: TLS 1.3 and 1.2, restricted ciphers, hybrid post-quantum key exchange. */
const EXPECTED_POLICY = 'ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09';

describe.each(ENVS)('TLS only in %s', (env) => {
  const config = shippedConfigs()[env];
  const { stack, template } = synthEnv(env);
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  const listeners = ofType('AWS::ElasticLoadBalancingV2::Listener');
  const onPort = (port: number) => {
    const found = listeners.filter(([, l]) => l.Properties.Port === port);
    expect(found).toHaveLength(1);
    return found[0]!;
  };
  const domain = config.tls.domainName!;
  const testPort = config.deployment.testListenerPort;

  /** The certificate the listeners must present: the configured ARN, or the certificate this stack requests. */
  const expectedCertificate = (): unknown => {
    if (config.tls.certificateArn) return config.tls.certificateArn;
    const certificates = ofType('AWS::CertificateManager::Certificate');
    expect(certificates).toHaveLength(1);
    return { Ref: certificates[0]![0] };
  };

  test('exactly three listeners: HTTPS 443, HTTPS on the test port, HTTP 80', () => {
    expect(listeners.map(([, l]) => `${String(l.Properties.Protocol)}:${String(l.Properties.Port)}`).sort()).toEqual(
      ['HTTP:80', 'HTTPS:443', `HTTPS:${testPort}`].sort(),
    );
  });

  test.each([
    ['production', 443],
    ['test (blue/green test traffic)', testPort],
  ])('the %s listener terminates TLS with the certificate and the TLS 1.2+/1.3 policy', (_name, port) => {
    const [, listener] = onPort(port);
    expect(listener.Properties).toMatchObject({
      Protocol: 'HTTPS',
      Port: port,
      SslPolicy: EXPECTED_POLICY,
      Certificates: [{ CertificateArn: expectedCertificate() }],
    });
  });

  test('HTTP 80 only redirects, permanently, to HTTPS 443 on the same host, path and query', () => {
    const [, redirect] = onPort(80);
    // Host, path and query are left out on purpose: the ALB keeps every URI component a redirect does not set.
    expect(redirect.Properties.DefaultActions).toEqual([
      { Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } },
    ]);
    expect(redirect.Properties.Certificates).toBeUndefined();
    expect(redirect.Properties.SslPolicy).toBeUndefined();
    // No rule may forward plain HTTP traffic anywhere.
    const redirectId = onPort(80)[0];
    const rulesOnHttp = ofType('AWS::ElasticLoadBalancingV2::ListenerRule').filter(
      ([, r]) => JSON.stringify(r.Properties.ListenerArn) === JSON.stringify({ Ref: redirectId }),
    );
    expect(rulesOnHttp).toEqual([]);
  });

  test('the redirect listener is created after the production listener has left port 80', () => {
    const [productionId] = onPort(443);
    const [, redirect] = onPort(80);
    expect(redirect.DependsOn).toContain(productionId);
  });

  test('the internet reaches 443 and 80 only; nothing else is open to 0.0.0.0/0', () => {
    // Every group's ingress, inline and standalone, IPv4 and IPv6.
    const open = Object.entries(ingressTable(stack, template)).flatMap(([group, rules]) =>
      rules.filter((r) => / <- (0\.0\.0\.0\/0|::\/0)$/.test(r)).map((r) => `${group}: ${r}`),
    );
    expect(open.sort()).toEqual(['LoadBalancer/SecurityGroup: tcp 443 <- 0.0.0.0/0', 'LoadBalancer/SecurityGroup: tcp 80 <- 0.0.0.0/0']);
  });

  test('the URLs the pipeline and the smoke test call are HTTPS on the certificate name', () => {
    expect(stack.loadBalancer.productionUrl).toBe(`https://${domain}`);
    expect(stack.loadBalancer.testUrl).toBe(`https://${domain}:${testPort}`);
  });

  if (config.tls.certificateArn) {
    test('an imported certificate: no certificate and no DNS record are created (the operator owns DNS)', () => {
      template.resourceCountIs('AWS::CertificateManager::Certificate', 0);
      template.resourceCountIs('AWS::Route53::RecordSet', 0);
    });
  } else {
    test('a created certificate is DNS-validated in the configured zone, and the name is an alias of the ALB', () => {
      const [, certificate] = ofType('AWS::CertificateManager::Certificate')[0]!;
      expect(certificate.Properties).toMatchObject({
        DomainName: domain,
        ValidationMethod: 'DNS',
        DomainValidationOptions: [{ DomainName: domain, HostedZoneId: config.tls.hostedZoneId }],
      });
      const records = ofType('AWS::Route53::RecordSet');
      expect(records).toHaveLength(1);
      const albId = ofType('AWS::ElasticLoadBalancingV2::LoadBalancer')[0]![0];
      expect(records[0]![1].Properties).toEqual({
        Name: `${domain}.`,
        Type: 'A',
        HostedZoneId: config.tls.hostedZoneId,
        AliasTarget: {
          DNSName: { 'Fn::Join': ['', ['dualstack.', { 'Fn::GetAtt': [albId, 'DNSName'] }]] },
          HostedZoneId: { 'Fn::GetAtt': [albId, 'CanonicalHostedZoneID'] },
        },
      });
    });
  }
});

describe('the load balancer construct on its own', () => {
  const build = (tls: EnvironmentConfig['tls']) => {
    const stack = new Stack(new App(), 'Lb', { env: { account: '111111111111', region: 'us-east-1' } });
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
    const config = shippedConfigs().dev;
    return new LoadBalancer(stack, 'LoadBalancer', {
      vpc,
      config: { ...config, tls },
      accessLogsBucket: new s3.Bucket(stack, 'Logs'),
      natPublicIps: [],
    });
  };

  test('uses the policy AWS recommends, pinned by name', () => {
    expect(TLS_POLICY).toBe(EXPECTED_POLICY);
  });
  test('refuses to build without a domain name, whatever the caller skipped in validation', () => {
    expect(() => build({})).toThrow('tls.domainName: the load balancer serves HTTPS only and needs the name its certificate covers, got: (missing)');
  });
  test('refuses to build without a way to get a certificate', () => {
    expect(() => build({ domainName: 'pay.acme-payments.io' })).toThrow(
      'tls: the load balancer serves HTTPS only: give certificateArn, or hostedZoneId and hostedZoneName to create a certificate, got: {"domainName":"pay.acme-payments.io"}',
    );
  });
});
