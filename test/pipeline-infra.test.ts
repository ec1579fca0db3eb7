import { INFRA_VARIABLES } from '../lib/pipeline/steps';
import { ENVS, synthEnv } from './helpers';

type Resource = { Type: string; Properties: Record<string, unknown> };
interface Action {
  Name: string;
  RunOrder?: number;
  ActionTypeId: { Category: string; Provider: string };
  Configuration?: Record<string, unknown>;
  Namespace?: string;
  OutputArtifacts?: { Name: string }[];
}
interface Statement {
  Action: string | string[];
  Resource: unknown;
  Effect: string;
  Condition?: Record<string, Record<string, unknown>>;
}

/** The account-agnostic ARN CDK writes for a name in this account and region. */
const join = (...parts: unknown[]) => ({ 'Fn::Join': ['', parts] });
const ACCOUNT = { Ref: 'AWS::AccountId' };

describe.each(ENVS)('infrastructure through the %s pipeline', (env) => {
  const { template } = synthEnv(env);
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  const pipeline = ofType('AWS::CodePipeline::Pipeline')[0]![1].Properties;
  const stages = pipeline.Stages as { Name: string; Actions: Action[] }[];
  const stage = (name: string) => stages.find((s) => s.Name === name)!;
  const project = (prefix: string) => ofType('AWS::CodeBuild::Project').find(([id]) => id.startsWith(prefix))![1];
  const buildSpecOf = (prefix: string) =>
    JSON.parse((project(prefix).Properties.Source as { BuildSpec: string }).BuildSpec) as {
      env: { variables: Record<string, string>; 'exported-variables'?: string[] };
      phases: Record<string, { commands: string[] }>;
      artifacts?: { files: string[] };
    };
  /** The statements this app adds to a step's role: without the CodeBuild defaults (logs, reports, VPC, artifacts key and bucket). */
  const ownStatements = (rolePrefix: string): Statement[] =>
    ofType('AWS::IAM::Policy')
      .filter(([, p]) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref.startsWith(rolePrefix)))
      .flatMap(([, p]) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement)
      .filter((s) => ![s.Action].flat().every((a) => /^(logs|codebuild|ec2|kms):/.test(a)))
      .filter((s) => !JSON.stringify(s.Resource).includes('ArtifactStoreBucket'));
  const stackArn = join(`arn:aws:cloudformation:us-east-1:`, ACCOUNT, `:stack/TapStack-${env}/*`);
  const execRole = join('arn:aws:iam::', ACCOUNT, ':role/cdk-hnb659fds-cfn-exec-role-', ACCOUNT, '-us-east-1');

  test('the pipeline restarts itself on its new definition after an update (as CDK Pipelines does)', () => {
    expect(pipeline.RestartExecutionOnUpdate).toBe(true);
  });

  test('Infrastructure: one Infra-Plan action after the image, exporting the change set under the Infra namespace, keeping the plan', () => {
    const names = stages.map((s) => s.Name);
    expect(names.indexOf('Infrastructure')).toBe(names.indexOf('Image') + 1);
    expect(names.indexOf('Deploy')).toBe(names.length - 1);
    const [plan, ...others] = stage('Infrastructure').Actions;
    expect(others).toEqual([]);
    expect(plan).toMatchObject({ Name: 'Infra-Plan', RunOrder: 1, Namespace: 'Infra', OutputArtifacts: [{ Name: 'InfraPlan' }] });
    expect(JSON.parse(plan!.Configuration!.EnvironmentVariables as string)).toEqual([
      { name: 'COMMIT_SHA', type: 'PLAINTEXT', value: '#{Source.CommitId}' },
      { name: 'PIPELINE_EXECUTION_ID', type: 'PLAINTEXT', value: '#{codepipeline.PipelineExecutionId}' },
    ]);
  });

  test('Infra-Plan synthesizes the deployable template (preflight on, never synthOnly), publishes it with cdk-assets, then plans', () => {
    const spec = buildSpecOf('DeliveryInfraPlanProject');
    expect(spec.env.variables).toMatchObject({
      DEPLOY_ENV: env,
      STACK_NAME: `TapStack-${env}`,
      ASSEMBLY_DIR: `cdk.out.${env}`,
      CDK_DISABLE_CLI_TELEMETRY: 'true',
    });
    expect(spec.env['exported-variables']).toEqual([...INFRA_VARIABLES]);
    expect(spec.phases.pre_build!.commands).toContain('npm run preflight -- "$DEPLOY_ENV" "$ACCOUNT_ID"');
    expect(spec.phases.build!.commands).toEqual([
      'SETUP_FLAGS="$(npx tsx tools/infra/cli.ts context)"',
      'echo "setup flags kept from the deployed stack: ${SETUP_FLAGS:-none}"',
      'npx cdk synth -q --no-notices -c env="$DEPLOY_ENV" $SETUP_FLAGS -o "$ASSEMBLY_DIR" >/dev/null',
      'npx cdk-assets --path "$ASSEMBLY_DIR/$STACK_NAME.assets.json" publish',
      'npx tsx tools/infra/cli.ts plan',
      'set -a && . reports/infra-plan.env && set +a',
    ]);
    expect(JSON.stringify(spec)).not.toContain('synthOnly');
    expect(spec.artifacts!.files).toEqual(['reports/infra-plan.txt', `cdk.out.${env}/TapStack-${env}.template.json`]);
  });

  test('Infra-Apply runs first in Deploy with the planned change set, and announces on the alarm topic', () => {
    const apply = stage('Deploy').Actions.find((a) => a.Name === 'Infra-Apply')!;
    expect(apply.RunOrder).toBe(1);
    expect(JSON.parse(apply.Configuration!.EnvironmentVariables as string)).toEqual([
      { name: 'COMMIT_SHA', type: 'PLAINTEXT', value: '#{Source.CommitId}' },
      { name: 'CHANGE_SET_NAME', type: 'PLAINTEXT', value: '#{Infra.CHANGE_SET_NAME}' },
      { name: 'LISTENER_RULES_TOUCHED', type: 'PLAINTEXT', value: '#{Infra.LISTENER_RULES_TOUCHED}' },
      { name: 'PIPELINE_EXECUTION_ID', type: 'PLAINTEXT', value: '#{codepipeline.PipelineExecutionId}' },
    ]);
    expect(buildSpecOf('DeliveryInfraApplyProject').phases.build!.commands).toEqual(['npx tsx tools/infra/cli.ts apply']);
    const vars = (project('DeliveryInfraApplyProject').Properties.Environment as { EnvironmentVariables: { Name: string; Value: unknown }[] })
      .EnvironmentVariables;
    expect(vars).toEqual([{ Name: 'TOPIC_ARN', Type: 'PLAINTEXT', Value: { Ref: expect.stringMatching(/^AlarmsTopic/) } }]);
  });

  test('Infra-Plan may make change sets of this stack only, with the bootstrap execution role only, and nothing else of CloudFormation', () => {
    expect(ownStatements('DeliveryInfraPlanProjectRole')).toEqual([
      {
        Effect: 'Allow',
        Action: 'cloudformation:CreateChangeSet',
        Resource: stackArn,
        Condition: { StringEquals: { 'cloudformation:RoleArn': execRole } },
      },
      {
        Effect: 'Allow',
        Action: [
          'cloudformation:DeleteChangeSet',
          'cloudformation:DescribeChangeSet',
          'cloudformation:DescribeStackResources',
          'cloudformation:DescribeStacks',
          'cloudformation:GetTemplate',
        ],
        Resource: stackArn,
      },
      {
        Effect: 'Allow',
        Action: 'iam:PassRole',
        Resource: execRole,
        Condition: { StringEquals: { 'iam:PassedToService': 'cloudformation.amazonaws.com' } },
      },
      {
        Effect: 'Allow',
        Action: 'sts:AssumeRole',
        Resource: join('arn:aws:iam::', ACCOUNT, ':role/cdk-hnb659fds-file-publishing-role-', ACCOUNT, '-us-east-1'),
      },
      { Effect: 'Allow', Action: 's3:GetObject', Resource: join('arn:aws:s3:::cdk-hnb659fds-assets-', ACCOUNT, '-us-east-1/*') },
      {
        Effect: 'Allow',
        Action: ['ssm:GetParameter', 'ssm:GetParameters'],
        Resource: [
          join('arn:aws:ssm:us-east-1:', ACCOUNT, ':parameter/cdk-bootstrap/hnb659fds/version'),
          join('arn:aws:ssm:us-east-1:', ACCOUNT, `:parameter/tap/${env}/app/image-uri`),
        ],
      },
      { Effect: 'Allow', Action: 'elasticloadbalancing:DescribeRules', Resource: '*' },
    ]);
  });

  test('Infra-Apply may execute and follow change sets of this stack only; it cannot make one, pass a role or change the pipeline', () => {
    const statements = ownStatements('DeliveryInfraApplyProjectRole');
    expect(statements).toEqual([
      {
        Effect: 'Allow',
        Action: [
          'cloudformation:DescribeChangeSet',
          'cloudformation:DescribeStackEvents',
          'cloudformation:DescribeStackResources',
          'cloudformation:DescribeStacks',
          'cloudformation:ExecuteChangeSet',
          'cloudformation:GetTemplate',
        ],
        Resource: stackArn,
      },
      { Effect: 'Allow', Action: 'elasticloadbalancing:DescribeRules', Resource: '*' },
      { Effect: 'Allow', Action: 'sns:Publish', Resource: { Ref: expect.stringMatching(/^AlarmsTopic/) } },
    ]);
  });

  test('no other step may touch CloudFormation, assume a bootstrap role or pass the execution role', () => {
    const policies = ofType('AWS::IAM::Policy').filter(
      ([, p]) => !(p.Properties.Roles as { Ref: string }[]).some((r) => /^DeliveryInfra(Plan|Apply)ProjectRole/.test(r.Ref)),
    );
    for (const [id, p] of policies) {
      const actions = (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement.flatMap((s) => [s.Action].flat());
      expect({ id, cfn: actions.filter((a) => a.startsWith('cloudformation:')) }).toEqual({ id, cfn: [] });
      expect({ id, bootstrap: JSON.stringify(p.Properties).includes('cdk-hnb659fds') }).toEqual({ id, bootstrap: false });
    }
  });
});
