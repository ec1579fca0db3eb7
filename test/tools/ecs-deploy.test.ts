import {
  DescribeServiceDeploymentsCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  ListServiceDeploymentsCommand,
  RegisterTaskDefinitionCommand,
  ServiceDeployment,
  TaskDefinition,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { BatchGetImageCommand, ECRClient, ImageAlreadyExistsException, PutImageCommand } from '@aws-sdk/client-ecr';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { fakeRuntime } from './fake-runtime';
import { main as cliMain } from '../../tools/deploy/cli';
import {
  buildTaskDefinitionInput,
  DeployFailedError,
  DeployImageOptions,
  DeployInputError,
  DeployRecordError,
  DeployTimeoutError,
  deployImage,
} from '../../tools/deploy/ecs-deploy';
import { readDeployOptions } from '../../tools/deploy/cli';
import { inputs } from './mock-inputs';

const ecsMock = mockClient(ECSClient);
const ssmMock = mockClient(SSMClient);
const ecrMock = mockClient(ECRClient);

const DIGEST = 'a'.repeat(64);
const NEW_IMAGE = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/tap/payments@sha256:${DIGEST}`;
const MANIFEST = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', layers: [] });
const OLD_IMAGE = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/tap/payments@sha256:${'b'.repeat(64)}`;
const OLD_TD = 'arn:aws:ecs:eu-west-1:123456789012:task-definition/tap-payments:7';
const NEW_TD = 'arn:aws:ecs:eu-west-1:123456789012:task-definition/tap-payments:8';
const OLD_DEPLOYMENT = 'arn:aws:ecs:eu-west-1:123456789012:service-deployment/tap/payments/old';
const NEW_DEPLOYMENT = 'arn:aws:ecs:eu-west-1:123456789012:service-deployment/tap/payments/new';

const TASK_DEFINITION: TaskDefinition = {
  taskDefinitionArn: OLD_TD,
  family: 'tap-payments',
  revision: 7,
  status: 'ACTIVE',
  taskRoleArn: 'arn:aws:iam::123456789012:role/task',
  executionRoleArn: 'arn:aws:iam::123456789012:role/exec',
  networkMode: 'awsvpc',
  cpu: '512',
  memory: '1024',
  requiresCompatibilities: ['FARGATE'],
  compatibilities: ['EC2', 'FARGATE'],
  requiresAttributes: [{ name: 'com.amazonaws.ecs.capability.logging-driver.awslogs' }],
  registeredAt: new Date('2026-01-01T00:00:00Z'),
  registeredBy: 'arn:aws:sts::123456789012:assumed-role/deployer/session',
  runtimePlatform: { cpuArchitecture: 'ARM64', operatingSystemFamily: 'LINUX' },
  containerDefinitions: [
    {
      name: 'app',
      image: OLD_IMAGE,
      essential: true,
      portMappings: [{ containerPort: 8080 }],
      secrets: [{ name: 'API_KEY', valueFrom: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:api' }],
    },
    { name: 'log-router', image: 'public.ecr.aws/aws-observability/aws-for-fluent-bit:stable', essential: true },
  ],
};
const TAGS = [{ key: 'app', value: 'tap' }];

const T0 = Date.parse('2026-03-01T10:00:00Z');

function harness(): { clock: { t: number }; logs: string[]; sleeps: number[]; deps: Parameters<typeof deployImage>[1] } {
  const { runtime, ...recorded } = fakeRuntime(T0);
  return {
    ...recorded,
    deps: {
      ecs: new ECSClient({ region: 'eu-west-1' }),
      ssm: new SSMClient({ region: 'eu-west-1' }),
      ecr: new ECRClient({ region: 'eu-west-1' }),
      ...runtime,
    },
  };
}

const OPTS: DeployImageOptions = {
  cluster: 'tap',
  service: 'payments',
  containerName: 'app',
  imageUri: NEW_IMAGE,
  envName: 'dev',
  imageParameterName: '/tap/dev/app/image-uri',
  timeoutMs: 600_000,
  pollIntervalMs: 15_000,
};

function givenService(desiredCount = 2): void {
  ecsMock.on(DescribeServicesCommand).resolves({
    services: [{ serviceName: 'payments', status: 'ACTIVE', desiredCount, taskDefinition: OLD_TD, currentServiceDeployment: OLD_DEPLOYMENT }],
  });
  ecsMock.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: TASK_DEFINITION, tags: TAGS });
  ecsMock.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: { ...TASK_DEFINITION, taskDefinitionArn: NEW_TD, revision: 8 } });
  ecsMock.on(UpdateServiceCommand).resolves({ service: { currentServiceDeployment: NEW_DEPLOYMENT } });
  ssmMock.on(PutParameterCommand).resolves({ Version: 2 });
  ecrMock.on(BatchGetImageCommand).resolves({
    images: [
      { imageId: { imageDigest: `sha256:${DIGEST}` }, imageManifest: MANIFEST, imageManifestMediaType: 'application/vnd.oci.image.manifest.v1+json' },
    ],
    failures: [],
  });
  ecrMock.on(PutImageCommand).resolves({ image: { imageId: { imageDigest: `sha256:${DIGEST}`, imageTag: 'deployed-dev-20260301100030' } } });
}

function deploymentStatuses(...deployments: ServiceDeployment[]): void {
  const mock = ecsMock.on(DescribeServiceDeploymentsCommand);
  for (const d of deployments) mock.resolvesOnce({ serviceDeployments: [{ serviceDeploymentArn: NEW_DEPLOYMENT, ...d }] });
}

function awsError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return Object.assign(error, { $metadata: { httpStatusCode: 400 } });
}

function throttling(): Error {
  const error = new Error('Rate exceeded');
  error.name = 'ThrottlingException';
  return Object.assign(error, { $metadata: { httpStatusCode: 400 } });
}

beforeEach(() => {
  ecsMock.reset();
  ssmMock.reset();
  ecrMock.reset();
});

/** Runs the deploy CLI with its console captured: the exit code and the error lines it printed. */
async function runCli(env: NodeJS.ProcessEnv): Promise<{ code: number; errors: string[] }> {
  const errors: string[] = [];
  jest.spyOn(console, 'error').mockImplementation((line: string) => void errors.push(line));
  jest.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    return { code: await cliMain(env), errors };
  } finally {
    jest.restoreAllMocks();
  }
}

