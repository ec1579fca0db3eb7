import {
  BatchGetImageCommand,
  DescribeImagesCommand,
  ECRClient,
  ImageAlreadyExistsException,
  ImageDetail,
  ImageNotFoundException,
  PutImageCommand,
  RepositoryNotFoundException,
} from '@aws-sdk/client-ecr';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { EnvironmentName } from '../../lib/config/schema';
import { fakeRuntime } from './fake-runtime';
import { main, readMarkOptions, readVerifyOptions, readWaitOptions } from '../../tools/promote/cli';
import {
  markPromotable,
  marksCommit,
  MarkPromotableOptions,
  PromoteInputError,
  PromoteMarkError,
  PromoteTimeoutError,
  PromoteVerifyError,
  promotableTag,
  verifyPromotedImage,
  VerifyPromotedImageOptions,
  waitForPromotableImage,
  WaitForPromotableImageOptions,
} from '../../tools/promote/promote';
import { inputs } from './mock-inputs';

const ecrMock = mockClient(ECRClient);
const ssmMock = mockClient(SSMClient);

const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const TAG = `sha-${COMMIT}`;
const DIGEST = `sha256:${'d'.repeat(64)}`;
const OTHER_DIGEST = `sha256:${'e'.repeat(64)}`;
const PUSHED_AT = new Date('2026-03-01T09:00:00Z');
const T0 = Date.parse('2026-03-01T10:00:00Z');

const WAIT: WaitForPromotableImageOptions = {
  upstreamRegistryId: '111111111111',
  upstreamRepository: 'tap/payments',
  upstreamEnv: 'dev',
  commit: COMMIT,
  timeoutMs: 600_000,
  pollIntervalMs: 30_000,
};

const VERIFY: VerifyPromotedImageOptions = { registryId: '222222222222', repository: 'tap/payments', commit: COMMIT, expectedDigest: DIGEST };

/** What the upstream deploy step writes (the image runs there) and what its Smoke-Production step writes after the test passed. */
const DEPLOYED_DEV = 'deployed-dev-20260301093000';
const PROMOTABLE_DEV = `promotable-dev-20260301093200-${COMMIT.slice(0, 12)}`;

function image(...tags: string[]): { imageDetails: ImageDetail[] } {
  return { imageDetails: [{ imageDigest: DIGEST, imageTags: [TAG, ...tags], imagePushedAt: PUSHED_AT, repositoryName: 'tap/payments' }] };
}

function notFound(): ImageNotFoundException {
  return new ImageNotFoundException({ message: `The image with imageId {imageTag:'${TAG}'} does not exist`, $metadata: { httpStatusCode: 400 } });
}

function throttling(): Error {
  const error = new Error('Rate exceeded');
  error.name = 'ThrottlingException';
  return Object.assign(error, { $metadata: { httpStatusCode: 400 } });
}

function harness(): { clock: { t: number }; logs: string[]; sleeps: number[]; deps: Parameters<typeof waitForPromotableImage>[1] } {
  const { runtime, ...recorded } = fakeRuntime(T0);
  return {
    ...recorded,
    deps: {
      ecr: new ECRClient({ region: 'eu-west-1' }),
      ...runtime,
    },
  };
}

beforeEach(() => {
  ecrMock.reset();
  ssmMock.reset();
});

