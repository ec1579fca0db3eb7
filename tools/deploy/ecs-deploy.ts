/**
 * The pipeline's deploy step for the Fargate service (docs/deployments.md, traps 1, 3 and 4).
 *
 * It registers a copy of the running task definition with only the app container's image replaced, starts an
 * ECS deployment, and polls DescribeServiceDeployments until ECS itself says SUCCESSFUL, so the pipeline result
 * equals the real result (a rollback or a stop fails the step). Only then does it write the image to the SSM
 * parameter the stack reads, so a later infrastructure deploy keeps the version that is really running, and
 * last tags the image `deployed-<env>-<UTC time>` in ECR (docs/deployments.md, trap 17), which shields the running image from the
 * lifecycle rules.
 *
 * The deploy step never makes an image promotable: the production smoke test has not run yet. The Smoke-Production
 * step tags `promotable-<env>-*` after it passed (tools/promote `mark`), and only that tag lets the next environment
 * copy the image. Order here: SSM first, then the tag; the SSM record is true (ECS already runs the image) whether or
 * not tagging works.
 */
import {
  DescribeServiceDeploymentsCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  ListServiceDeploymentsCommand,
  RegisterTaskDefinitionCommand,
  RegisterTaskDefinitionCommandInput,
  ServiceDeployment,
  ServiceDeploymentStatus,
  TaskDefinition,
  Tag,
  UpdateServiceCommand,
  UpdateServiceCommandInput,
} from '@aws-sdk/client-ecs';
import { ECRClient } from '@aws-sdk/client-ecr';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { ENVIRONMENT_NAMES, EnvironmentName } from '../../lib/config/schema';
import { deployedTag, EcrImageRef, parseEcrImageUri, tagImage } from '../common/ecr';
import { withRetry } from '../common/retry';
import { formatMs, ToolRuntime } from '../common/runtime';
import { IMAGE_URI_PATTERN, taskDefinitionWithImage } from '../common/task-definition';

export { IMAGE_URI_PATTERN } from '../common/task-definition';

/** What to deploy, and where. */
export interface DeployImageOptions {
  /** ECS cluster name or ARN. */
  readonly cluster: string;
  /** ECS service name or ARN. */
  readonly service: string;
  /** Name of the container (in the task definition) whose image is replaced. */
  readonly containerName: string;
  /**
   * Image pinned by digest, see {@link IMAGE_URI_PATTERN}; it must be in a private ECR repository
   * (`<account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<digest>`) because the step tags it there.
   */
  readonly imageUri: string;
  /** Environment deployed to; it names the ECR tag `deployed-<envName>-<UTC yyyymmddhhmmss>`. */
  readonly envName: EnvironmentName;
  /** SSM parameter that records the deployed image for the stack (written only after success). */
  readonly imageParameterName: string;
  /** How long to wait for the deployment to finish. */
  readonly timeoutMs: number;
  /** Time between two DescribeServiceDeployments calls. */
  readonly pollIntervalMs: number;
  /**
   * Desired count to set when the service currently runs 0 tasks (the first deploy after seed-image, docs/deployments.md, trap 4).
   * @default - none: a service at desiredCount 0 fails the deploy, since "success" would prove nothing
   */
  readonly desiredCountIfZero?: number;
}

/** Side effects, injected so tests control AWS, time and output. */
export interface DeployImageDeps extends ToolRuntime {
  readonly ecs: ECSClient;
  readonly ssm: SSMClient;
  /** Client for the image's ECR region (tags the deployed image). */
  readonly ecr: ECRClient;
}

/** What a successful deploy did. */
export interface DeployImageResult {
  readonly taskDefinitionArn: string;
  readonly serviceDeploymentArn: string;
  readonly durationMs: number;
  /** The ECR tag added to the deployed image, e.g. `deployed-dev-20260301100030`. */
  readonly deployedTag: string;
}

/** Input that can never deploy (bad image URI, unknown container, service state): fix the input, do not retry. */
export class DeployInputError extends Error {
  override readonly name = 'DeployInputError';
}

/** ECS finished the deployment without success (rolled back or stopped). Never retried. */
export class DeployFailedError extends Error {
  override readonly name = 'DeployFailedError';
  constructor(
    message: string,
    /** The service deployment that failed. */
    public readonly serviceDeploymentArn: string,
    /** Its final status, e.g. ROLLBACK_SUCCESSFUL. */
    public readonly status: string,
    /** ECS's reason, if any. */
    public readonly statusReason: string | undefined,
  ) {
    super(message);
  }
}

