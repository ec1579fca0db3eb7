/**
 * The image scan gate: turns a Trivy JSON report into pass / fail. HIGH and CRITICAL findings block the pipeline
 * unless the checked-in ignore file (security/scan-ignore.json) accepts them with a reason and an expiry date.
 * An expired acceptance stops working on its own, so an accepted risk is re-reviewed instead of forgotten.
 * Secrets are never ignorable here: a secret in an image must be removed and rotated, not accepted.
 * A misconfiguration (Trivy's scan of the synthesized templates) is accepted per resource: the entry names the
 * CloudFormation logical ids it covers, so accepting one group's rule never accepts the same rule on another group.
 */
import { z } from 'zod';

/** Trivy's severities, lowest first. */
export const SEVERITIES = ['UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
/** One of Trivy's severities. */
export type Severity = (typeof SEVERITIES)[number];
/** Severities that fail the gate. */
export const BLOCKING_SEVERITIES: ReadonlySet<Severity> = new Set<Severity>(['HIGH', 'CRITICAL']);

/**
 * Ids an ignore entry may name: CVE, GitHub advisory, Trivy/AVD misconfiguration ids (AVD-AWS-0001, DS002),
 * and other advisory ids with a prefix, a year and a number (GO-2024-1234, RUSTSEC-2024-0001).
 */
// eslint-disable-next-line security/detect-unsafe-regex -- alternation of anchored fixed-shape ids; input is one id from a checked-in file
export const IGNORE_ID_PATTERN = /^(?:CVE-\d{4}-\d{4,}|GHSA(?:-[23456789cfghjmpqrvwx]{4}){3}|AVD-[A-Z0-9]+-\d{4}|DS\d{3}|[A-Z]+-\d{4}-\d{4,})$/;

function isRealDate(value: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!match) return false;
  const [, y, m, d] = match.map(Number);
  const date = new Date(Date.UTC(y ?? 0, (m ?? 0) - 1, d ?? 0));
  return date.getUTCFullYear() === y && date.getUTCMonth() + 1 === m && date.getUTCDate() === d;
}

/**
 * A CloudFormation logical id, or a pattern of one where `*` stands for any run of letters and digits (CDK appends a
 * hash to every id: `Delivery*SecurityGroup*`). A pattern needs at least four literal characters, so it names
 * something.
 */
const RESOURCE_PATTERN = /^[A-Za-z0-9*]+$/;

const ignoreEntrySchema = z
  .strictObject({
    id: z.string().regex(IGNORE_ID_PATTERN, 'must be an advisory id such as CVE-2023-45853, GHSA-xxxx-xxxx-xxxx or AVD-AWS-0001'),
    reason: z.string().trim().min(10, 'must explain the decision in at least 10 characters'),
    expires: z.string().refine(isRealDate, 'must be a real calendar date YYYY-MM-DD'),
    /** Misconfigurations only: the resources (logical ids or patterns) the acceptance covers. */
    resources: z
      .array(
        z
          .string()
          .regex(RESOURCE_PATTERN, 'must be a CloudFormation logical id, with * for the generated suffix')
          .refine(
            (p) => /^[A-Za-z0-9]{4}/.test(p),
            'must begin with at least 4 letters or digits of the logical id (a leading * would name every resource)',
          ),
      )
      .min(1, 'must name at least one resource')
      .optional(),
  })
  .refine((entry) => !/^AVD-(AWS|AZU|GCP)-/.test(entry.id) || entry.resources !== undefined, {
    path: ['resources'],
    message: 'a cloud misconfiguration is accepted on named resources only: list the logical ids it covers',
  });

/** What makes two entries the same: the id and, for misconfigurations, the resources they cover. */
function entryKey(entry: { id: string; resources?: readonly string[] }): string {
  return `${entry.id} ${(entry.resources ?? ['(everywhere)']).join(',')}`;
}

const ignoreFileSchema = z.strictObject({
  ignores: z.array(ignoreEntrySchema).superRefine((entries, ctx) => {
    const seen = new Set<string>();
    entries.forEach((entry, index) => {
      const key = entryKey(entry);
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: [index, 'id'], message: `duplicate entry for ${key}` });
      seen.add(key);
    });
  }),
});

