/**
 * Preflight for infrastructure deploys (docs/deployments.md, trap 2, aws-cdk#36649). ECS native blue/green rewrites the production
 * listener rule into a weighted forward over the blue and green target groups. When a CloudFormation update touches
 * that rule, CloudFormation writes back what the template says, which can send all traffic to the target group that
 * currently has no tasks. This check reads the live weights and refuses the deploy when that would happen.
 */
import { DescribeRulesCommand, ElasticLoadBalancingV2Client, Action } from '@aws-sdk/client-elastic-load-balancing-v2';
import { withRetry, RetryOptions } from '../common/retry';

/** The `Properties` of an `AWS::ElasticLoadBalancingV2::ListenerRule` as it appears in a template (intrinsics unresolved). */
export type ListenerRuleProperties = Readonly<Record<string, unknown>>;

/** One target group and its forward weight. */
export interface TargetGroupWeight {
  readonly targetGroupArn: string;
  readonly weight: number;
}

/** Inputs of {@link checkListenerRule}. */
export interface CheckListenerRuleOptions {
  /** ARN of the live rule. */
  readonly ruleArn: string;
  /** Rule properties in the template about to be deployed. */
  readonly templateRule: ListenerRuleProperties;
  /** Rule properties in the template CloudFormation last deployed. */
  readonly deployedTemplateRule: ListenerRuleProperties;
  /** Target group logical id -> ARN, to resolve `{ Ref: ... }` in the template. */
  readonly targetGroupArns: Readonly<Record<string, string>>;
}

/** AWS access, injected for tests. */
export interface CheckListenerRuleDeps {
  readonly elbv2: ElasticLoadBalancingV2Client;
  /**
   * Retry settings for DescribeRules.
   * @default - 5 retries, 200 ms base, 10 s cap, real sleep
   */
  readonly retry?: RetryOptions;
}

/** The verdict. */
export interface ListenerRuleCheck {
  /** False when deploying the template now would move production traffic. */
  readonly safe: boolean;
  /** The live rule's forward weights. */
  readonly liveWeights: TargetGroupWeight[];
  /** What the template would set the forward weights to. */
  readonly templateWeights: TargetGroupWeight[];
  /** Why it is safe or not, for the log. */
  readonly reason: string;
}

/** JSON with object keys sorted, so two templates that differ only in key order compare equal. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    // The default sort orders strings by UTF-16 code unit, the same order for every run and every machine.
    const record = value as Record<string, unknown>;
    return `{${Object.keys(record)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The value's fields; a value that is not an object (null, an array, a string) has none. */
function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** A target group reference from a template: an ARN string, `{ Ref: logicalId }`, or `{ Fn::GetAtt: [logicalId, ...] }`. */
function resolveTargetGroup(ref: unknown, arns: Readonly<Record<string, string>>): string {
  if (typeof ref === 'string') return ref;
  const record = asRecord(ref);
  const getAtt = record['Fn::GetAtt'];
  const logicalId = record.Ref ?? (Array.isArray(getAtt) ? getAtt[0] : undefined);
  if (typeof logicalId !== 'string') return `(unresolvable ${canonicalJson(ref)})`;
  // A target group that is not deployed yet has no ARN and no traffic; naming it keeps the comparison honest.
  return arns[logicalId] ?? `(${logicalId}, not deployed)`;
}

function weightOf(value: unknown): number {
  // ForwardConfig weights default to 1 when omitted (null, or undefined, which Number() below turns into NaN);
  // CloudFormation may give numbers as strings.
  if (value === null) return 1;
  const n = Number(value);
  return Number.isFinite(n) ? n : 1;
}

/** Forward weights a template rule sets (empty when it does not forward). */
export function templateForwardWeights(rule: ListenerRuleProperties, arns: Readonly<Record<string, string>>): TargetGroupWeight[] {
  if (!Array.isArray(rule.Actions)) return [];
  const forward = rule.Actions.map(asRecord).find((a) => a.Type === 'forward');
  if (!forward) return [];
  const groups = asRecord(forward.ForwardConfig).TargetGroups;
  if (Array.isArray(groups) && groups.length > 0) {
    return groups.map(asRecord).map((g) => ({ targetGroupArn: resolveTargetGroup(g.TargetGroupArn, arns), weight: weightOf(g.Weight) }));
  }
  return forward.TargetGroupArn === undefined ? [] : [{ targetGroupArn: resolveTargetGroup(forward.TargetGroupArn, arns), weight: 1 }];
}

