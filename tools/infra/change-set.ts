/**
 * What an infrastructure change set would do, judged before anyone executes it: a summary for the log and the prod
 * approval, the changes the pipeline refuses to apply on its own, and whether it touches what ECS blue/green owns.
 * Pure functions over the change set's `ResourceChange`s and the synthesized template; no AWS calls.
 */
import type { Change, ResourceChange } from '@aws-sdk/client-cloudformation';

/** One resource change, as DescribeChangeSet lists it (only the fields this code reads). */
export interface PlannedChange {
  readonly logicalId: string;
  readonly type: string;
  /** Add, Modify, Remove, Import, Dynamic. */
  readonly action: string;
  /** For a Modify: True, False or Conditional (Conditional: depends on a value known only at execution). */
  readonly replacement?: string;
  /** The property names a Modify changes (`Details[].Target.Name`). */
  readonly properties: readonly string[];
  /** Why each detail changes: `ChangeSource` (DirectModification, ParameterReference, ResourceReference, ...) and `CausingEntity`. */
  readonly causes: readonly { readonly source: string; readonly entity?: string }[];
}

/** Reads DescribeChangeSet's `Changes` into {@link PlannedChange}s (nested-stack and other non-resource entries are kept by type). */
export function plannedChanges(changes: readonly Change[]): PlannedChange[] {
  return changes
    .map((c) => c.ResourceChange)
    .filter((r): r is ResourceChange => r !== undefined)
    .map((r) => ({
      logicalId: r.LogicalResourceId ?? '(no logical id)',
      type: r.ResourceType ?? '(no type)',
      action: r.Action ?? '(no action)',
      replacement: r.Replacement,
      properties: [...new Set((r.Details ?? []).map((d) => d.Target?.Name).filter((n): n is string => typeof n === 'string'))].sort(),
      causes: (r.Details ?? []).map((d) => ({ source: d.ChangeSource ?? '(none)', entity: d.CausingEntity })),
    }));
}

/**
 * Resource types the pipeline never deletes or replaces on its own, with the reason. A replacement of any of them
 * loses data, evidence or the traffic ECS routes, or deletes the pipeline that is applying the change. Such a change
 * is planned by a person and applied through the break-glass path (docs/pipeline.md).
 */
export const PROTECTED_TYPES: Readonly<Record<string, string>> = {
  'AWS::RDS::DBCluster': 'the payments database: replacing it starts an empty database',
  'AWS::RDS::DBInstance': 'a database instance: replacing it interrupts payments',
  'AWS::KMS::Key': 'a key: what it encrypted can no longer be read once it is deleted',
  'AWS::S3::Bucket': 'a bucket of audit logs or pipeline artifacts (evidence)',
  'AWS::CloudTrail::Trail': 'the audit trail: replacing it leaves a gap in the audit log',
  'AWS::Logs::LogGroup': 'a log group: replacing it deletes the logs it kept',
  'AWS::SecretsManager::Secret': 'a secret: replacing it changes the credentials every task holds',
  'AWS::ECR::Repository': 'the image repository: replacing it deletes the images production runs',
  'AWS::ECS::Cluster': 'the cluster: replacing it stops every task',
  'AWS::ECS::Service': 'the payment service: replacing it stops every task and drops its blue/green state',
  'AWS::ElasticLoadBalancingV2::LoadBalancer': 'the load balancer: replacing it changes the address clients reach',
  'AWS::ElasticLoadBalancingV2::Listener': 'a listener ECS blue/green routes through',
  'AWS::ElasticLoadBalancingV2::TargetGroup': 'a target group ECS blue/green routes to',
  'AWS::CodePipeline::Pipeline': 'the pipeline applying this change: CloudFormation would delete it mid-run',
  'AWS::EC2::VPC': 'the network every task, build and the database run in',
  'AWS::EC2::Subnet': 'a subnet the tasks, builds or database run in',
  'AWS::EC2::SecurityGroup': 'a security group running tasks, builds or the database hold: a replacement cuts their connections',
  'AWS::EC2::NatGateway': 'the way out of the VPC for the builds (this apply included)',
  'AWS::EC2::RouteTable': 'the routes of running tasks and builds (this apply included)',
  'AWS::EC2::VPCEndpoint': 'a private way to AWS APIs that running tasks and builds use (this apply included)',
  'AWS::Route53::RecordSet': 'the DNS name clients reach the service by',
  'AWS::CertificateManager::Certificate': 'the certificate the listeners present: a new one must be validated first',
  'AWS::SNS::Topic': 'the alarm topic: a new topic has no confirmed subscriptions, so alarms and approvals go nowhere',
  'AWS::IAM::Role': 'a role running tasks, functions or builds (this apply included) hold credentials of',
  'AWS::Route53Resolver::FirewallRuleGroupAssociation': 'the DNS Firewall of the VPC: replacing it leaves the VPC unfiltered for a while',
  'AWS::WAFv2::WebACL': 'the web firewall in front of the service: replacing it leaves the load balancer unprotected for a while',
};