/** True when a logical id matches a pattern of {@link RESOURCE_PATTERN}. */
export function resourceMatches(pattern: string, resource: string): boolean {
  if (!/^[A-Za-z0-9]+$/.test(resource)) return false;
  const [first, ...rest] = pattern.split('*') as [string, ...string[]]; // split always returns at least one piece
  if (rest.length === 0) return resource === first;
  const last = rest.pop()!;
  if (!resource.startsWith(first) || resource.length < first.length + last.length || !resource.endsWith(last)) return false;
  // The literal pieces between stars, in order, each after the previous one; the earliest match leaves the most room.
  let at = first.length;
  const end = resource.length - last.length;
  for (const piece of rest) {
    const found = resource.indexOf(piece, at);
    if (found < 0 || found + piece.length > end) return false;
    at = found + piece.length;
  }
  return true;
}

/** One accepted finding in security/scan-ignore.json. */
export type IgnoreEntry = z.infer<typeof ignoreEntrySchema>;
/** The whole ignore file. */
export type IgnoreFile = z.infer<typeof ignoreFileSchema>;

const severitySchema = z
  .string()
  .optional()
  .transform((s): Severity => ((SEVERITIES as readonly (string | undefined)[]).includes(s) ? (s as Severity) : 'UNKNOWN'));

// Only the fields the gate reads; Trivy adds many more (and null for empty lists), which are tolerated.
const trivyReportSchema = z.object({
  ArtifactName: z.string().optional(),
  Results: z
    .array(
      z.object({
        Target: z.string().default('(unknown target)'),
        Vulnerabilities: z
          .array(
            z.object({
              VulnerabilityID: z.string(),
              PkgName: z.string().default(''),
              InstalledVersion: z.string().default(''),
              FixedVersion: z.string().optional(),
              Severity: severitySchema,
              Title: z.string().optional(),
            }),
          )
          .nullish(),
        Secrets: z
          .array(z.object({ RuleID: z.string(), Category: z.string().optional(), Severity: severitySchema, Title: z.string().optional() }))
          .nullish(),
        Misconfigurations: z
          .array(
            z.object({
              ID: z.string(),
              AVDID: z.string().optional(),
              Severity: severitySchema,
              Title: z.string().optional(),
              Status: z.string().optional(),
              CauseMetadata: z.object({ Resource: z.string().optional() }).nullish(),
            }),
          )
          .nullish(),
      }),
    )
    .nullish(),
});

/** A finding from the report, flattened. Secret findings never carry the matched text. */
export interface Finding {
  readonly kind: 'vulnerability' | 'secret' | 'misconfiguration';
  readonly id: string;
  readonly severity: Severity;
  readonly target: string;
  readonly title: string;
  /** Package name (vulnerabilities only). */
  readonly pkg?: string;
  /** Installed version (vulnerabilities only). */
  readonly version?: string;
  /** First fixed version, when Trivy knows one. */
  readonly fixedVersion?: string;
  /** The resource a misconfiguration is on (a CloudFormation logical id), when Trivy names one. */
  readonly resource?: string;
}

/** A finding together with the ignore entry that matched it. */
export interface IgnoredFinding {
  readonly finding: Finding;
  readonly entry: IgnoreEntry;
}

/** The gate's verdict. */
export interface ScanEvaluation {
  /** False when at least one finding blocks. */
  readonly passed: boolean;
  /** HIGH / CRITICAL findings not covered by a valid ignore entry (includes those whose entry expired). */
  readonly blocking: Finding[];
  /** HIGH / CRITICAL findings accepted by an entry that has not expired. */
  readonly ignored: IgnoredFinding[];
  /** Findings whose ignore entry has expired (they are also in `blocking`). */
  readonly expired: IgnoredFinding[];
  /** Ignore entries that matched nothing in this report (candidates for removal). */
  readonly unusedIgnores: IgnoreEntry[];
  /** Number of findings per severity, all kinds together. */
  readonly counts: Record<Severity, number>;
}

/** The gate's two inputs. */
export type ScanInput = 'Trivy report' | 'ignore file';

/** The report or the ignore file does not have the expected shape. */
export class ScanInputError extends Error {
  override readonly name = 'ScanInputError';
  /** `input` names the input (`ignore file`, `Trivy report`); `details` each bad field and what is wrong with it. */
  constructor(
    readonly input: ScanInput,
    readonly details: string,
  ) {
    super(`${input} is malformed: ${details}`);
  }
}

