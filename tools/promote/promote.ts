/**
 * Build once, promote: the image built for a commit walks dev -> staging -> prod, each environment with its own ECR
 * repository (possibly in another account). An environment takes an image only after the one before it deployed it
 * and its production smoke test passed. Two tags say so, written in this order by the upstream pipeline:
 * - `deployed-<env>-<time>`, by the deploy step once ECS reports the deployment SUCCESSFUL: the image runs there, and
 *   the ECR lifecycle rules never expire it (docs/deployments.md, trap 17). Promotion does not trust it: the smoke test has not run yet.
 * - `promotable-<env>-<time>`, by {@link markPromotable} in the Smoke-Production step, after the smoke test passed
 *   against the production URL, and only on an image that already carries `deployed-<env>-*` (so it stays shielded).
 *
 * The next pipeline runs {@link waitForPromotableImage} against the upstream repository, copies that digest with
 * `crane copy <src>@<digest> <dst>:sha-<commit>` (crane copies manifests byte for byte, so the digest survives), then
 * {@link verifyPromotedImage} proves the local tag names exactly the digest upstream accepted.
 */
import { DescribeImagesCommand, ECRClient, ImageDetail } from '@aws-sdk/client-ecr';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { ENVIRONMENT_NAMES, EnvironmentName } from '../../lib/config/schema';
import {
  AwsCall,
  buildTag,
  COMMIT_SHA_PATTERN,
  DEPLOYED_TAG_PREFIX,
  DIGEST_PATTERN,
  EcrImageRef,
  isAwsError,
  REGISTRY_ID_PATTERN,
  REPOSITORY_NAME_PATTERN,
  tagImage,
} from '../common/ecr';
import { realSleep, RetryOptions, withRetry } from '../common/retry';
import { formatMs, ToolRuntime } from '../common/runtime';

/**
 * Tag prefix of an image whose production smoke test passed in an environment:
 * `promotable-<env>-<UTC yyyymmddhhmmss>-<first 12 hex of the commit>`.
 */
export const PROMOTABLE_TAG_PREFIX = 'promotable-';

/** How much of the commit a promotable tag carries (ECR tags stop at 128 characters; 12 hex digits name a commit). */
export const TAG_COMMIT_LENGTH = 12;

/**
 * `promotable-<env>-<UTC yyyymmddhhmmss>-<commit 12>`: one per marking (tags are immutable in these repositories), and
 * per commit. The commit matters because a mark sits on a digest, and two commits can share one (a commit that changes
 * only infrastructure may rebuild a byte-identical image): the next environment promotes the commit whose own release
 * (infrastructure, deploy, smoke test) passed, not one that merely shares its image.
 */
export function promotableTag(envName: string, at: Date, commit: string): string {
  validateCommit(commit);
  return `${PROMOTABLE_TAG_PREFIX}${envName}-${at.toISOString().replace(/[-:T]/g, '').slice(0, 14)}-${commit.slice(0, TAG_COMMIT_LENGTH)}`;
}

/** Whether `tag` marks `commit` promotable from `envName`. */
export function marksCommit(tag: string, envName: string, commit: string): boolean {
  const prefix = `${PROMOTABLE_TAG_PREFIX}${envName}-`;
  const suffix = `-${commit.slice(0, TAG_COMMIT_LENGTH)}`;
  return tag.startsWith(prefix) && tag.endsWith(suffix) && /^\d{14}$/.test(tag.slice(prefix.length, tag.length - suffix.length));
}