describe('waitForPromotableImage', () => {
  test('GIVEN the image already passed its production smoke test upstream THEN returns its digest, tags and push time without waiting', async () => {
    ecrMock.on(DescribeImagesCommand).resolves(image(DEPLOYED_DEV, PROMOTABLE_DEV));
    const { deps, sleeps } = harness();

    const result = await waitForPromotableImage(WAIT, deps);

    expect(result).toEqual({ digest: DIGEST, tags: [TAG, DEPLOYED_DEV, PROMOTABLE_DEV], pushedAt: PUSHED_AT });
    expect(inputs(ecrMock, DescribeImagesCommand)).toEqual([
      { registryId: '111111111111', repositoryName: 'tap/payments', imageIds: [{ imageTag: TAG }] },
    ]);
    expect(sleeps).toEqual([]);
  });

  test('GIVEN the image is not built yet THEN keeps waiting through ImageNotFoundException until it is there and deployed', async () => {
    ecrMock.on(DescribeImagesCommand).rejectsOnce(notFound()).rejectsOnce(notFound()).resolves(image(DEPLOYED_DEV, PROMOTABLE_DEV));
    const { deps, sleeps, logs } = harness();

    await expect(waitForPromotableImage(WAIT, deps)).resolves.toMatchObject({ digest: DIGEST });
    expect(sleeps).toEqual([30_000, 30_000]);
    // Logged once per change of state, not once per poll.
    expect(logs.filter((l) => l.includes(`${TAG} not in ECR repository 111111111111/tap/payments yet`))).toHaveLength(1);
  });

  test('GIVEN the image exists upstream THEN waits through deployed to promotable-<upstream env> (another env tag does not count)', async () => {
    ecrMock
      .on(DescribeImagesCommand)
      .resolvesOnce(image())
      .resolvesOnce(image('deployed-staging-20260101000000', 'promotable-staging-20260101000100'))
      .resolvesOnce(image('deployed-staging-20260101000000', 'promotable-staging-20260101000100', DEPLOYED_DEV))
      .resolves(image('deployed-staging-20260101000000', 'promotable-staging-20260101000100', DEPLOYED_DEV, PROMOTABLE_DEV));
    const { deps, sleeps, logs } = harness();

    const result = await waitForPromotableImage(WAIT, deps);

    expect(result).toEqual({
      digest: DIGEST,
      tags: [TAG, 'deployed-staging-20260101000000', 'promotable-staging-20260101000100', DEPLOYED_DEV, PROMOTABLE_DEV],
      pushedAt: PUSHED_AT,
    });
    expect(sleeps).toEqual([30_000, 30_000, 30_000]);
    const where = '111111111111/tap/payments';
    expect(logs).toEqual([
      `${TAG} (${DIGEST}) is in ECR repository ${where}, not yet tagged deployed-dev-*: waiting for the dev deployment (0s)`,
      `${TAG} (${DIGEST}) is deployed to dev, not yet tagged promotable-dev-*-0123456789ab: waiting for its production smoke test to pass (1m0s)`,
      `${TAG} (${DIGEST}) in ECR repository ${where} passed its dev production smoke test (${PROMOTABLE_DEV}) after 1m30s of waiting`,
    ]);
  });

  test('GIVEN upstream deployed the image but its production smoke test never passed THEN never returns it and times out saying so', async () => {
    // GIVEN the upstream deploy step tagged the image deployed-dev-*, and Smoke-Production failed (so no promotable-dev-*)
    ecrMock.on(DescribeImagesCommand).resolves(image(DEPLOYED_DEV));
    const { deps, sleeps } = harness();

    // WHEN the next environment waits for it
    const error = await waitForPromotableImage({ ...WAIT, timeoutMs: 120_000 }, deps).catch((e: unknown) => e);

    // THEN it is not promoted: the wait times out, naming the smoke test
    expect(error).toBeInstanceOf(PromoteTimeoutError);
    expect(error).toMatchObject({ name: 'PromoteTimeoutError', state: 'not-promotable', digest: DIGEST });
    expect((error as Error).message).toBe(
      `image ${TAG} (${DIGEST}) was deployed to dev but not tagged promotable-dev-*-0123456789ab within 2m0s: its production smoke test has not ` +
        "passed (still running, or failed); see the dev pipeline's Smoke-Production step. An image whose smoke test failed is never promoted",
    );
    // Polled at 0s, 30s, 60s, 90s and 120s; one more would start after the 2-minute limit.
    expect(sleeps).toEqual([30_000, 30_000, 30_000, 30_000]);
    expect(ecrMock.commandCalls(DescribeImagesCommand)).toHaveLength(5);
  });

  test('GIVEN the image never appears THEN times out naming the repository, the tag and how long it waited', async () => {
    ecrMock.on(DescribeImagesCommand).rejects(notFound());
    const { deps, clock } = harness();

    const error = await waitForPromotableImage({ ...WAIT, timeoutMs: 120_000 }, deps).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PromoteTimeoutError);
    expect((error as PromoteTimeoutError).state).toBe('image-not-found');
    expect((error as Error).message).toBe(
      `image ${TAG} did not appear in ECR repository 111111111111/tap/payments within 2m0s: dev has not built commit ${COMMIT} ` +
        "(see its pipeline's build stage), or the commit, account or repository is wrong",
    );
    expect(clock.t - T0).toBeLessThanOrEqual(120_000);
  });

  test('GIVEN the image exists but is never tagged deployed THEN times out saying upstream has not deployed it', async () => {
    ecrMock.on(DescribeImagesCommand).resolves(image('deployed-staging-20260101000000'));
    const { deps } = harness();

    const error = await waitForPromotableImage({ ...WAIT, timeoutMs: 90_000 }, deps).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PromoteTimeoutError);
    expect(error).toMatchObject({ state: 'not-deployed', digest: DIGEST });
    expect((error as Error).message).toBe(
      `image ${TAG} (${DIGEST}) is in ECR repository 111111111111/tap/payments but was not tagged deployed-dev-* within 1m30s: the ` +
        `dev deployment of commit ${COMMIT} has not succeeded (still running or rolled back); see the dev pipeline's deploy step`,
    );
  });

  test.each([
    ['a short SHA', '0123456'],
    ['upper-case hex', COMMIT.toUpperCase()],
    ['a branch name', 'main'],
  ])('GIVEN a commit that is %s THEN fails before any AWS call', async (_label, commit) => {
    const { deps } = harness();

    await expect(waitForPromotableImage({ ...WAIT, commit }, deps)).rejects.toStrictEqual(
      new PromoteInputError(`commit must be a full 40-character lowercase hex git SHA, got: ${JSON.stringify(commit)}`),
    );
    expect(ecrMock.calls()).toHaveLength(0);
  });

  test('GIVEN prod as the upstream environment THEN fails: prod is the last environment', async () => {
    const { deps } = harness();

    await expect(waitForPromotableImage({ ...WAIT, upstreamEnv: 'prod' }, deps)).rejects.toStrictEqual(
      new PromoteInputError('upstream environment must be one of dev, staging (dev -> staging -> prod), got: "prod"'),
    );
    expect(ecrMock.calls()).toHaveLength(0);
  });

  test('GIVEN throttling THEN retries DescribeImages without counting it as a poll', async () => {
    ecrMock.on(DescribeImagesCommand).rejectsOnce(throttling()).rejectsOnce(throttling()).resolves(image(DEPLOYED_DEV, PROMOTABLE_DEV));
    const { deps, logs, sleeps } = harness();

    await expect(waitForPromotableImage(WAIT, deps)).resolves.toMatchObject({ digest: DIGEST });
    expect(ecrMock.commandCalls(DescribeImagesCommand)).toHaveLength(3);
    expect(logs.filter((l) => l.includes('DescribeImages: transient error (ThrottlingException)'))).toHaveLength(2);
    // Two retry back-offs and no poll interval: the third call already answers.
    expect(sleeps).toHaveLength(2);
    expect(sleeps.every((ms) => ms < 30_000)).toBe(true);
  });

  test.each([
    ['a zero timeout', { timeoutMs: 0 }, '0 and 30000'],
    ['a zero poll interval', { pollIntervalMs: 0 }, '600000 and 0'],
    ['a timeout that is not a number', { timeoutMs: Number.NaN }, 'NaN and 30000'],
  ])('GIVEN %s THEN fails before any AWS call', async (_label, override, got) => {
    ecrMock.on(DescribeImagesCommand).rejects(notFound());
    const { deps } = harness();
    const sleep = async (): Promise<void> => {
      throw new Error('must not wait');
    };

    const error = await waitForPromotableImage({ ...WAIT, ...override }, { ...deps, sleep }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PromoteInputError);
    expect(error).toMatchObject({ name: 'PromoteInputError', message: `timeoutMs and pollIntervalMs must be > 0, got: ${got}` });
    expect(ecrMock.calls()).toHaveLength(0);
  });

  test.each([
    [{ upstreamRegistryId: '1111' }, 'upstream registryId must be a 12-digit AWS account id, got: "1111"'],
    [
      { upstreamRepository: 'Tap/Payments' },
      'upstream repository must be an ECR repository name (lowercase, e.g. tap/payments), got: "Tap/Payments"',
    ],
  ])('GIVEN a malformed upstream repository %p THEN fails before any AWS call, naming the upstream setting', async (override, message) => {
    ecrMock.on(DescribeImagesCommand).resolves(image(DEPLOYED_DEV, PROMOTABLE_DEV));
    const { deps } = harness();

    await expect(waitForPromotableImage({ ...WAIT, ...override }, deps)).rejects.toStrictEqual(new PromoteInputError(message));
    expect(ecrMock.calls()).toHaveLength(0);
  });

  test('GIVEN a transient failure that is not an Error object THEN retries it, logging its kind as unknown', async () => {
    ecrMock
      .on(DescribeImagesCommand)
      // A bare object, as a misbehaving layer may reject with: transient by its name, but not an Error.
      .callsFakeOnce(() => Promise.reject({ name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }))
      .resolves(image(DEPLOYED_DEV, PROMOTABLE_DEV));
    const { deps, logs, sleeps } = harness();

    await expect(waitForPromotableImage(WAIT, deps)).resolves.toMatchObject({ digest: DIGEST });
    expect(sleeps).toEqual([100]);
    expect(logs).toEqual([
      'DescribeImages: transient error (unknown), retry 1 in 100ms',
      `${TAG} (${DIGEST}) in ECR repository 111111111111/tap/payments passed its dev production smoke test (${PROMOTABLE_DEV}) after 0s of waiting`,
    ]);
  });

  test('GIVEN the image was marked promotable twice (a re-run Smoke-Production) THEN returns it, logging both marks', async () => {
    const again = `promotable-dev-20260301094500-${COMMIT.slice(0, 12)}`;
    ecrMock.on(DescribeImagesCommand).resolves(image(DEPLOYED_DEV, PROMOTABLE_DEV, again));
    const { deps, logs } = harness();

    await expect(waitForPromotableImage(WAIT, deps)).resolves.toEqual({
      digest: DIGEST,
      tags: [TAG, DEPLOYED_DEV, PROMOTABLE_DEV, again],
      pushedAt: PUSHED_AT,
    });
    expect(logs).toEqual([
      `${TAG} (${DIGEST}) in ECR repository 111111111111/tap/payments passed its dev production smoke test (${PROMOTABLE_DEV}, ${again}) ` +
        'after 0s of waiting',
    ]);
  });

  test.each([
    ['no digest', undefined],
    ['a malformed digest', 'sha256:abc'],
  ])('GIVEN DescribeImages answers with %s THEN fails at once, without waiting or retrying', async (_what, imageDigest) => {
    ecrMock.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageDigest, imageTags: [TAG, DEPLOYED_DEV, PROMOTABLE_DEV] }] });
    const { deps, sleeps } = harness();

    await expect(waitForPromotableImage(WAIT, deps)).rejects.toStrictEqual(
      new Error(`DescribeImages returned no valid digest for ${TAG} in ECR repository 111111111111/tap/payments, got: ${imageDigest}`),
    );
    expect(sleeps).toEqual([]);
    expect(ecrMock.commandCalls(DescribeImagesCommand)).toHaveLength(1);
  });

  test('GIVEN DescribeImages answers without imageTags THEN treats the image as not deployed upstream', async () => {
    ecrMock.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageDigest: DIGEST }] });
    const { deps } = harness();

    const error = await waitForPromotableImage({ ...WAIT, timeoutMs: 30_000 }, deps).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PromoteTimeoutError);
    expect(error).toMatchObject({ state: 'not-deployed', digest: DIGEST });
    expect(ecrMock.commandCalls(DescribeImagesCommand)).toHaveLength(2);
  });

  test('GIVEN the repository does not exist THEN fails at once instead of waiting', async () => {
    ecrMock.on(DescribeImagesCommand).rejects(new RepositoryNotFoundException({ message: 'repository does not exist', $metadata: {} }));
    const { deps, sleeps } = harness();

    await expect(waitForPromotableImage(WAIT, deps)).rejects.toThrow(RepositoryNotFoundException);
    expect(sleeps).toEqual([]);
    expect(ecrMock.commandCalls(DescribeImagesCommand)).toHaveLength(1);
  });
});

