/**
 * Plans an infrastructure change: a CloudFormation change set of the synthesized template against the environment's
 * stack, judged before anyone executes it ({@link reviewChangeSet}). The change set is left for the apply step (and,
 * in prod, for the approver to read); a refused one is deleted. Change set API:
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html
 */
import { Capability, CreateChangeSetCommand, DeleteChangeSetCommand } from '@aws-sdk/client-cloudformation';
import { withRetry } from '../common/retry';
import { formatMs } from '../common/runtime';
import { ChangeSetReview, imageOnly, plannedChanges, reviewChangeSet, ssmParametersReading } from './change-set';
import { describeChangeSet, retryOf, StackDeps, waitUntilUpdatable } from './stack';

/** What `cdk deploy` passes: the templates create named IAM resources and may use transforms. */
export const CAPABILITIES: readonly Capability[] = ['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM', 'CAPABILITY_AUTO_EXPAND'];

/** CloudFormation's change set names: a letter, then letters, digits and hyphens, at most 128 characters. */
export const CHANGE_SET_NAME = /^[a-zA-Z][-a-zA-Z0-9]{0,127}$/;

/** The status reason of a change set that would change nothing (CloudFormation reports it as FAILED). */
export const NO_CHANGES = /didn't contain changes|No updates are to be performed/i;

/** The change set's name: the commit and the pipeline execution that planned it, so each record leads to the other. */
export function changeSetNameOf(commit: string, executionId: string): string {
  if (!/^[0-9a-f]{40}$/.test(commit))
    throw new PlanInputError(`commit must be a full 40-character lowercase hex git SHA, got: ${JSON.stringify(commit)}`);
  const execution = executionId.replace(/[^a-zA-Z0-9]/g, '').slice(0, 8);
  if (execution.length === 0) throw new PlanInputError(`pipeline execution id must contain letters or digits, got: ${JSON.stringify(executionId)}`);
  return `pipeline-${commit.slice(0, 12)}-${execution}`;
}

/** Input that can never work. Never retried. */
export class PlanInputError extends Error {
  override readonly name = 'PlanInputError';
}

/** CloudFormation could not make the change set (for a reason other than "no changes"). */
export class PlanFailedError extends Error {
  override readonly name = 'PlanFailedError';
}

/** The change set does something the pipeline does not apply on its own. It has been deleted. */
export class PlanRefusedError extends Error {
  override readonly name = 'PlanRefusedError';
  constructor(
    message: string,
    readonly review: ChangeSetReview,
  ) {
    super(message);
  }
}

/** Inputs of {@link planInfrastructure}. */
export interface PlanOptions {
  readonly stackName: string;
  /** HTTPS URL of the synthesized template, published with the assets (CloudFormation reads templates over 51,200 bytes only from S3). */
  readonly templateUrl: string;
  /** The role CloudFormation acts with (the CDK bootstrap's execution role). */
  readonly executionRoleArn: string;
  readonly changeSetName: string;
  /** Stored with the change set: commit and pipeline execution. */
  readonly description: string;
  /** The synthesized template, parsed: tells which resources ECS blue/green owns. */
  readonly template: unknown;
  /**
   * The SSM parameter naming the running image, which the deploy step rewrites after every release: a change set that
   * follows only from its new value is not applied ({@link imageOnly}).
   */
  readonly imageParameterName: string;
  /** Bound on waiting for another stack operation to end, and for the change set to be computed. */
  readonly timeoutMs: number;
  /** @default 5 000 ms */
  readonly pollMs?: number;
}

/** Dependencies: AWS, the runtime, and the live check of an ECS-owned listener rule (tools/listener-guard). */
export interface PlanDeps extends StackDeps {
  readonly checkListenerRule: (logicalId: string) => Promise<{ readonly safe: boolean; readonly reason: string }>;
}

/** The outcome: the change set to apply (absent when there is nothing to change) and its review. */
export interface Plan {
  readonly changeSetName?: string;
  readonly changeSetId?: string;
  /** The stack's ARN, for the console link. */
  readonly stackId?: string;
  readonly review: ChangeSetReview;
}

async function deleteChangeSet(deps: StackDeps, stackName: string, changeSetName: string): Promise<void> {
  try {
    await withRetry(() => deps.cfn.send(new DeleteChangeSetCommand({ StackName: stackName, ChangeSetName: changeSetName })), retryOf(deps));
  } catch (error) {
    deps.log(`could not delete change set ${changeSetName} (${(error as Error).name}); CloudFormation deletes it with the next execution`);
  }
}

