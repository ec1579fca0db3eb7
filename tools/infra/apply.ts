/**
 * Applies a planned (and in prod approved) infrastructure change set, follows the stack to the end of the update,
 * announces the outcome on the environment's topic. When the change set changed the pipeline itself, CodePipeline
 * ends this execution after the apply, and this starts the pipeline again on its new definition once the update completed. A failed update is rolled back by CloudFormation; this fails with the stack event
 * that caused it, so the image deploy after it never runs on a failed infrastructure change.
 */
import { Change, DescribeChangeSetCommandOutput, ExecuteChangeSetCommand } from '@aws-sdk/client-cloudformation';
import { CodePipelineClient, StartPipelineExecutionCommand } from '@aws-sdk/client-codepipeline';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { withRetry } from '../common/retry';
import { formatMs } from '../common/runtime';
import { describeChanges, PIPELINE_DEFINITION_TYPES, plannedChanges } from './change-set';
import { CHANGE_SET_NAME } from './plan';
import {
  describeChangeSet,
  describeEvent,
  describeStack,
  retryOf,
  eventsSince,
  rootCause,
  stackStatus,
  StackDeps,
  StackStateError,
  waitUntilUpdatable,
} from './stack';

/** Statuses that end an update, and whether the update took. */
export const FINAL_UPDATE_STATUSES: Readonly<Record<string, boolean>> = {
  UPDATE_COMPLETE: true,
  UPDATE_ROLLBACK_COMPLETE: false,
  UPDATE_ROLLBACK_FAILED: false,
  UPDATE_FAILED: false,
};

/** The change set can no longer be applied as planned (gone, obsolete, or already run). Never retried. */
export class StaleChangeSetError extends Error {
  override readonly name = 'StaleChangeSetError';
}

/** The update failed (CloudFormation rolled it back, or could not); the message names the event that caused it. */
export class ApplyFailedError extends Error {
  override readonly name = 'ApplyFailedError';
}

/** Inputs of {@link applyInfrastructure}. */
export interface ApplyOptions {
  readonly envName: string;
  readonly stackName: string;
  readonly changeSetName: string;
  readonly commit: string;
  readonly executionId: string;
  /** ECS-owned listener rules the plan found touched: their live split is checked again right before executing. */
  readonly listenerRulesTouched: readonly string[];
  /** Where the outcome is announced. */
  readonly topicArn: string;
  /**
   * The SSM parameter naming the running image: the change set resolved it when it was planned, and must not put the
   * service back on an older image the deploy step has since replaced.
   */
  readonly imageParameterName: string;
  /** Bound on the update (CloudFormation goes on, and rolls back by itself, if this runs out). */
  readonly timeoutMs: number;
  /** @default 15 000 ms */
  readonly pollMs?: number;
}

/** Dependencies of {@link applyInfrastructure}. */
export interface ApplyDeps extends StackDeps {
  readonly sns: SNSClient;
  readonly ssm: SSMClient;
  readonly codepipeline: CodePipelineClient;
  readonly checkListenerRule: (logicalId: string) => Promise<{ readonly safe: boolean; readonly reason: string }>;
}

/** The outcome. */
export interface ApplyResult {
  readonly status: 'applied' | 'nothing-to-apply';
  /** The change set changed the pipeline itself: this execution ends after the apply, and this started a new one. */
  readonly changesPipeline?: boolean;
  readonly restartedExecutionId?: string;
}

async function announce(deps: ApplyDeps, opts: ApplyOptions, subject: string, lines: readonly string[]): Promise<void> {
  const message = [
    ...lines,
    '',
    `Environment: ${opts.envName}; stack ${opts.stackName}`,
    `Change set: ${opts.changeSetName}`,
    `Commit: ${opts.commit}`,
    `Pipeline execution: ${opts.executionId}`,
  ].join('\n');
  try {
    await withRetry(
      () => deps.sns.send(new PublishCommand({ TopicArn: opts.topicArn, Subject: `[${opts.envName}] ${subject}`.slice(0, 99), Message: message })),
      retryOf(deps),
    );
  } catch (error) {
    // The record is also in the pipeline's history and CloudTrail; a lost announcement must not hide the outcome.
    deps.log(`could not announce on ${opts.topicArn} (${(error as Error).name}: ${(error as Error).message})`);
  }
}

