/**
 * Reads the payload ECS sends to a deployment lifecycle hook.
 *
 * The ECS developer guide ("Lifecycle hooks for Amazon ECS service deployments", Lifecycle payloads) lists the fields
 * every stage carries: serviceArn, targetServiceRevisionArn, testTrafficWeights and productionTrafficWeights. The
 * Lambda receives them inside `executionDetails`, with `lifecycleStage` beside it at the top level, which is how
 * AWS's own hooks read them (aws-samples/sample-amazon-ecs-blue-green-deployment-patterns,
 * ecs-bluegreen-lifecycle-hooks/src/*Function/app.py). The guide prints the fields unwrapped, so both places are read,
 * `executionDetails` first. Nothing here decides anything: values are only typed and passed on.
 */

/** The fields of one hook invocation this handler uses; each is absent when the payload lacks it or it is not a string. */
export interface HookEventFields {
  readonly lifecycleStage?: string;
  readonly serviceArn?: string;
  readonly targetServiceRevisionArn?: string;
}

/** The value's fields; a value that is not an object (null, an array, a string) has none. */
function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function text(...candidates: unknown[]): string | undefined {
  return candidates.find((c): c is string => typeof c === 'string' && c.length > 0);
}

/** Typed view of the payload; never throws, whatever the input. */
export function readHookEvent(event: unknown): HookEventFields {
  const top = record(event);
  const details = record(top.executionDetails);
  return {
    lifecycleStage: text(top.lifecycleStage, details.lifecycleStage),
    serviceArn: text(details.serviceArn, top.serviceArn),
    targetServiceRevisionArn: text(details.targetServiceRevisionArn, top.targetServiceRevisionArn),
  };
}

/** One log line naming the stage, service and revision; a field the payload lacks is written `<absent>`. */
export function describeHookEvent(fields: HookEventFields): string {
  const show = (v: string | undefined): string => v ?? '<absent>';
  return `stage ${show(fields.lifecycleStage)} service ${show(fields.serviceArn)} revision ${show(fields.targetServiceRevisionArn)}`;
}
