/**
 * The pipeline's infrastructure steps: `npx tsx tools/infra/cli.ts plan` (Infra-Plan) and `... apply` (Infra-Apply).
 *
 * context: STACK_NAME. Prints the `-c firstDeploy=true -c newDatabase=true` flags the stack's `PendingSetup` output
 * names (nothing when `none`), for Infra-Plan's synth.
 *
 * plan, after `cdk synth` into ASSEMBLY_DIR and `cdk-assets publish` of its asset manifest: STACK_NAME, DEPLOY_ENV,
 * ASSEMBLY_DIR, ACCOUNT_ID, AWS_REGION, COMMIT_SHA, PIPELINE_EXECUTION_ID, IMAGE_PARAMETER_NAME, RECOVERY_STACK_NAME,
 * RECOVERY_REGION, INFRA_TIMEOUT_MINUTES (optional, default 60). Refuses first when the recovery stack is missing,
 * unsettled or not this commit's (tools/infra/recovery.ts).
 * Writes PLAN_DIR (default `reports`)/infra-plan.txt (every change) and infra-plan.env (the variables the pipeline
 * passes on: CHANGE_SET_NAME, or `none`; CHANGE_SUMMARY; LISTENER_RULES_TOUCHED; CHANGE_SET_URL).
 *
 * apply: STACK_NAME, DEPLOY_ENV, CHANGE_SET_NAME, LISTENER_RULES_TOUCHED, COMMIT_SHA, PIPELINE_EXECUTION_ID,
 * TOPIC_ARN, IMAGE_PARAMETER_NAME, INFRA_TIMEOUT_MINUTES (optional, default 60).
 *
 * Exit codes: 0 planned or applied (or nothing to do), 1 refused, failed or an AWS call failed, 2 bad configuration.
 */
import { CloudFormationClient, GetTemplateCommand } from '@aws-sdk/client-cloudformation';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { CodePipelineClient } from '@aws-sdk/client-codepipeline';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, intEnv, matchEnv, optionalEnv, requireEnv } from '../common/env';
import { realSleep, withRetry } from '../common/retry';
import { ToolRuntime } from '../common/runtime';
import { checkRuleAgainstStack, GuardClients, ruleOf } from '../listener-guard/cli';
import { applyInfrastructure } from './apply';
import { describeChanges, shortSummary } from './change-set';
import { changeSetNameOf, planInfrastructure } from './plan';
import { checkRecoveryStack } from './recovery';
import { pendingSetupFlags } from './stack';

/** Default bound on waiting for the stack and on one update. */
export const DEFAULT_TIMEOUT_MINUTES = 60;

/** What the synthesized cloud assembly says about the stack: its template, where it is published, and the role. */
export interface StackArtifact {
  readonly templatePath: string;
  readonly templateUrl: string;
  readonly executionRoleArn: string;
}

/** Replaces the `${AWS::AccountId}`, `${AWS::Partition}` and `${AWS::Region}` placeholders of the asset manifest. */
function resolve(value: string, account: string, region: string): string {
  return value
    .replace(/\$\{AWS::AccountId\}/g, account)
    .replace(/\$\{AWS::Partition\}/g, 'aws')
    .replace(/\$\{AWS::Region\}/g, region);
}

/**
 * Reads the stack's entry of the assembly's manifest.json: the template file, the S3 object `cdk-assets publish`
 * uploaded it to (as an https URL CloudFormation accepts), and the CloudFormation execution role of the bootstrap.
 */