/** The change actions the pipeline understands; anything else (Import, Dynamic, SyncWithActual, a future one) is refused. */
export const KNOWN_ACTIONS: readonly string[] = ['Add', 'Modify', 'Remove'];

/** What ECS blue/green owns in a template: its listener rules and target groups (from the services' `LoadBalancers`). */
export interface BlueGreenRouting {
  /** Logical ids of the production and test listener rules ECS rewrites during a deployment. */
  readonly listenerRules: readonly string[];
  /** Logical ids of the blue and green target groups. */
  readonly targetGroups: readonly string[];
  /** Logical ids of the ECS services with a load balancer. */
  readonly services: readonly string[];
}

function refId(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as { Ref?: unknown; 'Fn::GetAtt'?: unknown };
  if (typeof v.Ref === 'string') return v.Ref;
  const getAtt = v['Fn::GetAtt'];
  return Array.isArray(getAtt) && typeof getAtt[0] === 'string' ? getAtt[0] : undefined;
}

/**
 * Reads, from a synthesized template, which listener rules and target groups ECS owns: every `AWS::ECS::Service`'s
 * `LoadBalancers[].TargetGroupArn` and `AdvancedConfiguration` (`AlternateTargetGroupArn`, `ProductionListenerRule`,
 * `TestListenerRule`). Derived, not listed by hand, so a renamed or added rule is covered.
 */
export function blueGreenRouting(template: unknown): BlueGreenRouting {
  const resources = (template as { Resources?: Record<string, { Type?: unknown; Properties?: Record<string, unknown> }> } | undefined)?.Resources;
  if (typeof resources !== 'object' || resources === null) throw new Error('the synthesized template has no Resources section');
  const rules = new Set<string>();
  const groups = new Set<string>();
  const services: string[] = [];
  for (const [id, resource] of Object.entries(resources)) {
    if (resource?.Type !== 'AWS::ECS::Service') continue;
    const lbs = resource.Properties?.LoadBalancers;
    if (!Array.isArray(lbs) || lbs.length === 0) continue;
    services.push(id);
    for (const lb of lbs as Record<string, unknown>[]) {
      const add = (set: Set<string>, value: unknown): void => {
        const ref = refId(value);
        if (ref) set.add(ref);
      };
      add(groups, lb.TargetGroupArn);
      const advanced = (lb.AdvancedConfiguration ?? {}) as Record<string, unknown>;
      add(groups, advanced.AlternateTargetGroupArn);
      add(rules, advanced.ProductionListenerRule);
      add(rules, advanced.TestListenerRule);
    }
  }
  return { listenerRules: [...rules].sort(), targetGroups: [...groups].sort(), services: services.sort() };
}

/**
 * Resource types whose update changes the pipeline's own definition: CodePipeline ends the running execution after the
 * apply and the pipeline restarts on the new definition. A step's build project (AWS::CodeBuild::Project) is read when
 * its action starts, so a change to it takes effect for the actions after the apply without a restart.
 */
export const PIPELINE_DEFINITION_TYPES: readonly string[] = ['AWS::CodePipeline::Pipeline'];

/** The verdict on a change set. */
export interface ChangeSetReview {
  readonly changes: readonly PlannedChange[];
  /** Why the pipeline refuses to apply it; empty when it may. */
  readonly refusals: readonly string[];
  /** ECS-owned listener rules the change set modifies: the live traffic split must be checked before it runs. */
  readonly listenerRulesTouched: readonly string[];
  /** True when it changes the pipeline's own definition (its stages and actions): the pipeline restarts on it. */
  readonly changesPipeline: boolean;
  /** One line: counts by action, replacements, and what needs attention. */
  readonly headline: string;
}

function replaces(c: PlannedChange): boolean {
  return c.action === 'Modify' && (c.replacement === 'True' || c.replacement === 'Conditional');
}

/**
 * Judges a change set against the synthesized template it was made from. Refused: a Remove, or a replacement (True or
 * Conditional, since Conditional may replace) of a {@link PROTECTED_TYPES} resource; a Remove or replacement of a listener
 * rule or target group ECS owns; any change of an ECS service's `LoadBalancers` (ECS owns that wiring during
 * blue/green); any action but Add, Modify and Remove (Import, Dynamic, SyncWithActual: fail closed). A plain
 * Modify of an ECS-owned listener rule is not refused here: it is safe exactly when the live split already matches the
 * template, which only the live check can tell ({@link ChangeSetReview.listenerRulesTouched}).
 */
