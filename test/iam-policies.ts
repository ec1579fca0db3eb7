import { CfnResource, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import { IConstruct } from 'constructs';
import { listAcknowledgements } from '../lib/compliance/packs';

/**
 * IAM as a synthesized template grants it: the statements of each role (inline, attached AWS::IAM::Policy and
 * AWS::IAM::ManagedPolicy, AWS managed policy ARNs), rendered readably so a test can state a role's whole policy; the
 * allowlist of actions AWS authorizes on no resource type; and the check that each acknowledgement of a wildcard
 * names exactly the actions it silences.
 */

type Json = unknown;
interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Record<string, Json>;
}
type Resources = Record<string, TemplateResource>;

/** One IAM policy statement as CloudFormation holds it. */
export interface Statement {
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | string[];
  readonly NotAction?: string | string[];
  readonly Resource?: Json;
  readonly NotResource?: Json;
  readonly Condition?: Record<string, Record<string, Json>>;
  readonly Principal?: Json;
}

/** A statement of an identity policy, with the policy it sits in and the roles it grants to. */
export interface PlacedStatement {
  /** Logical id of the AWS::IAM::Policy or AWS::IAM::ManagedPolicy, or `<role id>#<PolicyName>` for an inline policy. */
  readonly policy: string;
  /** Logical ids of the roles the policy is attached to. */
  readonly roles: string[];
  readonly statement: Statement;
}

export const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

const resourcesOf = (template: Template): Resources => template.toJSON().Resources as Resources;
const refsOf = (v: Json): string[] => asArray(v as Json[]).flatMap((r) => ((r as { Ref?: string }).Ref ? [(r as { Ref: string }).Ref] : []));
const documentOf = (doc: Json): Statement[] => asArray((doc as { Statement?: Statement | Statement[] } | undefined)?.Statement);

/**
 * Every statement of every identity policy in a template: the inline policies of roles, users and groups, and every
 * AWS::IAM::Policy and AWS::IAM::ManagedPolicy, with the roles each grants to (by `Roles` and by `ManagedPolicyArns`).
 */
export function identityStatements(template: Template): PlacedStatement[] {
  const resources = resourcesOf(template);
  const placed: PlacedStatement[] = [];
  for (const [id, r] of Object.entries(resources)) {
    const p = r.Properties ?? {};
    if (['AWS::IAM::Role', 'AWS::IAM::User', 'AWS::IAM::Group'].includes(r.Type)) {
      for (const inline of asArray(p.Policies as { PolicyName: string; PolicyDocument: Json }[])) {
        const roles = r.Type === 'AWS::IAM::Role' ? [id] : [];
        for (const statement of documentOf(inline.PolicyDocument)) placed.push({ policy: `${id}#${inline.PolicyName}`, roles, statement });
      }
    }
    if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') {
      const byArn = Object.entries(resources)
        .filter(([, role]) => role.Type === 'AWS::IAM::Role' && refsOf(role.Properties?.ManagedPolicyArns).includes(id))
        .map(([roleId]) => roleId);
      const roles = [...new Set([...refsOf(p.Roles), ...byArn])];
      for (const statement of documentOf(p.PolicyDocument)) placed.push({ policy: id, roles, statement });
    }
  }
  return placed;
}

/**
 * A resource's logical id without CDK's 8-character hash, where that leaves it unique in the template
 * (`ArtifactStoreBucket47CE7D81` reads `ArtifactStoreBucket`).
 */
export function shortNames(template: Template): (logicalId: string) => string {
  const ids = Object.keys(resourcesOf(template));
  const strip = (id: string) => id.replace(/[0-9A-F]{8}$/, '');
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(strip(id), (counts.get(strip(id)) ?? 0) + 1);
  return (id) => (ids.includes(id) && counts.get(strip(id)) === 1 ? strip(id) : id);
}

/**
 * A CloudFormation value as a readable string: `{Ref:Topic}`, `{GetAtt:Bucket.Arn}/*`, `${AWS::AccountId}` for pseudo
 * parameters, `Fn::Join` joined; anything else as JSON.
 */
