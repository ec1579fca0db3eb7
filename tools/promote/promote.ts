/**
 * Build once, promote: the image built for a commit walks dev -> staging -> prod, each environment with its own ECR
 * repository (possibly in another account). An environment takes an image only after the one before it deployed it
 * and its smoke test passed, which the deploy step records by tagging it `deployed-<env>-<time>` (AWS-TRAPS 17).
 *
 * The pipeline runs {@link waitForPromotableImage} against the upstream repository, copies that digest with
 * `crane copy <src>@<digest> <dst>:sha-<commit>` (crane copies manifests byte for byte, so the digest survives), then
 * {@link verifyPromotedImage} proves the local tag names exactly the digest upstream accepted.
 */
import { DescribeImagesCommand, ECRClient, ImageDetail } from '@aws-sdk/client-ecr';
import { ENVIRONMENT_NAMES, EnvironmentName } from '../../lib/config/schema';
import {
  AwsCall,
  buildTag,
  COMMIT_SHA_PATTERN,
  DEPLOYED_TAG_PREFIX,
  DIGEST_PATTERN,
  isAwsError,
  REGISTRY_ID_PATTERN,
  REPOSITORY_NAME_PATTERN,
} from '../shared/ecr';
import { realSleep, RetryOptions, withRetry } from '../shared/retry';
import { ToolRuntime } from '../shared/runtime';

/** Where to look for the image upstream, and how long to wait for it. */
export interface WaitForPromotableImageOptions {
  /** Account that owns the upstream ECR registry. */
  readonly upstreamRegistryId: string;
  /** The upstream environment's repository name. */
  readonly upstreamRepository: string;
  /** The environment before this one (dev or staging); its deploy step's tag is what is waited for. */
  readonly upstreamEnv: EnvironmentName;
  /** Full 40-hex git commit SHA; the image is found by its build tag `sha-<commit>`. */
  readonly commit: string;
  /** How long to wait for the image to be built and deployed upstream. */
  readonly timeoutMs: number;
  /** Time between two DescribeImages calls. */
  readonly pollIntervalMs: number;
}

/** Side effects, injected so tests control AWS, time and output. */
export interface PromoteDeps extends ToolRuntime {
  /** Client for the upstream repository's region (cross-account access comes from that repository's policy). */
  readonly ecr: ECRClient;
}

/** The image upstream accepted. */
export interface PromotableImage {
  /** `sha256:<64 hex>`: what is copied, and what the copy must still be. */
  readonly digest: string;
  /** Every tag the image carries upstream (the build tag and its `deployed-*` tags). */
  readonly tags: readonly string[];
  /** When it was pushed upstream, if ECR said. */
  readonly pushedAt: Date | undefined;
}

/** Where the copy landed, and the digest it must have. */
export interface VerifyPromotedImageOptions {
  /** Account that owns this environment's registry. */
  readonly registryId: string;
  /** This environment's repository name. */
  readonly repository: string;
  /** Full 40-hex git commit SHA; the copy is tagged `sha-<commit>`. */
  readonly commit: string;
  /** The digest {@link waitForPromotableImage} returned. */
  readonly expectedDigest: string;
}

/** Side effects of {@link verifyPromotedImage}. */
export interface VerifyDeps {
  /** Client for this environment's ECR region. */
  readonly ecr: ECRClient;
  /**
   * Waits between retries.
   * @default - a real timer
   */
  readonly sleep?: (ms: number) => Promise<void>;
  /**
   * Writes one progress line (retries).
   * @default - nothing
   */
  readonly log?: (line: string) => void;
  /**
   * Retry settings for the AWS call.
   * @default - 5 retries, 200 ms base, 10 s cap
   */
  readonly retry?: Omit<RetryOptions, 'sleep'>;
}

/** Input that can never work (malformed commit, digest, account or repository): fix the input, do not retry. */
export class PromoteInputError extends Error {
  override readonly name = 'PromoteInputError';
}

/** Why the wait ran out: the image never appeared upstream, or it did but upstream never tagged it deployed. */
export type PromoteWaitState = 'image-not-found' | 'not-deployed';

/** The image was not promotable within the timeout. */
export class PromoteTimeoutError extends Error {
  override readonly name = 'PromoteTimeoutError';
  constructor(
    message: string,
    /** What was last seen upstream. */
    public readonly state: PromoteWaitState,
    /** The image's digest, when it exists upstream. */
    public readonly digest: string | undefined,
  ) {
    super(message);
  }
}

