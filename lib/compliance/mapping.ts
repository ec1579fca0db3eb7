/**
 * The PCI DSS v4.0.1 control mapping (compliance/pci-dss-v4.0.1.json): its schema, the markdown page generated from
 * it (docs/compliance.md, `npm run docs:compliance`), and the drift checks test/compliance-mapping.test.ts runs
 * against the synthesized app and the test files. Pure functions: the callers read the files.
 */
import { CfnResource } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import * as ts from 'typescript';
import { z } from 'zod';
import { ASSESSED_STANDARD, ENVIRONMENT_NAMES, EnvironmentName } from '../config';

/** A v4.0.1 requirement number: `10`, `10.4`, `10.4.1` or `10.4.1.1`. */
const requirementId = z.string().refine((id) => id.split('.').length <= 4 && id.split('.').every((part) => /^\d{1,2}$/.test(part)), {
  message: 'must be a PCI DSS v4.0.1 requirement number such as 10.4.1.1',
});
const text = z.string().trim().min(1, 'must not be empty');
const environment = z.enum(ENVIRONMENT_NAMES);

/**
 * One test that proves a control. `name` is the literal title of a `test(...)` or `it(...)` call in `file` (as written
 * in the source, `%s` placeholders of `test.each` included), or that title preceded by the literal titles of its
 * enclosing `describe(...)` blocks, each followed by ` > ` (`describe title > test title`).
 */
const testRef = z
  .object({ file: text.regex(/^(test|app\/test)\/[\w./-]+\.test\.ts$/, 'must be a jest file under test/ or app/test/'), name: text })
  .strict();

const row = z
  .object({
    /** The v4.0.1 requirement numbers the row answers; the first decides the group it is listed under. */
    requirements: z.array(requirementId).min(1),
    /** The requirement in a few words. */
    title: text,
    /** What the platform does, in plain words. */
    control: text,
    /** Construct paths of the synthesized app, `{env}` standing for the environment; each covers the constructs below it. */
    constructs: z.array(
      text.refine((p) => /^TapStack-\{env\}[\w-]*$/.test(p.split('/')[0]!), { message: 'must start with the stack name TapStack-{env}' }),
    ),
    /** The tests that fail when the control is missing. */
    tests: z.array(testRef),
    /** Other evidence a reviewer reads: runbooks, step definitions (repository paths). */
    documents: z.array(text).optional(),
    /** The environments the control exists in. @default - every environment */
    environments: z.array(environment).min(1).optional(),
    responsibility: z.enum(['platform', 'shared', 'customer']),
    /** Who does what, where the responsibility is shared, or why a requirement does not apply. */
    note: text.optional(),
  })
  .strict()
  .refine((r) => r.responsibility !== 'platform' || r.tests.length > 0, { message: 'a platform control needs at least one test' })
  .refine((r) => r.responsibility === 'platform' || r.note !== undefined, { message: 'a shared or customer row needs a note saying who does what' });

export const mappingSchema = z
  .object({
    /** Equal to ASSESSED_STANDARD, the `Compliance` tag of every resource. */
    standard: z.literal(ASSESSED_STANDARD),
    /** How the standard is named in prose. */
    title: text,
    /** Requirement number (1..12) -> its title; every row's group must be here. */
    groups: z.record(z.string().regex(/^\d{1,2}$/), text),
    rows: z.array(row).min(1),
    /** What stays with the organisation operating the platform, whatever the code does. */
    customerResponsibilities: z.array(z.object({ requirements: z.array(requirementId).min(1), what: text }).strict()).min(1),
    /** Decisions an assessor may ask about: each names the cdk-nag rules it answers, where there are any. */
    decisions: z.array(z.object({ topic: text, rules: z.array(text), decision: text, documents: z.array(text).optional() }).strict()).min(1),
  })
  .strict()
  .superRefine((m, ctx) => {
    m.rows.forEach((r, i) => {
      if (m.groups[groupOf(r)] === undefined)
        ctx.addIssue({ code: 'custom', path: ['rows', i, 'requirements'], message: `group ${groupOf(r)} has no title in groups` });
    });
  });

export type ComplianceMapping = z.infer<typeof mappingSchema>;
export type MappingRow = ComplianceMapping['rows'][number];