describe('verifyPromotedImage', () => {
  test('GIVEN the copy has the upstream digest THEN resolves', async () => {
    ecrMock.on(DescribeImagesCommand).resolves(image());

    await expect(verifyPromotedImage(VERIFY, { ecr: new ECRClient({}) })).resolves.toEqual({ digest: DIGEST, tags: [TAG] });
    expect(inputs(ecrMock, DescribeImagesCommand)).toEqual([
      { registryId: '222222222222', repositoryName: 'tap/payments', imageIds: [{ imageTag: TAG }] },
    ]);
  });

  test('GIVEN the copy has another digest THEN fails hard, naming both digests', async () => {
    ecrMock.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageDigest: OTHER_DIGEST, imageTags: [TAG] }] });

    const error = await verifyPromotedImage(VERIFY, { ecr: new ECRClient({}) }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PromoteVerifyError);
    expect(error).toMatchObject({ name: 'PromoteVerifyError', actualDigest: OTHER_DIGEST });
    expect((error as Error).message).toBe(
      `digest mismatch: 222222222222/tap/payments:${TAG} is ${OTHER_DIGEST} but upstream deployed ${DIGEST}; the copy changed the manifest ` +
        'or the tag already named another build. Do not deploy it: compare with aws ecr describe-images --repository-name tap/payments ' +
        `--image-ids imageTag=${TAG}`,
    );
  });

  test('GIVEN DescribeImages answers without a digest THEN fails hard, saying there is none', async () => {
    ecrMock.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageTags: [TAG] }] });

    const error = await verifyPromotedImage(VERIFY, { ecr: new ECRClient({}) }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PromoteVerifyError);
    expect((error as PromoteVerifyError).actualDigest).toBeUndefined();
    expect((error as Error).message).toBe(
      `digest mismatch: 222222222222/tap/payments:${TAG} is (no digest) but upstream deployed ${DIGEST}; the copy changed the manifest ` +
        'or the tag already named another build. Do not deploy it: compare with aws ecr describe-images --repository-name tap/payments ' +
        `--image-ids imageTag=${TAG}`,
    );
  });

  test('GIVEN the copy carries no tags in the answer THEN resolves with an empty tag list', async () => {
    ecrMock.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageDigest: DIGEST }] });

    await expect(verifyPromotedImage(VERIFY, { ecr: new ECRClient({}) })).resolves.toEqual({ digest: DIGEST, tags: [] });
  });

  test.each([
    [{ registryId: '2222' }, 'registryId must be a 12-digit AWS account id, got: "2222"'],
    [{ repository: 'tap/Payments' }, 'repository must be an ECR repository name (lowercase, e.g. tap/payments), got: "tap/Payments"'],
  ])('GIVEN a malformed repository %p THEN fails before any AWS call', async (override, message) => {
    ecrMock.on(DescribeImagesCommand).resolves(image());

    await expect(verifyPromotedImage({ ...VERIFY, ...override }, { ecr: new ECRClient({}) })).rejects.toStrictEqual(new PromoteInputError(message));
    expect(ecrMock.calls()).toHaveLength(0);
  });

  test('GIVEN the copy is missing THEN fails saying the copy did not push it', async () => {
    ecrMock.on(DescribeImagesCommand).rejects(notFound());

    await expect(verifyPromotedImage(VERIFY, { ecr: new ECRClient({}) })).rejects.toStrictEqual(
      new PromoteVerifyError(`222222222222/tap/payments:${TAG} not found: the copy did not push it; see the crane copy output above`, undefined),
    );
  });

  test('GIVEN throttling THEN retries', async () => {
    ecrMock.on(DescribeImagesCommand).rejectsOnce(throttling()).resolves(image());
    const sleeps: number[] = [];

    await expect(
      verifyPromotedImage(VERIFY, { ecr: new ECRClient({}), sleep: async (ms) => void sleeps.push(ms), retry: { random: () => 0.5 } }),
    ).resolves.toMatchObject({ digest: DIGEST });
    expect(sleeps).toEqual([100]);
  });

  test('GIVEN a malformed expected digest THEN fails before any AWS call', async () => {
    await expect(verifyPromotedImage({ ...VERIFY, expectedDigest: 'd'.repeat(64) }, { ecr: new ECRClient({}) })).rejects.toThrow(
      /expectedDigest must be sha256:<64 lowercase hex>, got: "d{64}"/,
    );
    expect(ecrMock.calls()).toHaveLength(0);
  });
});

