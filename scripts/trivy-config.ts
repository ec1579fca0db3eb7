// `npm run iac:trivy`: Trivy's misconfiguration checks over every synthesized template (run scripts/synth-all.sh
// first), judged by the image scan's gate: HIGH and CRITICAL block unless security/scan-ignore.json accepts them,
// per resource, with a reason and an expiry date. Prints the counts per environment.
//
// The binary: TRIVY_BIN, else `trivy` on PATH at the pinned version (the pipeline installs the checksum-verified
// release), else a copy built earlier into the user cache, else one built there now from the Go module proxy when Go
// is installed (about ten minutes the first time on two cores). With none of these the scan is skipped with the
// reason printed, except in CodeBuild or with TRIVY_REQUIRED=1, where a missing scanner fails the step.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TRIVY_VERSION } from '../lib/pipeline/steps/trivy';
import { formatSummary } from '../tools/scan-gate/cli';
import { evaluateScan } from '../tools/scan-gate/scan-gate';

const ROOT = path.join(__dirname, '..');
export const TRIVY_MODULE = 'github.com/aquasecurity/trivy/cmd/trivy';

/** Flags that keep the scan offline and reproducible: the checks built into the pinned binary, no update calls. */
export const TRIVY_CONFIG_FLAGS = ['--skip-check-update', '--skip-version-check', '--disable-telemetry', '--quiet'] as const;

/**
 * Fewest checks Trivy must have run over one template (passed plus failed; about 90 run over each of ours). A report
 * below it means the template was not read as CloudFormation, and Trivy says so only at debug level.
 */
export const MIN_CHECKS_PER_TEMPLATE = 40;
/** The same for a recovery stack's template: keys, buckets and a vault only, over which about 35 checks run. */
export const MIN_CHECKS_PER_RECOVERY_TEMPLATE = 25;

/** Why a report cannot stand for a scan of `file`, or undefined when it can. */
export function reportProblem(report: unknown, file: string, minChecks: number = MIN_CHECKS_PER_TEMPLATE): string | undefined {
  const r = report as {
    Trivy?: { Version?: string };
    ArtifactName?: string;
    Results?: { Target?: string; Class?: string; Type?: string; MisconfSummary?: { Successes?: number; Failures?: number } }[] | null;
  };
  if (r?.Trivy?.Version !== TRIVY_VERSION) return `written by Trivy ${r?.Trivy?.Version ?? '(unknown)'}, not ${TRIVY_VERSION}`;
  if (r.ArtifactName !== file) return `of ${r.ArtifactName ?? '(nothing)'}, not ${file}`;
  const scanned = (r.Results ?? []).filter((x) => x.Target === path.basename(file) && x.Class === 'config' && x.Type === 'cloudformation');
  if (scanned.length !== 1) return `without a CloudFormation result for ${path.basename(file)} (Trivy did not read it as a template)`;
  const checks = (scanned[0]!.MisconfSummary?.Successes ?? 0) + (scanned[0]!.MisconfSummary?.Failures ?? 0);
  if (checks < minChecks) return `with ${checks} checks run, fewer than ${minChecks} (the template was not fully read)`;
  return undefined;
}

/** Where a built Trivy is kept between runs (outside the checkout: a fresh clone reuses it). */
export function cachedTrivyPath(env: NodeJS.ProcessEnv = process.env): string {
  const cache = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache');
  return path.join(cache, 'tap-delivery', `trivy-v${TRIVY_VERSION}`, 'trivy');
}

