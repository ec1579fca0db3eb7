/**
 * CodeBuild entry of the promotion protocol: `npx tsx tools/promote/cli.ts wait|verify|mark`.
 *
 * `wait` (before the copy): UPSTREAM_REGISTRY_ID, UPSTREAM_REPOSITORY, UPSTREAM_ENV (dev | staging), COMMIT_SHA (40 hex),
 * PROMOTE_TIMEOUT_MINUTES (default 60), UPSTREAM_REGION (default AWS_REGION). Prints exactly two lines on stdout for the
 * buildspec to eval, `IMAGE_DIGEST=sha256:<hex>` and `SOURCE_IMAGE=<upstream repository URI>@sha256:<hex>`; progress goes
 * to stderr so it can never end up in the eval.
 * `verify` (after `crane copy "$SOURCE_IMAGE" <local repository URI>:sha-$COMMIT_SHA`): REGISTRY_ID, REPOSITORY,
 * COMMIT_SHA, EXPECTED_DIGEST (sha256:<hex>, the IMAGE_DIGEST from `wait`).
 * `mark` (in Smoke-Production, after the smoke test passed): IMAGE_URI (digest-pinned, this environment's ECR
 * repository), DEPLOY_ENV (dev | staging | prod), COMMIT_SHA (the image must carry `sha-<commit>`), IMAGE_PARAMETER_NAME.
 * Tags the image `promotable-<env>-<time>-<commit 12>`.
 * Exit codes: 0 done, 1 timed out, digest mismatch, image not deployed here, or AWS error, 2 bad configuration.
 */
import { ECRClient } from '@aws-sdk/client-ecr';
import { SSMClient } from '@aws-sdk/client-ssm';
import { ENVIRONMENT_NAMES } from '../../lib/config/schema';
import { COMMIT_SHA_PATTERN, DIGEST_PATTERN, ecrRepositoryUri, parseEcrImageUri, REGISTRY_ID_PATTERN, REPOSITORY_NAME_PATTERN } from '../common/ecr';
import { ConfigError, intEnv, matchEnv, oneOfEnv, optionalEnv, requireEnv } from '../common/env';
import { realSleep } from '../common/retry';
import {
  markPromotable,
  MarkPromotableOptions,
  PromoteInputError,
  PromoteMarkError,
  PromoteTimeoutError,
  PromoteVerifyError,
  verifyPromotedImage,
  VerifyPromotedImageOptions,
  waitForPromotableImage,
  WaitForPromotableImageOptions,
} from './promote';

/** Time between two DescribeImages calls: an upstream deployment takes minutes, and ECR's API rate limits stay far away. */
const POLL_INTERVAL_MS = 30_000;
// eslint-disable-next-line security/detect-unsafe-regex -- each repetition starts with '-' then letters, the tail is '-' then a digit: linear
const REGION_PATTERN = /^[a-z]{2}(?:-[a-z]+)+-\d$/;
const COMMIT = 'a full 40-character lowercase hex git SHA';
const ACCOUNT = 'a 12-digit AWS account id';
const REPOSITORY = 'an ECR repository name (lowercase, e.g. tap/payments)';

/** `wait` settings plus the upstream region, which the source image URI names. */
export interface WaitSettings extends WaitForPromotableImageOptions {
  readonly upstreamRegion: string;
}

/** Reads and validates the `wait` settings from the environment. */
export function readWaitOptions(env: NodeJS.ProcessEnv): WaitSettings {
  const upstreamEnvs = ENVIRONMENT_NAMES.slice(0, -1);
  const region = optionalEnv(env, 'UPSTREAM_REGION') ?? optionalEnv(env, 'AWS_REGION') ?? optionalEnv(env, 'AWS_DEFAULT_REGION');
  if (region === undefined) throw new ConfigError('set UPSTREAM_REGION (or AWS_REGION): the region of the upstream ECR repository');
  if (!REGION_PATTERN.test(region)) throw new ConfigError(`UPSTREAM_REGION must be an AWS region such as eu-west-1, got: ${JSON.stringify(region)}`);
  return {
    upstreamRegistryId: matchEnv(env, 'UPSTREAM_REGISTRY_ID', REGISTRY_ID_PATTERN, ACCOUNT),
    upstreamRepository: matchEnv(env, 'UPSTREAM_REPOSITORY', REPOSITORY_NAME_PATTERN, REPOSITORY),
    upstreamEnv: oneOfEnv(env, 'UPSTREAM_ENV', upstreamEnvs),
    upstreamRegion: region,
    commit: matchEnv(env, 'COMMIT_SHA', COMMIT_SHA_PATTERN, COMMIT),
    timeoutMs: intEnv(env, 'PROMOTE_TIMEOUT_MINUTES', { min: 1, max: 480 }, 60) * 60_000,
    pollIntervalMs: POLL_INTERVAL_MS,
  };
}

