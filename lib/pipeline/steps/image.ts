import { Duration } from 'aws-cdk-lib';
import { BUILD_CACHE_TAG } from '../../registry/image-repository';
import { INSTALL_CRANE, INSTALL_TRIVY, TRIVY_DB_FLAGS } from './trivy';
import { PipelineStep, TOOLING_RUNTIME } from './types';

/** Variables the image steps export for the deploy and approval actions. */
export const IMAGE_VARIABLES = ['IMAGE_URI', 'IMAGE_DIGEST', 'SCAN_REPORT_URL'] as const;

/** Scans the image in `$IMAGE_URI`: gate on HIGH/CRITICAL (with the checked-in ignore file) and a CycloneDX SBOM. */
const SCAN_IMAGE: readonly string[] = [
  'mkdir -p reports',
  `trivy image ${TRIVY_DB_FLAGS} --scanners vuln,secret --format json --output reports/trivy-image.json "$IMAGE_URI"`,
  `trivy image ${TRIVY_DB_FLAGS} --format cyclonedx --output reports/sbom.cdx.json "$IMAGE_URI"`,
  'npx tsx tools/scan-gate/cli.ts reports/trivy-image.json security/scan-ignore.json',
  'export SCAN_REPORT_URL="$CODEBUILD_BUILD_URL"',
];

/** The digest ECR holds under `$TAG` (`None` or an error when there is none). */
const DESCRIBE_TAGGED_DIGEST =
  'aws ecr describe-images --repository-name "${REPOSITORY_URI#*/}" --image-ids imageTag="$TAG" --query "imageDetails[0].imageDigest" --output text';

/** Environment variables the image steps are given by the pipeline unit. */
export interface ImageStepEnv {
  /** `<account>.dkr.ecr.<region>.amazonaws.com/<repository>` of this environment. */
  readonly REPOSITORY_URI: string;
  readonly REGISTRY: string;
}

/**
 * Builds the service image once (dev): base images from ECR Public (docs/deployments.md, trap 10), tag `sha-<commit>`, push, then
 * scan the pushed digest and keep its SBOM. The image is referred to by digest from here on.
 *
 * BuildKit runs inside the CodeBuild image's own Docker daemon (buildx's default `docker` driver). A
 * `docker-container` builder would first pull `moby/buildkit` from Docker Hub, which limits anonymous pulls per IP
 * address, and every build leaves through the VPC's few NAT addresses. The price: without the containerd image store that
 * driver exports no cache but `inline` (https://docs.docker.com/build/cache/backends/), so the layer cache travels
 * inside the image: every build also moves this repository's one mutable tag `buildcache` onto the image it pushes,
 * and the next build reads the cache back from it. Inline cache holds the final image's layers only (mode=min): the
 * dependency and compile stages run on every build, the runtime stage's layers are reused when their inputs are unchanged.
 */
export function buildImageStep(): PipelineStep {
  return {
    name: 'Build-Image',
    timeout: Duration.minutes(40),
    privileged: true,
    runsLocally: false,
    exportedVariables: IMAGE_VARIABLES,
    buildSpec: {
      version: '0.2',
      env: { shell: 'bash', 'exported-variables': IMAGE_VARIABLES },
      phases: {
        install: { 'runtime-versions': TOOLING_RUNTIME, commands: ['npm ci --no-audit --no-fund', ...INSTALL_TRIVY] },
        pre_build: {
          commands: [
            'aws ecr get-login-password | docker login --username AWS --password-stdin "$REGISTRY"',
            'TAG="sha-$COMMIT_SHA"',
            // The daemon's built-in builder: nothing to pull, nothing from Docker Hub.
            'docker buildx use default',
          ],
        },
        build: {
          commands: [
            // A retry of the same commit (the stage retries failed actions) finds `sha-<commit>` already pushed and
            // immutable: it reuses that image and only scans again, where a second push would be refused.
            `IMAGE_DIGEST=$(${DESCRIBE_TAGGED_DIGEST} 2>/dev/null || true); [ "$IMAGE_DIGEST" != None ] || IMAGE_DIGEST=`,
            'if [ -n "$IMAGE_DIGEST" ]; then echo "$TAG is already in the repository ($IMAGE_DIGEST): reusing it, scanning again"; fi',
            [
              '[ -n "$IMAGE_DIGEST" ] || docker buildx build app',
              '--platform linux/amd64',
              `--cache-from "type=registry,ref=$REPOSITORY_URI:${BUILD_CACHE_TAG}"`,
              '--cache-to type=inline',
              '--provenance=false',
              '--tag "$REPOSITORY_URI:$TAG"',
              `--tag "$REPOSITORY_URI:${BUILD_CACHE_TAG}"`,
              '--push',
            ].join(' '),
            `[ -n "$IMAGE_DIGEST" ] || IMAGE_DIGEST=$(${DESCRIBE_TAGGED_DIGEST})`,
            'export IMAGE_DIGEST IMAGE_URI="$REPOSITORY_URI@$IMAGE_DIGEST"',
            'echo "built $IMAGE_URI"',
            ...SCAN_IMAGE,
          ],
        },
      },
      artifacts: { files: ['reports/trivy-image.json', 'reports/sbom.cdx.json'], name: 'image-scan' },
    },
  };
}

