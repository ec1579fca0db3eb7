/**
 * Which pushes start the pipeline. Every environment's pipeline uses the same list: a promoting environment waits for
 * its upstream to deploy the same commit, so a path that started staging but not dev would leave staging waiting for
 * a build that never comes.
 *
 * CodePipeline accepts at most 8 include patterns per push filter, each a glob where `{a,b}` matches either
 * subpattern and `**` crosses directories (https://docs.aws.amazon.com/codepipeline/latest/userguide/syntax-glob.html).
 * A top-level path is either matched here or listed in {@link UNTRIGGERED_PATHS} with the reason; a test walks the
 * repository's tracked top-level paths, so a new folder fails the suite until someone decides which list it joins.
 */

/** One include pattern of the push filter, and why a change there must run the pipeline. */
export interface TriggerPath {
  readonly glob: string;
  readonly reason: string;
}

export const TRIGGER_PATHS: readonly TriggerPath[] = [
  {
    glob: '{app,bin,compliance,config,lib,mutation,pricing,scripts,security,test,tools}/**',
    reason:
      'the service and its image (app), the stacks and their configuration (bin, config, lib), the code the pipeline runs ' +
      '(scripts, tools), the scan gate ignore file (security), the compliance mapping and the price table the generated ' +
      'documents come from (compliance, pricing), the suites that judge all of it (test) and the mutation results and ' +
      'verdicts the Mutation step starts from (mutation)',
  },
  {
    glob: '{package.json,package-lock.json,tsconfig*.json,cdk.json,cdk.context.json,jest.config.js,stryker.config.mjs,requirements-iac.txt}',
    reason:
      "dependencies, compiler (and the mutation checker's programs), CDK feature flags and context, the test runner, the mutation run and its thresholds, and the pinned IaC scanners",
  },
  {
    glob: '{eslint.config.mjs,eslint.security.config.mjs,.prettierrc.json,.prettierignore,.gitignore,.cfnlintrc.yaml,.checkov.yaml}',
    reason: 'what lint, static analysis (eslint-plugin-security), cfn-lint and checkov accept; Prettier also reads .gitignore',
  },
];

/** A tracked top-level path whose change alone does not start the pipeline, and why that is safe. */
export interface UntriggeredPath {
  /** `name/` for a folder, `name` for a file. */
  readonly path: string;
  readonly reason: string;
}

export const UNTRIGGERED_PATHS: readonly UntriggeredPath[] = [
  {
    path: 'docs/',
    reason: 'prose for people; nothing is built, scanned or deployed from it (its Markdown formatting is checked by the next run and by `npm test`)',
  },
  { path: 'README.md', reason: 'prose for people, as docs/' },
  { path: '.ci/', reason: 'the clean-clone CI script run outside AWS; no pipeline step runs it' },
];

/** The include patterns as the trigger takes them. */
export function triggerFilePaths(): string[] {
  return TRIGGER_PATHS.map((p) => p.glob);
}