/** Forward weights of a live rule's actions (empty when it does not forward). */
export function liveForwardWeights(actions: readonly Action[]): TargetGroupWeight[] {
  const forward = actions.find((a) => a.Type === 'forward');
  if (!forward) return [];
  const groups = forward.ForwardConfig?.TargetGroups ?? [];
  if (groups.length > 0) return groups.map((g) => ({ targetGroupArn: g.TargetGroupArn ?? '(unknown)', weight: g.Weight ?? 1 }));
  return forward.TargetGroupArn ? [{ targetGroupArn: forward.TargetGroupArn, weight: 1 }] : [];
}

/** The sum of the weights that send traffic (a negative weight sends none). */
function totalWeight(weights: readonly TargetGroupWeight[]): number {
  return weights.reduce((sum, w) => sum + Math.max(0, w.weight), 0);
}

/** Share of traffic per target group (weight-0 groups dropped), e.g. { blue: 1 }. */
function shares(weights: readonly TargetGroupWeight[]): Map<string, number> {
  const total = totalWeight(weights);
  const result = new Map<string, number>();
  // Only positive weights are divided by the total, so a total of 0 (nothing forwarded) leaves the map empty.
  for (const w of weights) if (w.weight > 0) result.set(w.targetGroupArn, (result.get(w.targetGroupArn) ?? 0) + w.weight / total);
  return result;
}

/** True when both send the same share of traffic to the same target groups. */
export function sameTrafficSplit(a: readonly TargetGroupWeight[], b: readonly TargetGroupWeight[]): boolean {
  const sa = shares(a);
  const sb = shares(b);
  if (sa.size !== sb.size) return false;
  for (const [arn, share] of sa) {
    const other = sb.get(arn);
    if (other === undefined || Math.abs(other - share) > 1e-9) return false;
  }
  return true;
}

/** Human-readable split, e.g. `tg/blue 100%` or `tg/blue 0%, tg/green 100%`. */
export function describeWeights(weights: readonly TargetGroupWeight[]): string {
  if (weights.length === 0) return 'no forward action';
  const total = totalWeight(weights);
  const name = (arn: string): string => /targetgroup\/([^/]+)/.exec(arn)?.[1] ?? arn;
  return weights.map((w) => `${name(w.targetGroupArn)} ${total === 0 ? 0 : Math.round((w.weight / total) * 100)}%`).join(', ');
}

/**
 * Decides whether deploying the template is safe for the production listener rule.
 * Safe when the rule's properties are unchanged between the deployed and the new template (CloudFormation will
 * not touch it), or when the live split already equals what the template would set. Unsafe otherwise.
 */
export async function checkListenerRule(opts: CheckListenerRuleOptions, deps: CheckListenerRuleDeps): Promise<ListenerRuleCheck> {
  const response = await withRetry(() => deps.elbv2.send(new DescribeRulesCommand({ RuleArns: [opts.ruleArn] })), deps.retry);
  const rule = response.Rules?.find((r) => r.RuleArn === opts.ruleArn) ?? response.Rules?.[0];
  if (!rule) throw new Error(`listener rule ${opts.ruleArn} not found by DescribeRules`);
  const liveWeights = liveForwardWeights(rule.Actions ?? []);
  const templateWeights = templateForwardWeights(opts.templateRule, opts.targetGroupArns);
  const live = describeWeights(liveWeights);
  const target = describeWeights(templateWeights);

  if (canonicalJson(opts.templateRule) === canonicalJson(opts.deployedTemplateRule)) {
    return { safe: true, liveWeights, templateWeights, reason: `rule unchanged in the template, CloudFormation will not update it (live: ${live})` };
  }
  if (sameTrafficSplit(liveWeights, templateWeights)) {
    return { safe: true, liveWeights, templateWeights, reason: `rule changes, but the live split already matches the template (${live})` };
  }
  return {
    safe: false,
    liveWeights,
    templateWeights,
    reason: `CloudFormation will update the rule and reset its forward to [${target}] while live traffic is [${live}]; deploying now would move production traffic`,
  };
}