describe('promote CLI', () => {
  const WAIT_ENV = {
    UPSTREAM_REGISTRY_ID: '111111111111',
    UPSTREAM_REPOSITORY: 'tap/payments',
    UPSTREAM_ENV: 'dev',
    COMMIT_SHA: COMMIT,
    AWS_REGION: 'eu-west-1',
  };
  const VERIFY_ENV = { REGISTRY_ID: '222222222222', REPOSITORY: 'tap/payments', COMMIT_SHA: COMMIT, EXPECTED_DIGEST: DIGEST };

  function io(): { out: string[]; err: string[]; io: Parameters<typeof main>[2] } {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { out: (l) => out.push(l), err: (l) => err.push(l) } };
  }

  test('readWaitOptions reads the environment with defaults', () => {
    expect(readWaitOptions(WAIT_ENV)).toEqual({ ...WAIT, upstreamRegion: 'eu-west-1', timeoutMs: 60 * 60_000 });
    expect(readWaitOptions({ ...WAIT_ENV, UPSTREAM_REGION: 'eu-central-1', PROMOTE_TIMEOUT_MINUTES: '90' })).toMatchObject({
      upstreamRegion: 'eu-central-1',
      timeoutMs: 90 * 60_000,
    });
    expect(readVerifyOptions(VERIFY_ENV)).toEqual(VERIFY);
  });

  test.each([
    [{ COMMIT_SHA: 'abc123' }, /COMMIT_SHA must be a full 40-character lowercase hex git SHA, got: "abc123"/],
    [{ UPSTREAM_ENV: 'prod' }, /UPSTREAM_ENV must be one of dev, staging, got: "prod"/],
    [{ UPSTREAM_REGISTRY_ID: '1111' }, /UPSTREAM_REGISTRY_ID must be a 12-digit AWS account id, got: "1111"/],
    [{ UPSTREAM_REPOSITORY: 'Tap/Payments' }, /UPSTREAM_REPOSITORY must be an ECR repository name/],
    [{ PROMOTE_TIMEOUT_MINUTES: '0' }, /PROMOTE_TIMEOUT_MINUTES must be between 1 and 480, got: 0/],
    [{ AWS_REGION: undefined }, /set UPSTREAM_REGION \(or AWS_REGION\)/],
    [{ UPSTREAM_REGION: 'Europe' }, /UPSTREAM_REGION must be an AWS region such as eu-west-1, got: "Europe"/],
  ])('readWaitOptions rejects %p', (override, message) => {
    expect(() => readWaitOptions({ ...WAIT_ENV, ...override })).toThrow(message);
  });

  test.each([
    [{ EXPECTED_DIGEST: 'sha256:abc' }, /EXPECTED_DIGEST must be sha256:<64 lowercase hex>/],
    [{ REGISTRY_ID: '' }, /REGISTRY_ID must be set/],
    [{ REPOSITORY: undefined }, /REPOSITORY must be set/],
  ])('readVerifyOptions rejects %p', (override, message) => {
    expect(() => readVerifyOptions({ ...VERIFY_ENV, ...override })).toThrow(message);
  });

  test('wait prints exactly IMAGE_DIGEST and SOURCE_IMAGE on stdout, progress on stderr', async () => {
    ecrMock.on(DescribeImagesCommand).resolves(image(DEPLOYED_DEV, PROMOTABLE_DEV));
    const { out, err, io: cliIo } = io();

    await expect(main(['wait'], WAIT_ENV, cliIo)).resolves.toBe(0);
    expect(out).toEqual([`IMAGE_DIGEST=${DIGEST}`, `SOURCE_IMAGE=111111111111.dkr.ecr.eu-west-1.amazonaws.com/tap/payments@${DIGEST}`]);
    expect(err.join('\n')).toMatch(/passed its dev production smoke test \(promotable-dev-20260301093200-0123456789ab\)/);
  });

  test('verify exits 1 on a digest mismatch and says what failed', async () => {
    ecrMock.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageDigest: OTHER_DIGEST, imageTags: [TAG] }] });
    const { out, err, io: cliIo } = io();

    await expect(main(['verify'], VERIFY_ENV, cliIo)).resolves.toBe(1);
    expect(out).toEqual([]);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(
      new RegExp(`^promote verify: FAILED: digest mismatch: 222222222222/tap/payments:${TAG} is ${OTHER_DIGEST} but upstream deployed ${DIGEST}`),
    );
  });

  test('verify exits 0 when the digest matches', async () => {
    ecrMock.on(DescribeImagesCommand).resolves(image());
    const { err, io: cliIo } = io();

    await expect(main(['verify'], VERIFY_ENV, cliIo)).resolves.toBe(0);
    expect(err.at(-1)).toMatch(new RegExp(`\\] verified: 222222222222/tap/payments:${TAG} is ${DIGEST}, the digest upstream deployed$`));
  });

  test('exits 2 on bad configuration or an unknown command, before any AWS call', async () => {
    const { err, io: cliIo } = io();

    await expect(main(['wait'], { ...WAIT_ENV, COMMIT_SHA: 'HEAD' }, cliIo)).resolves.toBe(2);
    await expect(main(['copy'], WAIT_ENV, cliIo)).resolves.toBe(2);
    expect(err).toEqual([
      'promote wait: bad configuration: COMMIT_SHA must be a full 40-character lowercase hex git SHA, got: "HEAD" (set it in the pipeline\'s promote step environment)',
      'promote: usage: cli.ts wait|verify|mark, got: "copy"',
    ]);
    expect(ecrMock.calls()).toHaveLength(0);
  });

  test('exits 1 naming the permission to check when ECR refuses', async () => {
    const denied = Object.assign(new Error('User is not authorized to perform: ecr:DescribeImages'), { name: 'AccessDeniedException' });
    ecrMock.on(DescribeImagesCommand).rejects(denied);
    const { err, io: cliIo } = io();

    await expect(main(['wait'], WAIT_ENV, cliIo)).resolves.toBe(1);
    expect(err).toEqual([
      'promote wait: FAILED calling ECR (AccessDeniedException): User is not authorized to perform: ecr:DescribeImages; check the repository ' +
        'names and that the CodeBuild role may ecr:DescribeImages there (cross-account: the upstream repository policy must allow it), and ' +
        "for mark ecr:BatchGetImage and ecr:PutImage on this environment's repository",
    ]);
  });
});