export function readStackArtifact(assemblyDir: string, stackName: string, account: string, region: string): StackArtifact {
  let manifest: { artifacts?: Record<string, { type?: string; properties?: Record<string, unknown> }> };
  try {
    manifest = JSON.parse(readFileSync(join(assemblyDir, 'manifest.json'), 'utf8'));
  } catch (error) {
    throw new ConfigError(`ASSEMBLY_DIR ${assemblyDir} has no readable manifest.json (run cdk synth first): ${(error as Error).message}`);
  }
  const props = manifest.artifacts?.[stackName]?.properties;
  if (!props) throw new ConfigError(`the assembly in ${assemblyDir} has no stack ${stackName}`);
  const { templateFile, stackTemplateAssetObjectUrl, cloudFormationExecutionRoleArn } = props as Record<string, unknown>;
  if (typeof templateFile !== 'string' || typeof stackTemplateAssetObjectUrl !== 'string' || typeof cloudFormationExecutionRoleArn !== 'string') {
    throw new ConfigError(
      `stack ${stackName} in ${assemblyDir} lacks templateFile, stackTemplateAssetObjectUrl or cloudFormationExecutionRoleArn (DefaultStackSynthesizer expected)`,
    );
  }
  const s3 = /^s3:\/\/([^/]+)\/(.+)$/.exec(resolve(stackTemplateAssetObjectUrl, account, region));
  if (!s3) throw new ConfigError(`stackTemplateAssetObjectUrl of ${stackName} is not an s3:// URL: ${stackTemplateAssetObjectUrl}`);
  return {
    templatePath: join(assemblyDir, templateFile),
    templateUrl: `https://${s3[1]}.s3.${region}.amazonaws.com/${s3[2]}`,
    executionRoleArn: resolve(cloudFormationExecutionRoleArn, account, region),
  };
}

/** A value for a bash `source`d file: single-quoted, with `'` escaped, on one line. */
export function shellQuote(value: string): string {
  return `'${value.replace(/[\r\n]+/g, ' ').replace(/'/g, `'\\''`)}'`;
}

/** The change set in the CloudFormation console, for the approver. */
export function changeSetUrl(region: string, stackId: string, changeSetId: string): string {
  const q = (v: string): string => encodeURIComponent(v);
  return `https://${region}.console.aws.amazon.com/cloudformation/home?region=${region}#/stacks/changesets/changes?stackId=${q(stackId)}&changeSetId=${q(changeSetId)}`;
}

/** The stack in the CloudFormation console. */
export function stackUrl(region: string, stackName: string): string {
  return `https://${region}.console.aws.amazon.com/cloudformation/home?region=${region}#/stacks/stackinfo?stackId=${encodeURIComponent(stackName)}`;
}

/** AWS clients, injected for tests. */
export interface InfraClients extends GuardClients {
  readonly sns: SNSClient;
  readonly ssm: SSMClient;
  readonly codepipeline: CodePipelineClient;
  /** CloudFormation in another region (the recovery stack's). @default - a client of that region */
  readonly cfnIn?: (region: string) => CloudFormationClient;
}

/** The template file of a stack in the assembly's manifest.json. */
function templateOf(assemblyDir: string, stackName: string): unknown {
  let manifest: { artifacts?: Record<string, { properties?: { templateFile?: unknown } }> };
  try {
    manifest = JSON.parse(readFileSync(join(assemblyDir, 'manifest.json'), 'utf8'));
  } catch (error) {
    throw new ConfigError(`ASSEMBLY_DIR ${assemblyDir} has no readable manifest.json (run cdk synth first): ${(error as Error).message}`);
  }
  const file = manifest.artifacts?.[stackName]?.properties?.templateFile;
  if (typeof file !== 'string') throw new ConfigError(`the assembly in ${assemblyDir} has no stack ${stackName}`);
  return JSON.parse(readFileSync(join(assemblyDir, file), 'utf8'));
}

const realRuntime: ToolRuntime = { sleep: realSleep, now: Date.now, log: (line) => console.log(line) };

function commonEnv(env: NodeJS.ProcessEnv): { stackName: string; envName: string; commit: string; executionId: string; timeoutMs: number } {
  return {
    stackName: requireEnv(env, 'STACK_NAME'),
    envName: matchEnv(env, 'DEPLOY_ENV', /^(dev|staging|prod)$/, 'dev, staging or prod'),
    commit: matchEnv(env, 'COMMIT_SHA', /^[0-9a-f]{40}$/, 'a full 40-character lowercase hex git SHA'),
    executionId: matchEnv(env, 'PIPELINE_EXECUTION_ID', /^[0-9a-zA-Z-]{1,128}$/, 'a pipeline execution id'),
    timeoutMs: intEnv(env, 'INFRA_TIMEOUT_MINUTES', { min: 5, max: 480 }, DEFAULT_TIMEOUT_MINUTES) * 60_000,
  };
}