function versionOf(bin: string): string | undefined {
  const run = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  return run.status === 0 ? /Version:\s*(\S+)/.exec(run.stdout)?.[1] : undefined;
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, name);
    if (fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

export type TrivyLookup = { readonly bin: string; readonly how: string } | { readonly bin?: undefined; readonly why: string };

/** Finds (or builds) the pinned Trivy; never returns another version. */
export function findTrivy(env: NodeJS.ProcessEnv = process.env, log: (line: string) => void = console.log): TrivyLookup {
  if (env.TRIVY_BIN) {
    const version = versionOf(env.TRIVY_BIN);
    if (version !== TRIVY_VERSION)
      return { why: `TRIVY_BIN=${env.TRIVY_BIN} reports version ${version ?? '(none)'}, the pinned version is ${TRIVY_VERSION}` };
    return { bin: env.TRIVY_BIN, how: 'TRIVY_BIN' };
  }
  const installed = onPath('trivy', env);
  if (installed && versionOf(installed) === TRIVY_VERSION) return { bin: installed, how: 'PATH' };
  const cached = cachedTrivyPath(env);
  if (fs.existsSync(cached) && versionOf(cached) === TRIVY_VERSION) return { bin: cached, how: `cache ${cached}` };
  const go = onPath('go', env);
  if (!go) {
    return {
      why: `no trivy ${TRIVY_VERSION} (TRIVY_BIN unset, ${installed ? `PATH has ${installed} at another version` : 'none on PATH'}, none in ${cached}) and no Go toolchain to build it`,
    };
  }
  log(`building Trivy ${TRIVY_VERSION} from the Go module proxy into ${path.dirname(cached)} (about ten minutes the first time)`);
  // The version stamp Trivy's release build sets (goreleaser.yml); without it the binary calls itself "dev".
  const stamp = `-X github.com/aquasecurity/trivy/pkg/version/app.ver=${TRIVY_VERSION}`;
  const built = spawnSync(go, ['install', '-ldflags', stamp, `${TRIVY_MODULE}@v${TRIVY_VERSION}`], {
    env: { ...env, GOBIN: path.dirname(cached), GOEXPERIMENT: 'jsonv2', GOFLAGS: '-buildvcs=false' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (built.status !== 0 || versionOf(cached) !== TRIVY_VERSION) {
    return { why: `go install ${TRIVY_MODULE}@v${TRIVY_VERSION} failed (exit ${built.status ?? built.signal})` };
  }
  return { bin: cached, how: `built into ${cached}` };
}

/**
 * The synthesized templates of each environment, as scripts/synth-all.sh writes them: the main stack (named by the
 * environment) and its recovery stack (`<env>-recovery`).
 */
export function templates(root: string = ROOT): { env: string; file: string; minChecks: number }[] {
  return fs
    .readdirSync(root)
    .filter((d) => /^cdk\.out\.[a-z]+$/.test(d))
    .sort()
    .flatMap((d) => {
      const env = d.slice('cdk.out.'.length);
      return [
        { env, file: path.join(root, d, `TapStack-${env}.template.json`), minChecks: MIN_CHECKS_PER_TEMPLATE },
        {
          env: `${env}-recovery`,
          file: path.join(root, d, `TapStack-${env}-recovery.template.json`),
          minChecks: MIN_CHECKS_PER_RECOVERY_TEMPLATE,
        },
      ].filter((t) => fs.existsSync(t.file));
    });
}

/**
 * Trivy names some findings by a line range of the template (`TapStack-dev.template.json:1037-1167`) instead of the
 * resource. Each such finding is given the logical id of the resource whose block holds its first line, so an
 * acceptance can name the resource and a line moving never changes what it covers. Returns the report, changed.
 */
export function nameResources(report: unknown, templateText: string): unknown {
  const lines = templateText.split('\n');
  const starts: { line: number; id: string }[] = [];
  let resourcesEnd = 0;
  // The template's own Resources: the key at the indentation of the template's first key, not a nested one.
  const indent = /^(\s*)/.exec(lines[1] ?? '')![1]!.length;
  const resourcesAt = lines.findIndex((l) => l === `${' '.repeat(indent)}"Resources": {`);
  if (resourcesAt >= 0) {
    // The resources are the keys at the indentation of the first line inside "Resources".
    const childIndent = /^(\s*)/.exec(lines[resourcesAt + 1] ?? '')![1]!.length;
    for (let i = resourcesAt + 1; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.trimEnd() === `${' '.repeat(indent)}}` || line.trimEnd() === `${' '.repeat(indent)}},`) {
        resourcesEnd = i + 1;
        break;
      }
      const m = /^(\s*)"([A-Za-z0-9]+)": \{$/.exec(line);
      if (m && m[1]!.length === childIndent) starts.push({ line: i + 1, id: m[2]! });
    }
  }
  const results = (
    report as { Results?: { Misconfigurations?: { CauseMetadata?: { Resource?: string; StartLine?: number; EndLine?: number } }[] | null }[] | null }
  ).Results;
  for (const result of results ?? []) {
    for (const m of result.Misconfigurations ?? []) {
      const cause = m.CauseMetadata;
      if (!cause?.StartLine || cause.StartLine >= resourcesEnd || (cause.Resource && /^[A-Za-z0-9]+$/.test(cause.Resource))) continue;
      // Both ends of the range must lie in the same resource's block; otherwise the finding keeps no name and blocks.
      const ownerOf = (line: number) => [...starts].reverse().find((s) => s.line <= line);
      const owner = ownerOf(cause.StartLine);
      const end = cause.EndLine ?? cause.StartLine;
      if (owner && end < resourcesEnd && ownerOf(end) === owner) cause.Resource = owner.id;
    }
  }
  return report;
}

export function main(env: NodeJS.ProcessEnv = process.env, root: string = ROOT): number {
  const found = templates(root);
  if (found.length === 0) {
    console.error('trivy config: no templates; run scripts/synth-all.sh first');
    return 2;
  }
  const trivy = findTrivy(env);
  if (trivy.bin === undefined) {
    if (env.CODEBUILD_BUILD_ID || env.TRIVY_REQUIRED === '1') {
      console.error(`trivy config: FAILED: ${trivy.why}`);
      return 2;
    }
    console.log(`trivy config: SKIPPED: ${trivy.why}. Install Go (go.dev) or set TRIVY_BIN to run it; the pipeline always runs it.`);
    return 0;
  }
  console.log(`trivy config: Trivy ${TRIVY_VERSION} (${trivy.how})`);
  const ignoreFile = path.join(root, 'security', 'scan-ignore.json');
  const ignores = JSON.parse(fs.readFileSync(ignoreFile, 'utf8')) as unknown;
  fs.mkdirSync(path.join(root, 'reports'), { recursive: true });
  let failed = false;
  for (const { env: name, file, minChecks } of found) {
    const out = path.join(root, 'reports', `trivy-config-${name}.json`);
    // A report left from an earlier run must never stand in for this one.
    fs.rmSync(out, { force: true });
    // The template file alone: Trivy detects CloudFormation JSON by its top-level Resources key; the asset folders'
    // code is scanned as source by Dependency-Scan.
    try {
      execFileSync(trivy.bin, ['config', ...TRIVY_CONFIG_FLAGS, '--format', 'json', '--output', out, file], { stdio: 'inherit', timeout: 600_000 });
    } catch (error) {
      console.error(`trivy config ${name}: FAILED: trivy did not complete (${(error as Error).message.split('\n')[0]})`);
      failed = true;
      continue;
    }
    if (!fs.existsSync(out)) {
      console.error(`trivy config ${name}: FAILED: trivy wrote no report to ${out}`);
      failed = true;
      continue;
    }
    const raw = JSON.parse(fs.readFileSync(out, 'utf8')) as unknown;
    const problem = reportProblem(raw, file, minChecks);
    if (problem) {
      console.error(`trivy config ${name}: FAILED: the report is ${problem}`);
      failed = true;
      continue;
    }
    const report = nameResources(raw, fs.readFileSync(file, 'utf8'));
    fs.writeFileSync(out, JSON.stringify(report, null, 1));
    const result = evaluateScan(report, ignores, new Date());
    const accepted = result.ignored.length;
    console.log(
      `trivy config ${name}: CRITICAL ${result.counts.CRITICAL}, HIGH ${result.counts.HIGH}, MEDIUM ${result.counts.MEDIUM}, LOW ${result.counts.LOW}; ` +
        `${accepted} HIGH/CRITICAL accepted with a reason, ${result.blocking.length} blocking`,
    );
    if (!result.passed) {
      console.log(formatSummary(result, 'security/scan-ignore.json'));
      failed = true;
    }
  }
  return failed ? 1 : 0;
}

if (require.main === module) process.exitCode = main();