/**
 * ECS deployed the image successfully, but recording it afterwards (SSM parameter or ECR tag) failed. The service
 * runs the new image; the step still fails, because an unrecorded deployment is undone by the next infrastructure
 * deploy (docs/deployments.md, trap 1), an untagged one can be expired by the lifecycle rules (docs/deployments.md, trap 17), and the Smoke-Production
 * step refuses to mark an image promotable that is not tagged deployed here.
 */
export class DeployRecordError extends Error {
  override readonly name = 'DeployRecordError';
  constructor(
    message: string,
    /** The service deployment that succeeded. */
    public readonly serviceDeploymentArn: string,
    /** Whether the SSM parameter holds the new image. */
    public readonly ssmWritten: boolean,
  ) {
    super(message);
  }
}

/** The deployment did not finish within the timeout. It may still be running in ECS. */
export class DeployTimeoutError extends Error {
  override readonly name = 'DeployTimeoutError';
  constructor(
    message: string,
    public readonly serviceDeploymentArn: string | undefined,
  ) {
    super(message);
  }
}

/** Statuses after which ECS will not make this deployment succeed. */
const FAILED_STATUSES: ReadonlySet<string> = new Set<ServiceDeploymentStatus>([
  'ROLLBACK_REQUESTED',
  'ROLLBACK_IN_PROGRESS',
  'ROLLBACK_SUCCESSFUL',
  'ROLLBACK_FAILED',
  'STOPPED',
  'STOP_REQUESTED',
]);

/** Throws {@link DeployInputError} unless `imageUri` is pinned by digest. */
export function validateImageUri(imageUri: string): void {
  if (!IMAGE_URI_PATTERN.test(imageUri)) {
    throw new DeployInputError(`image URI must be <registry>/<repository>@sha256:<64 lowercase hex>, got: ${JSON.stringify(imageUri)}`);
  }
}

/** The ECR repository and digest of `imageUri`, or {@link DeployInputError} when it is not a digest-pinned private ECR image. */
export function parseDeployImage(imageUri: string): EcrImageRef {
  validateImageUri(imageUri);
  const ref = parseEcrImageUri(imageUri);
  if (!ref) {
    throw new DeployInputError(
      `image URI must be in a private ECR repository (<account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<digest>) so the deploy step ` +
        `can tag it deployed-<env>-<time> (docs/deployments.md, trap 17), got: ${JSON.stringify(imageUri)}`,
    );
  }
  return ref;
}