export function render(value: Json, name: (id: string) => string = (id) => id): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, Json>;
  if (typeof v?.Ref === 'string') return v.Ref.startsWith('AWS::') ? `\${${v.Ref}}` : `{Ref:${name(v.Ref)}}`;
  if (Array.isArray(v?.['Fn::GetAtt'])) {
    const [id, attr] = v['Fn::GetAtt'] as [string, string];
    return `{GetAtt:${name(id)}.${attr}}`;
  }
  if (Array.isArray(v?.['Fn::Join'])) {
    const [sep, parts] = v['Fn::Join'] as [string, Json[]];
    return parts.map((p) => render(p, name)).join(sep);
  }
  if (typeof v?.['Fn::Sub'] === 'string') return v['Fn::Sub'] as string;
  return JSON.stringify(value);
}

/** A statement as a test states it: sorted actions, readable resources, conditions with readable values. */
export interface ExpectedStatement {
  readonly effect?: 'Deny';
  readonly actions?: string | string[];
  readonly notActions?: string | string[];
  readonly resources?: string | string[];
  readonly notResources?: string | string[];
  readonly conditions?: Record<string, Record<string, string | string[]>>;
}

/** The whole policy of one role: who may assume it, the AWS managed policies it carries, and every statement. */
export interface ExpectedRolePolicy {
  /** `Service:codebuild.amazonaws.com`, `AWS:{GetAtt:DeliveryPipelineRole.Arn}`; a trust condition is appended as JSON. */
  readonly assumedBy: string[];
  /** ARNs of policies attached by ARN that are not in the template (AWS managed policies). */
  readonly managedPolicies?: string[];
  readonly statements: ExpectedStatement[];
}

const sorted = (v: string | string[] | undefined): string[] | undefined => (v === undefined ? undefined : [...asArray(v)].sort());

function normalizeConditions(conditions: Record<string, Record<string, Json>> | undefined, name: (id: string) => string) {
  if (!conditions) return undefined;
  return Object.fromEntries(
    Object.entries(conditions)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([op, keys]) => [
        op,
        Object.fromEntries(
          Object.entries(keys)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([key, value]) => [key, Array.isArray(value) ? value.map((x) => render(x, name)).sort() : render(value, name)]),
        ),
      ]),
  );
}

/** A template statement in the form of {@link ExpectedStatement}. */
export function normalizeStatement(s: Statement, name: (id: string) => string = (id) => id): ExpectedStatement {
  const out: Record<string, unknown> = {
    effect: s.Effect === 'Deny' ? 'Deny' : undefined,
    actions: sorted(s.Action),
    notActions: sorted(s.NotAction),
    resources:
      s.Resource === undefined
        ? undefined
        : asArray(s.Resource as Json[])
            .map((r) => render(r, name))
            .sort(),
    notResources:
      s.NotResource === undefined
        ? undefined
        : asArray(s.NotResource as Json[])
            .map((r) => render(r, name))
            .sort(),
    conditions: normalizeConditions(s.Condition, name),
  };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined)) as ExpectedStatement;
}

function normalizeExpected(s: ExpectedStatement): ExpectedStatement {
  const out: Record<string, unknown> = {
    effect: s.effect,
    actions: sorted(s.actions),
    notActions: sorted(s.notActions),
    resources: sorted(s.resources),
    notResources: sorted(s.notResources),
    conditions: s.conditions && normalizeConditions(s.conditions as Record<string, Record<string, Json>>, (id) => id),
  };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined)) as ExpectedStatement;
}

const byContent = (a: ExpectedStatement, b: ExpectedStatement) => JSON.stringify(a).localeCompare(JSON.stringify(b));

/** The logical ids of the template's roles, by short name (see {@link shortNames}). */
export function rolesOf(template: Template): Map<string, string> {
  const name = shortNames(template);
  return new Map(
    Object.entries(resourcesOf(template))
      .filter(([, r]) => r.Type === 'AWS::IAM::Role')
      .map(([id]) => [name(id), id]),
  );
}

