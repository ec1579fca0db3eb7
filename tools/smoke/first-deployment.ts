/**
 * Decides whether a hook invocation belongs to the service's first deployment (the one CreateService starts).
 *
 * ECS runs lifecycle hooks on that deployment too (AWS's blue/green samples skip their checks there for this reason:
 * aws-samples/sample-amazon-ecs-blue-green-deployment-patterns, ecs-bluegreen-lifecycle-hooks/src/approvalFunction/app.py).
 * Then nothing can pass a smoke test (no image yet, no tasks, DNS elsewhere) and nothing can be rolled back to, so the
 * hook must let it through. Every other deployment must be smoke-tested, so the answer is "first" only when ECS itself
 * says so, and any doubt (a malformed or foreign event, an API error, an ambiguous answer) means "not first".
 *
 * The payload cannot tell: at POST_TEST_TRAFFIC_SHIFT both traffic-weight maps are empty on every deployment
 * (developer guide, Lifecycle payloads). Two records of ECS can, and each covers the other's blind spot:
 * - ListServiceDeployments, as the samples use it: the first deployment is the only one listed. Alone it is not
 *   strict, because ECS shows 90 days of history, so a service idle for longer would look new.
 * - The deployment's own `sourceServiceRevisions`, "the currently running service revisions": the first deployment
 *   has none. Alone it might not be strict either where nothing runs (the pipeline's first release after a
 *   `firstDeploy` stack, which starts from 0 tasks), if ECS leaves a revision without tasks out.
 * So: list this service's deployments; "first" needs exactly one listed, IN_PROGRESS, to the event's revision, and
 * DescribeServiceDeployments of it matching the event field for field and naming no source revision.
 *
 * One more condition narrows it to the only first deployment this platform lets through untested: the stack's
 * `firstDeploy` creation, whose target revision requests 0 tasks (there is nothing to test). A service that
 * CloudFormation replaces (a replacing property change creates the new service first) is also "first" to ECS, but it
 * requests the configured task count and runs a real image: it is smoke-tested like any release.
 */
import { DescribeServiceDeploymentsCommand, ECSClient, ListServiceDeploymentsCommand } from '@aws-sdk/client-ecs';
import { RetryOptions, withRetry } from '../common/retry';
import { HookEventFields } from './hook-event';

/** The verdict and the reason to log with it. */
export interface FirstDeploymentVerdict {
  readonly first: boolean;
  readonly reason: string;
}

/** Where to look. */
export interface FirstDeploymentOptions {
  /** The cluster the hook serves (its CLUSTER_NAME); an event about any other cluster is never a first deployment. */
  readonly clusterName: string | undefined;
  readonly ecs: ECSClient;
  /**
   * Retry of the two ECS calls.
   * @default - 2 retries from 200 ms, well inside the hook's timeout
   */
  readonly retry?: RetryOptions;
}

/** `arn:<partition>:ecs:<region>:<account>:service/<cluster>/<service>` (ECS long ARN format). */
const SERVICE_ARN = /^arn:(aws[a-z-]*):ecs:([a-z0-9-]+):(\d{12}):service\/([A-Za-z0-9_-]{1,255})\/([A-Za-z0-9_-]{1,255})$/;
/** `arn:<partition>:ecs:<region>:<account>:service-revision/<cluster>/<service>/<id>`. */
const REVISION_ARN =
  /^arn:(aws[a-z-]*):ecs:([a-z0-9-]+):(\d{12}):service-revision\/([A-Za-z0-9_-]{1,255})\/([A-Za-z0-9_-]{1,255})\/([A-Za-z0-9]{1,64})$/;

const notFirst = (reason: string): FirstDeploymentVerdict => ({ first: false, reason });

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'error';
}

/** Never throws: an error is a "not first" verdict naming it. */
export async function checkFirstDeployment(fields: HookEventFields, opts: FirstDeploymentOptions): Promise<FirstDeploymentVerdict> {
  const clusterName = opts.clusterName?.trim();
  if (!clusterName) return notFirst('CLUSTER_NAME is not set, so no deployment can be matched');
  const { serviceArn, targetServiceRevisionArn: revisionArn } = fields;
  const service = serviceArn === undefined ? null : SERVICE_ARN.exec(serviceArn);
  if (!serviceArn || !service) return notFirst(`the event has no valid serviceArn, got: ${JSON.stringify(serviceArn ?? null)}`);
  if (service[4] !== clusterName) return notFirst(`the event's service is in cluster ${service[4]}, not ${clusterName}`);
  const revision = revisionArn === undefined ? null : REVISION_ARN.exec(revisionArn);
  if (!revisionArn || !revision) return notFirst(`the event has no valid targetServiceRevisionArn, got: ${JSON.stringify(revisionArn ?? null)}`);
  if ([1, 2, 3, 4, 5].some((i) => revision[i] !== service[i])) return notFirst(`the revision ${revisionArn} is not a revision of ${serviceArn}`);

  const retry: RetryOptions = opts.retry ?? { retries: 2 };
  try {
    const listed = await withRetry(() => opts.ecs.send(new ListServiceDeploymentsCommand({ cluster: clusterName, service: serviceArn })), retry);
    const all = listed.serviceDeployments ?? [];
    const candidates = all.filter((d) => d.serviceArn === serviceArn && d.targetServiceRevisionArn === revisionArn && d.status === 'IN_PROGRESS');
    if (candidates.length !== 1 || !candidates[0]?.serviceDeploymentArn) {
      return notFirst(`expected exactly one IN_PROGRESS deployment of ${serviceArn} to ${revisionArn}, found ${candidates.length}`);
    }
    if (all.length !== 1 || listed.nextToken) {
      return notFirst(`${serviceArn} has earlier deployments (${listed.nextToken ? 'more than one page' : all.length} listed)`);
    }
    const deploymentArn = candidates[0].serviceDeploymentArn;
    const described = await withRetry(() => opts.ecs.send(new DescribeServiceDeploymentsCommand({ serviceDeploymentArns: [deploymentArn] })), retry);
    const failures = described.failures ?? [];
    const deployments = described.serviceDeployments ?? [];
    const d = deployments[0];
    if (failures.length > 0 || deployments.length !== 1 || !d) {
      return notFirst(`DescribeServiceDeployments ${deploymentArn} answered ${deployments.length} deployment(s), ${failures.length} failure(s)`);
    }
    if (
      d.serviceDeploymentArn !== deploymentArn ||
      d.serviceArn !== serviceArn ||
      d.targetServiceRevision?.arn !== revisionArn ||
      d.status !== 'IN_PROGRESS'
    ) {
      return notFirst(`deployment ${deploymentArn} does not match the event (service, target revision or status IN_PROGRESS)`);
    }
    const sources = d.sourceServiceRevisions ?? [];
    if (sources.length > 0) {
      return notFirst(`deployment ${deploymentArn} replaces ${sources.map((s) => s.arn ?? '<unnamed>').join(', ')}`);
    }
    const requested = d.targetServiceRevision.requestedTaskCount;
    if (requested !== 0) {
      return notFirst(
        `deployment ${deploymentArn} is the first of ${serviceArn} but requests ${JSON.stringify(requested ?? null)} task(s): ` +
          'only a first deployment with no task (the firstDeploy creation) has nothing to test',
      );
    }
    return {
      first: true,
      reason: `deployment ${deploymentArn} is the first of ${serviceArn}: it has no source service revision and requests no task`,
    };
  } catch (error) {
    return notFirst(
      `cannot read the service deployments (${errorName(error)}); check the hook role's ecs:ListServiceDeployments and ecs:DescribeServiceDeployments`,
    );
  }
}