/** {@link taskDefinitionWithImage}, with a missing container reported as {@link DeployInputError}. */
export function buildTaskDefinitionInput(
  taskDefinition: TaskDefinition,
  tags: Tag[] | undefined,
  containerName: string,
  imageUri: string,
): RegisterTaskDefinitionCommandInput {
  return taskDefinitionWithImage(taskDefinition, tags, containerName, imageUri, (message) => {
    throw new DeployInputError(message);
  });
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function consoleHint(clusterArnOrName: string, service: string): string {
  // Cluster and service may be ARNs; the console URL wants names.
  const cluster = clusterArnOrName.split('/').pop() ?? clusterArnOrName;
  const serviceName = service.split('/').pop() ?? service;
  return `see ECS console > Clusters > ${cluster} > Services > ${serviceName} > Deployments, or: aws ecs describe-service-deployments --service-deployment-arns <arn>`;
}

function describeFailure(deployment: ServiceDeployment): string {
  const parts = [`status ${deployment.status}`];
  if (deployment.statusReason) parts.push(`reason: ${deployment.statusReason}`);
  if (deployment.rollback) {
    const { reason, serviceRevisionArn, startedAt } = deployment.rollback;
    parts.push(
      `rollback to ${serviceRevisionArn ?? 'previous revision'}${startedAt ? ` started ${startedAt.toISOString()}` : ''}${reason ? ` (${reason})` : ''}`,
    );
  }
  const triggered = deployment.alarms?.triggeredAlarmNames ?? [];
  if (triggered.length > 0) parts.push(`alarms: ${triggered.join(', ')}`);
  const breaker = deployment.deploymentCircuitBreaker;
  if (breaker?.status === 'TRIGGERED') parts.push(`circuit breaker: ${breaker.failureCount ?? '?'}/${breaker.threshold ?? '?'} failed tasks`);
  return parts.join('; ');
}

/**
 * Deploys `imageUri` to the service and waits for ECS's verdict. Resolves only when the service deployment is
 * SUCCESSFUL, after writing the image to `imageParameterName` and then tagging it `deployed-<env>-<time>` in ECR.
 * Rejects with {@link DeployFailedError} on rollback or stop, {@link DeployTimeoutError} on timeout,
 * {@link DeployInputError} on bad input (SSM not written, image not tagged in all three), and
 * {@link DeployRecordError} when the deployment succeeded but the SSM write or the tag failed.
 */
export async function deployImage(opts: DeployImageOptions, deps: DeployImageDeps): Promise<DeployImageResult> {
  const image = parseDeployImage(opts.imageUri);
  if (!(ENVIRONMENT_NAMES as readonly string[]).includes(opts.envName)) {
    throw new DeployInputError(`envName must be one of ${ENVIRONMENT_NAMES.join(', ')}, got: ${JSON.stringify(opts.envName)}`);
  }
  if (!(opts.timeoutMs > 0) || !(opts.pollIntervalMs > 0)) {
    throw new DeployInputError(`timeoutMs and pollIntervalMs must be > 0, got: ${opts.timeoutMs} and ${opts.pollIntervalMs}`);
  }
  const { ecs, ssm, log, now } = deps;
  const aws = <T>(what: string, fn: () => Promise<T>): Promise<T> =>
    withRetry(fn, {
      ...deps.retry,
      sleep: deps.sleep,
      onRetry: (error, attempt, delayMs) =>
        log(`${what}: transient error (${error instanceof Error ? error.name : 'unknown'}), retry ${attempt} in ${delayMs}ms`),
    });
  const startedAt = now();
  const startDate = new Date(startedAt);

  const described = await aws('DescribeServices', () => ecs.send(new DescribeServicesCommand({ cluster: opts.cluster, services: [opts.service] })));
  const service = described.services?.[0];
  if (!service) {
    const failure = described.failures?.[0];
    throw new DeployInputError(`service ${opts.service} not found in cluster ${opts.cluster}: ${failure?.reason ?? 'no service returned'}`);
  }
  if (service.status !== undefined && service.status !== 'ACTIVE') {
    throw new DeployInputError(`service ${opts.service} is ${service.status}, expected ACTIVE`);
  }
  const currentTaskDefinition = service.taskDefinition;
  if (!currentTaskDefinition) throw new DeployInputError(`service ${opts.service} has no task definition`);
  log(`service ${service.serviceName ?? opts.service}: task definition ${currentTaskDefinition}, desiredCount ${service.desiredCount ?? '?'}`);

  let desiredCount: number | undefined;
  if (service.desiredCount === 0) {
    if (opts.desiredCountIfZero === undefined || !(opts.desiredCountIfZero > 0)) {
      throw new DeployInputError(
        `service ${opts.service} has desiredCount 0 (first deploy after seed-image?); set the desired count to start it, got: ${opts.desiredCountIfZero}`,
      );
    }
    desiredCount = opts.desiredCountIfZero;
    log(`service has desiredCount 0: first deploy, setting desiredCount ${desiredCount}`);
  }

  const taskDef = await aws('DescribeTaskDefinition', () =>
    ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: currentTaskDefinition, include: ['TAGS'] })),
  );
  if (!taskDef.taskDefinition) throw new DeployInputError(`task definition ${currentTaskDefinition} could not be described`);
  const registerInput = buildTaskDefinitionInput(taskDef.taskDefinition, taskDef.tags, opts.containerName, opts.imageUri);

  const registered = await aws('RegisterTaskDefinition', () => ecs.send(new RegisterTaskDefinitionCommand(registerInput)));
  const taskDefinitionArn = registered.taskDefinition?.taskDefinitionArn;
  if (!taskDefinitionArn) throw new Error('RegisterTaskDefinition returned no task definition ARN');
  log(`registered ${taskDefinitionArn} (container ${opts.containerName} -> ${opts.imageUri})`);

  const updateInput: UpdateServiceCommandInput = { cluster: opts.cluster, service: opts.service, taskDefinition: taskDefinitionArn };
  if (desiredCount !== undefined) updateInput.desiredCount = desiredCount;
  const updated = await aws('UpdateService', () => ecs.send(new UpdateServiceCommand(updateInput)));
  log(`UpdateService accepted at ${startDate.toISOString()}`);

  const deadline = startedAt + opts.timeoutMs;
  const timeout = (arn: string | undefined): DeployTimeoutError =>
    new DeployTimeoutError(
      `deployment did not finish within ${formatMs(opts.timeoutMs)} (deployment ${arn ?? 'not yet visible'}); ` +
        `it may still be running or rolling back, SSM parameter ${opts.imageParameterName} not written; ${consoleHint(opts.cluster, opts.service)}`,
      arn,
    );

  // The UpdateService response names the deployment it started, unless it still shows the one from before the
  // update; then look it up by creation time so we never poll (and report) an older deployment.
  const fromUpdate = updated.service?.currentServiceDeployment;
  let deploymentArn = fromUpdate && fromUpdate !== service.currentServiceDeployment ? fromUpdate : undefined;
  while (!deploymentArn) {
    const listed = await aws('ListServiceDeployments', () =>
      ecs.send(new ListServiceDeploymentsCommand({ cluster: opts.cluster, service: opts.service, createdAt: { after: startDate } })),
    );
    const newest = [...(listed.serviceDeployments ?? [])].sort((a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0))[0];
    deploymentArn = newest?.serviceDeploymentArn;
    if (deploymentArn) break;
    if (now() + opts.pollIntervalMs > deadline) throw timeout(undefined);
    await deps.sleep(opts.pollIntervalMs);
  }
  log(`service deployment ${deploymentArn}`);

  const arn = deploymentArn;
  let lastState = '';
  for (;;) {
    const response = await aws('DescribeServiceDeployments', () => ecs.send(new DescribeServiceDeploymentsCommand({ serviceDeploymentArns: [arn] })));
    const deployment = response.serviceDeployments?.find((d) => d.serviceDeploymentArn === arn) ?? response.serviceDeployments?.[0];
    const elapsed = formatMs(now() - startedAt);
    if (deployment?.status === 'SUCCESSFUL') {
      log(`deployment SUCCESSFUL after ${elapsed}`);
      const succeeded = `ECS deployment ${arn} SUCCEEDED (the service runs ${opts.imageUri})`;
      try {
        await aws('PutParameter', () =>
          ssm.send(new PutParameterCommand({ Name: opts.imageParameterName, Value: opts.imageUri, Type: 'String', Overwrite: true })),
        );
      } catch (error) {
        throw new DeployRecordError(
          `${succeeded}, but writing SSM parameter ${opts.imageParameterName} failed (${errorText(error)}), so it still names the previous ` +
            `image and the next infrastructure deploy would roll the service back to it (docs/deployments.md, trap 1); the image was NOT tagged ` +
            `deployed-${opts.envName}-* either. Rerun the deploy step (redeploying the same digest is safe); check the role's ssm:PutParameter`,
          arn,
          false,
        );
      }
      log(`recorded ${opts.imageUri} in SSM parameter ${opts.imageParameterName}`);
      const tag = deployedTag(opts.envName, new Date(now()));
      try {
        const outcome = await tagImage(image, tag, deps.ecr, aws);
        log(`${outcome === 'tagged' ? 'tagged' : 'already tagged'} ${image.registryId}/${image.repository}@${image.digest} as ${tag}`);
      } catch (error) {
        throw new DeployRecordError(
          `${succeeded} and SSM parameter ${opts.imageParameterName} was written, but tagging the image ${tag} in ECR repository ` +
            `${image.registryId}/${image.repository} failed (${errorText(error)}): until it is tagged the ECR lifecycle rules may expire ` +
            `the running image (docs/deployments.md, trap 17) and it cannot be marked promotable. Rerun the deploy step (redeploying ` +
            `the same digest is safe); check the role's ecr:BatchGetImage/ecr:PutImage on that repository`,
          arn,
          true,
        );
      }
      return { taskDefinitionArn, serviceDeploymentArn: arn, durationMs: now() - startedAt, deployedTag: tag };
    }
    if (deployment?.status && FAILED_STATUSES.has(deployment.status)) {
      const detail = describeFailure(deployment);
      log(`deployment failed after ${elapsed}: ${detail}`);
      throw new DeployFailedError(
        `ECS deployment ${arn} did not succeed: ${detail}. SSM parameter ${opts.imageParameterName} not written; ${consoleHint(opts.cluster, opts.service)}`,
        arn,
        deployment.status,
        deployment.statusReason,
      );
    }
    // Not visible yet (eventual consistency shows up as a MISSING failure) or still PENDING / IN_PROGRESS.
    const state = deployment
      ? `${deployment.status ?? 'UNKNOWN'}${deployment.lifecycleStage ? ` / ${deployment.lifecycleStage}` : ''}`
      : 'not visible yet';
    if (state !== lastState) log(`deployment ${state} (${elapsed})`);
    lastState = state;
    if (now() + opts.pollIntervalMs > deadline) throw timeout(arn);
    await deps.sleep(opts.pollIntervalMs);
  }
}