/** Where a downstream environment promotes from. */
export interface PromoteFrom {
  readonly env: string;
  readonly registryId: string;
  readonly repositoryName: string;
  /** How long to wait for the upstream environment to deploy this commit. */
  readonly timeout: Duration;
}

/**
 * Promotes (staging, prod) instead of building: waits until the upstream environment has deployed this commit's image
 * and its production smoke test passed (the `promotable-<upstream>-*` tag the upstream's Smoke-Production step writes
 * after the test, never before), copies that exact digest with crane (byte for byte), verifies the digest, and scans
 * it again with today's vulnerability database.
 */
export function promoteImageStep(from: PromoteFrom): PipelineStep {
  const waitMinutes = Math.floor(from.timeout.toMinutes());
  return {
    name: 'Promote-Image',
    timeout: Duration.minutes(waitMinutes + 20),
    runsLocally: false,
    exportedVariables: IMAGE_VARIABLES,
    buildSpec: {
      version: '0.2',
      env: {
        shell: 'bash',
        variables: {
          UPSTREAM_ENV: from.env,
          UPSTREAM_REGISTRY_ID: from.registryId,
          UPSTREAM_REPOSITORY: from.repositoryName,
          PROMOTE_TIMEOUT_MINUTES: String(waitMinutes),
        },
        'exported-variables': IMAGE_VARIABLES,
      },
      phases: {
        install: { 'runtime-versions': TOOLING_RUNTIME, commands: ['npm ci --no-audit --no-fund', ...INSTALL_TRIVY, ...INSTALL_CRANE] },
        pre_build: {
          commands: [
            'aws ecr get-login-password | crane auth login "$REGISTRY" -u AWS --password-stdin',
            'aws ecr get-login-password | crane auth login "$UPSTREAM_REGISTRY_ID.dkr.ecr.$AWS_REGION.amazonaws.com" -u AWS --password-stdin',
          ],
        },
        build: {
          commands: [
            'eval "$(npx tsx tools/promote/cli.ts wait)"',
            'export REGISTRY_ID="${REGISTRY%%.*}" REPOSITORY="${REPOSITORY_URI#*/}" EXPECTED_DIGEST="$IMAGE_DIGEST"',
            // A retried run finds the copy already there (tags are immutable): verify first, copy only when missing.
            'npx tsx tools/promote/cli.ts verify || { crane copy "$SOURCE_IMAGE" "$REPOSITORY_URI:sha-$COMMIT_SHA" && npx tsx tools/promote/cli.ts verify; }',
            'export IMAGE_URI="$REPOSITORY_URI@$IMAGE_DIGEST"',
            'echo "promoted $SOURCE_IMAGE as $IMAGE_URI"',
            ...SCAN_IMAGE,
          ],
        },
      },
      artifacts: { files: ['reports/trivy-image.json', 'reports/sbom.cdx.json'], name: 'image-scan' },
    },
  };
}
