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

describe('deployImage', () => {
  test('GIVEN a deployment that succeeds THEN registers a copy with only the image changed and records the digest in SSM', async () => {
    givenService();
    deploymentStatuses({ status: 'PENDING' }, { status: 'IN_PROGRESS', lifecycleStage: 'BAKE_TIME' }, { status: 'SUCCESSFUL' });
    const { deps, logs } = harness();

    const result = await deployImage(OPTS, deps);

    expect(result).toEqual({
      taskDefinitionArn: NEW_TD,
      serviceDeploymentArn: NEW_DEPLOYMENT,
      durationMs: 30_000,
      deployedTag: 'deployed-dev-20260301100030',
    });
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
    // Exactly these keys: no desiredCount, so ECS keeps the running count (and autoscaling's).
    expect(inputs(ecsMock, UpdateServiceCommand)).toEqual([{ cluster: 'tap', service: 'payments', taskDefinition: NEW_TD }]);
    expect(inputs(ecsMock, DescribeServiceDeploymentsCommand)).toEqual([
      { serviceDeploymentArns: [NEW_DEPLOYMENT] },
      { serviceDeploymentArns: [NEW_DEPLOYMENT] },
      { serviceDeploymentArns: [NEW_DEPLOYMENT] },
    ]);
    expect(inputs(ssmMock, PutParameterCommand)).toEqual([{ Name: '/tap/dev/app/image-uri', Value: NEW_IMAGE, Type: 'String', Overwrite: true }]);
    expect(logs).toContain('deployment IN_PROGRESS / BAKE_TIME (15s)');
    expect(logs).toContain('deployment SUCCESSFUL after 30s');
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
    expect((error as DeployRecordError).ssmWritten).toBe(true);
    expect((error as Error).message).toMatch(
      /SUCCEEDED .*SSM parameter \/tap\/dev\/app\/image-uri was written, but tagging the image deployed-dev-\d{14} in ECR repository 123456789012\/tap\/payments failed \(AccessDeniedException: not authorized/,
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
    expect((error as DeployRecordError).ssmWritten).toBe(false);
    expect((error as Error).message).toMatch(/SUCCEEDED .*writing SSM parameter \/tap\/dev\/app\/image-uri failed .*NOT tagged/);
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
    const { deps } = harness();

    const error = await deployImage(OPTS, deps).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DeployFailedError);
    const failed = error as DeployFailedError;
    expect(failed.status).toBe('ROLLBACK_SUCCESSFUL');
    expect(failed.statusReason).toBe('Service deployment rolled back because of alarm');
    expect(failed.message).toMatch(/rolled back because of alarm.*service-revision\/tap\/payments\/1.*alarm tap-5xx in ALARM.*alarms: tap-5xx/);
    expect(failed.message).toMatch(/SSM parameter \/tap\/dev\/app\/image-uri not written/);
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
    const { deps, clock } = harness();

    const error = await deployImage({ ...OPTS, timeoutMs: 120_000 }, deps).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DeployTimeoutError);
    expect((error as DeployTimeoutError).serviceDeploymentArn).toBe(NEW_DEPLOYMENT);
    expect((error as Error).message).toMatch(
      /did not finish within 2m0s \(deployment arn:aws:ecs:.*\/new\).*ECS console > Clusters > tap > Services > payments/,
    );
    expect(clock.t - T0).toBeLessThanOrEqual(120_000);
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
    const { deps } = harness();

    await expect(deployImage(OPTS, deps)).resolves.toMatchObject({ serviceDeploymentArn: NEW_DEPLOYMENT });
    const listInput = { cluster: 'tap', service: 'payments', createdAt: { after: new Date(T0) } };
    // The first listing is empty (not visible yet): listed again after one poll interval, then the newest is polled.
    expect(inputs(ecsMock, ListServiceDeploymentsCommand)).toEqual([listInput, listInput]);
    expect(inputs(ecsMock, DescribeServiceDeploymentsCommand)).toEqual([{ serviceDeploymentArns: [NEW_DEPLOYMENT] }]);
  });

  test('GIVEN the container name is not in the task definition THEN fails naming it and the containers found', async () => {
    givenService();
    const { deps } = harness();

    await expect(deployImage({ ...OPTS, containerName: 'web' }, deps)).rejects.toThrow(
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

    await expect(deployImage({ ...OPTS, imageUri }, deps)).rejects.toThrow(
      new DeployInputError(`image URI must be <registry>/<repository>@sha256:<64 lowercase hex>, got: ${JSON.stringify(imageUri)}`),
    );
    expect(ecsMock.calls()).toHaveLength(0);
    expect(ssmMock.calls()).toHaveLength(0);
    expect(ecrMock.calls()).toHaveLength(0);
  });

  test('GIVEN an image outside private ECR THEN fails before any AWS call, since it could not be tagged', async () => {
    const { deps } = harness();
    const imageUri = `ghcr.io/acme/payments@sha256:${DIGEST}`;

    await expect(deployImage({ ...OPTS, imageUri }, deps)).rejects.toThrow(
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
    const { deps } = harness();

    await deployImage({ ...OPTS, desiredCountIfZero: 2 }, deps);

    expect(inputs(ecsMock, UpdateServiceCommand)).toEqual([{ cluster: 'tap', service: 'payments', taskDefinition: NEW_TD, desiredCount: 2 }]);
  });

  test('GIVEN the service runs 0 tasks and no desired count is given THEN fails instead of deploying nothing', async () => {
    givenService(0);
    const { deps } = harness();

    await expect(deployImage(OPTS, deps)).rejects.toThrow(
      new DeployInputError('service payments has desiredCount 0 (first deploy after seed-image?); set the desired count to start it, got: undefined'),
    );
    expect(ecsMock.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(0);
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
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