/**
 * Waits for the stack to be updatable, creates the change set, waits until CloudFormation has computed it, and
 * reviews it. Resolves without a change set when the template changes nothing. Rejects with
 * {@link PlanRefusedError} (change set deleted) when the review refuses it or the live split of a touched ECS
 * listener rule differs from the template's, {@link PlanFailedError} when CloudFormation cannot make it, and
 * `StackStateError` when the stack is missing or stuck.
 */
export async function planInfrastructure(opts: PlanOptions, deps: PlanDeps): Promise<Plan> {
  if (!CHANGE_SET_NAME.test(opts.changeSetName))
    throw new PlanInputError(`change set name ${JSON.stringify(opts.changeSetName)} is not a valid name`);
  if (!/^https:\/\/[^/]+\.amazonaws\.com\/./.test(opts.templateUrl)) {
    throw new PlanInputError(`template URL must be an https S3 URL, got: ${JSON.stringify(opts.templateUrl)}`);
  }
  const pollMs = opts.pollMs ?? 5_000;
  const status = await waitUntilUpdatable(deps, opts.stackName, opts.timeoutMs);
  deps.log(`stack ${opts.stackName} is ${status}; creating change set ${opts.changeSetName}`);
  const created = await withRetry(
    () =>
      deps.cfn.send(
        new CreateChangeSetCommand({
          StackName: opts.stackName,
          ChangeSetName: opts.changeSetName,
          ChangeSetType: 'UPDATE',
          TemplateURL: opts.templateUrl,
          RoleARN: opts.executionRoleArn,
          Capabilities: [...CAPABILITIES],
          Description: opts.description.slice(0, 1024),
        }),
      ),
    retryOf(deps),
  );
  const started = deps.now();
  for (;;) {
    const { first, changes } = await describeChangeSet(deps, opts.stackName, opts.changeSetName);
    const s = first.Status;
    if (s === 'CREATE_COMPLETE') {
      const planned = plannedChanges(changes);
      if (imageOnly(planned, ssmParametersReading(opts.template, opts.imageParameterName))) {
        await deleteChangeSet(deps, opts.stackName, opts.changeSetName);
        deps.log(`the change set only follows the new value of ${opts.imageParameterName} (the image the service runs): nothing to apply`);
        const empty = reviewChangeSet([], opts.template);
        return { review: { ...empty, headline: `${empty.headline} (only the recorded image moved, which the deploy step keeps)` } };
      }
      const reviewed = reviewChangeSet(planned, opts.template);
      // CloudFormation makes a change set for a change of outputs alone; it has no resource change but must still run.
      const review = planned.length === 0 ? { ...reviewed, headline: 'no resource changes (outputs only)' } : reviewed;
      const refusals = [...review.refusals];
      for (const rule of review.listenerRulesTouched) {
        const check = await deps.checkListenerRule(rule);
        deps.log(`listener rule ${rule}: ${check.safe ? 'safe' : 'UNSAFE'}: ${check.reason}`);
        if (!check.safe) refusals.push(`Modify ${rule}: ${check.reason} (docs/runbooks/listener-rule-reset.md)`);
      }
      if (refusals.length > 0) {
        await deleteChangeSet(deps, opts.stackName, opts.changeSetName);
        throw new PlanRefusedError(
          `the pipeline does not apply this change on its own:\n${refusals.map((r) => `  - ${r}`).join('\n')}\n` +
            'Plan it with the team and apply it through the break-glass path (docs/runbooks/infrastructure-change.md).',
          { ...review, refusals },
        );
      }
      return { changeSetName: opts.changeSetName, changeSetId: first.ChangeSetId ?? created.Id, stackId: first.StackId, review };
    }
    if (s === 'FAILED') {
      if (NO_CHANGES.test(first.StatusReason ?? '')) {
        await deleteChangeSet(deps, opts.stackName, opts.changeSetName);
        return { review: reviewChangeSet([], opts.template) };
      }
      throw new PlanFailedError(`CloudFormation could not create change set ${opts.changeSetName}: ${first.StatusReason ?? 'no reason given'}`);
    }
    const waited = deps.now() - started;
    if (waited >= opts.timeoutMs) {
      throw new PlanFailedError(`change set ${opts.changeSetName} is still ${s ?? 'unknown'} after ${formatMs(waited)}`);
    }
    await deps.sleep(pollMs);
  }
}