/** Where to look for the image upstream, and how long to wait for it. */
export interface WaitForPromotableImageOptions {
  /** Account that owns the upstream ECR registry. */
  readonly upstreamRegistryId: string;
  /** The upstream environment's repository name. */
  readonly upstreamRepository: string;
  /** The environment before this one (dev or staging); its `promotable-<env>-*` tag is what is waited for. */
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
  /** Every tag the image carries upstream (the build tag, its `deployed-*` and `promotable-*` tags). */
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

/**
 * Why the wait ran out: the image never appeared upstream, or upstream never deployed it, or it deployed it but the
 * production smoke test there never passed (still running, failed, or the mark failed).
 */
export type PromoteWaitState = 'image-not-found' | 'not-deployed' | 'not-promotable';

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
 * Polls the upstream repository until the image tagged `sha-<commit>` also carries a `promotable-<upstreamEnv>-*` tag,
 * i.e. upstream deployed it and its production smoke test passed, and returns its digest. `deployed-<upstreamEnv>-*`
 * alone is not enough: it is written before the smoke test. An image that is not there yet is waited for. Rejects with
 * {@link PromoteTimeoutError} when the timeout runs out (saying how far upstream got), {@link PromoteInputError} on bad
 * input, and the AWS error itself for anything else (a missing repository or access denied will not fix itself by waiting).
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
  const promotablePrefix = `${PROMOTABLE_TAG_PREFIX}${opts.upstreamEnv}-*-${opts.commit.slice(0, TAG_COMMIT_LENGTH)}`;
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
      // Only this commit's own mark counts: another commit's release may have passed on the same digest.
      const promotable = tags.filter((t) => marksCommit(t, opts.upstreamEnv, opts.commit));
      if (promotable.length > 0) {
        log(
          `${tag} (${digest}) in ${where} passed its ${opts.upstreamEnv} production smoke test (${promotable.join(', ')}) after ` +
            `${formatMs(elapsed)} of waiting`,
        );
        return { digest, tags, pushedAt: detail.imagePushedAt };
      }
      state = tags.some((t) => t.startsWith(deployedPrefix)) ? 'not-promotable' : 'not-deployed';
    }
    const line = {
      'image-not-found': `${tag} not in ${where} yet: waiting for ${opts.upstreamEnv} to build it`,
      'not-deployed': `${tag} (${digest}) is in ${where}, not yet tagged ${deployedPrefix}*: waiting for the ${opts.upstreamEnv} deployment`,
      'not-promotable':
        `${tag} (${digest}) is deployed to ${opts.upstreamEnv}, not yet tagged ${promotablePrefix}: waiting for its production ` +
        'smoke test to pass',
    }[state];
    if (line !== lastState) log(`${line} (${formatMs(elapsed)})`);
    lastState = line;
    if (now() + opts.pollIntervalMs > deadline) {
      const within = formatMs(opts.timeoutMs);
      const message = {
        'image-not-found':
          `image ${tag} did not appear in ${where} within ${within}: ${opts.upstreamEnv} has not built commit ` +
          `${opts.commit} (see its pipeline's build stage), or the commit, account or repository is wrong`,
        'not-deployed':
          `image ${tag} (${digest}) is in ${where} but was not tagged ${deployedPrefix}* within ${within}: the ` +
          `${opts.upstreamEnv} deployment of commit ${opts.commit} has not succeeded (still running or rolled back); ` +
          `see the ${opts.upstreamEnv} pipeline's deploy step`,
        'not-promotable':
          `image ${tag} (${digest}) was deployed to ${opts.upstreamEnv} but not tagged ${promotablePrefix} within ${within}: ` +
          `its production smoke test has not passed (still running, or failed); see the ${opts.upstreamEnv} pipeline's ` +
          'Smoke-Production step. An image whose smoke test failed is never promoted',
      }[state];
      throw new PromoteTimeoutError(message, state, digest);
    }
    await deps.sleep(opts.pollIntervalMs);
  }
}

/** Which image to mark, and in which environment it passed. */
export interface MarkPromotableOptions {
  /** The image the Smoke-Production step tested, by digest, in this environment's repository. */
  readonly image: EcrImageRef;
  /** The same image as the pipeline passed it (IMAGE_URI), the exact string the deploy step records in SSM. */
  readonly imageUri: string;
  /** This environment: the tag is `promotable-<envName>-<time>-<commit 12>`, and `deployed-<envName>-*` must already be there. */
  readonly envName: EnvironmentName;
  /** The commit this release built or promoted: the image must carry its build tag `sha-<commit>`, and the mark names it. */
  readonly commit: string;
  /**
   * The SSM parameter that names the image this environment runs (written by the deploy step after a successful
   * deployment, and by a rollback through tools/deploy): the image is marked only if it is the one running.
   */
  readonly imageParameterName: string;
}

