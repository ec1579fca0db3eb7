import { INFRA_VARIABLES } from '../lib/pipeline/steps';
import { ENVS, shippedConfigs, synthEnv } from './helpers';
import { INFRA_APPLY_CLOUDFORMATION } from './iam-policies';

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
  const approval = shippedConfigs()[env].pipeline.approvalRequired;
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

  test('CloudFormation does not restart the pipeline mid-update; Infra-Apply may start it, and only it, once the update completed', () => {
    expect(pipeline.RestartExecutionOnUpdate).toBe(false);
    const starters = ofType('AWS::IAM::Policy').filter(([, p]) =>
      JSON.stringify(p.Properties.PolicyDocument).includes('codepipeline:StartPipelineExecution'),
    );
    expect(starters).toHaveLength(1);
    const [, policy] = starters[0]!;
    expect(policy.Properties.Roles).toEqual([{ Ref: expect.stringMatching(/^DeliveryInfraApplyProjectRole/) }]);
    expect((policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement).toEqual([
      {
        Effect: 'Allow',
        Action: 'codepipeline:StartPipelineExecution',
        Resource: join('arn:aws:codepipeline:us-east-1:', ACCOUNT, ':', { Ref: expect.stringMatching(/^DeliveryPipeline/) }),
      },
    ]);
  });

  test('Infra-Plan after the image: its own stage before the approval in prod, else first in Deploy (no deploy between plan and apply)', () => {
    const names = stages.map((s) => s.Name);
    expect(names).toEqual(approval ? ['Source', 'Verify', 'Image', 'Infrastructure', 'Approve', 'Deploy'] : ['Source', 'Verify', 'Image', 'Deploy']);
    const plan = approval ? stage('Infrastructure').Actions[0] : stage('Deploy').Actions[0];
    if (approval) expect(stage('Infrastructure').Actions).toHaveLength(1);
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
      RECOVERY_STACK_NAME: `TapStack-${env}-recovery`,
      RECOVERY_REGION: 'us-west-2',
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

  test('Infra-Apply runs in Deploy before the image deploy, with the planned change set, and announces on the alarm topic', () => {
    expect(stage('Deploy').Actions.map((a) => [a.Name, a.RunOrder])).toEqual(
      approval
        ? [
            ['Infra-Apply', 1],
            ['Deploy', 2],
            ['Smoke-Production', 3],
          ]
        : [
            ['Infra-Plan', 1],
            ['Infra-Apply', 2],
            ['Deploy', 3],
            ['Smoke-Production', 4],
          ],
    );
    const apply = stage('Deploy').Actions.find((a) => a.Name === 'Infra-Apply')!;
    expect(JSON.parse(apply.Configuration!.EnvironmentVariables as string)).toEqual([
      { name: 'COMMIT_SHA', type: 'PLAINTEXT', value: '#{Source.CommitId}' },
      { name: 'CHANGE_SET_NAME', type: 'PLAINTEXT', value: '#{Infra.CHANGE_SET_NAME}' },
      { name: 'LISTENER_RULES_TOUCHED', type: 'PLAINTEXT', value: '#{Infra.LISTENER_RULES_TOUCHED}' },
      { name: 'PIPELINE_EXECUTION_ID', type: 'PLAINTEXT', value: '#{codepipeline.PipelineExecutionId}' },
    ]);
    expect(buildSpecOf('DeliveryInfraApplyProject').phases.build!.commands).toEqual(['npx tsx tools/infra/cli.ts apply']);
    const vars = (project('DeliveryInfraApplyProject').Properties.Environment as { EnvironmentVariables: { Name: string; Value: unknown }[] })
      .EnvironmentVariables;
    expect(vars).toEqual([
      { Name: 'TOPIC_ARN', Type: 'PLAINTEXT', Value: { Ref: expect.stringMatching(/^AlarmsTopic/) } },
      { Name: 'IMAGE_PARAMETER_NAME', Type: 'PLAINTEXT', Value: `/tap/${env}/app/image-uri` },
    ]);
    const planVars = (project('DeliveryInfraPlanProject').Properties.Environment as { EnvironmentVariables: { Name: string; Value: unknown }[] })
      .EnvironmentVariables;
    expect(planVars).toEqual([{ Name: 'IMAGE_PARAMETER_NAME', Type: 'PLAINTEXT', Value: `/tap/${env}/app/image-uri` }]);
  });

  test('Infra-Plan may make change sets of this stack only, with the bootstrap execution role only, and nothing else of CloudFormation', () => {
    expect(ownStatements('DeliveryInfraPlanProjectRole')).toEqual([
      {
        // The recovery stack in its region, read only (tools/infra/recovery.ts).
        Effect: 'Allow',
        Action: ['cloudformation:DescribeStacks', 'cloudformation:GetTemplate'],
        Resource: join('arn:aws:cloudformation:us-west-2:', ACCOUNT, `:stack/TapStack-${env}-recovery/*`),
      },
      {
        Effect: 'Allow',
        Action: 'cloudformation:CreateChangeSet',
        Resource: ['arn:aws:cloudformation:us-east-1:aws:transform/SecretsManager-2024-09-16', stackArn],
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

  test('Infra-Apply may execute and follow change sets of this stack only; it cannot make one, pass a role, or do more to the pipeline than start it', () => {
    // The role's complete policy is stated in test/iam-roles.test.ts (prod); here, in every environment, what it may
    // do to CloudFormation and to the pipeline.
    const statements = ownStatements('DeliveryInfraApplyProjectRole');
    const on = (prefix: string): Statement[] => statements.filter((s) => [s.Action].flat().some((a) => a.startsWith(prefix)));
    expect(on('cloudformation:')).toEqual([
      {
        Effect: 'Allow',
        Action: INFRA_APPLY_CLOUDFORMATION,
        Resource: stackArn,
      },
    ]);
    expect(on('codepipeline:')).toEqual([
      {
        Effect: 'Allow',
        Action: 'codepipeline:StartPipelineExecution',
        Resource: join('arn:aws:codepipeline:us-east-1:', ACCOUNT, ':', { Ref: expect.stringMatching(/^DeliveryPipeline/) }),
      },
    ]);
    // Every action of the role, in every environment (AWS reads action names without regard to case).
    expect(statements.flatMap((s) => [s.Action].flat().map((a) => a.toLowerCase())).sort()).toEqual(
      [...INFRA_APPLY_CLOUDFORMATION, 'codepipeline:StartPipelineExecution', 'elasticloadbalancing:DescribeRules', 'sns:Publish', 'ssm:GetParameter']
        .map((a) => a.toLowerCase())
        .sort(),
    );
    // Only the listener-rule read is on every resource (it has no resource-level permission); the parameter it reads is this environment's.
    expect(statements.filter((s) => s.Resource === '*').map((s) => s.Action)).toEqual(['elasticloadbalancing:DescribeRules']);
    expect(on('ssm:').map((s) => s.Resource)).toEqual([join('arn:aws:ssm:us-east-1:', ACCOUNT, `:parameter/tap/${env}/app/image-uri`)]);
  });

  test('CreateChangeSet covers every transform the template declares (CloudFormation authorizes each transform too)', () => {
    const transforms = (template.toJSON() as { Transform?: string | string[] }).Transform;
    const declared = [transforms ?? []].flat();
    expect(declared.length).toBeGreaterThan(0);
    const create = ownStatements('DeliveryInfraPlanProjectRole').find((s) => s.Action === 'cloudformation:CreateChangeSet')!;
    const granted = ([create.Resource].flat() as unknown[]).filter((r): r is string => typeof r === 'string');
    expect(granted.sort()).toEqual(declared.map((t) => `arn:aws:cloudformation:us-east-1:aws:transform/${t.replace(/^AWS::/, '')}`).sort());
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