/** The copy in this environment is missing or is not the digest upstream accepted. Never retried: do not deploy it. */
export class PromoteVerifyError extends Error {
  override readonly name = 'PromoteVerifyError';
  constructor(
    message: string,
    /** The digest found locally, if any. */
    public readonly actualDigest: string | undefined,
  ) {
    super(message);
  }
}

function formatMs(ms: number): string {
  return ms < 60_000 ? `${Math.round(ms / 1000)}s` : `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}

function check(value: string, pattern: RegExp, name: string, what: string): void {
  if (!pattern.test(value)) throw new PromoteInputError(`${name} must be ${what}, got: ${JSON.stringify(value)}`);
}

/** Throws {@link PromoteInputError} unless `commit` is a full 40-hex lowercase git SHA. */
export function validateCommit(commit: string): void {
  check(commit, COMMIT_SHA_PATTERN, 'commit', 'a full 40-character lowercase hex git SHA');
}

/** Throws {@link PromoteInputError} unless `env` can be promoted from: any environment but the last (prod). */
export function validateUpstreamEnv(env: string): void {
  const upstreams = ENVIRONMENT_NAMES.slice(0, -1);
  if (!(upstreams as readonly string[]).includes(env)) {
    throw new PromoteInputError(
      `upstream environment must be one of ${upstreams.join(', ')} (${ENVIRONMENT_NAMES.join(' -> ')}), got: ${JSON.stringify(env)}`,
    );
  }
}

function validateRepository(registryId: string, repository: string, prefix: string): void {
  check(registryId, REGISTRY_ID_PATTERN, `${prefix}registryId`, 'a 12-digit AWS account id');
  check(repository, REPOSITORY_NAME_PATTERN, `${prefix}repository`, 'an ECR repository name (lowercase, e.g. tap/payments)');
}

function retrying(deps: { sleep?: (ms: number) => Promise<void>; log?: (line: string) => void; retry?: Omit<RetryOptions, 'sleep'> }): AwsCall {
  return <T>(what: string, fn: () => Promise<T>): Promise<T> =>
    withRetry(fn, {
      ...deps.retry,
      sleep: deps.sleep ?? realSleep,
      onRetry: (error, attempt, delayMs) =>
        deps.log?.(`${what}: transient error (${error instanceof Error ? error.name : 'unknown'}), retry ${attempt} in ${delayMs}ms`),
    });
}

/** The image tagged `tag`, or undefined when ECR answers ImageNotFoundException. Every other error propagates. */
async function describeByTag(ecr: ECRClient, aws: AwsCall, registryId: string, repository: string, tag: string): Promise<ImageDetail | undefined> {
  try {
    const out = await aws('DescribeImages', () =>
      ecr.send(new DescribeImagesCommand({ registryId, repositoryName: repository, imageIds: [{ imageTag: tag }] })),
    );
    return out.imageDetails?.[0];
  } catch (error) {
    if (isAwsError(error, 'ImageNotFoundException')) return undefined;
    throw error;
  }
}

/**
 * Polls the upstream repository until the image tagged `sha-<commit>` also carries a `deployed-<upstreamEnv>-*` tag,
 * i.e. upstream deployed it and its smoke test passed, and returns its digest. An image that is not there yet is
 * waited for (upstream has not built or deployed it yet). Rejects with {@link PromoteTimeoutError} when the timeout
 * runs out (saying whether the image was missing or only not deployed), {@link PromoteInputError} on bad input, and
 * the AWS error itself for anything else (a missing repository or access denied will not fix itself by waiting).
 */
export async function waitForPromotableImage(opts: WaitForPromotableImageOptions, deps: PromoteDeps): Promise<PromotableImage> {
  validateCommit(opts.commit);
  validateUpstreamEnv(opts.upstreamEnv);
  validateRepository(opts.upstreamRegistryId, opts.upstreamRepository, 'upstream ');
  if (!(opts.timeoutMs > 0) || !(opts.pollIntervalMs > 0)) {
    throw new PromoteInputError(`timeoutMs and pollIntervalMs must be > 0, got: ${opts.timeoutMs} and ${opts.pollIntervalMs}`);
  }
  const { ecr, log, now } = deps;
  const aws = retrying(deps);
  const tag = buildTag(opts.commit);
  const deployedPrefix = `${DEPLOYED_TAG_PREFIX}${opts.upstreamEnv}-`;
  const where = `ECR repository ${opts.upstreamRegistryId}/${opts.upstreamRepository}`;
  const startedAt = now();
  const deadline = startedAt + opts.timeoutMs;
  let lastState = '';

  for (;;) {
    const detail = await describeByTag(ecr, aws, opts.upstreamRegistryId, opts.upstreamRepository, tag);
    const elapsed = now() - startedAt;
    let state: PromoteWaitState = 'image-not-found';
    let digest: string | undefined;
    if (detail) {
      digest = detail.imageDigest;
      if (!digest || !DIGEST_PATTERN.test(digest)) throw new Error(`DescribeImages returned no valid digest for ${tag} in ${where}, got: ${digest}`);
      const tags = detail.imageTags ?? [];
      const deployed = tags.filter((t) => t.startsWith(deployedPrefix));
      if (deployed.length > 0) {
        log(`${tag} (${digest}) in ${where} was deployed to ${opts.upstreamEnv} (${deployed.join(', ')}) after ${formatMs(elapsed)} of waiting`);
        return { digest, tags, pushedAt: detail.imagePushedAt };
      }
      state = 'not-deployed';
    }
    const line =
      state === 'not-deployed'
        ? `${tag} (${digest}) is in ${where}, not yet tagged ${deployedPrefix}*: waiting for the ${opts.upstreamEnv} deployment`
        : `${tag} not in ${where} yet: waiting for ${opts.upstreamEnv} to build it`;
    if (line !== lastState) log(`${line} (${formatMs(elapsed)})`);
    lastState = line;
    if (now() + opts.pollIntervalMs > deadline) {
      const message =
        state === 'not-deployed'
          ? `image ${tag} (${digest}) is in ${where} but was not tagged ${deployedPrefix}* within ${formatMs(opts.timeoutMs)}: the ` +
            `${opts.upstreamEnv} deployment of commit ${opts.commit} has not succeeded (still running, rolled back, or its smoke test ` +
            `failed); see the ${opts.upstreamEnv} pipeline's deploy step`
          : `image ${tag} did not appear in ${where} within ${formatMs(opts.timeoutMs)}: ${opts.upstreamEnv} has not built commit ` +
            `${opts.commit} (see its pipeline's build stage), or the commit, account or repository is wrong`;
      throw new PromoteTimeoutError(message, state, digest);
    }
    await deps.sleep(opts.pollIntervalMs);
  }
}