/** AWS access of `mark`: ECR in the image's region, and SSM for what the environment runs. */
export interface MarkDeps extends PromoteDeps {
  readonly ssm: SSMClient;
}

/** The image is not deployed in this environment, so it cannot be marked promotable. Never retried. */
export class PromoteMarkError extends Error {
  override readonly name = 'PromoteMarkError';
}

/**
 * Tags `image` `promotable-<env>-<UTC time>` after its production smoke test passed. Refuses, with
 * {@link PromoteMarkError}, an image that does not carry `deployed-<env>-*`: the deploy step did not finish for it here,
 * and an unshielded image could be expired by the lifecycle rules while the next environment copies it. Resolves with
 * the tag (also when a retry finds it already there).
 */
export async function markPromotable(opts: MarkPromotableOptions, deps: MarkDeps): Promise<{ readonly tag: string }> {
  if (!(ENVIRONMENT_NAMES as readonly string[]).includes(opts.envName)) {
    throw new PromoteInputError(`environment must be one of ${ENVIRONMENT_NAMES.join(', ')}, got: ${JSON.stringify(opts.envName)}`);
  }
  const { image } = opts;
  validateRepository(image.registryId, image.repository, '');
  check(image.digest, DIGEST_PATTERN, 'digest', 'sha256:<64 lowercase hex>');
  const aws = retrying(deps);
  const where = `${image.registryId}/${image.repository}@${image.digest}`;
  const deployedPrefix = `${DEPLOYED_TAG_PREFIX}${opts.envName}-`;
  let tags: readonly string[];
  try {
    const out = await aws('DescribeImages', () =>
      deps.ecr.send(
        new DescribeImagesCommand({ registryId: image.registryId, repositoryName: image.repository, imageIds: [{ imageDigest: image.digest }] }),
      ),
    );
    tags = out.imageDetails?.[0]?.imageTags ?? [];
  } catch (error) {
    if (isAwsError(error, 'ImageNotFoundException')) throw new PromoteMarkError(`${where} not found: nothing to mark`);
    throw error;
  }
  validateCommit(opts.commit);
  if (!tags.includes(buildTag(opts.commit))) {
    throw new PromoteMarkError(
      `${where} is not tagged ${buildTag(opts.commit)} (tags: ${tags.join(', ') || 'none'}): it is not the image of commit ${opts.commit}, ` +
        'so this release cannot mark it',
    );
  }
  if (!tags.some((t) => t.startsWith(deployedPrefix))) {
    // tags holds the build tag here, so it is never empty.
    throw new PromoteMarkError(
      `${where} is not tagged ${deployedPrefix}* (tags: ${tags.join(', ')}): the deploy step has not recorded it as running in ` +
        `${opts.envName}, so it is not marked promotable`,
    );
  }
  // The smoke test that just passed tested whatever production runs. A retried Smoke-Production action after a rollback
  // (production back on an older image) must not mark the image this execution deployed, whose own smoke test failed.
  const out = await aws('GetParameter', () => deps.ssm.send(new GetParameterCommand({ Name: opts.imageParameterName })));
  const running = out.Parameter?.Value ?? '';
  if (running !== opts.imageUri) {
    throw new PromoteMarkError(
      `${where} is not what ${opts.envName} runs now (${opts.imageParameterName} is ${JSON.stringify(running)}): the smoke test that ` +
        'passed tested that image, so this one is not marked promotable',
    );
  }
  const tag = promotableTag(opts.envName, new Date(deps.now()), opts.commit);
  const outcome = await tagImage(image, tag, deps.ecr, aws);
  deps.log(`${outcome === 'tagged' ? 'tagged' : 'already tagged'} ${where} as ${tag}: promotable from ${opts.envName}`);
  return { tag };
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
