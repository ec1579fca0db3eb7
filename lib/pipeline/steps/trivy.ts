/**
 * Trivy, pinned and checksum-verified (docs/deployments.md, trap 11). The checksum is the release's published SHA-256 of
 * trivy_<version>_Linux-64bit.tar.gz; a mismatch fails the step before anything runs. The vulnerability, Java and
 * checks databases come from their ECR Public mirrors, not ghcr.io (rate limited), and every scan downloads them
 * afresh: CodeBuild offers no local cache to builds in a VPC
 * (https://docs.aws.amazon.com/codebuild/latest/userguide/caching-local.html), and the vulnerability database is
 * rebuilt every six hours (https://trivy.dev/v0.40/docs/vulnerability/db), so a copy kept in an S3 cache would rarely
 * be current: Trivy would download it again anyway, after CodeBuild had spent the time restoring and saving the cache.
 */
export const TRIVY_VERSION = '0.73.0';
export const TRIVY_SHA256 = '2edd39da482bb4e9831962487b68f68e3928ec3137794757f54d00383d79547b';

/**
 * Flags that point Trivy at the ECR Public mirrors of its databases, and keep it from calling anything else (its
 * version check and telemetry host is not on the pipeline's DNS allow list, docs/runbooks/egress-domains.md).
 */
export const TRIVY_DB_FLAGS = [
  '--skip-version-check',
  '--disable-telemetry',
  '--db-repository public.ecr.aws/aquasecurity/trivy-db:2',
  '--java-db-repository public.ecr.aws/aquasecurity/trivy-java-db:1',
  '--checks-bundle-repository public.ecr.aws/aquasecurity/trivy-checks:1',
].join(' ');

export const INSTALL_TRIVY: readonly string[] = [
  `curl -fsSL -o /tmp/trivy.tgz https://github.com/aquasecurity/trivy/releases/download/v${TRIVY_VERSION}/trivy_${TRIVY_VERSION}_Linux-64bit.tar.gz`,
  `echo "${TRIVY_SHA256}  /tmp/trivy.tgz" | sha256sum -c -`,
  'tar -xzf /tmp/trivy.tgz -C /usr/local/bin trivy',
  'trivy --version',
];

/** crane copies an image between registries byte for byte, so the digest survives promotion. */
export const CRANE_VERSION = '0.21.9';
export const CRANE_SHA256 = '5c16d8ddb971cb1d5e6ed8b1e743da8224414eeba2c2762d8f1a61b2f095699e';
export const INSTALL_CRANE: readonly string[] = [
  `curl -fsSL -o /tmp/crane.tgz https://github.com/google/go-containerregistry/releases/download/v${CRANE_VERSION}/go-containerregistry_Linux_x86_64.tar.gz`,
  `echo "${CRANE_SHA256}  /tmp/crane.tgz" | sha256sum -c -`,
  'tar -xzf /tmp/crane.tgz -C /usr/local/bin crane',
  'crane version',
];