/** Parses the mapping file's JSON; a bad value fails with its path and what is allowed. */
export function parseMapping(json: unknown): ComplianceMapping {
  const result = mappingSchema.safeParse(json);
  if (!result.success) {
    throw new Error(`compliance/pci-dss-v4.0.1.json: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return result.data;
}

/** The requirement group (1..12) a row is listed under: that of its first requirement. */
export function groupOf(r: Pick<MappingRow, 'requirements'>): string {
  return r.requirements[0]!.split('.')[0]!;
}

/** Compares requirement numbers numerically (`2.2.1` < `2.10`). */
export function compareRequirements(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? -1) - (y[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

/** The environments a row applies to. */
export function environmentsOf(r: MappingRow): readonly EnvironmentName[] {
  return r.environments ?? ENVIRONMENT_NAMES;
}

/** A row's construct paths for one environment. */
export function pathsOf(r: MappingRow, env: EnvironmentName): string[] {
  return r.constructs.map((p) => p.split('{env}').join(env));
}

/**
 * The CloudFormation resource types that carry a compliance claim: every resource of these types must fall under a
 * row's construct path in every environment, so a new key, bucket, role or alarm cannot arrive without someone
 * saying which requirement it serves. Chosen as the types an assessor samples for the requirements the platform
 * answers (network controls, cryptography, logging, access, detection, change control, recovery); plumbing such as
 * subnets, routes, target groups and policies attached to a listed role is left out.
 */
export const CLAIMED_RESOURCE_TYPES: readonly string[] = [
  // 1.2-1.4: network security controls
  'AWS::EC2::SecurityGroup',
  'AWS::EC2::SecurityGroupIngress',
  'AWS::EC2::SecurityGroupEgress',
  'AWS::Route53Resolver::FirewallRuleGroup',
  'AWS::Route53Resolver::FirewallRuleGroupAssociation',
  'AWS::Route53Resolver::FirewallConfig',
  'AWS::Route53Resolver::ResolverQueryLoggingConfig',
  // 3.5-3.7 and 4.2.1: cryptography at rest and in transit
  'AWS::KMS::Key',
  'AWS::S3::Bucket',
  'AWS::S3::BucketPolicy',
  'AWS::ElasticLoadBalancingV2::LoadBalancer',
  'AWS::ElasticLoadBalancingV2::Listener',
  'AWS::RDS::DBCluster',
  // 2.2, 5, 6: secure configuration, malware, vulnerabilities and change control
  'AWS::ECR::Repository',
  'AWS::ECS::TaskDefinition',
  'AWS::ECS::Service',
  'AWS::WAFv2::WebACL',
  'AWS::WAFv2::WebACLAssociation',
  'AWS::WAFv2::LoggingConfiguration',
  'AWS::CodePipeline::Pipeline',
  'AWS::CodeBuild::Project',
  // 7, 8: access and identification
  'AWS::IAM::Role',
  'AWS::SecretsManager::Secret',
  'AWS::SecretsManager::RotationSchedule',
  // 10: logging and monitoring
  'AWS::CloudTrail::Trail',
  'AWS::EC2::FlowLog',
  'AWS::Logs::LogGroup',
  'AWS::Logs::MetricFilter',
  'AWS::CloudWatch::Alarm',
  'AWS::SNS::Topic',
  // 11: detection
  'AWS::Synthetics::Canary',
  // 10.5.1 and 12.10.1: protected copies and recovery
  'AWS::Backup::BackupPlan',
  'AWS::Backup::BackupVault',
  'AWS::Backup::BackupSelection',
];

/** One problem the drift checks found. */
export interface Drift {
  readonly kind: 'missing-construct' | 'missing-test-file' | 'missing-test' | 'missing-document' | 'unmapped-resource';
  readonly detail: string;
}

/** Every mapped construct path of `env` that names no construct of the synthesized app. */
export function missingConstructs(mapping: ComplianceMapping, env: EnvironmentName, root: IConstruct): Drift[] {
  const paths = new Set(root.node.findAll().map((c) => c.node.path));
  return mapping.rows
    .filter((r) => environmentsOf(r).includes(env))
    .flatMap((r) => pathsOf(r, env).filter((p) => !paths.has(p)))
    .map((p) => ({ kind: 'missing-construct', detail: `${env}: ${p} is mapped but not in the synthesized app` }));
}

/** Every CloudFormation resource of a claimed type in the app of `env` that no row's construct path covers. */
export function unmappedResources(mapping: ComplianceMapping, env: EnvironmentName, root: IConstruct): Drift[] {
  const prefixes = mapping.rows.filter((r) => environmentsOf(r).includes(env)).flatMap((r) => pathsOf(r, env));
  return root.node
    .findAll()
    .filter((c): c is CfnResource => CfnResource.isCfnResource(c) && CLAIMED_RESOURCE_TYPES.includes(c.cfnResourceType))
    .filter((c) => !prefixes.some((p) => c.node.path === p || c.node.path.startsWith(`${p}/`)))
    .map((c) => ({ kind: 'unmapped-resource', detail: `${env}: ${c.cfnResourceType} ${c.node.path} has no row in the mapping` }));
}

/**
 * Every mapped test file that does not exist, and every mapped test name its file does not define, and every mapped
 * document that does not exist. `read` returns a repository file's text, or undefined when there is none.
 */
export function missingEvidence(mapping: ComplianceMapping, read: (file: string) => string | undefined): Drift[] {
  const drifts: Drift[] = [];
  const titles = new Map<string, Set<string> | undefined>();
  const refs = [...mapping.rows.flatMap((r) => r.tests)];
  for (const { file, name } of refs) {
    if (!titles.has(file)) {
      const source = read(file);
      titles.set(file, source === undefined ? undefined : new Set(testNamesOf(source, file)));
    }
    const names = titles.get(file);
    if (names === undefined) drifts.push({ kind: 'missing-test-file', detail: `${file} does not exist (mapped for "${name}")` });
    else if (!names.has(name)) drifts.push({ kind: 'missing-test', detail: `${file} has no test "${name}"` });
  }
  const documents = new Set([...mapping.rows.flatMap((r) => r.documents ?? []), ...mapping.decisions.flatMap((d) => d.documents ?? [])]);
  for (const doc of documents) if (read(doc.split('#')[0]!) === undefined) drifts.push({ kind: 'missing-document', detail: `${doc} does not exist` });
  return drifts;
}

const TEST_CALLS = new Set(['test', 'it']);
const BLOCK_CALLS = new Set(['describe']);

/**
 * The names a mapping may use for the tests of a jest file: each `test`/`it` title, alone and preceded by its
 * enclosing `describe` titles (`outer > inner > title`). Only literal titles count (a string or a template without
 * substitutions, as the first argument of the call, `.each(...)`, `.only` and `.skip` forms included); a title in a
 * comment or in any other string is not a test. Parsed with the TypeScript compiler, so comments never match.
 */
export function testNamesOf(source: string, fileName = 'test.ts'): string[] {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const names: string[] = [];
  const visit = (node: ts.Node, blocks: readonly string[]): void => {
    if (ts.isCallExpression(node)) {
      const kind = calleeKind(node.expression);
      const first = node.arguments[0];
      const title = first && (ts.isStringLiteral(first) || ts.isNoSubstitutionTemplateLiteral(first)) ? first.text : undefined;
      if (kind && title !== undefined) {
        if (TEST_CALLS.has(kind)) {
          names.push(title);
          if (blocks.length > 0) names.push([...blocks, title].join(' > '));
        }
        const inner = BLOCK_CALLS.has(kind) ? [...blocks, title] : blocks;
        node.arguments.slice(1).forEach((a) => visit(a, inner));
        return;
      }
    }
    ts.forEachChild(node, (child) => visit(child, blocks));
  };
  visit(file, []);
  return names;
}

/** `test`, `it` or `describe` for `test(`, `test.each(...)(`, `it.only(`, `describe.each(...)(`; undefined otherwise. */
function calleeKind(callee: ts.Expression): string | undefined {
  let e: ts.Expression = callee;
  // test.each(table)(title, fn): the callee is itself a call of `test.each`.
  if (ts.isCallExpression(e)) e = e.expression;
  if (ts.isPropertyAccessExpression(e) && ['each', 'only', 'skip', 'concurrent'].includes(e.name.text)) e = e.expression;
  if (ts.isPropertyAccessExpression(e) && ['each', 'only', 'skip', 'concurrent'].includes(e.name.text)) e = e.expression;
  if (!ts.isIdentifier(e)) return undefined;
  return TEST_CALLS.has(e.text) || BLOCK_CALLS.has(e.text) ? e.text : undefined;
}

const RESPONSIBILITY_LABEL: Record<MappingRow['responsibility'], string> = {
  platform: 'Platform',
  shared: 'Shared',
  customer: 'Customer',
};

/** A markdown table cell: no pipe or line break may end the cell early. */
function cell(value: string): string {
  return value.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

/** docs/compliance.md as generated from the mapping, before prettier formats it. */
export function renderComplianceDoc(mapping: ComplianceMapping): string {
  const out: string[] = [];
  out.push(
    `# ${mapping.title} control mapping`,
    '',
    '<!-- Generated by `npm run docs:compliance` from compliance/pci-dss-v4.0.1.json; edit that file, not this page. -->',
    '',
    `The standard assessed is **${mapping.title}** (\`Compliance\` tag \`${mapping.standard}\` on every resource). PCI DSS 3.2.1 was retired in 2024; the`,
    'requirements v4.0.1 dated for the future became mandatory on 31 March 2025 and are included here.',
    '',
    'Each row says what the platform does for a requirement, which constructs of the synthesized app carry it (`{env}` is',
    '`dev`, `staging` or `prod`) and which tests fail the build when it goes missing. The mapping is data',
    '(`compliance/pci-dss-v4.0.1.json`, validated by `lib/compliance/mapping.ts`), and `test/compliance-mapping.test.ts`',
    'checks it against the code on every run of `npm test`:',
    '',
    '- every construct path named here exists in the synthesized app of each environment the row claims;',
    '- every test named here exists, by its literal title in that file (`describe title > test title`, or the test title alone);',
    '- every resource of a security-relevant type (keys, buckets, trails, firewalls, security groups, log groups, listeners,',
    '  repositories, secrets, database clusters, roles, topics, alarms, backups, canaries, task definitions and services) falls',
    '  under a row;',
    '- this page is what the mapping generates.',
    '',
    'cdk-nag runs inside every synth with four packs: AWS Solutions, PCI DSS 3.2.1 and NIST 800-53 rev 5 as published,',
    'and `PCI.DSS.401` (`lib/compliance/pci-dss-v401.ts`) for v4.0.1 requirements no published pack checks. Every',
    'environment has zero unacknowledged findings; `npm run nag:report` prints each acknowledgement with its reason.',
    '',
    'Responsibility: **Platform** means this code does it and a test proves it; **Shared** means the platform provides',
    'the mechanism and the organisation operating it must run it; **Customer** means it stays entirely with that',
    'organisation (see [What stays with the customer](#what-stays-with-the-customer)).',
    '',
  );
  const groups = [...new Set(mapping.rows.map(groupOf))].sort(compareRequirements);
  for (const g of groups) {
    out.push(`## Requirement ${g}: ${mapping.groups[g]}`, '');
    out.push('| Requirement | Control here | Constructs | Evidence | Responsibility |', '| --- | --- | --- | --- | --- |');
    const rows = mapping.rows.filter((r) => groupOf(r) === g).sort((a, b) => compareRequirements(a.requirements[0]!, b.requirements[0]!));
    for (const r of rows) {
      const requirement = `${r.requirements.join(', ')} (${r.title})`;
      const envs = r.environments ? ` Only in ${r.environments.join(', ')}.` : '';
      const constructs = r.constructs.length > 0 ? r.constructs.map((c) => `\`${c}\``).join('<br>') : 'none';
      const tests = r.tests.map((t) => `\`${t.file}\`: ${t.name}`);
      const documents = (r.documents ?? []).map((d) => `\`${d}\``);
      const evidence = [...tests, ...documents].join('<br>') || 'none';
      const responsibility = `${RESPONSIBILITY_LABEL[r.responsibility]}${r.note ? `: ${r.note}` : ''}`;
      out.push(`| ${cell(requirement)} | ${cell(r.control + envs)} | ${constructs} | ${cell(evidence)} | ${cell(responsibility)} |`);
    }
    out.push('');
  }
  out.push('## What stays with the customer', '');
  out.push(
    'The platform is one part of a cardholder data environment. These requirements stay with the organisation that',
    'operates it, whatever this code does:',
    '',
  );
  for (const c of mapping.customerResponsibilities) out.push(`- **${c.requirements.join(', ')}**: ${c.what}`);
  out.push('', '## Decisions an assessor may ask about', '');
  for (const d of mapping.decisions) {
    const rules = d.rules.length > 0 ? ` (cdk-nag ${d.rules.join(', ')})` : '';
    const docs = d.documents && d.documents.length > 0 ? ` See ${d.documents.map((x) => `\`${x}\``).join(', ')}.` : '';
    out.push(`- **${d.topic}**${rules}: ${d.decision}${docs}`);
  }
  out.push('');
  return out.join('\n');
}