/** Reads and validates the `verify` settings from the environment. */
export function readVerifyOptions(env: NodeJS.ProcessEnv): VerifyPromotedImageOptions {
  return {
    registryId: matchEnv(env, 'REGISTRY_ID', REGISTRY_ID_PATTERN, ACCOUNT),
    repository: matchEnv(env, 'REPOSITORY', REPOSITORY_NAME_PATTERN, REPOSITORY),
    commit: matchEnv(env, 'COMMIT_SHA', COMMIT_SHA_PATTERN, COMMIT),
    expectedDigest: matchEnv(env, 'EXPECTED_DIGEST', DIGEST_PATTERN, 'sha256:<64 lowercase hex> (IMAGE_DIGEST from `promote wait`)'),
  };
}

/** Reads and validates the `mark` settings from the environment. */
export function readMarkOptions(env: NodeJS.ProcessEnv): MarkPromotableOptions {
  const imageUri = requireEnv(env, 'IMAGE_URI');
  const image = parseEcrImageUri(imageUri);
  if (!image) {
    throw new ConfigError(
      'IMAGE_URI must be a digest-pinned private ECR image (<account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<hex>), ' +
        `got: ${JSON.stringify(imageUri)}`,
    );
  }
  return {
    image,
    imageUri,
    envName: oneOfEnv(env, 'DEPLOY_ENV', ENVIRONMENT_NAMES),
    imageParameterName: requireEnv(env, 'IMAGE_PARAMETER_NAME'),
    commit: matchEnv(env, 'COMMIT_SHA', COMMIT_SHA_PATTERN, COMMIT),
  };
}

/** Where the CLI writes: `out` is stdout (eval'd by the buildspec), `err` is everything a person reads. */
export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

const STD_IO: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

async function runWait(env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  const opts = readWaitOptions(env);
  const log = (line: string): void => io.err(`[promote ${new Date().toISOString()}] ${line}`);
  const image = await waitForPromotableImage(opts, { ecr: new ECRClient({ region: opts.upstreamRegion }), sleep: realSleep, now: Date.now, log });
  // Both values match strict patterns (digest, account, region, repository), so eval'ing them in bash is safe.
  io.out(`IMAGE_DIGEST=${image.digest}`);
  io.out(`SOURCE_IMAGE=${ecrRepositoryUri(opts.upstreamRegistryId, opts.upstreamRegion, opts.upstreamRepository)}@${image.digest}`);
  return 0;
}

async function runVerify(env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  const opts = readVerifyOptions(env);
  const log = (line: string): void => io.err(`[promote ${new Date().toISOString()}] ${line}`);
  const result = await verifyPromotedImage(opts, { ecr: new ECRClient({}), log });
  log(`verified: ${opts.registryId}/${opts.repository}:sha-${opts.commit} is ${result.digest}, the digest upstream deployed`);
  return 0;
}

async function runMark(env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  const opts = readMarkOptions(env);
  const log = (line: string): void => io.err(`[promote ${new Date().toISOString()}] ${line}`);
  // The tag goes where the image is: ECR calls go to the image's region.
  await markPromotable(opts, {
    ecr: new ECRClient({ region: opts.image.region }),
    ssm: new SSMClient({ region: opts.image.region }),
    sleep: realSleep,
    now: Date.now,
    log,
  });
  return 0;
}

const COMMANDS: Readonly<Record<string, (env: NodeJS.ProcessEnv, io: CliIo) => Promise<number>>> = {
  wait: runWait,
  verify: runVerify,
  mark: runMark,
};

/** Runs `wait`, `verify` or `mark` and returns the process exit code. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv, io: CliIo = STD_IO): Promise<number> {
  const [command] = argv;
  const run = command !== undefined && Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!run) {
    io.err(`promote: usage: cli.ts wait|verify|mark, got: ${JSON.stringify(command ?? '')}`);
    return 2;
  }
  try {
    return await run(env, io);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof PromoteInputError) {
      io.err(`promote ${command}: bad configuration: ${error.message} (set it in the pipeline's promote step environment)`);
      return 2;
    }
    if (error instanceof PromoteTimeoutError || error instanceof PromoteVerifyError || error instanceof PromoteMarkError) {
      io.err(`promote ${command}: FAILED: ${error.message}`);
      return 1;
    }
    const name = error instanceof Error ? error.name : 'Error';
    io.err(
      `promote ${command}: FAILED calling ECR (${name}): ${(error as Error).message}; check the repository names and that the CodeBuild ` +
        `role may ecr:DescribeImages there (cross-account: the upstream repository policy must allow it), and for mark ` +
        `ecr:BatchGetImage and ecr:PutImage on this environment's repository`,
    );
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2), process.env).then((code) => {
    process.exitCode = code;
  });
}
