/**
 * The pipeline's schema migration: runs `node dist/migrate.js` as a one-off Fargate task with the image about to be
 * deployed, before the service is deployed (docs/deployments.md, trap 28: blue and green share one database, so the
 * schema moves first and every migration stays compatible with the revision still serving).
 *
 * Steps, each AWS behaviour it relies on recorded in docs/aws-contracts.md ("Migrations in the pipeline"):
 * 1. DescribeTaskDefinition of the family: the latest ACTIVE revision, with its tags.
 * 2. RegisterTaskDefinition of a copy with only the migration container's image replaced (only the fields
 *    RegisterTaskDefinition accepts are copied); skipped when the latest revision already runs that image, so a rerun
 *    of the same release does not pile up revisions.
 * 3. RunTask on Fargate in private subnets without a public IP, with a client token so that a retried call (throttling,
 *    a lost response) cannot start a second task. A non-empty `failures` list fails the step.
 * 4. DescribeTasks with backoff until the task is STOPPED, bounded by the timeout; on timeout StopTask, then fail.
 * 5. Success only when the migration container exited 0 and ECS stopped the task because that essential container
 *    exited. Otherwise the error names the stop code, the stopped reason, the exit code and the log stream.
 */
import {
  ContainerDefinition,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
  RegisterTaskDefinitionCommandInput,
  RunTaskCommand,
  StopTaskCommand,
  Tag,
  Task,
  TaskDefinition,
} from '@aws-sdk/client-ecs';
import { withRetry } from '../common/retry';
import { formatMs, ToolRuntime } from '../common/runtime';
import { IMAGE_URI_PATTERN, taskDefinitionWithImage } from '../common/task-definition';

export { IMAGE_URI_PATTERN, READ_ONLY_TASK_DEFINITION_FIELDS, REGISTERABLE_TASK_DEFINITION_FIELDS } from '../common/task-definition';

/** `startedBy` of every migration task: finds them with `aws ecs list-tasks --started-by pipeline-migrate`. */
export const STARTED_BY = 'pipeline-migrate';

/** Task states before STOPPED (developer guide, task lifecycle); anything else unexpected is logged and polled on. */
const FINAL_STATUS = 'STOPPED';
/** DescribeTasks' failure reason for a task it cannot find (yet: RunTask's result is eventually consistent). */
const MISSING = 'MISSING';
/** The stop code of a task whose essential container exited on its own. */
const ESSENTIAL_CONTAINER_EXITED = 'EssentialContainerExited';

/** ECS cluster name, or its ARN. */
const CLUSTER_PATTERN = /^(?:[A-Za-z0-9_-]{1,255}|arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:cluster\/[A-Za-z0-9_-]{1,255})$/;
/** Task definition family (RegisterTaskDefinition: up to 255 letters, numbers, underscores and hyphens). */
const FAMILY_PATTERN = /^[A-Za-z0-9_-]{1,255}$/;
const SUBNET_PATTERN = /^subnet-[0-9a-f]{8,17}$/;
const SECURITY_GROUP_PATTERN = /^sg-[0-9a-f]{8,17}$/;
/** RunTask's client token: up to 64 ASCII characters 33-126. */
const CLIENT_TOKEN_PATTERN = /^[\x21-\x7e]{1,64}$/;
/** awsvpcConfiguration limits: 16 subnets, 5 security groups. */
const MAX_SUBNETS = 16;
const MAX_SECURITY_GROUPS = 5;

/** What to migrate, and where. */
export interface MigrationOptions {
  /** Cluster name or ARN the task runs in. */
  readonly cluster: string;
  /** Task definition family of the migration task (its latest ACTIVE revision is the template). */
  readonly family: string;
  /** The container whose image is replaced and whose exit code decides. */
  readonly containerName: string;
  /** `<registry>/<repository>@sha256:<64 hex>`: the image the deploy step ships next. */
  readonly imageUri: string;
  /** Private subnets (no public IP is assigned). */
  readonly subnetIds: readonly string[];
  readonly securityGroupIds: readonly string[];
  /** From RunTask to STOPPED; on expiry the task is stopped and the step fails. */
  readonly timeoutMs: number;
  /** First wait between DescribeTasks calls; each further wait is 1.5 times the last, up to {@link maxPollIntervalMs}. */
  readonly pollIntervalMs: number;
  readonly maxPollIntervalMs: number;
  /** RunTask idempotency token, the same for every retry of the one call (up to 64 ASCII characters 33-126). */
  readonly clientToken: string;
}

