/**
 * Before Infra-Plan creates a change set: the environment's recovery stack (`TapStack-<env>-recovery`, in its second
 * region) must exist, be in a settled state, and hold exactly the resources this commit synthesizes for it. The main
 * stack's replication rules, backup copies and secret replicas name that stack's buckets, vault and key: S3 refuses a
 * replication configuration whose destination bucket does not exist, so applying the main stack first would fail and
 * roll back. The pipeline deploys the main stack only; the recovery stack is deployed with `npm run deploy:recovery`
 * (docs/runbooks/disaster-recovery.md), and this check makes the order one that cannot be forgotten.
 */
import { GetTemplateCommand } from '@aws-sdk/client-cloudformation';
import { isDeepStrictEqual } from 'node:util';
import { withRetry } from '../common/retry';
import { describeStack, retryOf, StackDeps } from './stack';

/** States a recovery stack may be in for the main stack to rely on it. */
export const RECOVERY_READY_STATUSES: readonly string[] = ['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'UPDATE_ROLLBACK_COMPLETE'];

/** The recovery stack is missing, unsettled or not this commit's. Never retried. */
export class RecoveryStackError extends Error {
  override readonly name = 'RecoveryStackError';
}

type Resources = Record<string, { Type?: string; [key: string]: unknown }>;

/** Resources of a template, without CDK's metadata resource (it changes with nothing the stack does). */
function resourcesOf(template: unknown): Resources {
  const all = ((template as { Resources?: Resources } | undefined)?.Resources ?? {}) as Resources;
  return Object.fromEntries(Object.entries(all).filter(([, r]) => r.Type !== 'AWS::CDK::Metadata'));
}

/** Logical ids added, removed or changed between the deployed and the synthesized template, sorted. */
export function resourceDrift(deployed: unknown, synthesized: unknown): string[] {
  const a = resourcesOf(deployed);
  const b = resourcesOf(synthesized);
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((id) => !isDeepStrictEqual(a[id], b[id])).sort();
}

/** Throws {@link RecoveryStackError} naming what to do, unless the recovery stack is there, settled and current. */
export async function checkRecoveryStack(deps: StackDeps, stackName: string, region: string, synthesized: unknown, envName: string): Promise<void> {
  const todo = `deploy it with this commit first: npm run deploy:recovery -- ${envName} (docs/runbooks/disaster-recovery.md)`;
  const stack = await describeStack(deps, stackName);
  if (!stack) throw new RecoveryStackError(`the recovery stack ${stackName} does not exist in ${region}; ${todo}`);
  const status = stack.StackStatus ?? 'UNKNOWN';
  if (!RECOVERY_READY_STATUSES.includes(status)) throw new RecoveryStackError(`the recovery stack ${stackName} in ${region} is ${status}; ${todo}`);
  const out = await withRetry(() => deps.cfn.send(new GetTemplateCommand({ StackName: stackName, TemplateStage: 'Original' })), retryOf(deps));
  let deployed: unknown;
  try {
    deployed = JSON.parse(out.TemplateBody ?? '');
  } catch {
    throw new RecoveryStackError(`the recovery stack ${stackName} in ${region} has a template that is not JSON (not deployed by this app); ${todo}`);
  }
  const drift = resourceDrift(deployed, synthesized);
  if (drift.length > 0)
    throw new RecoveryStackError(`the recovery stack ${stackName} in ${region} differs from this commit's in ${drift.join(', ')}; ${todo}`);
  deps.log(`recovery stack ${stackName} in ${region}: ${status}, the resources this commit synthesizes`);
}
