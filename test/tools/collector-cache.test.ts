import { BatchGetImageCommand, ECRClient } from '@aws-sdk/client-ecr';
import { mockClient } from 'aws-sdk-client-mock';
import { ensureCached } from '../../tools/collector-cache/cache';
import { main } from '../../tools/collector-cache/cli';

const REPOSITORY = 'tap-dev-ecr-public/aws-observability/aws-otel-collector';
const DIGEST = `sha256:${'a'.repeat(64)}`;
const noWait = { sleep: async () => undefined, random: () => 0 };

function capture(): { out: string[]; restore: () => void } {
  const out: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((m: string) => void out.push(`out: ${m}`));
  const error = jest.spyOn(console, 'error').mockImplementation((m: string) => void out.push(`err: ${m}`));
  return { out, restore: () => (log.mockRestore(), error.mockRestore()) };
}

describe('the collector image is pulled through the cache before a deployment', () => {
  const ecr = mockClient(ECRClient);
  beforeEach(() => ecr.reset());

  test('GIVEN the cache has (or imports) the image THEN its digest, after one BatchGetImage of exactly that tag', async () => {
    ecr.on(BatchGetImageCommand).resolves({ images: [{ imageId: { imageTag: 'v0.45.1', imageDigest: DIGEST } }] });
    await expect(ensureCached(new ECRClient({}), REPOSITORY, 'v0.45.1', noWait)).resolves.toBe(DIGEST);
    const calls = ecr.commandCalls(BatchGetImageCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0].input).toEqual({
      repositoryName: REPOSITORY,
      imageIds: [{ imageTag: 'v0.45.1' }],
      acceptedMediaTypes: expect.arrayContaining(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.v2+json']),
    });
  });

  test('GIVEN throttling first THEN it retries and succeeds', async () => {
    ecr
      .on(BatchGetImageCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }))
      .resolves({ images: [{ imageId: { imageDigest: DIGEST } }] });
    await expect(ensureCached(new ECRClient({}), REPOSITORY, 'v0.45.1', noWait)).resolves.toBe(DIGEST);
    expect(ecr.commandCalls(BatchGetImageCommand)).toHaveLength(2);
  });

  test('GIVEN ECR cannot import it THEN the error names the image and ECR failure, and the CLI exits 1', async () => {
    ecr.on(BatchGetImageCommand).resolves({ failures: [{ failureCode: 'ImageNotFound', failureReason: 'Requested image not found' }] });
    const io = capture();
    try {
      const code = await main({ COLLECTOR_IMAGE_REPOSITORY: REPOSITORY, COLLECTOR_IMAGE_TAG: 'v0.45.1' }, new ECRClient({}));
      expect(code).toBe(1);
    } finally {
      io.restore();
    }
    expect(io.out).toEqual([
      `err: collector-cache: FAILED: ${REPOSITORY}:v0.45.1 is not in the pull-through cache and ECR could not import it (ImageNotFound: Requested image not found); check that the version exists in ECR Public and that this build may reach it (docs/operations.md#traces)`,
    ]);
  });

  test('GIVEN tracing is off (no variables) THEN nothing is called and it exits 0', async () => {
    const io = capture();
    try {
      expect(await main({}, new ECRClient({}))).toBe(0);
    } finally {
      io.restore();
    }
    expect(ecr.commandCalls(BatchGetImageCommand)).toHaveLength(0);
    expect(io.out).toEqual(['out: collector-cache: tracing is off in this environment; nothing to cache']);
  });

  test.each([
    [{ COLLECTOR_IMAGE_REPOSITORY: REPOSITORY }, 'COLLECTOR_IMAGE_TAG'],
    [
      { COLLECTOR_IMAGE_REPOSITORY: REPOSITORY, COLLECTOR_IMAGE_TAG: 'latest' },
      'COLLECTOR_IMAGE_TAG must be a collector version like v0.45.1, got: "latest"',
    ],
    [
      { COLLECTOR_IMAGE_REPOSITORY: 'Bad Repo', COLLECTOR_IMAGE_TAG: 'v0.45.1' },
      'COLLECTOR_IMAGE_REPOSITORY must be an ECR repository name, got: "Bad Repo"',
    ],
  ])('GIVEN %j THEN a configuration error naming it, exit 2, no call', async (env, message) => {
    const io = capture();
    try {
      expect(await main(env, new ECRClient({}))).toBe(2);
    } finally {
      io.restore();
    }
    expect(ecr.commandCalls(BatchGetImageCommand)).toHaveLength(0);
    expect(io.out).toHaveLength(1);
    expect(io.out[0]).toContain(message);
  });
});