/** Side effects, injected so tests control AWS, time and output. */
export interface MigrationDeps extends ToolRuntime {
  readonly ecs: ECSClient;
}

/** What a successful migration did. */
export interface MigrationResult {
  readonly taskDefinitionArn: string;
  readonly taskArn: string;
  readonly durationMs: number;
  /** Where the migration wrote its output, when the container logs with awslogs. */
  readonly logStream?: LogStream;
}

/** A CloudWatch Logs stream of the migration container. */
export interface LogStream {
  readonly group: string;
  readonly stream: string;
}

/** Input that can never migrate (bad value, unknown container, inactive family): fix it, do not retry. */
export class MigrationInputError extends Error {
  override readonly name = 'MigrationInputError';
}

/** The task could not start, or it stopped without the migration container exiting 0. Never retried. */
export class MigrationFailedError extends Error {
  override readonly name = 'MigrationFailedError';
  constructor(
    message: string,
    /** The task, when one was started. */
    public readonly taskArn: string | undefined,
  ) {
    super(message);
  }
}

/** The task did not stop within the timeout; it was asked to stop (`stopped` says whether StopTask succeeded). */
export class MigrationTimeoutError extends Error {
  override readonly name = 'MigrationTimeoutError';
  constructor(
    message: string,
    public readonly taskArn: string,
    public readonly stopped: boolean,
  ) {
    super(message);
  }
}

function fail(message: string): never {
  throw new MigrationInputError(message);
}

/** Throws {@link MigrationInputError} naming the first bad value. */
export function validateMigrationOptions(opts: MigrationOptions): void {
  if (!CLUSTER_PATTERN.test(opts.cluster)) fail(`cluster must be a cluster name or ARN, got: ${JSON.stringify(opts.cluster)}`);
  if (!FAMILY_PATTERN.test(opts.family)) fail(`family must be 1-255 letters, digits, _ or -, got: ${JSON.stringify(opts.family)}`);
  if (!FAMILY_PATTERN.test(opts.containerName))
    fail(`container name must be 1-255 letters, digits, _ or -, got: ${JSON.stringify(opts.containerName)}`);
  if (!IMAGE_URI_PATTERN.test(opts.imageUri)) {
    fail(`image URI must be <registry>/<repository>@sha256:<64 lowercase hex>, got: ${JSON.stringify(opts.imageUri)}`);
  }
  if (opts.subnetIds.length === 0 || opts.subnetIds.length > MAX_SUBNETS) fail(`give 1-${MAX_SUBNETS} subnets, got: ${opts.subnetIds.length}`);
  for (const id of opts.subnetIds) if (!SUBNET_PATTERN.test(id)) fail(`subnet ids must look like subnet-0123abcd, got: ${JSON.stringify(id)}`);
  if (opts.securityGroupIds.length === 0 || opts.securityGroupIds.length > MAX_SECURITY_GROUPS) {
    fail(`give 1-${MAX_SECURITY_GROUPS} security groups, got: ${opts.securityGroupIds.length}`);
  }
  for (const id of opts.securityGroupIds)
    if (!SECURITY_GROUP_PATTERN.test(id)) fail(`security group ids must look like sg-0123abcd, got: ${JSON.stringify(id)}`);
  if (!CLIENT_TOKEN_PATTERN.test(opts.clientToken)) fail('client token must be 1-64 printable ASCII characters without spaces');
  if (!(opts.timeoutMs > 0) || !(opts.pollIntervalMs > 0) || !(opts.maxPollIntervalMs >= opts.pollIntervalMs)) {
    fail(`need timeoutMs > 0 and 0 < pollIntervalMs <= maxPollIntervalMs, got: ${opts.timeoutMs}, ${opts.pollIntervalMs}, ${opts.maxPollIntervalMs}`);
  }
}

/** {@link taskDefinitionWithImage}, with a missing container reported as {@link MigrationInputError}. */
export function buildMigrationTaskDefinitionInput(
  taskDefinition: TaskDefinition,
  tags: readonly Tag[] | undefined,
  containerName: string,
  imageUri: string,
): RegisterTaskDefinitionCommandInput {
  return taskDefinitionWithImage(taskDefinition, tags, containerName, imageUri, fail);
}