export function reviewChangeSet(changes: readonly PlannedChange[], template: unknown): ChangeSetReview {
  const routing = blueGreenRouting(template);
  const owned = new Set([...routing.listenerRules, ...routing.targetGroups]);
  const refusals: string[] = [];
  const rulesTouched: string[] = [];
  for (const c of changes) {
    const what = `${c.action} ${c.type} ${c.logicalId}${replaces(c) ? ` (replacement: ${c.replacement})` : ''}`;
    const reason = PROTECTED_TYPES[c.type];
    if (!KNOWN_ACTIONS.includes(c.action)) {
      refusals.push(`${what}: the pipeline does not apply ${c.action} changes; apply it through the break-glass path`);
    } else if (reason && (c.action === 'Remove' || replaces(c))) {
      refusals.push(`${what}: ${reason}`);
    } else if (owned.has(c.logicalId) && (c.action === 'Remove' || replaces(c))) {
      refusals.push(`${what}: ECS blue/green routes production traffic through it`);
    } else if (routing.services.includes(c.logicalId) && c.action === 'Modify' && c.properties.includes('LoadBalancers')) {
      refusals.push(`${what} changes LoadBalancers: ECS blue/green owns that wiring while it deploys`);
    }
    if (c.action === 'Modify' && routing.listenerRules.includes(c.logicalId) && !replaces(c)) rulesTouched.push(c.logicalId);
  }
  const count = (action: string): number => changes.filter((c) => c.action === action).length;
  const replaced = changes.filter(replaces).length;
  const changesPipeline = changes.some((c) => PIPELINE_DEFINITION_TYPES.includes(c.type));
  const parts = [`${count('Add')} to add`, `${count('Modify')} to modify (${replaced} replaced)`, `${count('Remove')} to remove`];
  if (rulesTouched.length > 0) parts.push(`touches ECS listener rules ${rulesTouched.join(', ')}`);
  if (changesPipeline) parts.push('changes the pipeline itself (it restarts on the new definition)');
  if (refusals.length > 0) parts.push(`REFUSED (${refusals.length})`);
  return {
    changes,
    refusals,
    listenerRulesTouched: rulesTouched.sort(),
    changesPipeline,
    headline: changes.length === 0 ? 'no infrastructure changes' : parts.join(', '),
  };
}

/** The full plan, one line per change, sorted by action then logical id: what the log and the plan artifact show. */
export function describeChanges(changes: readonly PlannedChange[]): string[] {
  const order = ['Remove', 'Modify', 'Add', 'Import', 'Dynamic'];
  return [...changes]
    .sort((a, b) => order.indexOf(a.action) - order.indexOf(b.action) || a.logicalId.localeCompare(b.logicalId))
    .map((c) => {
      const props = c.properties.length > 0 ? ` [${c.properties.join(', ')}]` : '';
      return `${c.action.padEnd(6)} ${c.type} ${c.logicalId}${replaces(c) ? ` (replacement: ${c.replacement})` : ''}${props}`;
    });
}

/**
 * The approval's text must fit CodePipeline's limit on a manual approval's custom data, so the summary is cut to
 * `max` characters, ending in `...` when cut. The full plan is in the step's log and its plan artifact.
 */
export function shortSummary(review: ChangeSetReview, max = 200): string {
  const touched = review.changes.filter((c) => c.action === 'Remove' || replaces(c)).map((c) => `${c.action === 'Remove' ? '-' : '~'}${c.logicalId}`);
  const text = touched.length > 0 ? `${review.headline}; ${touched.join(' ')}` : review.headline;
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

/**
 * True when every change follows from a new value of the image parameters alone (the SSM parameter the deploy step
 * rewrites after each release) and from resources so changed: `ParameterReference` to one of `imageParameters`, or a
 * reference to a resource that itself changes only for that reason. Such a change set would only redeploy, through
 * CloudFormation and a full blue/green deployment, the image the service already runs; the deploy step keeps the service
 * on the recorded image, so the plan treats it as nothing to apply. Empty change sets are not image-only.
 */
export function imageOnly(changes: readonly PlannedChange[], imageParameters: readonly string[]): boolean {
  if (changes.length === 0 || imageParameters.length === 0) return false;
  const driven = new Set<string>();
  let grew = true;
  while (grew) {
    grew = false;
    for (const c of changes) {
      if (driven.has(c.logicalId) || c.action !== 'Modify' || c.causes.length === 0) continue;
      const follows = c.causes.every(
        (d) =>
          (d.source === 'ParameterReference' && d.entity !== undefined && imageParameters.includes(d.entity)) ||
          ((d.source === 'ResourceReference' || d.source === 'ResourceAttribute') && d.entity !== undefined && driven.has(d.entity.split('.')[0]!)),
      );
      if (follows) {
        driven.add(c.logicalId);
        grew = true;
      }
    }
  }
  return changes.every((c) => driven.has(c.logicalId));
}

/** The template parameters that read `parameterName` from SSM (CDK names them after the parameter path). */
export function ssmParametersReading(template: unknown, parameterName: string): string[] {
  const params = (template as { Parameters?: Record<string, { Type?: unknown; Default?: unknown }> } | undefined)?.Parameters ?? {};
  return Object.entries(params)
    .filter(([, p]) => typeof p?.Type === 'string' && p.Type.startsWith('AWS::SSM::Parameter::Value') && p.Default === parameterName)
    .map(([id]) => id)
    .sort();
}