describe('a mark names the commit whose release passed', () => {
  const OTHER = 'fedcba9876543210fedcba9876543210fedcba98';

  test("GIVEN the digest carries only another commit's promotable mark (two commits, one byte-identical image) THEN waits, and times out saying so", async () => {
    // GIVEN commit OTHER passed dev on this digest; this commit was built to the same digest but its own release has not passed
    ecrMock.on(DescribeImagesCommand).resolves(image(`sha-${OTHER}`, DEPLOYED_DEV, `promotable-dev-20260301093200-${OTHER.slice(0, 12)}`));
    const { deps } = harness();
    const error = await waitForPromotableImage({ ...WAIT, timeoutMs: 120_000 }, deps).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PromoteTimeoutError);
    expect((error as PromoteTimeoutError).state).toBe('not-promotable');
    expect((error as Error).message).toContain(`not tagged promotable-dev-*-${COMMIT.slice(0, 12)} within 2m0s`);
  });

  test.each([
    [`promotable-dev-20260301093200-${COMMIT.slice(0, 12)}`, true],
    [`promotable-dev-20260301093200-${OTHER.slice(0, 12)}`, false],
    [`promotable-staging-20260301093200-${COMMIT.slice(0, 12)}`, false],
    ['promotable-dev-20260301093200', false],
    [`promotable-dev-2026030109320-${COMMIT.slice(0, 12)}`, false],
    [`promotable-dev-x20260301093200-${COMMIT.slice(0, 12)}`, false],
    [`promotable-dev-202603010932001-${COMMIT.slice(0, 12)}`, false],
  ])('marksCommit(%s, dev, this commit) is %s', (tag, expected) => {
    expect(marksCommit(tag, 'dev', COMMIT)).toBe(expected);
  });

  test("promotableTag names the environment, the UTC time and the commit, within ECR's 128 characters", () => {
    const tag = promotableTag('staging', new Date('2026-03-01T10:00:00Z'), COMMIT);
    expect(tag).toBe('promotable-staging-20260301100000-0123456789ab');
    expect(marksCommit(tag, 'staging', COMMIT)).toBe(true);
    expect(() => promotableTag('dev', new Date(), 'main')).toThrow(/40-character/);
  });
});

