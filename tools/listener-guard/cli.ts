/**
 * Preflight before an infrastructure deploy: `npx tsx tools/listener-guard/cli.ts`.
 * Environment: STACK_NAME, RULE_LOGICAL_ID (the production listener rule), TEMPLATE_PATH (synthesized template JSON).
 * Exit codes: 0 safe, 1 unsafe or the check could not run, 2 bad configuration.
 */
import { CloudFormationClient, DescribeStackResourcesCommand, GetTemplateCommand } from '@aws-sdk/client-cloudformation';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { readFileSync } from 'node:fs';
import { ConfigError, requireEnv } from '../common/env';
import { withRetry } from '../common/retry';
import { checkListenerRule, ListenerRuleProperties } from './listener-guard';

/** Where the on-call finds what to do when the guard stops a deploy. */
export const RUNBOOK = 'docs/runbooks/listener-rule-reset.md';
const RULE_TYPE = 'AWS::ElasticLoadBalancingV2::ListenerRule';

/** AWS clients, injected for tests. */
export interface GuardClients {
  readonly cfn: CloudFormationClient;
  readonly elbv2: ElasticLoadBalancingV2Client;
}

type Resources = Record<string, { Type?: unknown; Properties?: unknown } | undefined>;

function resourcesOf(template: unknown, where: string): Resources {
  const resources = typeof template === 'object' && template !== null ? (template as { Resources?: unknown }).Resources : undefined;
  if (typeof resources !== 'object' || resources === null) throw new ConfigError(`${where} has no Resources section`);
  return resources as Resources;
}

function ruleProperties(resources: Resources, logicalId: string, where: string): ListenerRuleProperties | undefined {
  const resource = resources[logicalId];
  if (!resource) return undefined;
  if (resource.Type !== RULE_TYPE) throw new ConfigError(`${logicalId} in ${where} is ${String(resource.Type)}, expected ${RULE_TYPE}`);
  const props = resource.Properties;
  return typeof props === 'object' && props !== null ? (props as ListenerRuleProperties) : {};
}

/** Logical ids referenced with `Ref` or `Fn::GetAtt` anywhere in a value. */
function referencedIds(value: unknown, into: Set<string> = new Set()): Set<string> {
  if (Array.isArray(value)) value.forEach((v) => referencedIds(v, into));
  else if (typeof value === 'object' && value !== null) {
    for (const [key, v] of Object.entries(value)) {
      if (key === 'Ref' && typeof v === 'string' && !v.startsWith('AWS::')) into.add(v);
      else if (key === 'Fn::GetAtt' && Array.isArray(v) && typeof v[0] === 'string') into.add(v[0]);
      else referencedIds(v, into);
    }
  }
  return into;
}

function isMissingStack(error: unknown): boolean {
  const e = error as { name?: unknown; message?: unknown };
  return e?.name === 'ValidationError' && typeof e.message === 'string' && /does not exist/.test(e.message);
}

/** Runs the guard and returns the exit code. */
export async function main(env: NodeJS.ProcessEnv, clients?: GuardClients): Promise<number> {
  let stackName: string;
  let ruleId: string;
  let newRule: ListenerRuleProperties | undefined;
  try {
    stackName = requireEnv(env, 'STACK_NAME');
    ruleId = requireEnv(env, 'RULE_LOGICAL_ID');
    const templatePath = requireEnv(env, 'TEMPLATE_PATH');
    let text: string;
    try {
      text = readFileSync(templatePath, 'utf8');
    } catch (error) {
      throw new ConfigError(`TEMPLATE_PATH ${templatePath} cannot be read: ${(error as Error).message}`);
    }
    let template: unknown;
    try {
      template = JSON.parse(text);
    } catch {
      throw new ConfigError(`TEMPLATE_PATH ${templatePath} is not JSON (run cdk synth first)`);
    }
    newRule = ruleProperties(resourcesOf(template, templatePath), ruleId, templatePath);
  } catch (error) {
    console.error(`listener-guard: bad configuration: ${(error as Error).message}`);
    return 2;
  }
  const fail = (message: string): number => {
    console.error(`listener-guard: ${message}\nSee ${RUNBOOK} before deploying.`);
    return 1;
  };
  if (!newRule) return fail(`rule ${ruleId} is not in the synthesized template: the deploy would delete the production listener rule`);

  const result = await checkRuleAgainstStack(
    stackName,
    ruleId,
    newRule,
    clients ?? { cfn: new CloudFormationClient({}), elbv2: new ElasticLoadBalancingV2Client({}) },
  );
  if (result.error) return fail(result.reason);
  if (!result.safe) return fail(`UNSAFE: ${result.reason}`);
  console.log(`listener-guard: ${result.reason}`);
  return 0;
}