function describeIssues(what: ScanInput, error: z.ZodError): ScanInputError {
  const details = error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`);
  return new ScanInputError(what, details.join('; '));
}

/** Validates the ignore file; the error names each bad field, e.g. `ignores.0.expires`. */
export function parseIgnoreFile(json: unknown): IgnoreFile {
  const parsed = ignoreFileSchema.safeParse(json);
  if (!parsed.success) throw describeIssues('ignore file', parsed.error);
  return parsed.data;
}

/** Flattens a Trivy JSON report into findings. */
export function parseTrivyReport(json: unknown): Finding[] {
  const parsed = trivyReportSchema.safeParse(json);
  if (!parsed.success) throw describeIssues('Trivy report', parsed.error);
  const findings: Finding[] = [];
  for (const result of parsed.data.Results ?? []) {
    const target = result.Target;
    for (const v of result.Vulnerabilities ?? []) {
      findings.push({
        kind: 'vulnerability',
        id: v.VulnerabilityID,
        severity: v.Severity,
        target,
        title: v.Title ?? '',
        pkg: v.PkgName,
        version: v.InstalledVersion,
        ...(v.FixedVersion ? { fixedVersion: v.FixedVersion } : {}),
      });
    }
    for (const s of result.Secrets ?? []) {
      // The Match / Code fields hold the secret itself; they are deliberately not copied.
      findings.push({ kind: 'secret', id: s.RuleID, severity: s.Severity, target, title: s.Title ?? s.Category ?? 'secret' });
    }
    for (const m of result.Misconfigurations ?? []) {
      if (m.Status === 'PASS') continue;
      const resource = m.CauseMetadata?.Resource;
      // Trivy 0.69 and later print a check as AWS-0104 where earlier versions printed AVD-AWS-0104; acceptances use
      // the AVD form, which every version understands.
      const id = m.AVDID ?? (/^[A-Z]+-\d{4}$/.test(m.ID) ? `AVD-${m.ID}` : m.ID);
      findings.push({
        kind: 'misconfiguration',
        id,
        severity: m.Severity,
        target,
        title: m.Title ?? '',
        ...(resource ? { resource } : {}),
      });
    }
  }
  return findings;
}

/** `date` as YYYY-MM-DD in UTC, the calendar the ignore file's expiry dates use. */
export function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/**
 * Evaluates a Trivy report against the ignore file. An entry ignores a finding through its expiry day
 * (inclusive); from the day after, the finding blocks again and is listed in `expired`.
 * @param report parsed JSON of `trivy image --format json`
 * @param ignoreFile parsed JSON of security/scan-ignore.json
 * @param today the day of the evaluation (injected so tests are deterministic)
 */
export function evaluateScan(report: unknown, ignoreFile: unknown, today: Date): ScanEvaluation {
  const findings = parseTrivyReport(report);
  const { ignores } = parseIgnoreFile(ignoreFile);
  const day = isoDay(today);
  // An entry with resources covers only misconfigurations on a resource it names; one without covers the id anywhere.
  const entryFor = (finding: Finding): IgnoreEntry | undefined =>
    ignores.find(
      (entry) =>
        entry.id === finding.id &&
        (entry.resources === undefined ||
          (finding.kind === 'misconfiguration' &&
            finding.resource !== undefined &&
            entry.resources.some((p) => resourceMatches(p, finding.resource!)))),
    );
  const used = new Set<IgnoreEntry>();

  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  const blocking: Finding[] = [];
  const ignored: IgnoredFinding[] = [];
  const expired: IgnoredFinding[] = [];
  for (const finding of findings) {
    counts[finding.severity] += 1;
    if (!BLOCKING_SEVERITIES.has(finding.severity)) continue;
    const entry = finding.kind === 'secret' ? undefined : entryFor(finding);
    if (!entry) {
      blocking.push(finding);
      continue;
    }
    used.add(entry);
    if (entry.expires >= day) {
      ignored.push({ finding, entry });
    } else {
      expired.push({ finding, entry });
      blocking.push(finding);
    }
  }
  return { passed: blocking.length === 0, blocking, ignored, expired, unusedIgnores: ignores.filter((e) => !used.has(e)), counts };
}
