// Runs the pipeline's own step definitions (lib/pipeline/steps) on this machine, so `npm test` executes the very
// commands CodeBuild runs: `tsx scripts/run-step.ts --local` runs every Verify step that needs no AWS or Docker
// registry (lint, static analysis, IaC check, the service's tests on each configured Node version); naming steps
// runs just those. The install phase is skipped (npm ci already ran); pre_build and build run under bash with the
// step's variables, from the repository root, two steps at a time. Prints a line per step and a total.
import { spawn } from 'child_process';
import * as path from 'path';
import { loadConfig, parseEnvironmentName } from '../lib/config';
import { PipelineStep } from '../lib/pipeline/steps';
import { verifySteps } from '../lib/pipeline/verify-stage';

const ROOT = path.join(__dirname, '..');
const CONCURRENCY = Math.max(1, Number(process.env.RUN_STEP_CONCURRENCY ?? 2));

interface Outcome {
  readonly name: string;
  readonly ok: boolean;
  readonly seconds: number;
  readonly output: string;
}

function run(step: PipelineStep): Promise<Outcome> {
  const phases = step.buildSpec.phases;
  const script = ['set -euo pipefail', ...(phases.pre_build?.commands ?? []), ...phases.build.commands, ...(phases.post_build?.commands ?? [])].join(
    '\n',
  );
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', script], {
      cwd: ROOT,
      env: { ...process.env, ...step.buildSpec.env?.variables, CODEBUILD_SRC_DIR: ROOT, FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('close', (code) => resolve({ name: step.name, ok: code === 0, seconds: (Date.now() - started) / 1000, output }));
  });
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const env = parseEnvironmentName(process.env.STEP_ENV ?? 'dev');
  const all = verifySteps(loadConfig(env));
  const wanted = args.includes('--local') ? all.filter((s) => s.runsLocally) : all.filter((s) => args.includes(s.name));
  const unknown = args.filter((a) => a !== '--local' && !all.some((s) => s.name === a));
  if (unknown.length > 0 || wanted.length === 0) {
    console.error(`run-step: unknown or no step(s) ${JSON.stringify(unknown)}; known: ${all.map((s) => s.name).join(', ')} (or --local)`);
    return 2;
  }
  const queue = [...wanted];
  const outcomes: Outcome[] = [];
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, queue.length) }, async () => {
      for (let step = queue.shift(); step; step = queue.shift()) {
        const outcome = await run(step);
        process.stdout.write(`\n===== step ${outcome.name} (${outcome.ok ? 'ok' : 'FAILED'}, ${outcome.seconds.toFixed(1)} s)\n${outcome.output}`);
        outcomes.push(outcome);
      }
    }),
  );
  process.stdout.write('\n');
  for (const step of wanted) {
    const o = outcomes.find((x) => x.name === step.name)!;
    process.stdout.write(`step ${o.name}: ${o.ok ? 'ok' : 'FAILED'} in ${o.seconds.toFixed(1)} s\n`);
  }
  const failed = outcomes.filter((o) => !o.ok).length;
  process.stdout.write(`pipeline steps: ${outcomes.length - failed} passed, ${failed} failed\n`);
  return failed === 0 ? 0 : 1;
}

// exitCode, not process.exit(): exiting at once can cut off output still queued for a pipe (`npm test | tee`), which
// dropped the last step lines and the summary from CI's log.
main().then((code) => {
  process.exitCode = code;
});
