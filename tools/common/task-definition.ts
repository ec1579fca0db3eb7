/**
 * What the deploy and migrate steps share about task definitions: the image form both accept, and the copy of a
 * described revision that RegisterTaskDefinition takes with one container's image replaced.
 */
import { RegisterTaskDefinitionCommandInput, Tag, TaskDefinition } from '@aws-sdk/client-ecs';

/**
 * An image pinned by digest: `<registry>/<repository>@sha256:<64 hex>`. Tags are refused because a tag can be moved
 * after the scan, and what is deployed (and migrated with) must be exactly what was tested.
 */
export const IMAGE_URI_PATTERN =
  // eslint-disable-next-line security/detect-unsafe-regex -- every repetition needs a separator character, so matching is linear; input is one CLI value
  /^[a-z0-9]+(?:[.-][a-z0-9]+)*(?::\d{1,5})?\/(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*@sha256:[a-f0-9]{64}$/;

/**
 * The fields of a described task definition that RegisterTaskDefinition accepts (tags come separately, from
 * `include: ['TAGS']`). An allow-list, so a field AWS adds to the description later is not sent back unchecked.
 */
export const REGISTERABLE_TASK_DEFINITION_FIELDS = [
  'family',
  'taskRoleArn',
  'executionRoleArn',
  'networkMode',
  'containerDefinitions',
  'volumes',
  'placementConstraints',
  'requiresCompatibilities',
  'cpu',
  'memory',
  'pidMode',
  'ipcMode',
  'proxyConfiguration',
  'inferenceAccelerators',
  'ephemeralStorage',
  'runtimePlatform',
  'enableFaultInjection',
] as const satisfies readonly (keyof RegisterTaskDefinitionCommandInput & keyof TaskDefinition)[];

/**
 * The fields DescribeTaskDefinition returns that describe a registered revision and that RegisterTaskDefinition
 * rejects (the list aws-actions/amazon-ecs-deploy-task-definition strips, plus deleteRequestedAt).
 */
export const READ_ONLY_TASK_DEFINITION_FIELDS = [
  'taskDefinitionArn',
  'revision',
  'status',
  'requiresAttributes',
  'compatibilities',
  'registeredAt',
  'registeredBy',
  'deregisteredAt',
  'deleteRequestedAt',
] as const satisfies readonly Exclude<keyof TaskDefinition, (typeof REGISTERABLE_TASK_DEFINITION_FIELDS)[number]>[];

/**
 * The RegisterTaskDefinition input for `taskDefinition` with `containerName`'s image replaced: only the registerable
 * fields are copied, absent ones stay absent, and the caller's tags are kept (not AWS's reserved `aws:` tags, which a
 * caller may not set; an empty list is left out, which RegisterTaskDefinition rejects). `containerMissing` reports a
 * container name the revision does not have, with the tool's own error type; it must throw.
 */
export function taskDefinitionWithImage(
  taskDefinition: TaskDefinition,
  tags: readonly Tag[] | undefined,
  containerName: string,
  imageUri: string,
  containerMissing: (message: string) => never,
): RegisterTaskDefinitionCommandInput {
  const containers = taskDefinition.containerDefinitions ?? [];
  if (!containers.some((c) => c.name === containerName)) {
    const names = containers.map((c) => c.name ?? '(unnamed)').join(', ');
    containerMissing(`container ${JSON.stringify(containerName)} not found in ${taskDefinition.taskDefinitionArn}; it has: ${names || 'none'}`);
  }
  const copy: Record<string, unknown> = {};
  for (const field of REGISTERABLE_TASK_DEFINITION_FIELDS) {
    const value = taskDefinition[field];
    if (value !== undefined) copy[field] = value;
  }
  const input: RegisterTaskDefinitionCommandInput = {
    ...copy,
    family: taskDefinition.family,
    containerDefinitions: containers.map((c) => (c.name === containerName ? { ...c, image: imageUri } : c)),
  };
  // Keys (or values) starting with aws: are AWS's own; CloudFormation does not add its aws:cloudformation:* tags to
  // task definitions today, but a copy must not fail the day something else does.
  const own = (tags ?? []).filter((t) => !/^aws:/i.test(t.key ?? '') && !/^aws:/i.test(t.value ?? ''));
  if (own.length > 0) input.tags = own;
  return input;
}