/** Everything that grants to one role, normalized: trust, AWS managed policies, and the statements of every policy. */
export function rolePolicy(template: Template, roleId: string): ExpectedRolePolicy {
  const resources = resourcesOf(template);
  const name = shortNames(template);
  const role = resources[roleId];
  if (role?.Type !== 'AWS::IAM::Role') throw new Error(`rolePolicy: ${roleId} is not an AWS::IAM::Role`);
  const assumedBy = documentOf(role.Properties?.AssumeRolePolicyDocument).flatMap((s) => {
    const actions = asArray(s.Action).filter((a) => a !== 'sts:AssumeRole');
    const suffix = `${actions.length ? ` (+${actions.sort().join(', ')})` : ''}${s.Condition ? ` when ${JSON.stringify(normalizeConditions(s.Condition, name))}` : ''}`;
    return Object.entries(s.Principal as Record<string, Json>).flatMap(([kind, who]) =>
      asArray(who as Json[]).map((w) => `${s.Effect === 'Deny' ? 'Deny ' : ''}${kind}:${render(w, name)}${suffix}`),
    );
  });
  const inTemplate = new Set(Object.keys(resources));
  const managedPolicies = asArray(role.Properties?.ManagedPolicyArns as Json[])
    .filter((arn) => !refsOf([arn]).some((id) => inTemplate.has(id)))
    .map((arn) => render(arn, name))
    .sort();
  const statements = identityStatements(template)
    .filter((p) => p.roles.includes(roleId))
    .map((p) => normalizeStatement(p.statement, name))
    .sort(byContent);
  return { assumedBy: assumedBy.sort(), ...(managedPolicies.length ? { managedPolicies } : {}), statements };
}

/**
 * Asserts the complete policy of the one role whose short name (or logical id) is `role`, or that `role` matches:
 * every statement granting to it, from any policy, equals `expected` (order aside), so an added action, a widened
 * resource, a dropped condition or a new statement fails, as does any change of who may assume it.
 */
export function expectRolePolicy(template: Template, role: string | RegExp, expected: ExpectedRolePolicy): void {
  const roles = rolesOf(template);
  const matches = [...roles].filter(([short, id]) => (typeof role === 'string' ? short === role || id === role : role.test(short)));
  if (matches.length !== 1) {
    throw new Error(`expectRolePolicy: ${String(role)} matches ${matches.length} roles; the roles are: ${[...roles.keys()].sort().join(', ')}`);
  }
  const [short, id] = matches[0]!;
  const want: ExpectedRolePolicy = {
    assumedBy: [...expected.assumedBy].sort(),
    ...(expected.managedPolicies?.length ? { managedPolicies: [...expected.managedPolicies].sort() } : {}),
    statements: expected.statements.map(normalizeExpected).sort(byContent),
  };
  expect({ role: short, ...rolePolicy(template, id) }).toEqual({ role: short, ...want });
}

/**
 * The `service:Action` tokens a text names, exactly as written: `xray:Put*` is the one token `xray:Put*`, never the
 * actions it would match. Condition keys written the same way (`kms:ViaService`) are tokens too; a key with more
 * parts (`kms:EncryptionContext:aws:s3:arn`) is not.
 */