/**
 * Where the awslogs driver writes `container`'s output for a task: `<awslogs-stream-prefix>/<container>/<task id>` in
 * `awslogs-group`. Undefined for another log driver or without a prefix (then ECS names the stream by task id only).
 */
export function logStreamOf(container: ContainerDefinition | undefined, taskArn: string): LogStream | undefined {
  const log = container?.logConfiguration;
  const group = log?.options?.['awslogs-group'];
  const prefix = log?.options?.['awslogs-stream-prefix'];
  if (log?.logDriver !== 'awslogs' || !group || !prefix || !container?.name) return undefined;
  const taskId = taskArn.split('/').pop() ?? taskArn;
  return { group, stream: `${prefix}/${container.name}/${taskId}` };
}

function logHint(stream: LogStream | undefined): string {
  return stream
    ? `logs: aws logs tail ${stream.group} --log-stream-names ${stream.stream} --since 1h`
    : 'logs: the migration container has no awslogs stream prefix; see the task in the ECS console';
}

/** Why a stopped task does not count as a successful migration, or undefined when it does. */
export function stoppedTaskProblem(task: Task, containerName: string): string | undefined {
  const container = task.containers?.find((c) => c.name === containerName);
  const parts: string[] = [];
  const exit = container?.exitCode;
  if (!container) parts.push(`container ${containerName} is not in the task`);
  else if (exit === undefined) parts.push(`container ${containerName} has no exit code (it never ran)`);
  else if (exit !== 0) parts.push(`container ${containerName} exited ${exit}`);
  if (task.stopCode !== ESSENTIAL_CONTAINER_EXITED) parts.push(`stop code ${task.stopCode ?? '(none)'}, expected ${ESSENTIAL_CONTAINER_EXITED}`);
  if (parts.length === 0) return undefined;
  if (container?.reason) parts.push(`container reason: ${container.reason}`);
  if (task.stoppedReason) parts.push(`stopped reason: ${task.stoppedReason}`);
  if (exit !== undefined && task.stopCode === ESSENTIAL_CONTAINER_EXITED && exit !== 0) parts.unshift('the migration failed');
  return parts.join('; ');
}

/**
 * Runs the migration task with `opts.imageUri` and waits for its verdict. Resolves only when the migration container
 * exited 0; rejects with {@link MigrationInputError} (nothing started), {@link MigrationFailedError} or
 * {@link MigrationTimeoutError} (the task was asked to stop).
 */
