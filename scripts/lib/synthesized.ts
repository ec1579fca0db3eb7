// The synthesized templates of one environment, for the generators (architecture diagram, environment report,
// compliance mapping): every stack of the app as `cdk synth` builds it without credentials, in-process, into a
// temporary directory. cdk-nag is not run here (bin/tap.ts adds it; the compliance test and CI run it).
import { App } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildApp } from '../../lib/app';
import { EnvironmentName } from '../../lib/config';

const ROOT = path.join(__dirname, '..', '..');

/** One resource of a CloudFormation template, as synthesized. */
export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
  readonly Condition?: string;
  readonly DependsOn?: string | string[];
}

/** A synthesized CloudFormation template. */
export interface CfnTemplate {
  readonly Resources: Record<string, CfnResource>;
  readonly Outputs?: Record<string, unknown>;
  readonly Parameters?: Record<string, unknown>;
  readonly [key: string]: unknown;
}

/** What one environment's synth produced: each stack's template and region, and the construct tree. */
export interface Synthesized {
  readonly env: EnvironmentName;
  /** Stack name -> template, every stack of the app (the main stack first). */
  readonly templates: Record<string, CfnTemplate>;
  /** Stack name -> region. */
  readonly regions: Record<string, string>;
  /** The app's root construct, for construct-path lookups. */
  readonly root: IConstruct;
}

/** Synthesizes every stack of one environment as `npx cdk synth -c env=<env>` does without credentials. */
export function synthesize(env: EnvironmentName): Synthesized {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
  const app = new App({ context: { ...cdkJson.context, env }, outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'tap-generate-')) });
  const main = buildApp(app);
  const assembly = app.synth();
  const stacks = [...assembly.stacks].sort((a, b) =>
    a.stackName === main.stackName ? -1 : b.stackName === main.stackName ? 1 : a.stackName.localeCompare(b.stackName),
  );
  try {
    return {
      env,
      templates: Object.fromEntries(stacks.map((s) => [s.stackName, s.template as CfnTemplate])),
      regions: Object.fromEntries(stacks.map((s) => [s.stackName, s.environment.region])),
      root: app,
    };
  } finally {
    fs.rmSync(assembly.directory, { recursive: true, force: true });
  }
}
