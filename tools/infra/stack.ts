/**
 * Reading the environment's stack: its status, waiting while another operation runs, and the event that caused a
 * failed update. Status values: https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Stack.html
 */
import {
  Change,
  CloudFormationClient,
  DescribeChangeSetCommand,
  DescribeChangeSetCommandOutput,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  Stack,
  StackEvent,
} from '@aws-sdk/client-cloudformation';
import { RetryOptions, withRetry } from '../common/retry';
import { formatMs, ToolRuntime } from '../common/runtime';

/** Statuses from which an update may start. */
export const UPDATABLE_STATUSES: readonly string[] = [
  'CREATE_COMPLETE',
  'UPDATE_COMPLETE',
  'UPDATE_ROLLBACK_COMPLETE',
  'IMPORT_COMPLETE',
  'IMPORT_ROLLBACK_COMPLETE',
];

/** What to do about a status from which no update can start, for the error message. */
const STUCK_ADVICE: Readonly<Record<string, string>> = {
  UPDATE_ROLLBACK_FAILED:
    'the last update could not roll back: fix the resource named in the stack events, then continue the rollback ' +
    '(aws cloudformation continue-update-rollback; docs/runbooks/infrastructure-change.md)',
  ROLLBACK_COMPLETE: 'the stack was never created successfully: it must be deleted and deployed again (docs/runbooks/first-deploy.md)',
  ROLLBACK_FAILED: 'the stack was never created and its rollback failed: delete it and deploy again (docs/runbooks/first-deploy.md)',
  DELETE_FAILED: 'a delete of the stack failed half-way: finish or undo it by hand before any update',
  DELETE_COMPLETE: 'the stack was deleted',
  CREATE_FAILED: 'the stack was never created successfully',
  UPDATE_FAILED: 'the last update failed with rollback disabled: roll it back or fix it forward by hand first',
  IMPORT_ROLLBACK_FAILED: 'an import could not roll back: fix it by hand first',
};

/** The stack is missing or in a state no update can start from. Never retried. */
export class StackStateError extends Error {
  override readonly name = 'StackStateError';
}

/** Dependencies of the stack helpers. */
export interface StackDeps extends ToolRuntime {
  readonly cfn: CloudFormationClient;
}

/** Retry settings for one AWS call of these tools: the runtime's, with its sleep. */
export function retryOf(deps: StackDeps): RetryOptions {
  return { ...deps.retry, sleep: deps.sleep };
}

/** The stack (status, outputs), or undefined when it does not exist. */
export async function describeStack(deps: StackDeps, stackName: string): Promise<Stack | undefined> {
  try {
    const out = await withRetry(() => deps.cfn.send(new DescribeStacksCommand({ StackName: stackName })), retryOf(deps));
    return out.Stacks?.[0];
  } catch (error) {
    const e = error as { name?: unknown; message?: unknown };
    if (e.name === 'ValidationError' && typeof e.message === 'string' && /does not exist/.test(e.message)) return undefined;
    throw error;
  }
}

/** The stack's current status, or undefined when it does not exist. */
export async function stackStatus(deps: StackDeps, stackName: string): Promise<string | undefined> {
  return (await describeStack(deps, stackName))?.StackStatus;
}

/**
 * Waits until no operation runs on the stack (a break-glass deploy, or a rollback still finishing), then returns its
 * status; throws {@link StackStateError} when the stack is missing, stays busy past `timeoutMs`, or is in a state no
 * update can start from.
 */
export async function waitUntilUpdatable(deps: StackDeps, stackName: string, timeoutMs: number, pollMs = 15_000): Promise<string> {
  const started = deps.now();
  for (;;) {
    const status = await stackStatus(deps, stackName);
    if (status === undefined) {
      throw new StackStateError(
        `stack ${stackName} does not exist: the first deployment of an environment is made by hand (docs/runbooks/first-deploy.md)`,
      );
    }
    if (UPDATABLE_STATUSES.includes(status)) return status;
    if (!status.endsWith('_IN_PROGRESS')) {
      throw new StackStateError(`stack ${stackName} is ${status}: ${STUCK_ADVICE[status] ?? 'no update can start from this status'}`);
    }
    const waited = deps.now() - started;
    if (waited >= timeoutMs) {
      throw new StackStateError(
        `stack ${stackName} is still ${status} after ${formatMs(waited)}: another operation holds it; try again when it ends`,
      );
    }
    deps.log(`stack ${stackName} is ${status}: another operation is running, waiting`);
    await deps.sleep(pollMs);
  }
}

