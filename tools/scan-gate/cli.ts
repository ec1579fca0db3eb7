/**
 * CodeBuild entry of the scan gate: `npx tsx tools/scan-gate/cli.ts <trivy-report.json> [security/scan-ignore.json]`.
 * Prints a summary and exits 1 when a HIGH / CRITICAL finding blocks, 2 when an input cannot be read.
 */
import { readFileSync } from 'node:fs';
import { Finding, IgnoredFinding, ScanEvaluation, ScanInputError, SEVERITIES, evaluateScan } from './scan-gate';

/** Ignore file used when none is given on the command line. */
export const DEFAULT_IGNORE_FILE = 'security/scan-ignore.json';

function readJson(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${what} ${path}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${what} ${path} is not valid JSON: ${(error as Error).message}`);
  }
}

function describeFinding(f: Finding): string {
  const where = f.kind === 'vulnerability' ? `${f.pkg} ${f.version}${f.fixedVersion ? ` (fixed in ${f.fixedVersion})` : ''}` : f.kind;
  const resource = f.resource ? ` ${f.resource}` : '';
  return `${f.severity.padEnd(8)} ${f.id.padEnd(20)} ${where.padEnd(40)} ${f.title} [${f.target}${resource}]`;
}

function describeIgnored({ finding, entry }: IgnoredFinding): string {
  return `${finding.id.padEnd(20)} ${(finding.pkg ?? finding.resource ?? finding.kind).padEnd(20)} expires ${entry.expires}: ${entry.reason}`;
}

/** Renders the evaluation as the text the pipeline log shows. */
export function formatSummary(result: ScanEvaluation, ignoreFilePath: string): string {
  const lines = [
    'Scan findings by severity:',
    ...SEVERITIES.slice()
      .reverse()
      .map((s) => `  ${s.padEnd(8)} ${result.counts[s]}`),
  ];
  if (result.ignored.length > 0) lines.push('', `Accepted (${ignoreFilePath}):`, ...result.ignored.map((i) => `  ${describeIgnored(i)}`));
  if (result.expired.length > 0) {
    lines.push(
      '',
      'EXPIRED acceptances (re-review the risk, then fix or extend with a new reason):',
      ...result.expired.map((i) => `  ${describeIgnored(i)}`),
    );
  }
  if (result.unusedIgnores.length > 0) {
    lines.push(
      '',
      'Ignore entries that matched nothing (remove them):',
      ...result.unusedIgnores.map((e) => `  ${e.id}${e.resources ? ` on ${e.resources.join(', ')}` : ''} (expires ${e.expires})`),
    );
  }
  if (result.blocking.length > 0) {
    lines.push('', `BLOCKING (${result.blocking.length}):`, ...result.blocking.map((f) => `  ${describeFinding(f)}`));
    lines.push(
      '',
      `Scan gate FAILED: fix (upgrade the package or base image) or accept each finding in ${ignoreFilePath} with a reason and an expiry date.`,
    );
  } else {
    lines.push('', 'Scan gate passed: no blocking HIGH or CRITICAL findings.');
  }
  return lines.join('\n');
}

/** Runs the gate and returns the exit code. */
export function main(argv: readonly string[], today: Date = new Date()): number {
  const [reportPath, ignorePath = DEFAULT_IGNORE_FILE] = argv;
  if (!reportPath) {
    console.error('usage: scan-gate <trivy-report.json> [scan-ignore.json]');
    return 2;
  }
  let result: ScanEvaluation;
  try {
    result = evaluateScan(readJson(reportPath, 'Trivy report'), readJson(ignorePath, 'ignore file'), today);
  } catch (error) {
    if (error instanceof ScanInputError) {
      // A schema problem names the file it is in, as a read or JSON problem does.
      console.error(`scan-gate: ${error.input} ${error.input === 'ignore file' ? ignorePath : reportPath} is malformed: ${error.details}`);
    } else {
      console.error(`scan-gate: ${(error as Error).message}`);
    }
    return 2;
  }
  const summary = formatSummary(result, ignorePath);
  if (result.passed) console.log(summary);
  else console.error(summary);
  return result.passed ? 0 : 1;
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2));
}