export function actionsNamedIn(text: string): string[] {
  return [...text.matchAll(/(?<![\w:/.*-])([a-z][a-z0-9-]*):([A-Z][A-Za-z0-9]*\*?|\*)(?![\w/*-]|:\S)/g)].map((m) => `${m[1]}:${m[2]}`);
}

/** The condition keys a statement uses. */
export const conditionKeysOf = (s: Statement): string[] => Object.values(s.Condition ?? {}).flatMap((keys) => Object.keys(keys));

/**
 * What a statement on `"*"` may hold: an action AWS authorizes on no resource type (or one of the two named exceptions
 * below, which AWS's own service documentation grants on `"*"`), and why this app needs it.
 */
export interface UnscopedAction {
  /** One line: what calls it, and what scopes it instead of a resource where anything does. */
  readonly why: string;
  /** The Service Authorization Reference page whose Actions table gives the action no resource type, or, for an exception, AWS's page that grants it on `"*"`. */
  readonly source: string;
}

const SAR = 'https://docs.aws.amazon.com/service-authorization/latest/reference';

/**
 * The only actions any identity policy of this app may allow on `"*"`. Each was checked against its service's page in
 * the Service Authorization Reference (and AWS's machine-readable copy of it, the programmatic service authorization
 * reference): the action lists no resource type, so IAM can only authorize it on `"*"`. Two exceptions,
 * ec2:CreateNetworkInterface and ec2:DeleteNetworkInterface, are said so where they are listed. One row per service in
 * docs/aws-contracts.md, "IAM: actions on every resource".
 */
export const UNSCOPED_ACTIONS: Readonly<Record<string, UnscopedAction>> = {
  'ecr:GetAuthorizationToken': {
    why: 'registry login before an image is pulled or pushed (task execution roles, the image step); the repositories are scoped separately',
    source: `${SAR}/list_amazonelasticcontainerregistry.html`,
  },
  'xray:PutTraceSegments': {
    why: 'sends trace segments (smoke-test hook with active tracing, the tracing collector)',
    source: `${SAR}/list_awsx-ray.html`,
  },
  'xray:PutTelemetryRecords': {
    why: 'sends tracing telemetry (smoke-test hook with active tracing, the tracing collector)',
    source: `${SAR}/list_awsx-ray.html`,
  },
  'xray:GetSamplingRules': {
    why: 'the tracing collector reads the sampling rules (only with monitoring.tracing.enabled)',
    source: `${SAR}/list_awsx-ray.html`,
  },
  'xray:GetSamplingTargets': {
    why: 'the tracing collector asks for sampling quotas (only with monitoring.tracing.enabled)',
    source: `${SAR}/list_awsx-ray.html`,
  },
  'ec2:DescribeDhcpOptions': { why: 'CodeBuild places a VPC build (every build project)', source: `${SAR}/list_amazonec2.html` },
  'ec2:DescribeNetworkInterfaces': { why: 'CodeBuild places a VPC build (every build project)', source: `${SAR}/list_amazonec2.html` },
  'ec2:DescribeSecurityGroups': { why: 'CodeBuild places a VPC build (every build project)', source: `${SAR}/list_amazonec2.html` },
  'ec2:DescribeSubnets': { why: 'CodeBuild places a VPC build (every build project)', source: `${SAR}/list_amazonec2.html` },
  'ec2:DescribeVpcs': { why: 'CodeBuild places a VPC build (every build project)', source: `${SAR}/list_amazonec2.html` },
  // The two exceptions: the reference lists resource types for them, but CodeBuild creates a VPC build's interface for
  // its AWS-managed build host, and grants scoped to subnets and interfaces are refused in practice; AWS's CodeBuild
  // policy for VPC builds grants them on "*" (docs/aws-contracts.md, "IAM: actions on every resource").
  'ec2:CreateNetworkInterface': {
    why: "CodeBuild creates a VPC build's network interface (every build project), on * as AWS's CodeBuild documentation grants it",
    source: 'https://docs.aws.amazon.com/codebuild/latest/userguide/auth-and-access-control-iam-identity-based-access-control.html',
  },
  'ec2:DeleteNetworkInterface': {
    why: "CodeBuild deletes a VPC build's network interface after the build (every build project), on * as AWS's CodeBuild documentation grants it",
    source: 'https://docs.aws.amazon.com/codebuild/latest/userguide/auth-and-access-control-iam-identity-based-access-control.html',
  },
  'ecs:DescribeTaskDefinition': {
    why: 'tools/deploy and tools/migrate read the revision they copy (Deploy step); registering is scoped to the two families',
    source: `${SAR}/list_amazonelasticcontainerservice.html`,
  },
  'elasticloadbalancing:DescribeRules': {
    why: 'tools/listener-guard reads the live production listener rule (Infra-Plan, Infra-Apply); read only',
    source: `${SAR}/list_awselasticloadbalancingv2.html`,
  },
  's3:ListAllMyBuckets': { why: 'Synthetics requires it of a canary role; it lists bucket names, no object', source: `${SAR}/list_amazons3.html` },
  'cloudwatch:PutMetricData': {
    why:
      'the canary publishes its results, only in the CloudWatchSynthetics namespace (cloudwatch:namespace); the only resource type ' +
      'listed for it is an optional CloudWatch dataset, which these requests never name',
    source: `${SAR}/list_amazoncloudwatch.html`,
  },
};

const IAM_TYPES = ['AWS::IAM::Role', 'AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy'];
const NAG_PREFIX = /^(?:[\w.-]+::)?/;

type Wildcard = { kind: 'Resource' | 'Action'; pattern: string } | { kind: 'FullAccess' | 'AdminAccess' };

/** The wildcard finding an acknowledgement id silences, if it is one. */
function wildcardOf(id: string): Wildcard | undefined {
  const iam5 = /^AwsSolutions-IAM5\[(Resource|Action)::(.+)\]$/.exec(id);
  if (iam5) return { kind: iam5[1] as 'Resource' | 'Action', pattern: iam5[2]! };
  const access = /^(?:PCI\.DSS\.321|NIST\.800\.53\.R5)-IAMPolicyNoStatementsWith(Full|Admin)Access$/.exec(id);
  if (access) return { kind: access[1] === 'Full' ? 'FullAccess' : 'AdminAccess' };
  return undefined;
}

/** What the reason must name of a statement the finding comes from; undefined where it does not come from it. */
function mustName(w: Wildcard, s: Statement): string[] | undefined {
  if (s.Effect !== 'Allow') return undefined;
  const actions = asArray(s.Action);
  const resources = asArray(s.Resource as unknown[]).map(flattenCfnReference);
  switch (w.kind) {
    case 'Resource':
      return resources.includes(w.pattern) ? actions : undefined;
    case 'Action':
      return actions.includes(w.pattern) ? [w.pattern] : undefined;
    case 'FullAccess': {
      const full = actions.filter((a) => /^([\w-]+:)?\*$/.test(a));
      return full.length ? full : undefined;
    }
    case 'AdminAccess':
      return actions.includes('*') && resources.includes('*') ? ['*'] : undefined;
  }
}

/**
 * Every way an acknowledgement of a wildcard under `root` says less or more than it silences. The statements of an
 * acknowledgement are those of the roles and policies in its construct's subtree, and of every policy attached to
 * such a role wherever it sits. Each problem names the environment's stack, the role, the action and the acknowledgement.
 */
export function wildcardAcknowledgementProblems(root: IConstruct): { problems: string[]; checked: number } {
  const byPath = new Map(root.node.findAll().map((c) => [c.node.path, c]));
  const templates = new Map<Stack, Template>();
  const templateOf = (stack: Stack) => templates.get(stack) ?? templates.set(stack, Template.fromStack(stack)).get(stack)!;
  const problems: string[] = [];
  let checked = 0;
  for (const ack of listAcknowledgements(root)) {
    const id = ack.id.replace(NAG_PREFIX, '');
    const w = wildcardOf(id);
    if (!w) continue;
    checked += 1;
    const construct = byPath.get(ack.path)!;
    const stack = Stack.of(construct);
    const template = templateOf(stack);
    const name = shortNames(template);
    const mine = construct.node
      .findAll()
      .filter((c): c is CfnResource => c instanceof CfnResource && IAM_TYPES.includes(c.cfnResourceType))
      .map((c) => stack.getLogicalId(c));
    const roles = new Set(mine.filter((logicalId) => template.toJSON().Resources[logicalId].Type === 'AWS::IAM::Role'));
    const placed = identityStatements(template).filter((p) => mine.includes(p.policy.split('#')[0]!) || p.roles.some((r) => roles.has(r)));
    const hits = placed.flatMap((p) => {
      const need = mustName(w, p.statement);
      return need ? [{ p, need }] : [];
    });
    const named = actionsNamedIn(ack.reason);
    const where = `${stack.stackName}: ${id} on ${ack.path}`;
    if (hits.length === 0) problems.push(`${where} acknowledges no statement of the roles and policies it sits on`);
    if (w.kind === 'Resource' && w.pattern === '*' && named.length === 0) problems.push(`${where} names no action in its reason: "${ack.reason}"`);
    for (const { p, need } of hits) {
      const who = p.roles.length ? p.roles.map(name).join(', ') : name(p.policy);
      const on = asArray(normalizeStatement(p.statement, name).resources).join(', ');
      for (const action of need.filter((a) => !named.includes(a))) {
        problems.push(
          `${stack.stackName}: ${who} may ${action} on ${on}, acknowledged by ${id} on ${ack.path}, whose reason does not name it: "${ack.reason}"`,
        );
      }
    }
    const held = new Set(hits.flatMap(({ p }) => [...asArray(p.statement.Action), ...conditionKeysOf(p.statement)]));
    for (const token of named.filter((t) => !held.has(t))) {
      problems.push(`${where} names ${token}, which no statement it acknowledges holds: "${ack.reason}"`);
    }
  }
  return { problems, checked };
}

/** What Infra-Apply may do to its stack in CloudFormation: execute and follow a change set Infra-Plan made. */
export const INFRA_APPLY_CLOUDFORMATION = [
  'cloudformation:DescribeChangeSet',
  'cloudformation:DescribeStackEvents',
  'cloudformation:DescribeStackResources',
  'cloudformation:DescribeStacks',
  'cloudformation:ExecuteChangeSet',
  'cloudformation:GetTemplate',
];
