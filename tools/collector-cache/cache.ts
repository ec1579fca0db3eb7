/**
 * Makes sure the tracing collector's image is in this account's ECR pull-through cache of ECR Public before a
 * deployment starts tasks that pull it. The first pull of an image through a pull-through cache, with ECR reached over
 * interface endpoints, needs a route to the internet through NAT; the service's tasks have none (their security group
 * allows the AWS endpoints only), while the pipeline's builds do. So the Deploy step pulls the image's manifest once
 * (BatchGetImage, which imports it from the upstream registry on first use) and fails, before the migration and the
 * deployment, when the image cannot be had. Later pulls, the tasks' included, are served from the cache.
 * https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache.html
 */
import { BatchGetImageCommand, ECRClient } from '@aws-sdk/client-ecr';
import { RetryOptions, withRetry } from '../common/retry';

/** The image manifests ECR may answer with (Docker v2 and OCI, single image or index). */
const MANIFEST_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
];

/** The collector image could not be had from the cache (nor imported into it). */
export class CollectorImageError extends Error {
  override readonly name = 'CollectorImageError';
}

/** Returns the digest of `repository:tag`, pulling it through the cache on first use. */
export async function ensureCached(client: ECRClient, repository: string, tag: string, retry: RetryOptions = {}): Promise<string> {
  const response = await withRetry(
    () => client.send(new BatchGetImageCommand({ repositoryName: repository, imageIds: [{ imageTag: tag }], acceptedMediaTypes: MANIFEST_TYPES })),
    retry,
  );
  const digest = response.images?.[0]?.imageId?.imageDigest;
  if (digest) return digest;
  const failure = response.failures?.[0];
  throw new CollectorImageError(
    `${repository}:${tag} is not in the pull-through cache and ECR could not import it` +
      (failure ? ` (${failure.failureCode ?? 'no code'}: ${failure.failureReason ?? 'no reason'})` : '') +
      '; check that the version exists in ECR Public and that this build may reach it (docs/operations.md#traces)',
  );
}