/**
 * Executes the change set named in `opts` and waits for the update to end. `nothing-to-apply` when the plan found no
 * change (`changeSetName` is `none`). Rejects with {@link StaleChangeSetError} when the change set is gone or no
 * longer executable (another change reached the stack after it was planned: plan again), with an error when a
 * touched ECS listener rule's live split no longer matches, and with {@link ApplyFailedError} when the update fails.
 */
export async function applyInfrastructure(opts: ApplyOptions, deps: ApplyDeps): Promise<ApplyResult> {
  if (opts.changeSetName === 'none') {
    deps.log('the plan found no infrastructure change: nothing to apply');
    return { status: 'nothing-to-apply' };
  }
  if (!CHANGE_SET_NAME.test(opts.changeSetName)) throw new StaleChangeSetError(`change set name ${JSON.stringify(opts.changeSetName)} is not valid`);
  const pollMs = opts.pollMs ?? 15_000;

  let described: { first: DescribeChangeSetCommandOutput; changes: Change[] };
  try {
    described = await describeChangeSet(deps, opts.stackName, opts.changeSetName);
  } catch (error) {
    if ((error as { name?: unknown }).name === 'ChangeSetNotFoundException' || (error as { name?: unknown }).name === 'ChangeSetNotFound') {
      throw new StaleChangeSetError(
        `change set ${opts.changeSetName} no longer exists: another change reached ${opts.stackName} after it was planned ` +
          '(CloudFormation deletes the other change sets of a stack when one is executed). Run the pipeline again to plan against the stack as it is now.',
      );
    }
    throw error;
  }
  const { first, changes } = described;
  if (first.Status !== 'CREATE_COMPLETE' || first.ExecutionStatus !== 'AVAILABLE') {
    throw new StaleChangeSetError(
      `change set ${opts.changeSetName} is ${first.Status}/${first.ExecutionStatus}, not CREATE_COMPLETE/AVAILABLE` +
        `${first.StatusReason ? ` (${first.StatusReason})` : ''}: it cannot be applied as planned; run the pipeline again`,
    );
  }
  // The change set froze the image parameter's value when it was planned; executing it after a newer release would put
  // the service back on the older image (docs/deployments.md, trap 1).
  const frozen = (first.Parameters ?? []).filter((p) => p.ParameterValue === opts.imageParameterName && p.ResolvedValue !== undefined);
  if (frozen.length > 0) {
    const current = (await withRetry(() => deps.ssm.send(new GetParameterCommand({ Name: opts.imageParameterName })), retryOf(deps))).Parameter
      ?.Value;
    const behind = frozen.find((p) => p.ResolvedValue !== current);
    if (behind) {
      throw new StaleChangeSetError(
        `change set ${opts.changeSetName} was planned when ${opts.imageParameterName} was ${behind.ResolvedValue}; it is ${current ?? '(absent)'} now, so ` +
          'executing it would put the service back on the older image. Run the pipeline again to plan against the image that runs.',
      );
    }
  }
  const planned = plannedChanges(changes);
  deps.log(`applying ${opts.changeSetName} to ${opts.stackName}:\n${describeChanges(planned).join('\n')}`);
  // The live split may have moved since the plan (a rollback, or a deployment finished): check it again now.
  for (const rule of opts.listenerRulesTouched) {
    const check = await deps.checkListenerRule(rule);
    if (!check.safe) throw new StaleChangeSetError(`listener rule ${rule}: ${check.reason} (docs/runbooks/listener-rule-reset.md)`);
  }
  await waitUntilUpdatable(deps, opts.stackName, opts.timeoutMs, pollMs);

  // CloudFormation's clock and this build's may differ; events from just before the call are filtered by status anyway.
  const startedAt = deps.now();
  await withRetry(
    () =>
      deps.cfn.send(
        new ExecuteChangeSetCommand({
          StackName: opts.stackName,
          ChangeSetName: opts.changeSetName,
          ClientRequestToken: `apply-${opts.changeSetName}`.slice(0, 128),
          DisableRollback: false,
        }),
      ),
    retryOf(deps),
  );
  let status: string | undefined;
  for (;;) {
    await deps.sleep(pollMs);
    status = await stackStatus(deps, opts.stackName);
    if (status === undefined) throw new StackStateError(`stack ${opts.stackName} disappeared during the update`);
    if (status in FINAL_UPDATE_STATUSES) break;
    const waited = deps.now() - startedAt;
    if (waited >= opts.timeoutMs) {
      const message =
        `${opts.stackName} is still ${status} after ${formatMs(waited)}: CloudFormation goes on and rolls back by itself if the update fails; ` +
        'follow it in the stack events. The image deploy does not run on an update that has not finished.';
      await announce(deps, opts, 'infrastructure change still running', [message]);
      throw new ApplyFailedError(message);
    }
    deps.log(`${opts.stackName}: ${status} (${formatMs(waited)})`);
  }
  const took = formatMs(deps.now() - startedAt);
  if (!FINAL_UPDATE_STATUSES[status]) {
    const events = await eventsSince(deps, opts.stackName, new Date(startedAt - 60_000));
    const cause = rootCause(events);
    const why = cause ? describeEvent(cause) : 'no failed resource event found; see the stack events';
    const advice =
      status === 'UPDATE_ROLLBACK_FAILED'
        ? 'The rollback failed too: the stack needs a person (docs/runbooks/infrastructure-change.md, "A failed rollback").'
        : 'CloudFormation rolled the stack back to what ran before; the service was not redeployed.';
    await announce(deps, opts, `infrastructure change FAILED (${status})`, [
      `The update of ${opts.stackName} ended ${status} after ${took}.`,
      `Cause: ${why}`,
      advice,
    ]);
    throw new ApplyFailedError(`update of ${opts.stackName} ended ${status} after ${took}. Cause: ${why}. ${advice}`);
  }
  deps.log(`${opts.stackName}: ${status} after ${took}`);
  const changesPipeline = planned.some((c) => PIPELINE_DEFINITION_TYPES.includes(c.type));
  await announce(deps, opts, 'infrastructure change applied', [
    `${opts.stackName} updated (${status}) in ${took}: ${planned.length} resource change(s).`,
    ...describeChanges(planned),
  ]);
  if (!changesPipeline) return { status: 'applied', changesPipeline };
  // CodePipeline lets the running actions of an updated pipeline finish and then fails their execution
  // (docs/aws-contracts.md, "Infrastructure through the pipeline"). Only now that the whole update completed does the
  // pipeline start again, on its new definition: a change that rolled back never restarts it, so it cannot loop.
  const pipelineName = (await describeStack(deps, opts.stackName))?.Outputs?.find((o) => o.OutputKey === 'PipelineName')?.OutputValue;
  if (!pipelineName) throw new ApplyFailedError(`${opts.stackName} has no PipelineName output: start the pipeline by hand (Release change)`);
  const started = await withRetry(
    () =>
      deps.codepipeline.send(
        new StartPipelineExecutionCommand({ name: pipelineName, clientRequestToken: `restart-${opts.changeSetName}`.slice(0, 128) }),
      ),
    retryOf(deps),
  );
  const restarted = started.pipelineExecutionId ?? '(unknown)';
  deps.log(
    `the change set changed the pipeline itself: started execution ${restarted} of ${pipelineName} on the new definition; ` +
      'CodePipeline ends this execution (as failed) once this action returns',
  );
  await announce(deps, opts, 'pipeline restarted on its new definition', [
    `${opts.changeSetName} changed the pipeline itself. CodePipeline ends execution ${opts.executionId} (it shows as failed: the definition changed under it).`,
    `Execution ${restarted} runs the branch through every gate again on the new definition.`,
  ]);
  return { status: 'applied', changesPipeline, restartedExecutionId: restarted };
}