/** Checks an ECS-owned listener rule of `template` against the live stack (tools/listener-guard). */
function ruleChecker(stackName: string, template: () => Promise<unknown>, clients: GuardClients) {
  return async (ruleId: string) => {
    const rule = ruleOf(await template(), ruleId, 'the planned template');
    if (!rule) return { safe: false, reason: `rule ${ruleId} is not in the planned template: the change would delete the production listener rule` };
    return checkRuleAgainstStack(stackName, ruleId, rule, clients);
  };
}

async function plan(env: NodeJS.ProcessEnv, clients: InfraClients, runtime: ToolRuntime): Promise<number> {
  const common = commonEnv(env);
  const region = requireEnv(env, 'AWS_REGION');
  const account = matchEnv(env, 'ACCOUNT_ID', /^\d{12}$/, 'a 12-digit AWS account id');
  const artifact = readStackArtifact(requireEnv(env, 'ASSEMBLY_DIR'), common.stackName, account, region);
  const template: unknown = JSON.parse(readFileSync(artifact.templatePath, 'utf8'));
  const planDir = optionalEnv(env, 'PLAN_DIR') ?? 'reports';
  const recoveryStack = requireEnv(env, 'RECOVERY_STACK_NAME');
  const recoveryRegion = matchEnv(env, 'RECOVERY_REGION', /^[a-z]{2}(-gov)?-[a-z]+-\d$/, 'an AWS region name like us-west-2');
  if (recoveryRegion === region)
    throw new ConfigError(`RECOVERY_REGION must differ from AWS_REGION ${region}, got: ${JSON.stringify(recoveryRegion)}`);
  const recoveryCfn = clients.cfnIn?.(recoveryRegion) ?? new CloudFormationClient({ region: recoveryRegion });
  await checkRecoveryStack(
    { ...runtime, cfn: recoveryCfn },
    recoveryStack,
    recoveryRegion,
    templateOf(requireEnv(env, 'ASSEMBLY_DIR'), recoveryStack),
    common.envName,
  );
  let changeSetName: string;
  try {
    changeSetName = changeSetNameOf(common.commit, common.executionId);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const result = await planInfrastructure(
    {
      stackName: common.stackName,
      templateUrl: artifact.templateUrl,
      executionRoleArn: artifact.executionRoleArn,
      changeSetName,
      description: `commit ${common.commit}, pipeline execution ${common.executionId}`,
      template,
      imageParameterName: requireEnv(env, 'IMAGE_PARAMETER_NAME'),
      timeoutMs: common.timeoutMs,
    },
    { ...runtime, cfn: clients.cfn, checkListenerRule: ruleChecker(common.stackName, async () => template, clients) },
  );
  const lines = describeChanges(result.review.changes);
  const summary = shortSummary(result.review);
  // The approval's link: the change set, or the stack itself when there is nothing to change (never an empty link).
  const url = result.changeSetId ? changeSetUrl(region, result.stackId ?? common.stackName, result.changeSetId) : stackUrl(region, common.stackName);
  mkdirSync(planDir, { recursive: true });
  writeFileSync(
    join(planDir, 'infra-plan.txt'),
    [`Stack ${common.stackName}, commit ${common.commit}`, `Change set: ${result.changeSetName ?? 'none'}`, summary, '', ...lines, ''].join('\n'),
  );
  const vars: Record<string, string> = {
    CHANGE_SET_NAME: result.changeSetName ?? 'none',
    CHANGE_SUMMARY: summary,
    LISTENER_RULES_TOUCHED: result.review.listenerRulesTouched.join(',') || 'none',
    CHANGE_SET_URL: url,
  };
  writeFileSync(
    join(planDir, 'infra-plan.env'),
    Object.entries(vars)
      .map(([k, v]) => `${k}=${shellQuote(v)}`)
      .join('\n') + '\n',
  );
  runtime.log(`planned ${vars.CHANGE_SET_NAME}: ${summary}`);
  for (const line of lines) runtime.log(`  ${line}`);
  return 0;
}

async function apply(env: NodeJS.ProcessEnv, clients: InfraClients, runtime: ToolRuntime): Promise<number> {
  const common = commonEnv(env);
  const changeSetName = requireEnv(env, 'CHANGE_SET_NAME');
  const rules = requireEnv(env, 'LISTENER_RULES_TOUCHED');
  const listenerRulesTouched =
    rules === 'none'
      ? []
      : rules
          .split(',')
          .map((r) => r.trim())
          .filter(Boolean);
  if (listenerRulesTouched.some((r) => !/^[A-Za-z0-9]+$/.test(r)))
    throw new ConfigError(`LISTENER_RULES_TOUCHED must be logical ids or none, got: ${JSON.stringify(rules)}`);
  // The rule as the change set will write it: the change set's own template.
  let planned: unknown;
  const plannedTemplate = async (): Promise<unknown> => {
    if (planned === undefined) {
      const out = await withRetry(() =>
        clients.cfn.send(new GetTemplateCommand({ StackName: common.stackName, ChangeSetName: changeSetName, TemplateStage: 'Original' })),
      );
      planned = JSON.parse(out.TemplateBody ?? '');
    }
    return planned;
  };
  const result = await applyInfrastructure(
    {
      envName: common.envName,
      stackName: common.stackName,
      changeSetName,
      commit: common.commit,
      executionId: common.executionId,
      listenerRulesTouched,
      topicArn: matchEnv(env, 'TOPIC_ARN', /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]+$/, 'an SNS topic ARN'),
      imageParameterName: requireEnv(env, 'IMAGE_PARAMETER_NAME'),
      timeoutMs: common.timeoutMs,
    },
    {
      ...runtime,
      cfn: clients.cfn,
      sns: clients.sns,
      ssm: clients.ssm,
      codepipeline: clients.codepipeline,
      checkListenerRule: ruleChecker(common.stackName, plannedTemplate, clients),
    },
  );
  runtime.log(`infrastructure: ${result.status}${result.changesPipeline ? ' (the pipeline restarts on its new definition)' : ''}`);
  return 0;
}