/**
 * Checks that this environment's `sha-<commit>` image is exactly `expectedDigest`, the digest upstream accepted.
 * Rejects with {@link PromoteVerifyError} when the tag is missing or names another digest, and
 * {@link PromoteInputError} on bad input. Resolves with the digest and the image's tags.
 */
export async function verifyPromotedImage(
  opts: VerifyPromotedImageOptions,
  deps: VerifyDeps,
): Promise<{ readonly digest: string; readonly tags: readonly string[] }> {
  validateCommit(opts.commit);
  validateRepository(opts.registryId, opts.repository, '');
  check(opts.expectedDigest, DIGEST_PATTERN, 'expectedDigest', 'sha256:<64 lowercase hex>');
  const tag = buildTag(opts.commit);
  const where = `${opts.registryId}/${opts.repository}:${tag}`;
  const detail = await describeByTag(deps.ecr, retrying(deps), opts.registryId, opts.repository, tag);
  if (!detail) {
    throw new PromoteVerifyError(`${where} not found: the copy did not push it; see the crane copy output above`, undefined);
  }
  if (detail.imageDigest !== opts.expectedDigest) {
    throw new PromoteVerifyError(
      `digest mismatch: ${where} is ${detail.imageDigest ?? '(no digest)'} but upstream deployed ${opts.expectedDigest}; the copy changed ` +
        `the manifest or the tag already named another build. Do not deploy it: compare with aws ecr describe-images --repository-name ` +
        `${opts.repository} --image-ids imageTag=${tag}`,
      detail.imageDigest,
    );
  }
  return { digest: detail.imageDigest, tags: detail.imageTags ?? [] };
}
