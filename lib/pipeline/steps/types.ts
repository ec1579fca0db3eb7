import { Duration } from 'aws-cdk-lib';

/** The parts of a CodeBuild buildspec (version 0.2) this app uses, typed so steps are checked at compile time. */
export interface BuildSpecDocument {
  readonly version: '0.2';
  readonly env?: {
    readonly shell?: 'bash';
    readonly variables?: Readonly<Record<string, string>>;
    readonly 'exported-variables'?: readonly string[];
  };
  readonly phases: {
    readonly install?: { readonly 'runtime-versions'?: Readonly<Record<string, string | number>>; readonly commands: readonly string[] };
    readonly pre_build?: { readonly commands: readonly string[] };
    readonly build: { readonly commands: readonly string[] };
    readonly post_build?: { readonly commands: readonly string[] };
  };
  readonly reports?: Readonly<
    Record<string, { readonly files: readonly string[]; readonly 'base-directory': string; readonly 'file-format': string }>
  >;
  readonly artifacts?: { readonly files: readonly string[]; readonly 'base-directory'?: string; readonly name?: string };
}

/** One pipeline step: what CodeBuild runs, and what the project around it needs. */
export interface PipelineStep {
  /** Action and project name (also the key of `scripts/run-step.ts`), e.g. `Test-Node16`. */
  readonly name: string;
  readonly buildSpec: BuildSpecDocument;
  /** Build timeout: a stuck step fails with a message instead of holding the pipeline. */
  readonly timeout: Duration;
  /** Only the image build runs Docker, so only it is privileged. */
  readonly privileged?: boolean;
  /** Variables the pipeline passes on (`#{<namespace>.<name>}`). */
  readonly exportedVariables?: readonly string[];
  /**
   * Whether `npm test` can run this step's build commands on a developer machine (no AWS, no Docker registry):
   * those that can are run for real by `scripts/run-step.ts`.
   */
  readonly runsLocally: boolean;
}

/** Node.js for the tooling inside CodeBuild (standard:7.0 has 18, 20 and 22). */
export const TOOLING_RUNTIME = { nodejs: 20 } as const;

/** `npm ci` for the repository (root) and the service, as every step starts. */
export const INSTALL = ['npm ci --no-audit --no-fund', 'npm --prefix app ci --no-audit --no-fund'] as const;
