// Cost lines of the delivery pipeline and the image registry (scripts/lib/report-cost.ts composes them).
import { arr, count, obj, refOf, StackContext } from './report-cost-context';
import { PipelineRow } from './report-timings';

/** CodeBuild and CodePipeline: each pipeline action per push, for the minutes scripts/pipeline-timings.ts states. */
export function pipelineLines(ctx: StackContext): void {
  const { env, input, stack, pushes, add, ofType, byId } = ctx;
  for (const pipeline of ofType('AWS::CodePipeline::Pipeline', stack)) {
    if (pipeline.props.PipelineType !== 'V2')
      throw new Error(`${stack}/${pipeline.id}: only CodePipeline V2 has a cost rule, got: ${String(pipeline.props.PipelineType)}`);
    const row = input.pipeline.rows[env];
    if (!row) throw new Error(`scripts/pipeline-timings.ts printed no row for ${env}`);
    let actionMinutes = 0;
    for (const stage of arr(pipeline.props.Stages).map(obj)) {
      for (const action of arr(stage.Actions).map(obj)) {
        const name = String(action.Name);
        const provider = String(obj(action.ActionTypeId).Provider);
        if (provider === 'Manual') continue;
        const minutes = stepMinutes(name, provider, row, input.pipeline.stepMinutes);
        // CodePipeline rounds each action execution up to the minute.
        actionMinutes += Math.ceil(minutes);
        if (provider !== 'CodeBuild') continue;
        const project = byId(stack, refOf(obj(action.Configuration).ProjectName), `action ${name}`);
        const compute = String(obj(project.props.Environment).ComputeType);
        const billed = Math.ceil(minutes);
        add({
          stack,
          service: 'CodeBuild',
          item: `${name} (${compute})`,
          quantity: billed * pushes,
          unit: 'build minutes',
          priceKeys: [`codebuildMinute.${compute}`],
          basis: `${billed} min per push (pipeline-timings${name === 'Promote-Image' ? `, ${row.waitForUpstream} min of it waiting for the upstream` : ''}) x ${pushes} pushes`,
          covers: ['AWS::CodeBuild::Project'],
        });
      }
    }
    add({
      stack,
      service: 'CodePipeline',
      item: 'V2 action execution minutes',
      quantity: actionMinutes * pushes,
      unit: 'action minutes',
      priceKeys: ['codepipelineV2ActionMinute'],
      basis: `${actionMinutes} min per push (each action rounded up; approvals free) x ${pushes} pushes`,
      covers: ['AWS::CodePipeline::Pipeline'],
    });
  }
}

/** ECR: image storage (the repository and the pull-through cache). */
export function registryLines(ctx: StackContext): void {
  const { stack, a, add, ofType } = ctx;
  const repos = ofType('AWS::ECR::Repository', stack).length;
  if (repos > 0) {
    const caches = ofType('AWS::ECR::PullThroughCacheRule', stack).length;
    add({
      stack,
      service: 'ECR',
      item: 'Image storage',
      quantity: a('imagesKept') * a('imageGb'),
      unit: 'GB-months',
      priceKeys: ['ecrStorageGbMonth'],
      basis: `${a('imagesKept')} images x ${a('imageGb')} GB (${count(repos, 'repository', 'repositories')}, ${count(caches, 'pull-through cache rule')})`,
      covers: ['AWS::ECR::Repository', ...(caches > 0 ? ['AWS::ECR::PullThroughCacheRule'] : [])],
    });
  }
}

/** The minutes of one pipeline action per push, from scripts/pipeline-timings.ts. */
function stepMinutes(name: string, provider: string, row: PipelineRow, steps: Readonly<Record<string, number>>): number {
  const step = (key: string): number => {
    const v = steps[key];
    if (v === undefined) throw new Error(`scripts/pipeline-timings.ts STEP_MINUTES has no ${key} (action ${name})`);
    return v;
  };
  if (provider === 'CodeStarSourceConnection') return step('source');
  if (/^Test-Node\d+$/.test(name)) return step('test');
  const byName: Record<string, () => number> = {
    'Lint-Typecheck': () => step('lint'),
    'Static-Analysis': () => step('sast'),
    'Dependency-Scan': () => step('dependencyScan'),
    'IaC-Check': () => step('iacCheck'),
    'Build-Image': () => step('buildImage'),
    Mutation: () => step('mutation'),
    'Promote-Image': () => step('promoteCopy') + row.waitForUpstream,
    'Infra-Plan': () => row.infraPlan,
    'Infra-Apply': () => row.infraApplyNoChange,
    Deploy: () => row.deploy,
    'Smoke-Production': () => row.smoke,
  };
  const f = byName[name];
  if (!f)
    throw new Error(
      `pipeline action ${name} (${provider}) has no duration rule in scripts/lib/report-cost.ts (known: ${Object.keys(byName).join(', ')}, Test-Node<N>)`,
    );
  return f();
}