describe('markPromotable', () => {
  const MANIFEST = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', layers: [] });
  const MARK: MarkPromotableOptions = {
    image: { registryId: '333333333333', region: 'eu-west-1', repository: 'tap/staging/payment-service', digest: DIGEST },
    imageUri: `333333333333.dkr.ecr.eu-west-1.amazonaws.com/tap/staging/payment-service@${DIGEST}`,
    envName: 'staging',
    imageParameterName: '/tap/staging/app/image-uri',
    commit: COMMIT,
  };
  const RUNNING = MARK.imageUri;
  const markHarness = () => {
    const h = harness();
    return { ...h, deps: { ...h.deps, ssm: new SSMClient({ region: 'eu-west-1' }) } };
  };

  function given(...tags: string[]): void {
    ssmMock.on(GetParameterCommand, { Name: '/tap/staging/app/image-uri' }).resolves({ Parameter: { Value: RUNNING } });
    ecrMock.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageDigest: DIGEST, imageTags: [TAG, ...tags] }] });
    ecrMock.on(BatchGetImageCommand).resolves({
      images: [{ imageId: { imageDigest: DIGEST }, imageManifest: MANIFEST, imageManifestMediaType: 'application/vnd.oci.image.manifest.v1+json' }],
    });
    ecrMock.on(PutImageCommand).resolves({});
  }

  test("GIVEN an image that is not this commit's build THEN refuses and tags nothing", async () => {
    given('deployed-staging-20260301095500');
    const { deps } = markHarness();
    const other = 'fedcba9876543210fedcba9876543210fedcba98';

    const error = await markPromotable({ ...MARK, commit: other }, deps).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PromoteMarkError);
    expect(error).toMatchObject({
      name: 'PromoteMarkError',
      message:
        `333333333333/tap/staging/payment-service@${DIGEST} is not tagged sha-${other} (tags: ${TAG}, deployed-staging-20260301095500): ` +
        `it is not the image of commit ${other}, so this release cannot mark it`,
    });
    expect(ssmMock.calls()).toHaveLength(0);
    expect(ecrMock.commandCalls(PutImageCommand)).toHaveLength(0);
  });

  test.each([
    ['an untagged image', { imageDetails: [{ imageDigest: DIGEST }] }],
    ['no image detail', { imageDetails: [] }],
    ['nothing', {}],
  ])('GIVEN DescribeImages answers with %s THEN refuses, listing no tags, and tags nothing', async (_what, answer) => {
    given();
    ecrMock.on(DescribeImagesCommand).resolves(answer);
    const { deps } = markHarness();

    await expect(markPromotable(MARK, deps)).rejects.toStrictEqual(
      new PromoteMarkError(
        `333333333333/tap/staging/payment-service@${DIGEST} is not tagged ${TAG} (tags: none): it is not the image of commit ${COMMIT}, ` +
          'so this release cannot mark it',
      ),
    );
    expect(ecrMock.commandCalls(PutImageCommand)).toHaveLength(0);
  });

  test('GIVEN an environment name that is not configured THEN fails before any AWS call', async () => {
    given('deployed-staging-20260301095500');
    const { deps } = markHarness();

    const error = await markPromotable({ ...MARK, envName: 'qa' as EnvironmentName }, deps).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PromoteInputError);
    expect(error).toMatchObject({ name: 'PromoteInputError', message: 'environment must be one of dev, staging, prod, got: "qa"' });
    expect(ecrMock.calls()).toHaveLength(0);
    expect(ssmMock.calls()).toHaveLength(0);
  });

  test.each([
    [{ registryId: '3333' }, 'registryId must be a 12-digit AWS account id, got: "3333"'],
    [{ repository: 'Tap/Staging' }, 'repository must be an ECR repository name (lowercase, e.g. tap/payments), got: "Tap/Staging"'],
    [{ digest: 'sha256:abc' }, 'digest must be sha256:<64 lowercase hex>, got: "sha256:abc"'],
  ])('GIVEN a malformed image %p THEN fails before any AWS call', async (override, message) => {
    given('deployed-staging-20260301095500');
    const { deps } = markHarness();

    await expect(markPromotable({ ...MARK, image: { ...MARK.image, ...override } }, deps)).rejects.toStrictEqual(new PromoteInputError(message));
    expect(ecrMock.calls()).toHaveLength(0);
    expect(ssmMock.calls()).toHaveLength(0);
  });

  test('GIVEN ECR refuses DescribeImages for another reason than a missing image THEN fails with that error, not as a refusal to mark', async () => {
    given('deployed-staging-20260301095500');
    const missing = new RepositoryNotFoundException({ message: 'repository does not exist', $metadata: {} });
    ecrMock.on(DescribeImagesCommand).rejects(missing);
    const { deps } = markHarness();

    await expect(markPromotable(MARK, deps)).rejects.toBe(missing);
    expect(ssmMock.calls()).toHaveLength(0);
    expect(ecrMock.commandCalls(PutImageCommand)).toHaveLength(0);
  });

  test('GIVEN throttling on DescribeImages and GetParameter THEN retries each, logging which call, and marks', async () => {
    given('deployed-staging-20260301095500');
    ecrMock
      .on(DescribeImagesCommand)
      .rejectsOnce(throttling())
      .resolves({ imageDetails: [{ imageDigest: DIGEST, imageTags: [TAG, 'deployed-staging-20260301095500'] }] });
    ssmMock
      .on(GetParameterCommand)
      .rejectsOnce(throttling())
      .resolves({ Parameter: { Value: RUNNING } });
    const { deps, logs, sleeps } = markHarness();

    await expect(markPromotable(MARK, deps)).resolves.toEqual({ tag: `promotable-staging-20260301100000-${COMMIT.slice(0, 12)}` });
    expect(sleeps).toEqual([100, 100]);
    expect(logs).toEqual([
      'DescribeImages: transient error (ThrottlingException), retry 1 in 100ms',
      'GetParameter: transient error (ThrottlingException), retry 1 in 100ms',
      `tagged 333333333333/tap/staging/payment-service@${DIGEST} as promotable-staging-20260301100000-0123456789ab: promotable from staging`,
    ]);
    expect(inputs(ssmMock, GetParameterCommand)).toEqual([{ Name: '/tap/staging/app/image-uri' }, { Name: '/tap/staging/app/image-uri' }]);
    expect(ecrMock.commandCalls(PutImageCommand)).toHaveLength(1);
  });

  test('GIVEN the image the deploy step tagged deployed-<env> THEN adds promotable-<env>-<UTC time> to that same digest', async () => {
    given('deployed-staging-20260301095500');
    const { deps, logs } = markHarness();

    await expect(markPromotable(MARK, deps)).resolves.toEqual({ tag: `promotable-staging-20260301100000-${COMMIT.slice(0, 12)}` });

    expect(inputs(ecrMock, DescribeImagesCommand)).toEqual([
      { registryId: '333333333333', repositoryName: 'tap/staging/payment-service', imageIds: [{ imageDigest: DIGEST }] },
    ]);
    expect(inputs(ecrMock, PutImageCommand)).toEqual([
      {
        registryId: '333333333333',
        repositoryName: 'tap/staging/payment-service',
        imageManifest: MANIFEST,
        imageManifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
        imageTag: `promotable-staging-20260301100000-${COMMIT.slice(0, 12)}`,
        imageDigest: DIGEST,
      },
    ]);
    expect(logs.join('\n')).toMatch(
      /tagged 333333333333\/tap\/staging\/payment-service@sha256:d{64} as promotable-staging-20260301100000-0123456789ab/,
    );
  });

  test('GIVEN an image not tagged deployed-<this env> (only another environment, or none) THEN refuses and tags nothing', async () => {
    given('deployed-dev-20260301093000', PROMOTABLE_DEV);
    const { deps } = markHarness();

    const error = await markPromotable(MARK, deps).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PromoteMarkError);
    expect((error as Error).message).toBe(
      `333333333333/tap/staging/payment-service@${DIGEST} is not tagged deployed-staging-* (tags: ${TAG}, deployed-dev-20260301093000, ` +
        `${PROMOTABLE_DEV}): the deploy step has not recorded it as running in staging, so it is not marked promotable`,
    );
    expect(ecrMock.commandCalls(PutImageCommand)).toHaveLength(0);
  });

  test('GIVEN a retry finds the tag already there (ImageAlreadyExistsException) THEN succeeds', async () => {
    given('deployed-staging-20260301095500');
    ecrMock.on(PutImageCommand).rejects(new ImageAlreadyExistsException({ message: 'Image already exists', $metadata: {} }));
    const { deps, logs } = markHarness();

    await expect(markPromotable(MARK, deps)).resolves.toEqual({ tag: `promotable-staging-20260301100000-${COMMIT.slice(0, 12)}` });
    expect(ecrMock.commandCalls(PutImageCommand)).toHaveLength(1);
    expect(logs.at(-1)).toBe(
      `already tagged 333333333333/tap/staging/payment-service@${DIGEST} as promotable-staging-20260301100000-0123456789ab: promotable from staging`,
    );
  });

  test('GIVEN the digest is not in the repository THEN refuses', async () => {
    ecrMock.on(DescribeImagesCommand).rejects(notFound());
    const { deps } = markHarness();

    await expect(markPromotable(MARK, deps)).rejects.toStrictEqual(
      new PromoteMarkError(`333333333333/tap/staging/payment-service@${DIGEST} not found: nothing to mark`),
    );
    expect(ecrMock.commandCalls(PutImageCommand)).toHaveLength(0);
  });

  test.each([
    ['empty', { Parameter: { Value: '' } }],
    ['absent', {}],
  ])('GIVEN the image parameter is %s THEN refuses and tags nothing', async (_what, answer) => {
    given('deployed-staging-20260301095500');
    ssmMock.on(GetParameterCommand).resolves(answer);
    const { deps } = markHarness();

    const error = await markPromotable(MARK, deps).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PromoteMarkError);
    expect((error as Error).message).toBe(
      `333333333333/tap/staging/payment-service@${DIGEST} is not what staging runs now (/tap/staging/app/image-uri is ""): ` +
        'the smoke test that passed tested that image, so this one is not marked promotable',
    );
    expect(ecrMock.commandCalls(PutImageCommand)).toHaveLength(0);
  });

  test('GIVEN production runs another image (a retried smoke test after a rollback) THEN refuses and tags nothing', async () => {
    given('deployed-staging-20260301095500');
    const older = `333333333333.dkr.ecr.eu-west-1.amazonaws.com/tap/staging/payment-service@sha256:${'e'.repeat(64)}`;
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: older } });
    const { deps } = markHarness();

    const error = await markPromotable(MARK, deps).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PromoteMarkError);
    expect((error as Error).message).toBe(
      `333333333333/tap/staging/payment-service@${DIGEST} is not what staging runs now (/tap/staging/app/image-uri is ${JSON.stringify(older)}): ` +
        'the smoke test that passed tested that image, so this one is not marked promotable',
    );
    expect(ecrMock.commandCalls(PutImageCommand)).toHaveLength(0);
  });
});

