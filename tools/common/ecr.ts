/**
 * ECR helpers shared by the deploy and promote tools: the image tags the pipeline relies on, parsing and building
 * ECR image URIs, and adding a tag to an image that is already pushed (docs/deployments.md, trap 17).
 */
import { BatchGetImageCommand, ECRClient, PutImageCommand } from '@aws-sdk/client-ecr';

/** Tag the build step gives every image: `sha-<40 hex commit>`. Mirrors BUILD_TAG_PREFIX in lib/registry (a test keeps them equal). */
export const BUILD_TAG_PREFIX = 'sha-';
/**
 * Tag prefix the deploy step adds once an image is deployed and recorded: `deployed-<env>-<UTC yyyymmddhhmmss>`. The
 * repository's lifecycle rules never expire such images. Promotion waits for the `promotable-<env>-*` tag instead
 * (tools/promote), which only a passed production smoke test writes. Mirrors DEPLOYED_TAG_PREFIX in lib/registry.
 */
export const DEPLOYED_TAG_PREFIX = 'deployed-';

/** A full git commit SHA: 40 lowercase hex characters (a short SHA could match two commits). */
export const COMMIT_SHA_PATTERN = /^[a-f0-9]{40}$/;
/** An image digest as ECR reports it. */
export const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;
/** An AWS account id, which is also the ECR registry id. */
export const REGISTRY_ID_PATTERN = /^\d{12}$/;
/** An ECR repository name (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepository.html). */
// eslint-disable-next-line security/detect-unsafe-regex -- every repetition needs a separator character, so matching is linear
export const REPOSITORY_NAME_PATTERN = /^(?=.{2,256}$)(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

/**
 * A private ECR image pinned by digest: `<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]/<repository>@sha256:<64 hex>`.
 * Groups: account, region, repository, digest.
 */
const ECR_IMAGE_URI_PATTERN =
  // eslint-disable-next-line security/detect-unsafe-regex -- every repetition needs a separator ('.', '-', '_' or '/'), so matching is linear
  /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com(?:\.cn)?\/((?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*)@(sha256:[a-f0-9]{64})$/;

/** Where an ECR image lives, as parsed from its URI. */
export interface EcrImageRef {
  /** Account that owns the registry (ECR's `registryId`). */
  readonly registryId: string;
  readonly region: string;
  readonly repository: string;
  /** `sha256:<64 hex>`. */
  readonly digest: string;
}

/** The parts of a digest-pinned ECR image URI, or undefined when `uri` is not one. */
export function parseEcrImageUri(uri: string): EcrImageRef | undefined {
  const match = ECR_IMAGE_URI_PATTERN.exec(uri);
  if (!match) return undefined;
  const [, registryId, region, repository, digest] = match;
  if (!registryId || !region || !repository || !digest) return undefined;
  return { registryId, region, repository, digest };
}

/** `<account>.dkr.ecr.<region>.amazonaws.com/<repository>` (China regions use the `.com.cn` domain). */
export function ecrRepositoryUri(registryId: string, region: string, repository: string): string {
  return `${registryId}.dkr.ecr.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}/${repository}`;
}

/** The build tag of a commit: `sha-<full commit SHA>`. */
export function buildTag(commit: string): string {
  return `${BUILD_TAG_PREFIX}${commit}`;
}

/** `deployed-<env>-<UTC yyyymmddhhmmss>`: sortable by time, and one per deployment since ECR tags are immutable here. */
export function deployedTag(envName: string, at: Date): string {
  const stamp = at.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `${DEPLOYED_TAG_PREFIX}${envName}-${stamp}`;
}

/** True when `error` is the AWS service exception named `name` (matched by name, so it works across SDK copies and mocks). */
export function isAwsError(error: unknown, name: string): boolean {
  return error instanceof Error && error.name === name;
}

/**
 * Every manifest type ECR stores. BatchGetImage without them may convert the manifest (e.g. to Docker v2 schema 2),
 * and a converted manifest hashes to another digest, which PutImage then refuses (ImageDigestDoesNotMatchException).
 */
const ACCEPTED_MANIFEST_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
];

/** Runs one named AWS call, e.g. through withRetry with logging; injected so the caller keeps its retry policy. */
export type AwsCall = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

/**
 * Adds `tag` to the image `ref.digest` in `ref.repository` without pulling or pushing layers: reads the manifest
 * with BatchGetImage and puts it back under the new tag with PutImage. Passing `imageDigest` makes ECR check the
 * manifest still hashes to that digest, so the tag can only ever land on the image that was deployed.
 * Resolves 'already-tagged' when ECR answers ImageAlreadyExistsException (e.g. a retry after a lost response).
 */
export async function tagImage(ref: EcrImageRef, tag: string, ecr: ECRClient, call: AwsCall): Promise<'tagged' | 'already-tagged'> {
  const where = `${ref.registryId}/${ref.repository}@${ref.digest}`;
  const got = await call('BatchGetImage', () =>
    ecr.send(
      new BatchGetImageCommand({
        registryId: ref.registryId,
        repositoryName: ref.repository,
        imageIds: [{ imageDigest: ref.digest }],
        acceptedMediaTypes: ACCEPTED_MANIFEST_TYPES,
      }),
    ),
  );
  const image = got.images?.find((i) => i.imageId?.imageDigest === ref.digest) ?? got.images?.[0];
  if (!image?.imageManifest) {
    const failure = got.failures?.[0];
    const why = failure ? `${failure.failureCode ?? 'failure'}: ${failure.failureReason ?? 'no reason given'}` : 'no image returned';
    throw new Error(`BatchGetImage found no manifest for ${where} (${why})`);
  }
  const manifest = image.imageManifest;
  try {
    await call('PutImage', () =>
      ecr.send(
        new PutImageCommand({
          registryId: ref.registryId,
          repositoryName: ref.repository,
          imageManifest: manifest,
          imageManifestMediaType: image.imageManifestMediaType,
          imageTag: tag,
          imageDigest: ref.digest,
        }),
      ),
    );
    return 'tagged';
  } catch (error) {
    if (isAwsError(error, 'ImageAlreadyExistsException')) return 'already-tagged';
    throw error;
  }
}