export async function runMigration(opts: MigrationOptions, deps: MigrationDeps): Promise<MigrationResult> {
  validateMigrationOptions(opts);
  const { ecs, log, now } = deps;
  const aws = <T>(what: string, fn: () => Promise<T>): Promise<T> =>
    withRetry(fn, {
      ...deps.retry,
      sleep: deps.sleep,
      onRetry: (error, attempt, delayMs) =>
        log(`${what}: transient error (${error instanceof Error ? error.name : 'unknown'}), retry ${attempt} in ${delayMs}ms`),
    });

  const described = await aws('DescribeTaskDefinition', () =>
    ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: opts.family, include: ['TAGS'] })),
  );
  const latest = described.taskDefinition;
  if (!latest?.taskDefinitionArn) fail(`task definition family ${opts.family} has no ACTIVE revision`);
  if (latest.family !== opts.family || latest.status !== 'ACTIVE') {
    fail(
      `DescribeTaskDefinition ${opts.family} answered ${latest.taskDefinitionArn} (${latest.status ?? 'no status'}), not an ACTIVE revision of the family`,
    );
  }
  const current = latest.containerDefinitions?.find((c) => c.name === opts.containerName);
  let taskDefinition: TaskDefinition;
  if (current?.image === opts.imageUri) {
    taskDefinition = latest;
    log(`${latest.taskDefinitionArn} already runs ${opts.imageUri} in ${opts.containerName}: reusing it`);
  } else {
    const input = buildMigrationTaskDefinitionInput(latest, described.tags, opts.containerName, opts.imageUri);
    const registered = await aws('RegisterTaskDefinition', () => ecs.send(new RegisterTaskDefinitionCommand(input)));
    if (!registered.taskDefinition?.taskDefinitionArn) throw new Error('RegisterTaskDefinition returned no task definition ARN');
    taskDefinition = registered.taskDefinition;
    log(`registered ${taskDefinition.taskDefinitionArn} from ${latest.taskDefinitionArn} (container ${opts.containerName} -> ${opts.imageUri})`);
  }
  const taskDefinitionArn = taskDefinition.taskDefinitionArn!;
  const container = taskDefinition.containerDefinitions?.find((c) => c.name === opts.containerName);

  const startedAt = now();
  const ran = await aws('RunTask', () =>
    ecs.send(
      new RunTaskCommand({
        cluster: opts.cluster,
        taskDefinition: taskDefinitionArn,
        launchType: 'FARGATE',
        count: 1,
        startedBy: STARTED_BY,
        clientToken: opts.clientToken,
        networkConfiguration: {
          awsvpcConfiguration: { subnets: [...opts.subnetIds], securityGroups: [...opts.securityGroupIds], assignPublicIp: 'DISABLED' },
        },
      }),
    ),
  );
  const failures = ran.failures ?? [];
  const taskArn = ran.tasks?.[0]?.taskArn;
  if (failures.length > 0 || !taskArn || (ran.tasks?.length ?? 0) !== 1) {
    const why = failures.map((f) => `${f.reason ?? 'failure'}${f.detail ? ` (${f.detail})` : ''}${f.arn ? ` on ${f.arn}` : ''}`).join('; ');
    throw new MigrationFailedError(
      `RunTask did not start the migration task of ${taskDefinitionArn} in ${opts.cluster}: ${why || `${ran.tasks?.length ?? 0} task(s) returned`}`,
      taskArn,
    );
  }
  const stream = logStreamOf(container, taskArn);
  log(`started ${taskArn} (${logHint(stream)})`);

  const deadline = startedAt + opts.timeoutMs;
  let delay = opts.pollIntervalMs;
  let lastState = '';
  for (;;) {
    const response = await aws('DescribeTasks', () => ecs.send(new DescribeTasksCommand({ cluster: opts.cluster, tasks: [taskArn] })));
    const task = response.tasks?.find((t) => t.taskArn === taskArn);
    const failure = response.failures?.find((f) => f.reason !== MISSING);
    if (!task && failure) {
      throw new MigrationFailedError(
        `DescribeTasks ${taskArn} failed: ${failure.reason ?? 'failure'}${failure.detail ? ` (${failure.detail})` : ''}`,
        taskArn,
      );
    }
    const elapsed = formatMs(now() - startedAt);
    if (task?.lastStatus === FINAL_STATUS) {
      const problem = stoppedTaskProblem(task, opts.containerName);
      if (problem) {
        log(`migration task stopped after ${elapsed}: ${problem}`);
        throw new MigrationFailedError(
          `migration task ${taskArn} did not succeed: ${problem}. The service was not deployed; ${logHint(stream)}`,
          taskArn,
        );
      }
      log(`migration task exited 0 after ${elapsed}`);
      return { taskDefinitionArn, taskArn, durationMs: now() - startedAt, ...(stream ? { logStream: stream } : {}) };
    }
    const state = task ? `${task.lastStatus ?? 'UNKNOWN'}` : 'not visible yet';
    if (state !== lastState) log(`migration task ${state} (${elapsed})`);
    lastState = state;
    if (now() + delay > deadline) {
      const reason = `${STARTED_BY}: no result within ${formatMs(opts.timeoutMs)}`;
      let stopped = false;
      let stopError = '';
      try {
        await aws('StopTask', () => ecs.send(new StopTaskCommand({ cluster: opts.cluster, task: taskArn, reason })));
        stopped = true;
      } catch (error) {
        stopError = ` StopTask failed too (${error instanceof Error ? error.name : 'error'}): stop it by hand with aws ecs stop-task --cluster ${opts.cluster} --task ${taskArn}.`;
      }
      throw new MigrationTimeoutError(
        `migration task ${taskArn} did not stop within ${formatMs(opts.timeoutMs)} (last state ${state}); ` +
          `${stopped ? 'it was asked to stop (its current migration transaction rolls back)' : 'it may still be running'}.${stopError} ` +
          `The service was not deployed; ${logHint(stream)}`,
        taskArn,
        stopped,
      );
    }
    await deps.sleep(delay);
    delay = Math.min(opts.maxPollIntervalMs, Math.round(delay * 1.5));
  }
}