describe('promote CLI mark', () => {
  const IMAGE_URI = `333333333333.dkr.ecr.eu-west-1.amazonaws.com/tap/staging/payment-service@${DIGEST}`;
  const MARK_ENV = { IMAGE_URI, DEPLOY_ENV: 'staging', IMAGE_PARAMETER_NAME: '/tap/staging/app/image-uri', COMMIT_SHA: COMMIT };

  function io(): { err: string[]; io: Parameters<typeof main>[2] } {
    const err: string[] = [];
    return { err, io: { out: () => undefined, err: (l) => err.push(l) } };
  }

  test('readMarkOptions takes the digest-pinned image of this environment and the environment name', () => {
    expect(readMarkOptions(MARK_ENV)).toEqual({
      image: { registryId: '333333333333', region: 'eu-west-1', repository: 'tap/staging/payment-service', digest: DIGEST },
      imageUri: IMAGE_URI,
      envName: 'staging',
      imageParameterName: '/tap/staging/app/image-uri',
      commit: COMMIT,
    });
  });

  test.each([
    [
      { IMAGE_URI: '333333333333.dkr.ecr.eu-west-1.amazonaws.com/tap/staging/payment-service:latest' },
      /IMAGE_URI must be a digest-pinned private ECR image/,
    ],
    [{ DEPLOY_ENV: 'Prod' }, /DEPLOY_ENV must be one of dev, staging, prod, got: "Prod"/],
    [{ IMAGE_URI: undefined }, /IMAGE_URI must be set/],
    [{ IMAGE_PARAMETER_NAME: undefined }, /IMAGE_PARAMETER_NAME must be set/],
  ])('readMarkOptions rejects %p', (override, message) => {
    expect(() => readMarkOptions({ ...MARK_ENV, ...override })).toThrow(message);
  });

  test('exits 0 after tagging, 1 when the image is not deployed in this environment, 2 on bad configuration', async () => {
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: IMAGE_URI } });
    ecrMock.on(DescribeImagesCommand).resolvesOnce({ imageDetails: [{ imageDigest: DIGEST, imageTags: [TAG, 'deployed-staging-20260301095500'] }] });
    ecrMock.on(BatchGetImageCommand).resolves({ images: [{ imageId: { imageDigest: DIGEST }, imageManifest: '{}' }] });
    ecrMock.on(PutImageCommand).resolves({});
    const ok = io();
    await expect(main(['mark'], MARK_ENV, ok.io)).resolves.toBe(0);
    expect(ok.err).toHaveLength(1);
    expect(ok.err[0]).toMatch(
      new RegExp(
        `\\] tagged 333333333333/tap/staging/payment-service@${DIGEST} as promotable-staging-\\d{14}-0123456789ab: promotable from staging$`,
      ),
    );

    ecrMock.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageDigest: DIGEST, imageTags: [TAG] }] });
    const refused = io();
    await expect(main(['mark'], MARK_ENV, refused.io)).resolves.toBe(1);
    expect(refused.err).toEqual([
      `promote mark: FAILED: 333333333333/tap/staging/payment-service@${DIGEST} is not tagged deployed-staging-* (tags: ${TAG}): the deploy ` +
        'step has not recorded it as running in staging, so it is not marked promotable',
    ]);

    const bad = io();
    const callsBefore = ecrMock.calls().length;
    await expect(main(['mark'], { ...MARK_ENV, DEPLOY_ENV: '' }, bad.io)).resolves.toBe(2);
    expect(bad.err).toEqual([
      "promote mark: bad configuration: environment variable DEPLOY_ENV must be set (non-empty) (set it in the pipeline's promote step environment)",
    ]);
    expect(ecrMock.calls()).toHaveLength(callsBefore);
    expect(ecrMock.commandCalls(PutImageCommand)).toHaveLength(1);
  });
});