/** The stack's events since `since`, oldest first (DescribeStackEvents returns newest first, by pages). */
export async function eventsSince(deps: StackDeps, stackName: string, since: Date, maxPages = 20): Promise<StackEvent[]> {
  const events: StackEvent[] = [];
  let token: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const out = await withRetry(() => deps.cfn.send(new DescribeStackEventsCommand({ StackName: stackName, NextToken: token })), retryOf(deps));
    const batch = out.StackEvents ?? [];
    let older = false;
    for (const e of batch) {
      if (e.Timestamp && e.Timestamp.getTime() < since.getTime()) {
        older = true;
        break;
      }
      events.push(e);
    }
    token = out.NextToken;
    if (older || !token) break;
  }
  return events.reverse();
}

/** Reasons CloudFormation gives resources it stopped because another one failed: consequences, not causes. */
const CONSEQUENCE = /Resource update cancelled|Resource creation cancelled|cancelled by user|The following resource\(s\) failed/i;

/**
 * The event that caused a failed update: the first `*_FAILED` resource event (oldest first) whose reason is not a
 * consequence of another failure; else the first failed event; else undefined.
 */
export function rootCause(events: readonly StackEvent[]): StackEvent | undefined {
  const failed = events.filter((e) => e.ResourceStatus?.endsWith('_FAILED') && e.ResourceType !== 'AWS::CloudFormation::Stack');
  return failed.find((e) => !CONSEQUENCE.test(e.ResourceStatusReason ?? '')) ?? failed[0];
}

/** One line for an event: `LogicalId (Type) STATUS: reason`. */
export function describeEvent(e: StackEvent): string {
  return `${e.LogicalResourceId ?? '?'} (${e.ResourceType ?? '?'}) ${e.ResourceStatus ?? '?'}: ${e.ResourceStatusReason ?? 'no reason given'}`;
}

/** The setup flags Infra-Plan may carry over from the deployed stack's `PendingSetup` output; nothing else is accepted. */
export const SETUP_FLAGS: readonly string[] = ['firstDeploy', 'newDatabase'];

/**
 * The context flags the stack was last deployed with (its `PendingSetup` output), as `-c name=true` arguments, so a
 * pipeline synth keeps what a person set for the first deploy. Throws on a value it does not know.
 */
export async function pendingSetupFlags(deps: StackDeps, stackName: string): Promise<string[]> {
  const stack = await describeStack(deps, stackName);
  if (!stack)
    throw new StackStateError(
      `stack ${stackName} does not exist: the first deployment of an environment is made by hand (docs/runbooks/first-deploy.md)`,
    );
  const value = stack.Outputs?.find((o) => o.OutputKey === 'PendingSetup')?.OutputValue ?? 'none';
  if (value === 'none') return [];
  const flags = value.split(',');
  const unknown = flags.filter((f) => !SETUP_FLAGS.includes(f));
  if (unknown.length > 0) throw new StackStateError(`output PendingSetup of ${stackName} names unknown flags: ${JSON.stringify(unknown.join(','))}`);
  return flags.flatMap((f) => ['-c', `${f}=true`]);
}

/** A change set with every page of its changes (DescribeChangeSet pages them with NextToken); `first` is the first page. */
export async function describeChangeSet(
  deps: StackDeps,
  stackName: string,
  changeSetName: string,
): Promise<{ first: DescribeChangeSetCommandOutput; changes: Change[] }> {
  const changes: Change[] = [];
  let token: string | undefined;
  let first: DescribeChangeSetCommandOutput | undefined;
  do {
    const out = await withRetry(
      () => deps.cfn.send(new DescribeChangeSetCommand({ StackName: stackName, ChangeSetName: changeSetName, NextToken: token })),
      retryOf(deps),
    );
    first ??= out;
    changes.push(...(out.Changes ?? []));
    token = out.NextToken;
  } while (token);
  return { first: first!, changes };
}
