import { App, CfnParameter, CfnRule, Fn, Tags } from 'aws-cdk-lib';
import {
  downstreamProblems,
  EnvironmentConfig,
  EnvironmentName,
  loadAllConfigs,
  parseEnvironmentName,
  preflightProblems,
  PROMOTION_ORDER,
  recoveryStackNameOf,
} from './config';
import { RecoveryStack } from './recovery';
import { TapStack } from './tap-stack';

/** The stack name of an environment: the environment goes into the name and tags, never into construct ids. */
export function stackNameOf(env: EnvironmentName): string {
  return `TapStack-${env}`;
}

/** The tags of every resource; the values come from config. */
export function tagsOf(config: EnvironmentConfig): Record<string, string> {
  return {
    Project: config.tags.project,
    Environment: config.envName,
    Owner: config.tags.owner,
    CostCenter: config.tags.costCenter,
    DataClassification: config.tags.dataClassification,
    Compliance: config.tags.compliance,
    ManagedBy: 'aws-cdk',
  };
}

const LISTENER_RULE_TYPE = 'AWS::ElasticLoadBalancingV2::ListenerRule';

export interface BuildAppOptions {
  /** The account the CLI resolved from credentials (CDK_DEFAULT_ACCOUNT); present only when it could reach AWS. */
  readonly deployAccount?: string;
  /** Directory of the config files. @default - config/ at the repository root */
  readonly configDir?: string;
}

/**
 * Builds the app for the environment chosen with `-c env=` (default dev). Config is validated before any construct.
 * With credentials present (a deploy, or a synth that could deploy) the preflight refuses example values unless
 * `-c synthOnly=true` says this is only a look; such a template then carries a CloudFormation rule that refuses any
 * create or update, so `cdk deploy -c synthOnly=true` cannot carry example values past the preflight.
 */
export function buildApp(app: App, options: BuildAppOptions = {}): TapStack {
  const env = parseEnvironmentName(app.node.tryGetContext('env') ?? 'dev');
  const all = loadAllConfigs(options.configDir);
  const config = all[env];
  const position = PROMOTION_ORDER.indexOf(env);
  const upstreamName = PROMOTION_ORDER[position - 1];
  const downstreamName = PROMOTION_ORDER[position + 1];
  const synthOnly = app.node.tryGetContext('synthOnly') === 'true';
  if (options.deployAccount && !synthOnly) {
    const problems = [...preflightProblems(config, options.deployAccount), ...downstreamProblems(config, downstreamName && all[downstreamName])];
    if (problems.length > 0) {
      throw new Error(
        `Preflight refused ${env}:\n${problems.map((p) => `  - ${p}`).join('\n')}\n(only a look, not a deploy? add -c synthOnly=true: the template is then refused by CloudFormation)`,
      );
    }
  }
  // The recovery stack first: the main stack's replication rules and backup copies name its buckets and vault, so it
  // depends on it (`cdk deploy TapStack-<env>` deploys the recovery stack first; no cross-region reference is needed).
  const recovery = new RecoveryStack(app, recoveryStackNameOf(env), {
    config,
    env: { account: options.deployAccount, region: config.recovery.region },
    description: `Payment service delivery platform (${env}): audit-log replicas and database backup copies in the recovery region`,
    terminationProtection: env === 'prod',
  });
  const stack = new TapStack(app, stackNameOf(env), {
    config,
    firstDeploy: app.node.tryGetContext('firstDeploy') === 'true',
    newDatabase: app.node.tryGetContext('newDatabase') === 'true',
    upstream: upstreamName && all[upstreamName],
    downstream: downstreamName && all[downstreamName],
    env: { account: options.deployAccount, region: config.region },
    description: `Payment service delivery platform (${env}): network, audit trail, blue/green runtime, pipeline`,
    terminationProtection: env === 'prod',
  });
  stack.addStackDependency(recovery, 'replicates audit logs to and copies database backups into its buckets and vault');
  for (const target of options.deployAccount && synthOnly ? [stack, recovery] : []) {
    // The CLI does not tell the app whether it synthesizes or deploys; the template itself refuses to be deployed: the
    // parameter can only be `synth-only`, and the rule demands `deployable`.
    const marker = new CfnParameter(target, 'SynthOnly', {
      type: 'String',
      default: 'synth-only',
      allowedValues: ['synth-only'],
      description: 'Present only in a template synthesized with -c synthOnly=true, which CloudFormation must refuse',
    });
    new CfnRule(target, 'SynthOnlyNotDeployable', {
      assertions: [
        {
          assert: Fn.conditionEquals(marker.valueAsString, 'deployable'),
          assertDescription: `Synthesized with -c synthOnly=true, which skips the deploy preflight; deploy ${env} through its pipeline (break-glass: npm run deploy:infra -- ${env})`,
        },
      ],
    });
  }
  // Tags go into the template, on every resource but the listener rules: ECS blue/green owns their live state, and a
  // tag edit in config would make CloudFormation update, and so reset, the production rule (docs/deployments.md, trap 2). No stack-level
  // tags for the same reason: CloudFormation would propagate a change of them to the rules too.
  for (const [key, value] of Object.entries(tagsOf(config))) {
    for (const target of [stack, recovery]) Tags.of(target).add(key, value, { excludeResourceTypes: [LISTENER_RULE_TYPE] });
  }
  return stack;
}