/** Runs one command and returns the exit code. */
export async function main(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  clients?: InfraClients,
  runtime: ToolRuntime = realRuntime,
): Promise<number> {
  const command = argv[0];
  const aws = clients ?? {
    cfn: new CloudFormationClient({}),
    elbv2: new ElasticLoadBalancingV2Client({}),
    sns: new SNSClient({}),
    ssm: new SSMClient({}),
    codepipeline: new CodePipelineClient({}),
  };
  try {
    if (command === 'plan') return await plan(env, aws, runtime);
    if (command === 'apply') return await apply(env, aws, runtime);
    if (command === 'context') {
      // stdout is the synth's arguments; progress goes nowhere.
      const flags = await pendingSetupFlags({ ...runtime, cfn: aws.cfn }, requireEnv(env, 'STACK_NAME'));
      process.stdout.write(flags.join(' '));
      return 0;
    }
    throw new ConfigError(`usage: tools/infra/cli.ts context|plan|apply, got: ${JSON.stringify(command ?? '')}`);
  } catch (error) {
    const e = error as Error;
    if (e instanceof ConfigError || e.name === 'PlanInputError') {
      console.error(`infra ${command ?? ''}: bad configuration: ${e.message}`);
      return 2;
    }
    console.error(`infra ${command}: ${e.name === 'Error' ? '' : `${e.name}: `}${e.message}`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2), process.env).then((code) => {
    process.exitCode = code;
  });
}
