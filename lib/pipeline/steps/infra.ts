import { Duration } from 'aws-cdk-lib';
import { PipelineStep, TOOLING_RUNTIME } from './types';

/** What Infra-Plan passes on (`#{Infra.<name>}`): the change set to apply, its summary and console link, the ECS rules it touches. */
export const INFRA_VARIABLES = ['CHANGE_SET_NAME', 'CHANGE_SUMMARY', 'LISTENER_RULES_TOUCHED', 'CHANGE_SET_URL'] as const;
/** The namespace of Infra-Plan's variables. */
export const INFRA_NAMESPACE = 'Infra';
/** Bound on waiting for the stack (another operation) and on one update; CodeBuild's timeout is the backstop. */
export const INFRA_TIMEOUT_MINUTES = 60;
/** Where the plan is written (the action's output artifact keeps it). */
export const PLAN_FILE = 'reports/infra-plan.txt';

/** The cloud assembly directory of an environment, as `npm run deploy:infra` writes it too. */
export function assemblyDirOf(envName: string): string {
  return `cdk.out.${envName}`;
}

/**
 * Infra-Plan: synthesizes this environment's stack from the commit (with the account's credentials, so the deploy
 * preflight runs inside the synth), publishes its assets and the template with cdk-assets (through the CDK bootstrap's
 * file-publishing role), then `tools/infra plan` creates a CloudFormation change set against the stack and judges it:
 * protected resources, the listener rules and target groups ECS blue/green owns (the live split checked with
 * tools/listener-guard). The plan is printed, kept as the action's output artifact, and passed on as variables.
 */
export function infraPlanStep(envName: string, stackName: string, recovery: { readonly stackName: string; readonly region: string }): PipelineStep {
  const assembly = assemblyDirOf(envName);
  return {
    name: 'Infra-Plan',
    timeout: Duration.minutes(INFRA_TIMEOUT_MINUTES + 30),
    runsLocally: false,
    exportedVariables: INFRA_VARIABLES,
    buildSpec: {
      version: '0.2',
      env: {
        shell: 'bash',
        variables: {
          DEPLOY_ENV: envName,
          STACK_NAME: stackName,
          // The plan refuses first when this stack is missing or not this commit's (tools/infra/recovery.ts).
          RECOVERY_STACK_NAME: recovery.stackName,
          RECOVERY_REGION: recovery.region,
          ASSEMBLY_DIR: assembly,
          INFRA_TIMEOUT_MINUTES: String(INFRA_TIMEOUT_MINUTES),
          // In the VPC the telemetry and notices names are not on the DNS allow list (docs/runbooks/egress-domains.md).
          CDK_DISABLE_CLI_TELEMETRY: 'true',
        },
        'exported-variables': INFRA_VARIABLES,
      },
      phases: {
        install: { 'runtime-versions': TOOLING_RUNTIME, commands: ['npm ci --no-audit --no-fund'] },
        pre_build: {
          commands: [
            'ACCOUNT_ID="$(aws sts get-caller-identity --query Account --output text)"',
            'export ACCOUNT_ID',
            'npm run preflight -- "$DEPLOY_ENV" "$ACCOUNT_ID"',
          ],
        },
        build: {
          commands: [
            // The setup flags the stack was deployed with (PendingSetup output): a first deploy's stay until a person clears them.
            'SETUP_FLAGS="$(npx tsx tools/infra/cli.ts context)"',
            'echo "setup flags kept from the deployed stack: ${SETUP_FLAGS:-none}"',
            `npx cdk synth -q --no-notices -c env="$DEPLOY_ENV" $SETUP_FLAGS -o "$ASSEMBLY_DIR" >/dev/null`,
            'npx cdk-assets --path "$ASSEMBLY_DIR/$STACK_NAME.assets.json" publish',
            'npx tsx tools/infra/cli.ts plan',
            'set -a && . reports/infra-plan.env && set +a',
          ],
        },
      },
      artifacts: { files: [PLAN_FILE, `${assembly}/${stackName}.template.json`], name: 'infra-plan' },
    },
  };
}

/**
 * Infra-Apply: executes the planned change set (in prod, the one the approver read), follows the stack until the update
 * ends, fails with the stack event that caused a failed update, and announces the outcome on the environment's topic.
 * It is the first action of the Deploy stage, so the image deploy after it runs only on applied infrastructure.
 */
export function infraApplyStep(envName: string, stackName: string): PipelineStep {
  return {
    name: 'Infra-Apply',
    timeout: Duration.minutes(INFRA_TIMEOUT_MINUTES + 15),
    runsLocally: false,
    buildSpec: {
      version: '0.2',
      env: { shell: 'bash', variables: { DEPLOY_ENV: envName, STACK_NAME: stackName, INFRA_TIMEOUT_MINUTES: String(INFRA_TIMEOUT_MINUTES) } },
      phases: {
        install: { 'runtime-versions': TOOLING_RUNTIME, commands: ['npm ci --no-audit --no-fund'] },
        build: { commands: ['npx tsx tools/infra/cli.ts apply'] },
      },
    },
  };
}
