// The environment report: what an environment exposes (the stacks' outputs), how a release goes and how fast a bad
// one is stopped, what it is made of, and what it costs per month, from config and the synthesized templates.
// Rendered as text for a terminal or as markdown for docs/environment-report.md by scripts/lib/report-render.ts.
import { EnvironmentConfig, EnvironmentName, loadAllConfigs } from '../../lib/config';
import { CostLine, costLines, resourcesOf } from './report-cost';
import { loadPrices, PriceTable } from './report-prices';
import { deploymentTimings, pipelineTimings, PipelineRow, PipelineTimings } from './report-timings';
import { Synthesized, synthesize } from './synthesized';

/** One output of a stack, its value rendered (a value known only after deployment is shown as `<resource.attribute>`). */
export interface Endpoint {
  readonly stack: string;
  readonly name: string;
  readonly value: string;
  readonly description: string;
}

/** Everything the report says about one environment. */
export interface EnvironmentReport {
  readonly env: EnvironmentName;
  readonly config: EnvironmentConfig;
  readonly stacks: readonly { readonly name: string; readonly region: string }[];
  readonly endpoints: readonly Endpoint[];
  /** scripts/deployment-timings.ts, seconds. */
  readonly deployment: ReturnType<typeof deploymentTimings>;
  /** scripts/pipeline-timings.ts, minutes. */
  readonly pipeline: PipelineRow;
  /** Stack -> resource type -> count. */
  readonly inventory: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly lines: readonly CostLine[];
  /** Region -> USD per month. */
  readonly totalsByRegion: Readonly<Record<string, number>>;
  readonly total: number;
}

/** Builds one environment's report from its synth (synthesized here unless given). */
export async function buildReport(
  env: EnvironmentName,
  options: { synthesized?: Synthesized; prices?: PriceTable; pipeline?: PipelineTimings } = {},
): Promise<EnvironmentReport> {
  const config = loadAllConfigs()[env];
  const synthesized = options.synthesized ?? synthesize(env);
  const prices = options.prices ?? loadPrices();
  const pipeline = options.pipeline ?? (await pipelineTimings());
  const deployment = deploymentTimings(config);
  const row = pipeline.rows[env];
  if (!row) throw new Error(`scripts/pipeline-timings.ts printed no row for ${env}`);
  const lines = costLines({ config, synthesized, prices, pipeline, deployment });
  const totalsByRegion: Record<string, number> = {};
  for (const l of lines) totalsByRegion[l.region] = (totalsByRegion[l.region] ?? 0) + l.monthly;
  const inventory: Record<string, Record<string, number>> = {};
  for (const r of resourcesOf(synthesized)) {
    const stack = (inventory[r.stack] ??= {});
    stack[r.type] = (stack[r.type] ?? 0) + 1;
  }
  return {
    env,
    config,
    stacks: Object.keys(synthesized.templates).map((name) => ({ name, region: synthesized.regions[name] ?? '?' })),
    endpoints: endpointsOf(synthesized, config),
    deployment,
    pipeline: row,
    inventory,
    lines,
    totalsByRegion,
    total: lines.reduce((sum, l) => sum + l.monthly, 0),
  };
}

/** Every output of every stack, its value rendered from the template. */
export function endpointsOf(s: Synthesized, config: EnvironmentConfig): Endpoint[] {
  return Object.entries(s.templates).flatMap(([stack, template]) =>
    Object.entries(template.Outputs ?? {}).map(([name, output]) => {
      const o = output as { Value?: unknown; Description?: string };
      const ctx = { stack, region: s.regions[stack] ?? config.region, account: config.account, resources: template.Resources };
      return { stack, name, value: renderValue(o.Value, ctx), description: o.Description ?? '' };
    }),
  );
}

interface ValueContext {
  readonly stack: string;
  readonly region: string;
  readonly account: string;
  readonly resources: Readonly<Record<string, { readonly Type: string; readonly Properties?: Record<string, unknown> }>>;
}

/** Resource types whose Ref is their name, and the property that fixes the name when the template sets it. */
const REF_IS_NAME: Readonly<Record<string, string>> = {
  'AWS::ECR::Repository': 'RepositoryName',
  'AWS::S3::Bucket': 'BucketName',
  'AWS::Logs::LogGroup': 'LogGroupName',
  'AWS::ECS::Cluster': 'ClusterName',
  'AWS::CodePipeline::Pipeline': 'Name',
  'AWS::RDS::DBCluster': 'DBClusterIdentifier',
};
/** Resource types with a name attribute that equals a property of the same name. */
const NAME_ATTRIBUTE: Readonly<Record<string, string>> = { 'AWS::Backup::BackupVault': 'BackupVaultName' };

/** The name a template fixes for a resource, when it is fully known before deployment. */
function nameOf(resource: { readonly Properties?: Record<string, unknown> }, property: string | undefined, ctx: ValueContext): string | undefined {
  const value = property === undefined ? undefined : resource.Properties?.[property];
  if (value === undefined) return undefined;
  const rendered = renderValue(value, ctx);
  return rendered.includes('<') || rendered.includes('{') ? undefined : rendered;
}

function renderValue(v: unknown, ctx: ValueContext): string {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  const o = (v ?? {}) as Record<string, unknown>;
  if (typeof o.Ref === 'string') {
    const pseudo: Record<string, string> = {
      'AWS::Region': ctx.region,
      'AWS::AccountId': ctx.account,
      'AWS::URLSuffix': 'amazonaws.com',
      'AWS::StackName': ctx.stack,
    };
    const known = pseudo[o.Ref];
    if (known !== undefined) return known;
    const resource = ctx.resources[o.Ref];
    const named = resource && nameOf(resource, REF_IS_NAME[resource.Type], ctx);
    if (named) return named;
    return resource ? `<${o.Ref}: ${resource.Type}>` : `<${o.Ref}>`;
  }
  const getAtt = o['Fn::GetAtt'];
  if (Array.isArray(getAtt)) {
    const [id, attribute] = getAtt.map(String);
    const resource = id === undefined ? undefined : ctx.resources[id];
    const named = resource && attribute === NAME_ATTRIBUTE[resource.Type] ? nameOf(resource, attribute, ctx) : undefined;
    return named ?? `<${getAtt.map(String).join('.')}>`;
  }
  const join = o['Fn::Join'];
  if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) return join[1].map((p) => renderValue(p, ctx)).join(join[0]);
  const select = o['Fn::Select'];
  if (Array.isArray(select)) {
    // Fn::Select over the colon-split of an ARN of this stack: part 3 is its region, part 4 its account.
    const split = (select[1] as Record<string, unknown> | undefined)?.['Fn::Split'];
    if (Array.isArray(split) && split[0] === ':') {
      if (select[0] === 3) return ctx.region;
      if (select[0] === 4) return ctx.account;
    }
  }
  return JSON.stringify(v);
}

export { formatMarkdown, renderEnvironment, renderReport, REPORT_COMMAND, REPORT_DOC } from './report-render';
export type { Format } from './report-render';