/** The verdict of {@link checkRuleAgainstStack}; `error` when the check itself could not run (treated as unsafe). */
export interface RuleVerdict {
  readonly safe: boolean;
  readonly reason: string;
  readonly error?: boolean;
}

/**
 * Whether deploying `newRule` (the rule `ruleId` of the template about to be deployed) onto `stackName` now would move
 * production traffic: reads the deployed template and the live rule. Used by this CLI and by the pipeline's
 * infrastructure plan and apply (tools/infra).
 */
export async function checkRuleAgainstStack(
  stackName: string,
  ruleId: string,
  newRule: ListenerRuleProperties,
  { cfn, elbv2 }: GuardClients,
): Promise<RuleVerdict> {
  try {
    let deployedBody: string | undefined;
    try {
      deployedBody = (await withRetry(() => cfn.send(new GetTemplateCommand({ StackName: stackName, TemplateStage: 'Original' })))).TemplateBody;
    } catch (error) {
      if (!isMissingStack(error)) throw error;
      return { safe: true, reason: `stack ${stackName} is not deployed yet, nothing to protect` };
    }
    let deployed: unknown;
    try {
      deployed = JSON.parse(deployedBody ?? '');
    } catch {
      return { safe: false, error: true, reason: `the deployed template of ${stackName} is not JSON (YAML is not supported by this check)` };
    }
    const oldRule = ruleProperties(resourcesOf(deployed, `deployed template of ${stackName}`), ruleId, `deployed template of ${stackName}`);
    if (!oldRule) return { safe: true, reason: `rule ${ruleId} is new in this deploy, nothing live to reset` };

    const physicalId = async (logicalId: string): Promise<string | undefined> => {
      try {
        const out = await withRetry(() => cfn.send(new DescribeStackResourcesCommand({ StackName: stackName, LogicalResourceId: logicalId })));
        return out.StackResources?.[0]?.PhysicalResourceId;
      } catch (error) {
        // A logical id only the new template has does not exist in the stack yet.
        if ((error as { name?: unknown }).name === 'ValidationError') return undefined;
        throw error;
      }
    };
    const ruleArn = await physicalId(ruleId);
    if (!ruleArn) return { safe: false, error: true, reason: `rule ${ruleId} is in the deployed template but has no physical id in ${stackName}` };
    const targetGroupArns: Record<string, string> = {};
    const ids = referencedIds([newRule.Actions, oldRule.Actions]);
    for (const id of ids) {
      const arn = await physicalId(id);
      if (arn) targetGroupArns[id] = arn;
    }

    const result = await checkListenerRule({ ruleArn, templateRule: newRule, deployedTemplateRule: oldRule, targetGroupArns }, { elbv2 });
    return result.safe ? { safe: true, reason: `safe: ${result.reason}` } : { safe: false, reason: `${result.reason} (rule ${ruleArn})` };
  } catch (error) {
    return { safe: false, error: true, reason: `could not check the rule (${(error as Error).name}): ${(error as Error).message}` };
  }
}

/** The properties of listener rule `logicalId` in a parsed template, undefined when the template has no such rule. */
export function ruleOf(template: unknown, logicalId: string, where: string): ListenerRuleProperties | undefined {
  return ruleProperties(resourcesOf(template, where), logicalId, where);
}

if (require.main === module) {
  main(process.env).then((code) => {
    process.exitCode = code;
  });
}