/** The timeout error's message: how long it waited, which deployment, and where to look next. */
const notFinished = (within: string, deployment: string): string =>
  `deployment did not finish within ${within} (${deployment}); it may still be running or rolling back, SSM parameter ` +
  '/tap/dev/app/image-uri not written; see ECS console > Clusters > tap > Services > payments > Deployments, or: aws ecs ' +
  'describe-service-deployments --service-deployment-arns <arn>';

describe('deployImage', () => {
  test('GIVEN a deployment that succeeds THEN registers a copy with only the image changed and records the digest in SSM', async () => {
    givenService();
    deploymentStatuses({ status: 'PENDING' }, { status: 'IN_PROGRESS', lifecycleStage: 'BAKE_TIME' }, { status: 'SUCCESSFUL' });
    const { deps, logs, sleeps } = harness();

    const result = await deployImage(OPTS, deps);

    expect(result).toEqual({
      taskDefinitionArn: NEW_TD,
      serviceDeploymentArn: NEW_DEPLOYMENT,
      durationMs: 30_000,
      deployedTag: 'deployed-dev-20260301100030',
    });
    expect(sleeps).toEqual([15_000, 15_000]);
    expect(inputs(ecsMock, DescribeServicesCommand)).toEqual([{ cluster: 'tap', services: ['payments'] }]);
    expect(inputs(ecsMock, DescribeTaskDefinitionCommand)).toEqual([{ taskDefinition: OLD_TD, include: ['TAGS'] }]);
    const registered = ecsMock.commandCalls(RegisterTaskDefinitionCommand)[0]?.args[0].input;
    const [app, router] = TASK_DEFINITION.containerDefinitions ?? [];
    expect(registered).toEqual({
      family: 'tap-payments',
      taskRoleArn: TASK_DEFINITION.taskRoleArn,
      executionRoleArn: TASK_DEFINITION.executionRoleArn,
      networkMode: 'awsvpc',
      cpu: '512',
      memory: '1024',
      requiresCompatibilities: ['FARGATE'],
      runtimePlatform: TASK_DEFINITION.runtimePlatform,
      containerDefinitions: [{ ...app, image: NEW_IMAGE }, router],
      tags: TAGS,
    });
    // Exactly these keys (not even desiredCount: undefined): ECS keeps the running count (and autoscaling's).
    expect(inputs(ecsMock, UpdateServiceCommand)).toStrictEqual([{ cluster: 'tap', service: 'payments', taskDefinition: NEW_TD }]);
    expect(inputs(ecsMock, DescribeServiceDeploymentsCommand)).toEqual([
      { serviceDeploymentArns: [NEW_DEPLOYMENT] },
      { serviceDeploymentArns: [NEW_DEPLOYMENT] },
      { serviceDeploymentArns: [NEW_DEPLOYMENT] },
    ]);
    expect(inputs(ssmMock, PutParameterCommand)).toEqual([{ Name: '/tap/dev/app/image-uri', Value: NEW_IMAGE, Type: 'String', Overwrite: true }]);
    expect(logs).toEqual([
      `service payments: task definition ${OLD_TD}, desiredCount 2`,
      `registered ${NEW_TD} (container app -> ${NEW_IMAGE})`,
      'UpdateService accepted at 2026-03-01T10:00:00.000Z',
      `service deployment ${NEW_DEPLOYMENT}`,
      'deployment PENDING (0s)',
      'deployment IN_PROGRESS / BAKE_TIME (15s)',
      'deployment SUCCESSFUL after 30s',
      `recorded ${NEW_IMAGE} in SSM parameter /tap/dev/app/image-uri`,
      `tagged 123456789012/tap/payments@sha256:${DIGEST} as deployed-dev-20260301100030`,
    ]);
  });

  test('GIVEN a deployment that succeeds THEN, after writing SSM, tags the same digest deployed-<env>-<UTC time> in its ECR repository', async () => {
    givenService();
    deploymentStatuses({ status: 'IN_PROGRESS' }, { status: 'IN_PROGRESS' }, { status: 'SUCCESSFUL' });
    const { deps, logs } = harness();

    await deployImage({ ...OPTS, envName: 'staging' }, deps);

    expect(inputs(ecrMock, BatchGetImageCommand)).toEqual([
      expect.objectContaining({ registryId: '123456789012', repositoryName: 'tap/payments', imageIds: [{ imageDigest: `sha256:${DIGEST}` }] }),
    ]);
    expect(inputs(ecrMock, PutImageCommand)).toEqual([
      {
        registryId: '123456789012',
        repositoryName: 'tap/payments',
        imageManifest: MANIFEST,
        imageManifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
        imageTag: 'deployed-staging-20260301100030',
        imageDigest: `sha256:${DIGEST}`,
      },
    ]);
    const ssmCall = ssmMock.commandCalls(PutParameterCommand)[0];
    const tagCall = ecrMock.commandCalls(PutImageCommand)[0];
    expect(ssmCall && tagCall && ssmCall.calledBefore(tagCall)).toBe(true);
    expect(logs).toContain(`tagged 123456789012/tap/payments@sha256:${DIGEST} as deployed-staging-20260301100030`);
  });

  test('GIVEN the image already carries the tag (ImageAlreadyExistsException) THEN the deploy succeeds', async () => {
    givenService();
    deploymentStatuses({ status: 'SUCCESSFUL' });
    ecrMock.on(PutImageCommand).rejects(new ImageAlreadyExistsException({ message: 'Image already exists', $metadata: {} }));
    const { deps, logs } = harness();

    await expect(deployImage(OPTS, deps)).resolves.toEqual({
      taskDefinitionArn: NEW_TD,
      serviceDeploymentArn: NEW_DEPLOYMENT,
      durationMs: 0,
      deployedTag: 'deployed-dev-20260301100000',
    });
    expect(ecrMock.commandCalls(PutImageCommand)).toHaveLength(1);
    expect(logs.at(-1)).toBe(`already tagged 123456789012/tap/payments@sha256:${DIGEST} as deployed-dev-20260301100000`);
  });

  test('GIVEN tagging fails after a successful deployment THEN fails loudly, saying the deployment succeeded and SSM was written', async () => {
    givenService();
    deploymentStatuses({ status: 'SUCCESSFUL' });
    ecrMock.on(PutImageCommand).rejects(awsError('AccessDeniedException', 'not authorized to perform: ecr:PutImage'));
    const { deps } = harness();

    const error = await deployImage(OPTS, deps).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DeployRecordError);
    expect(error).toMatchObject({ name: 'DeployRecordError', serviceDeploymentArn: NEW_DEPLOYMENT, ssmWritten: true });
    expect((error as Error).message).toBe(
      `ECS deployment ${NEW_DEPLOYMENT} SUCCEEDED (the service runs ${NEW_IMAGE}) and SSM parameter /tap/dev/app/image-uri was written, ` +
        'but tagging the image deployed-dev-20260301100000 in ECR repository 123456789012/tap/payments failed (AccessDeniedException: ' +
        'not authorized to perform: ecr:PutImage): until it is tagged the ECR lifecycle rules may expire the running image ' +
        '(docs/deployments.md, trap 17) and it cannot be marked promotable. Rerun the deploy step (redeploying the same digest is safe); ' +
        "check the role's ecr:BatchGetImage/ecr:PutImage on that repository",
    );
    expect(ssmMock.commandCalls(PutParameterCommand)).toHaveLength(1);
    expect(ecrMock.commandCalls(PutImageCommand)).toHaveLength(1);
  });

  test('GIVEN BatchGetImage reports the digest missing THEN fails after the deployment, naming the failure', async () => {
    givenService();
    deploymentStatuses({ status: 'SUCCESSFUL' });
    ecrMock.on(BatchGetImageCommand).resolves({
      images: [],
      failures: [{ imageId: { imageDigest: `sha256:${DIGEST}` }, failureCode: 'ImageNotFound', failureReason: 'Requested image not found' }],
    });
    const { deps } = harness();

    const error = await deployImage(OPTS, deps).catch((e: unknown) => e);

    // The deployment succeeded and SSM was written; only the tag is missing.
    expect(error).toBeInstanceOf(DeployRecordError);
    expect((error as DeployRecordError).ssmWritten).toBe(true);
    expect((error as Error).message).toMatch(/BatchGetImage found no manifest for .*\(ImageNotFound: Requested image not found\)/);
    expect(ssmMock.commandCalls(PutParameterCommand)).toHaveLength(1);
    expect(ecrMock.commandCalls(PutImageCommand)).toHaveLength(0);
  });

  test('GIVEN the SSM write fails after a successful deployment THEN fails saying SSM was not written and the image was not tagged', async () => {
    givenService();
    deploymentStatuses({ status: 'SUCCESSFUL' });
    ssmMock.on(PutParameterCommand).rejects(awsError('AccessDeniedException', 'not authorized to perform: ssm:PutParameter'));
    const { deps } = harness();

    const error = await deployImage(OPTS, deps).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DeployRecordError);
    expect(error).toMatchObject({ name: 'DeployRecordError', serviceDeploymentArn: NEW_DEPLOYMENT, ssmWritten: false });
    expect((error as Error).message).toBe(
      `ECS deployment ${NEW_DEPLOYMENT} SUCCEEDED (the service runs ${NEW_IMAGE}), but writing SSM parameter /tap/dev/app/image-uri failed ` +
        '(AccessDeniedException: not authorized to perform: ssm:PutParameter), so it still names the previous image and the next ' +
        'infrastructure deploy would roll the service back to it (docs/deployments.md, trap 1); the image was NOT tagged deployed-dev-* ' +
        "either. Rerun the deploy step (redeploying the same digest is safe); check the role's ssm:PutParameter",
    );
    expect(ecrMock.calls()).toHaveLength(0);
  });

  test('GIVEN ECS rolls back THEN rejects with status, reason and rollback info, and SSM is not written', async () => {
    givenService();
    deploymentStatuses(
      { status: 'IN_PROGRESS' },
      {
        status: 'ROLLBACK_SUCCESSFUL',
        statusReason: 'Service deployment rolled back because of alarm',
        rollback: { reason: 'alarm tap-5xx in ALARM', serviceRevisionArn: 'arn:aws:ecs:eu-west-1:123456789012:service-revision/tap/payments/1' },
        alarms: { triggeredAlarmNames: ['tap-5xx'] },
      },
    );
    const { deps, logs } = harness();

    const error = await deployImage(OPTS, deps).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DeployFailedError);
    const failed = error as DeployFailedError;
    expect(failed).toMatchObject({
      name: 'DeployFailedError',
      serviceDeploymentArn: NEW_DEPLOYMENT,
      status: 'ROLLBACK_SUCCESSFUL',
      statusReason: 'Service deployment rolled back because of alarm',
    });
    const detail =
      'status ROLLBACK_SUCCESSFUL; reason: Service deployment rolled back because of alarm; ' +
      'rollback to arn:aws:ecs:eu-west-1:123456789012:service-revision/tap/payments/1 (alarm tap-5xx in ALARM); alarms: tap-5xx';
    expect(failed.message).toBe(
      `ECS deployment ${NEW_DEPLOYMENT} did not succeed: ${detail}. SSM parameter /tap/dev/app/image-uri not written; ` +
        'see ECS console > Clusters > tap > Services > payments > Deployments, or: aws ecs describe-service-deployments --service-deployment-arns <arn>',
    );
    expect(logs.slice(-2)).toEqual(['deployment IN_PROGRESS (0s)', `deployment failed after 15s: ${detail}`]);
    expect(ssmMock.commandCalls(PutParameterCommand)).toHaveLength(0);
    expect(ecrMock.calls()).toHaveLength(0);
  });

  test.each(['ROLLBACK_REQUESTED', 'ROLLBACK_IN_PROGRESS', 'ROLLBACK_FAILED', 'STOPPED', 'STOP_REQUESTED'] as const)(
    'GIVEN status %s THEN fails without writing SSM and without retrying',
    async (status) => {
      givenService();
      deploymentStatuses({ status, statusReason: 'stopped by a newer deployment' });
      const { deps } = harness();

      const error = await deployImage(OPTS, deps).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(DeployFailedError);
      expect(error).toMatchObject({ status, statusReason: 'stopped by a newer deployment', serviceDeploymentArn: NEW_DEPLOYMENT });
      expect((error as Error).message).toContain(`status ${status}; reason: stopped by a newer deployment`);
      expect(ecsMock.commandCalls(DescribeServiceDeploymentsCommand)).toHaveLength(1);
      expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(1);
      expect(ssmMock.commandCalls(PutParameterCommand)).toHaveLength(0);
      expect(ecrMock.calls()).toHaveLength(0);
    },
  );

  test('GIVEN the deployment never finishes THEN times out with the duration, ARN and a console hint', async () => {
    givenService();
    ecsMock.on(DescribeServiceDeploymentsCommand).resolves({ serviceDeployments: [{ serviceDeploymentArn: NEW_DEPLOYMENT, status: 'IN_PROGRESS' }] });
    const { deps, clock, logs, sleeps } = harness();

    const error = await deployImage({ ...OPTS, timeoutMs: 120_000 }, deps).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DeployTimeoutError);
    expect(error).toMatchObject({ name: 'DeployTimeoutError', serviceDeploymentArn: NEW_DEPLOYMENT });
    expect((error as Error).message).toBe(notFinished('2m0s', `deployment ${NEW_DEPLOYMENT}`));
    // Polled at 0s, 15s, ... and exactly at the deadline (2m0s), never past it; an unchanged state is logged once.
    expect(ecsMock.commandCalls(DescribeServiceDeploymentsCommand)).toHaveLength(9);
    expect(sleeps).toEqual(Array(8).fill(15_000));
    expect(clock.t - T0).toBe(120_000);
    expect(logs.slice(-2)).toEqual([`service deployment ${NEW_DEPLOYMENT}`, 'deployment IN_PROGRESS (0s)']);
    expect(ssmMock.commandCalls(PutParameterCommand)).toHaveLength(0);
    expect(ecrMock.calls()).toHaveLength(0);
  });

  test('GIVEN throttling on several calls THEN retries them and succeeds', async () => {
    givenService();
    ecsMock
      .on(DescribeServicesCommand)
      .rejectsOnce(throttling())
      .resolves({ services: [{ status: 'ACTIVE', desiredCount: 2, taskDefinition: OLD_TD }] });
    ecsMock
      .on(UpdateServiceCommand)
      .rejectsOnce(throttling())
      .resolves({ service: { currentServiceDeployment: NEW_DEPLOYMENT } });
    ecsMock
      .on(DescribeServiceDeploymentsCommand)
      .rejectsOnce(throttling())
      .resolves({ serviceDeployments: [{ serviceDeploymentArn: NEW_DEPLOYMENT, status: 'SUCCESSFUL' }] });
    ssmMock.on(PutParameterCommand).rejectsOnce(throttling()).resolves({ Version: 3 });
    ecrMock.on(PutImageCommand).rejectsOnce(throttling()).resolves({});
    const { deps, logs } = harness();

    await expect(deployImage(OPTS, deps)).resolves.toMatchObject({ serviceDeploymentArn: NEW_DEPLOYMENT });
    expect(ecsMock.commandCalls(DescribeServicesCommand)).toHaveLength(2);
    expect(ecsMock.commandCalls(DescribeServiceDeploymentsCommand)).toHaveLength(2);
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(2);
    expect(ssmMock.commandCalls(PutParameterCommand)).toHaveLength(2);
    expect(ecrMock.commandCalls(PutImageCommand)).toHaveLength(2);
    expect(logs.filter((l) => l.includes('ThrottlingException'))).toHaveLength(5);
  });

  test('GIVEN UpdateService still shows the old deployment THEN finds the new one with ListServiceDeployments', async () => {
    givenService();
    ecsMock.on(UpdateServiceCommand).resolves({ service: { currentServiceDeployment: OLD_DEPLOYMENT } });
    ecsMock
      .on(ListServiceDeploymentsCommand)
      .resolvesOnce({ serviceDeployments: [] })
      .resolves({
        serviceDeployments: [
          { serviceDeploymentArn: 'arn:older', createdAt: new Date(T0 + 1) },
          { serviceDeploymentArn: NEW_DEPLOYMENT, createdAt: new Date(T0 + 2) },
        ],
      });
    deploymentStatuses({ status: 'SUCCESSFUL' });
    const { deps, sleeps } = harness();

    await expect(deployImage(OPTS, deps)).resolves.toMatchObject({ serviceDeploymentArn: NEW_DEPLOYMENT, durationMs: 15_000 });
    expect(sleeps).toEqual([15_000]);
    const listInput = { cluster: 'tap', service: 'payments', createdAt: { after: new Date(T0) } };
    // The first listing is empty (not visible yet): listed again after one poll interval, then the newest is polled.
    expect(inputs(ecsMock, ListServiceDeploymentsCommand)).toEqual([listInput, listInput]);
    expect(inputs(ecsMock, DescribeServiceDeploymentsCommand)).toEqual([{ serviceDeploymentArns: [NEW_DEPLOYMENT] }]);
  });

  test('GIVEN the container name is not in the task definition THEN fails naming it and the containers found', async () => {
    givenService();
    const { deps } = harness();

    await expect(deployImage({ ...OPTS, containerName: 'web' }, deps)).rejects.toStrictEqual(
      new DeployInputError(`container "web" not found in ${OLD_TD}; it has: app, log-router`),
    );
    expect(ecsMock.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(0);
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  test.each([
    ['a tag', '123456789012.dkr.ecr.eu-west-1.amazonaws.com/tap/payments:latest'],
    ['a short digest', '123456789012.dkr.ecr.eu-west-1.amazonaws.com/tap/payments@sha256:abc'],
    ['no registry', `payments@sha256:${DIGEST}`],
    ['upper-case hex', `123456789012.dkr.ecr.eu-west-1.amazonaws.com/tap/payments@sha256:${'A'.repeat(64)}`],
  ])('GIVEN an image URI with %s THEN fails before any AWS call', async (_label, imageUri) => {
    const { deps } = harness();

    await expect(deployImage({ ...OPTS, imageUri }, deps)).rejects.toStrictEqual(
      new DeployInputError(`image URI must be <registry>/<repository>@sha256:<64 lowercase hex>, got: ${JSON.stringify(imageUri)}`),
    );
    expect(ecsMock.calls()).toHaveLength(0);
    expect(ssmMock.calls()).toHaveLength(0);
    expect(ecrMock.calls()).toHaveLength(0);
  });

  test('GIVEN an image outside private ECR THEN fails before any AWS call, since it could not be tagged', async () => {
    const { deps } = harness();
    const imageUri = `ghcr.io/acme/payments@sha256:${DIGEST}`;

    await expect(deployImage({ ...OPTS, imageUri }, deps)).rejects.toStrictEqual(
      new DeployInputError(
        'image URI must be in a private ECR repository (<account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<digest>) so the deploy step ' +
          `can tag it deployed-<env>-<time> (docs/deployments.md, trap 17), got: "${imageUri}"`,
      ),
    );
    expect(ecsMock.calls()).toHaveLength(0);
  });

  test('GIVEN the service runs 0 tasks (first deploy) THEN UpdateService sets the desired count', async () => {
    givenService(0);
    deploymentStatuses({ status: 'SUCCESSFUL' });
    const { deps, logs } = harness();

    await deployImage({ ...OPTS, desiredCountIfZero: 2 }, deps);

    expect(logs.slice(0, 3)).toEqual([
      `service payments: task definition ${OLD_TD}, desiredCount 0`,
      'service has desiredCount 0: first deploy, setting desiredCount 2',
      `registered ${NEW_TD} (container app -> ${NEW_IMAGE})`,
    ]);
    expect(inputs(ecsMock, UpdateServiceCommand)).toEqual([{ cluster: 'tap', service: 'payments', taskDefinition: NEW_TD, desiredCount: 2 }]);
  });

  test('GIVEN the service runs 0 tasks and no desired count is given THEN fails instead of deploying nothing', async () => {
    givenService(0);
    const { deps } = harness();

    await expect(deployImage(OPTS, deps)).rejects.toStrictEqual(
      new DeployInputError('service payments has desiredCount 0 (first deploy after seed-image?); set the desired count to start it, got: undefined'),
    );
    expect(ecsMock.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(0);
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  test('GIVEN the service runs 0 tasks and the desired count given is 0 THEN fails instead of deploying nothing', async () => {
    givenService(0);
    const { deps } = harness();

    await expect(deployImage({ ...OPTS, desiredCountIfZero: 0 }, deps)).rejects.toStrictEqual(
      new DeployInputError('service payments has desiredCount 0 (first deploy after seed-image?); set the desired count to start it, got: 0'),
    );
    expect(ecsMock.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(0);
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  test('GIVEN an environment name outside dev, staging, prod THEN fails with DeployInputError before any AWS call', async () => {
    const { deps } = harness();

    const error = await deployImage({ ...OPTS, envName: 'qa' as DeployImageOptions['envName'] }, deps).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DeployInputError);
    expect(error).toMatchObject({ name: 'DeployInputError', message: 'envName must be one of dev, staging, prod, got: "qa"' });
    expect(ecsMock.calls()).toHaveLength(0);
  });

  test.each([
    [0, 15_000],
    [-1, 15_000],
    [Number.NaN, 15_000],
    [600_000, 0],
    [600_000, -15_000],
    [600_000, Number.NaN],
  ])('GIVEN timeoutMs %p and pollIntervalMs %p THEN fails before any AWS call', async (timeoutMs, pollIntervalMs) => {
    const { deps } = harness();

    await expect(deployImage({ ...OPTS, timeoutMs, pollIntervalMs }, deps)).rejects.toStrictEqual(
      new DeployInputError(`timeoutMs and pollIntervalMs must be > 0, got: ${timeoutMs} and ${pollIntervalMs}`),
    );
    expect(ecsMock.calls()).toHaveLength(0);
  });

  test('GIVEN the service is missing from the cluster THEN fails with the reason ECS gives', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({
      services: [],
      failures: [{ arn: 'arn:aws:ecs:eu-west-1:123456789012:service/tap/payments', reason: 'MISSING' }],
    });
    const { deps } = harness();

    await expect(deployImage(OPTS, deps)).rejects.toStrictEqual(new DeployInputError('service payments not found in cluster tap: MISSING'));
    expect(ecsMock.calls()).toHaveLength(1);
  });

  test('GIVEN DescribeServices answers with neither services nor failures THEN fails saying no service was returned', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({});
    const { deps } = harness();

    await expect(deployImage(OPTS, deps)).rejects.toStrictEqual(
      new DeployInputError('service payments not found in cluster tap: no service returned'),
    );
    expect(ecsMock.calls()).toHaveLength(1);
  });

  test.each(['DRAINING', 'INACTIVE'])('GIVEN the service is %s THEN fails before registering anything', async (status) => {
    givenService();
    ecsMock.on(DescribeServicesCommand).resolves({ services: [{ serviceName: 'payments', status, desiredCount: 2, taskDefinition: OLD_TD }] });
    const { deps } = harness();

    await expect(deployImage(OPTS, deps)).rejects.toStrictEqual(new DeployInputError(`service payments is ${status}, expected ACTIVE`));
    expect(ecsMock.calls()).toHaveLength(1);
  });

  test('GIVEN DescribeServices leaves out the status, name and desired count THEN deploys, logging the configured name and "?"', async () => {
    givenService();
    ecsMock.on(DescribeServicesCommand).resolves({ services: [{ taskDefinition: OLD_TD }] });
    deploymentStatuses({ status: 'SUCCESSFUL' });
    const { deps, logs } = harness();

    await expect(deployImage(OPTS, deps)).resolves.toMatchObject({ serviceDeploymentArn: NEW_DEPLOYMENT });
    expect(logs[0]).toBe(`service payments: task definition ${OLD_TD}, desiredCount ?`);
    expect(inputs(ecsMock, UpdateServiceCommand)).toStrictEqual([{ cluster: 'tap', service: 'payments', taskDefinition: NEW_TD }]);
  });

  test('GIVEN the service has no task definition THEN fails before describing one', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({ services: [{ serviceName: 'payments', status: 'ACTIVE', desiredCount: 2 }] });
    const { deps } = harness();

    await expect(deployImage(OPTS, deps)).rejects.toStrictEqual(new DeployInputError('service payments has no task definition'));
    expect(ecsMock.calls()).toHaveLength(1);
  });

  test('GIVEN DescribeTaskDefinition answers without the task definition THEN fails before registering one', async () => {
    givenService();
    ecsMock.on(DescribeTaskDefinitionCommand).resolves({});
    const { deps } = harness();

    await expect(deployImage(OPTS, deps)).rejects.toStrictEqual(new DeployInputError(`task definition ${OLD_TD} could not be described`));
    expect(ecsMock.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(0);
  });

  test('GIVEN RegisterTaskDefinition answers without an ARN THEN fails before updating the service', async () => {
    givenService();
    ecsMock.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: { family: 'tap-payments' } });
    const { deps } = harness();

    await expect(deployImage(OPTS, deps)).rejects.toStrictEqual(new Error('RegisterTaskDefinition returned no task definition ARN'));
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  test('GIVEN cluster and service given as ARNs THEN the console hint names them by name', async () => {
    givenService();
    deploymentStatuses({ status: 'STOPPED' });
    const { deps, logs } = harness();
    const cluster = 'arn:aws:ecs:eu-west-1:123456789012:cluster/tap';
    const service = 'arn:aws:ecs:eu-west-1:123456789012:service/tap/payments';

    const error = await deployImage({ ...OPTS, cluster, service }, deps).catch((e: unknown) => e);

    expect((error as Error).message).toBe(
      `ECS deployment ${NEW_DEPLOYMENT} did not succeed: status STOPPED. SSM parameter /tap/dev/app/image-uri not written; see ECS console > ` +
        'Clusters > tap > Services > payments > Deployments, or: aws ecs describe-service-deployments --service-deployment-arns <arn>',
    );
    expect(inputs(ecsMock, DescribeServicesCommand)).toEqual([{ cluster, services: [service] }]);
    expect(inputs(ecsMock, UpdateServiceCommand)).toEqual([{ cluster, service, taskDefinition: NEW_TD }]);
    // The name ECS reports, not the ARN it was asked with.
    expect(logs[0]).toBe(`service payments: task definition ${OLD_TD}, desiredCount 2`);
  });

  test.each<[string, ServiceDeployment, string]>([
    ['no reason', { status: 'ROLLBACK_REQUESTED' }, 'status ROLLBACK_REQUESTED'],
    [
      'a rollback to an unnamed revision without a reason',
      { status: 'ROLLBACK_IN_PROGRESS', rollback: { startedAt: new Date(T0 + 60_000) } },
      'status ROLLBACK_IN_PROGRESS; rollback to previous revision started 2026-03-01T10:01:00.000Z',
    ],
    [
      'a named rollback with a start time and reason',
      {
        status: 'ROLLBACK_SUCCESSFUL',
        rollback: { serviceRevisionArn: 'arn:rev/1', startedAt: new Date(T0 + 60_000), reason: 'circuit breaker' },
      },
      'status ROLLBACK_SUCCESSFUL; rollback to arn:rev/1 started 2026-03-01T10:01:00.000Z (circuit breaker)',
    ],
    [
      'several alarms',
      { status: 'ROLLBACK_FAILED', alarms: { status: 'TRIGGERED', triggeredAlarmNames: ['tap-5xx', 'tap-latency'] } },
      'status ROLLBACK_FAILED; alarms: tap-5xx, tap-latency',
    ],
    ['no triggered alarm', { status: 'STOPPED', alarms: { status: 'MONITORING', triggeredAlarmNames: [] } }, 'status STOPPED'],
    [
      'a triggered circuit breaker',
      { status: 'ROLLBACK_SUCCESSFUL', deploymentCircuitBreaker: { status: 'TRIGGERED', failureCount: 3, threshold: 3 } },
      'status ROLLBACK_SUCCESSFUL; circuit breaker: 3/3 failed tasks',
    ],
    [
      'a triggered circuit breaker without counts',
      { status: 'STOP_REQUESTED', deploymentCircuitBreaker: { status: 'TRIGGERED' } },
      'status STOP_REQUESTED; circuit breaker: ?/? failed tasks',
    ],
    [
      'a circuit breaker still monitoring',
      { status: 'STOPPED', deploymentCircuitBreaker: { status: 'MONITORING', failureCount: 1, threshold: 3 } },
      'status STOPPED',
    ],
  ])('GIVEN a failed deployment with %s THEN the error and the log describe exactly that', async (_label, deployment, detail) => {
    givenService();
    deploymentStatuses(deployment);
    const { deps, logs } = harness();

    const error = await deployImage(OPTS, deps).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DeployFailedError);
    expect(error).toMatchObject({ serviceDeploymentArn: NEW_DEPLOYMENT, status: deployment.status, statusReason: undefined });
    expect((error as Error).message).toBe(
      `ECS deployment ${NEW_DEPLOYMENT} did not succeed: ${detail}. SSM parameter /tap/dev/app/image-uri not written; see ECS console > ` +
        'Clusters > tap > Services > payments > Deployments, or: aws ecs describe-service-deployments --service-deployment-arns <arn>',
    );
    expect(logs.at(-1)).toBe(`deployment failed after 0s: ${detail}`);
  });

  test('GIVEN the answer lists another deployment first THEN follows the one it started, by ARN', async () => {
    givenService();
    ecsMock.on(DescribeServiceDeploymentsCommand).resolves({
      serviceDeployments: [
        { serviceDeploymentArn: OLD_DEPLOYMENT, status: 'ROLLBACK_SUCCESSFUL' },
        { serviceDeploymentArn: NEW_DEPLOYMENT, status: 'SUCCESSFUL' },
      ],
    });
    const { deps } = harness();

    await expect(deployImage(OPTS, deps)).resolves.toEqual({
      taskDefinitionArn: NEW_TD,
      serviceDeploymentArn: NEW_DEPLOYMENT,
      durationMs: 0,
      deployedTag: 'deployed-dev-20260301100000',
    });
  });

  test('GIVEN the answer names no ARN THEN takes the one deployment it returned', async () => {
    givenService();
    ecsMock.on(DescribeServiceDeploymentsCommand).resolves({ serviceDeployments: [{ status: 'SUCCESSFUL' }] });
    const { deps } = harness();

    await expect(deployImage(OPTS, deps)).resolves.toMatchObject({ serviceDeploymentArn: NEW_DEPLOYMENT });
  });

  test('GIVEN the deployment is not visible yet, then has no status, then succeeds THEN logs each state once, as it changes', async () => {
    givenService();
    ecsMock
      .on(DescribeServiceDeploymentsCommand)
      .resolvesOnce({ serviceDeployments: [], failures: [{ arn: NEW_DEPLOYMENT, reason: 'MISSING' }] })
      .resolvesOnce({ serviceDeployments: [], failures: [{ arn: NEW_DEPLOYMENT, reason: 'MISSING' }] })
      .resolvesOnce({ serviceDeployments: [{ serviceDeploymentArn: NEW_DEPLOYMENT }] })
      .resolvesOnce({ serviceDeployments: [{ serviceDeploymentArn: NEW_DEPLOYMENT, status: 'IN_PROGRESS', lifecycleStage: 'SCALE_UP' }] })
      .resolvesOnce({ serviceDeployments: [{ serviceDeploymentArn: NEW_DEPLOYMENT, status: 'IN_PROGRESS', lifecycleStage: 'SCALE_UP' }] })
      .resolvesOnce({ serviceDeployments: [{ serviceDeploymentArn: NEW_DEPLOYMENT, status: 'IN_PROGRESS' }] })
      .resolves({ serviceDeployments: [{ serviceDeploymentArn: NEW_DEPLOYMENT, status: 'SUCCESSFUL' }] });
    const { deps, logs } = harness();

    await expect(deployImage(OPTS, deps)).resolves.toMatchObject({ durationMs: 90_000 });
    expect(logs.filter((line) => line.startsWith('deployment '))).toEqual([
      'deployment not visible yet (0s)',
      'deployment UNKNOWN (30s)',
      'deployment IN_PROGRESS / SCALE_UP (45s)',
      'deployment IN_PROGRESS (1m15s)',
      'deployment SUCCESSFUL after 1m30s',
    ]);
  });

  test('GIVEN ECS answers an empty status first THEN there is no state to report until a real one arrives', async () => {
    givenService();
    deploymentStatuses({ status: '' as ServiceDeployment['status'] }, { status: 'IN_PROGRESS' }, { status: 'SUCCESSFUL' });
    const { deps, logs } = harness();

    await expect(deployImage(OPTS, deps)).resolves.toMatchObject({ durationMs: 30_000 });
    expect(logs.filter((line) => line.startsWith('deployment '))).toEqual(['deployment IN_PROGRESS (15s)', 'deployment SUCCESSFUL after 30s']);
  });

  test('GIVEN ListServiceDeployments shows nothing until the deadline THEN times out without an ARN, having listed at the deadline itself', async () => {
    givenService();
    ecsMock.on(UpdateServiceCommand).resolves({ service: { currentServiceDeployment: OLD_DEPLOYMENT } });
    ecsMock
      .on(ListServiceDeploymentsCommand)
      .resolvesOnce({ serviceDeployments: [] })
      .resolvesOnce({})
      .resolvesOnce({ serviceDeployments: [] })
      // Only reached if the deadline were ignored.
      .resolves({ serviceDeployments: [{ serviceDeploymentArn: NEW_DEPLOYMENT, createdAt: new Date(T0 + 1) }] });
    deploymentStatuses({ status: 'SUCCESSFUL' });
    const { deps, sleeps } = harness();

    const error = await deployImage({ ...OPTS, timeoutMs: 30_000 }, deps).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DeployTimeoutError);
    expect(error).toMatchObject({ name: 'DeployTimeoutError', serviceDeploymentArn: undefined });
    expect((error as Error).message).toBe(notFinished('30s', 'deployment not yet visible'));
    // Listed at 0s, 15s and 30s (the deadline): one more interval would pass it.
    expect(ecsMock.commandCalls(ListServiceDeploymentsCommand)).toHaveLength(3);
    expect(sleeps).toEqual([15_000, 15_000]);
    expect(ecsMock.commandCalls(DescribeServiceDeploymentsCommand)).toHaveLength(0);
    expect(ssmMock.calls()).toHaveLength(0);
  });

  test('GIVEN every AWS call fails transiently once THEN logs each retry under the call name and deploys', async () => {
    givenService();
    ecsMock
      .on(DescribeServicesCommand)
      .rejectsOnce(throttling())
      .resolves({
        services: [{ serviceName: 'payments', status: 'ACTIVE', desiredCount: 2, taskDefinition: OLD_TD, currentServiceDeployment: OLD_DEPLOYMENT }],
      });
    // A rejection that is not an Error (but still transient by its fields).
    ecsMock
      .on(DescribeTaskDefinitionCommand)
      .callsFakeOnce(() => Promise.reject(Object.assign(Object.create(null) as object, { name: 'ThrottlingException' })))
      .resolves({ taskDefinition: TASK_DEFINITION, tags: TAGS });
    ecsMock
      .on(RegisterTaskDefinitionCommand)
      .rejectsOnce(throttling())
      .resolves({ taskDefinition: { ...TASK_DEFINITION, taskDefinitionArn: NEW_TD, revision: 8 } });
    ecsMock
      .on(UpdateServiceCommand)
      .rejectsOnce(throttling())
      .resolves({ service: { currentServiceDeployment: OLD_DEPLOYMENT } });
    ecsMock
      .on(ListServiceDeploymentsCommand)
      .rejectsOnce(throttling())
      .resolves({ serviceDeployments: [{ serviceDeploymentArn: NEW_DEPLOYMENT, createdAt: new Date(T0 + 1) }] });
    ecsMock
      .on(DescribeServiceDeploymentsCommand)
      .rejectsOnce(throttling())
      .resolves({ serviceDeployments: [{ serviceDeploymentArn: NEW_DEPLOYMENT, status: 'SUCCESSFUL' }] });
    ssmMock.on(PutParameterCommand).rejectsOnce(throttling()).resolves({ Version: 3 });
    ecrMock.on(PutImageCommand).rejectsOnce(throttling()).resolves({});
    const { deps, logs, sleeps } = harness();

    await expect(deployImage(OPTS, deps)).resolves.toEqual({
      taskDefinitionArn: NEW_TD,
      serviceDeploymentArn: NEW_DEPLOYMENT,
      durationMs: 800,
      deployedTag: 'deployed-dev-20260301100000',
    });
    // random() is 0.5 and the first backoff is capped at 200 ms.
    expect(sleeps).toEqual(Array(8).fill(100));
    const retry = (call: string, name = 'ThrottlingException'): string => `${call}: transient error (${name}), retry 1 in 100ms`;
    expect(logs).toEqual([
      retry('DescribeServices'),
      `service payments: task definition ${OLD_TD}, desiredCount 2`,
      retry('DescribeTaskDefinition', 'unknown'),
      retry('RegisterTaskDefinition'),
      `registered ${NEW_TD} (container app -> ${NEW_IMAGE})`,
      retry('UpdateService'),
      'UpdateService accepted at 2026-03-01T10:00:00.000Z',
      retry('ListServiceDeployments'),
      `service deployment ${NEW_DEPLOYMENT}`,
      retry('DescribeServiceDeployments'),
      'deployment SUCCESSFUL after 1s',
      retry('PutParameter'),
      `recorded ${NEW_IMAGE} in SSM parameter /tap/dev/app/image-uri`,
      retry('PutImage'),
      `tagged 123456789012/tap/payments@sha256:${DIGEST} as deployed-dev-20260301100000`,
    ]);
  });
});

describe('buildTaskDefinitionInput', () => {
  test('omits tags when there are none', () => {
    expect(buildTaskDefinitionInput(TASK_DEFINITION, [], 'app', NEW_IMAGE).tags).toBeUndefined();
  });
});

describe('readDeployOptions', () => {
  const env = {
    CLUSTER_NAME: 'tap',
    SERVICE_NAME: 'payments',
    CONTAINER_NAME: 'app',
    IMAGE_URI: NEW_IMAGE,
    IMAGE_PARAMETER_NAME: '/tap/dev/app/image-uri',
    DEPLOY_ENV: 'dev',
  };

  test('reads the environment with defaults', () => {
    expect(readDeployOptions(env)).toEqual({ ...OPTS, timeoutMs: 30 * 60_000 });
    expect(readDeployOptions({ ...env, DESIRED_COUNT: '3', DEPLOY_TIMEOUT_MINUTES: '45' })).toMatchObject({
      desiredCountIfZero: 3,
      timeoutMs: 45 * 60_000,
    });
  });

  test.each([
    [{ CLUSTER_NAME: '' }, /CLUSTER_NAME must be set/],
    [{ IMAGE_URI: 'nginx:latest' }, /IMAGE_URI: image URI must be .* got: "nginx:latest"/],
    [{ DEPLOY_TIMEOUT_MINUTES: 'ten' }, /DEPLOY_TIMEOUT_MINUTES must be an integer 1..180, got: "ten"/],
    [{ DESIRED_COUNT: '0' }, /DESIRED_COUNT must be between 1 and 100, got: 0/],
    [{ DEPLOY_ENV: undefined }, /DEPLOY_ENV must be set/],
    [{ DEPLOY_ENV: 'Prod' }, /DEPLOY_ENV must be one of dev, staging, prod, got: "Prod"/],
    [{ IMAGE_URI: `docker.io/library/nginx@sha256:${DIGEST}` }, /IMAGE_URI: image URI must be in a private ECR repository/],
  ])('rejects %p', (override, message) => {
    expect(() => readDeployOptions({ ...env, ...override })).toThrow(message);
  });
});

describe('the deploy step as CodeBuild runs it (tools/deploy/cli.ts)', () => {
  const ENV = {
    AWS_REGION: 'eu-west-1',
    CLUSTER_NAME: 'tap',
    SERVICE_NAME: 'payments',
    CONTAINER_NAME: 'app',
    IMAGE_URI: NEW_IMAGE,
    IMAGE_PARAMETER_NAME: '/tap/dev/app/image-uri',
    DEPLOY_ENV: 'dev',
    DEPLOY_TIMEOUT_MINUTES: '30',
  };

  test('GIVEN ECS rolls back THEN the step exits 1 and prints the reason', async () => {
    givenService();
    deploymentStatuses({ status: 'ROLLBACK_SUCCESSFUL', statusReason: 'Service deployment rolled back because of alarm' });
    const { code, errors } = await runCli(ENV);
    expect(code).toBe(1);
    expect(errors).toEqual([
      `deploy: FAILED: ECS deployment ${NEW_DEPLOYMENT} did not succeed: status ROLLBACK_SUCCESSFUL; reason: Service deployment rolled back ` +
        'because of alarm. SSM parameter /tap/dev/app/image-uri not written; see ECS console > Clusters > tap > Services > payments > ' +
        'Deployments, or: aws ecs describe-service-deployments --service-deployment-arns <arn>',
    ]);
    expect(ssmMock.commandCalls(PutParameterCommand)).toHaveLength(0);
  });

  test('GIVEN the deployment succeeds but SSM cannot be written THEN the step exits 1 saying the deployment succeeded', async () => {
    givenService();
    deploymentStatuses({ status: 'SUCCESSFUL' });
    ssmMock.on(PutParameterCommand).rejects(awsError('AccessDeniedException', 'not authorized to perform: ssm:PutParameter'));
    const { code, errors } = await runCli(ENV);
    expect(code).toBe(1);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      new RegExp(
        `^deploy: FAILED AFTER A SUCCESSFUL DEPLOYMENT: ECS deployment ${NEW_DEPLOYMENT} SUCCEEDED .*writing SSM parameter /tap/dev/app/image-uri failed \\(AccessDeniedException: `,
      ),
    );
    expect(ecrMock.commandCalls(PutImageCommand)).toHaveLength(0);
  });

  test('GIVEN the container is not in the running task definition THEN the step exits 2 (fix the input), before any deployment', async () => {
    givenService();
    const { code, errors } = await runCli({ ...ENV, CONTAINER_NAME: 'web' });
    expect(code).toBe(2);
    expect(errors).toEqual([`deploy: cannot deploy: container "web" not found in ${OLD_TD}; it has: app, log-router`]);
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  test('GIVEN ECS refuses the call THEN the step exits 1 naming the error and the permissions to check', async () => {
    ecsMock.on(DescribeServicesCommand).rejects(awsError('AccessDeniedException', 'not authorized to perform: ecs:DescribeServices'));
    const { code, errors } = await runCli(ENV);
    expect(code).toBe(1);
    expect(errors).toEqual([
      "deploy: FAILED calling AWS (AccessDeniedException): not authorized to perform: ecs:DescribeServices; check the CodeBuild role's " +
        'ECS/SSM/ECR permissions and the log above',
    ]);
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  test('GIVEN a malformed IMAGE_URI THEN the step exits 2 naming it, before any AWS call', async () => {
    const errors: string[] = [];
    const spy = jest.spyOn(console, 'error').mockImplementation((line: string) => void errors.push(line));
    try {
      expect(await cliMain({ ...ENV, IMAGE_URI: 'payments:latest' })).toBe(2);
    } finally {
      spy.mockRestore();
    }
    expect(errors).toEqual([
      'deploy: bad configuration: IMAGE_URI: image URI must be <registry>/<repository>@sha256:<64 lowercase hex>, got: "payments:latest" ' +
        "(set it in the pipeline's deploy step environment)",
    ]);
    expect(ecsMock.calls()).toHaveLength(0);
  });
});
