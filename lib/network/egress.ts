import * as ec2 from 'aws-cdk-lib/aws-ec2';

/** HTTPS: the only port any group sends to AWS APIs, registries and the production listener on. */
export const HTTPS_PORT = 443;

/** The VPC's private ways to AWS: the interface endpoints' security group and the S3 gateway endpoint's prefix list. */
export interface PrivateAwsAccess {
  readonly endpointSecurityGroup: ec2.ISecurityGroup;
  readonly s3PrefixListId: string;
}

/**
 * One purpose a security group sends traffic for, as one rule with one port and one peer (PCI DSS v4.0.1 1.3.2:
 * outbound traffic from the cardholder data environment restricted to what is necessary). The egress table in
 * docs/architecture.md lists every group's flows; test/egress.test.ts holds the template to it.
 * - `aws-endpoints`: HTTPS to the interface endpoints' group (ECR, Logs, Secrets Manager, KMS, STS, SSM, ECS).
 * - `s3`: HTTPS to the S3 prefix list, routed by the gateway endpoint (ECR image layers, artifacts).
 * - `internet`: one TCP port to any address, through NAT; only where the peer's addresses are not ours to know (package
 *   registries, tool downloads, the load balancer's public addresses). The DNS Firewall limits the names it can reach.
 * PostgreSQL to the database is not a flow here: `PaymentsDatabase.allowConnectionsFrom` opens both sides at once.
 */
export type EgressFlow =
  | { readonly to: 'aws-endpoints'; readonly why: string }
  | { readonly to: 's3'; readonly why: string }
  | { readonly to: 'internet'; readonly port: number; readonly why: string };

/** Adds one egress rule per flow to a group created with `allowAllOutbound: false`. */
export function allowEgress(group: ec2.SecurityGroup, access: PrivateAwsAccess, flows: readonly EgressFlow[]): void {
  if (group.allowAllOutbound) throw new Error(`${group.node.path}: egress flows need a group created with allowAllOutbound: false`);
  for (const flow of flows) {
    switch (flow.to) {
      case 'aws-endpoints':
        group.addEgressRule(access.endpointSecurityGroup, ec2.Port.tcp(HTTPS_PORT), flow.why);
        break;
      case 's3':
        group.addEgressRule(ec2.Peer.prefixList(access.s3PrefixListId), ec2.Port.tcp(HTTPS_PORT), flow.why);
        break;
      case 'internet':
        if (!Number.isInteger(flow.port) || flow.port < 1 || flow.port > 65535) {
          throw new Error(`${group.node.path}: egress port must be one port 1-65535, got: ${flow.port}`);
        }
        group.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(flow.port), flow.why);
        break;
    }
  }
}

/**
 * Every pipeline build: `npm ci` from the npm registry, then per step PyPI (cfn-lint, checkov), pinned tools from GitHub
 * releases (Trivy, crane), base images from ECR Public and gcr.io, and AWS APIs that have no endpoint in the VPC
 * (CodeBuild reports, CodePipeline, CodeDeploy, CloudWatch). All of it is HTTPS on 443; endpoint traffic is HTTPS to
 * addresses inside the VPC, which this rule covers too. The DNS Firewall limits the names these builds resolve.
 */
export const BUILD_EGRESS: readonly EgressFlow[] = [
  { to: 'internet', port: HTTPS_PORT, why: 'HTTPS through NAT: registries, pinned tools, AWS APIs (names limited by the DNS Firewall)' },
];
