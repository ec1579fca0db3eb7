import { Match } from 'aws-cdk-lib/assertions';
import { BUILD_CACHE_TAG, DEPLOYED_TAG_PREFIX } from '../lib/registry/image-repository';
import { CRANE_SHA256, TRIVY_SHA256, TRIVY_VERSION, testStepName } from '../lib/pipeline/steps';
import { ENVS, shippedConfigs, synthEnv } from './helpers';

type Resource = { Type: string; Properties: Record<string, unknown> };
interface Action {
  Name: string;
  RunOrder?: number;
  ActionTypeId: { Category: string; Provider: string };
  Configuration?: Record<string, unknown>;
  Namespace?: string;
}
interface Stage {
  Name: string;
  Actions: Action[];
  OnFailure?: { Result: string; RetryConfiguration?: { RetryMode: string } };
}

describe.each(ENVS)('pipeline of %s', (env) => {
  const config = shippedConfigs()[env];
  const { template } = synthEnv(env);
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  const pipeline = ofType('AWS::CodePipeline::Pipeline')[0]![1].Properties;
  const stages = pipeline.Stages as Stage[];
  const stage = (name: string) => stages.find((s) => s.Name === name);

  test('CodePipeline V2 on the foundation artifact bucket, encrypted with the artifacts key', () => {
    expect(ofType('AWS::CodePipeline::Pipeline')).toHaveLength(1);
    expect(pipeline.PipelineType).toBe('V2');
    expect(pipeline.ArtifactStore).toMatchObject({
      Type: 'S3',
      Location: { Ref: expect.stringMatching(/^ArtifactStoreBucket/) },
      EncryptionKey: { Type: 'KMS', Id: expect.anything() },
    });
  });

  test('a push on the configured branch with path filters triggers it, through the Source stage action itself', () => {
    const source = stage('Source')!.Actions;
    expect(source).toHaveLength(1);
    expect(source[0]).toMatchObject({
      Name: 'GitHub',
      ActionTypeId: { Provider: 'CodeStarSourceConnection' },
      Configuration: {
        ConnectionArn: config.source.connectionArn,
        FullRepositoryId: `${config.source.owner}/${config.source.repo}`,
        BranchName: config.source.branch,
        DetectChanges: false,
      },
    });
    expect(pipeline.Triggers).toEqual([
      {
        ProviderType: 'CodeStarSourceConnection',
        GitConfiguration: {
          SourceActionName: 'GitHub',
          Push: [{ Branches: { Includes: [config.source.branch] }, FilePaths: { Includes: config.source.filePaths } }],
        },
      },
    ]);
  });

  test('Verify: one test action per configured Node version, all actions in one run order, retried on failure', () => {
    const verify = stage('Verify')!;
    const tests = verify.Actions.filter((a) => a.Name.startsWith('Test-Node'));
    expect(tests.map((a) => a.Name).sort()).toEqual(config.pipeline.nodeVersions.map(testStepName).sort());
    expect(verify.Actions.map((a) => a.Name).sort()).toEqual(
      [...config.pipeline.nodeVersions.map(testStepName), 'Dependency-Scan', 'IaC-Check', 'Lint-Typecheck', 'Static-Analysis'].sort(),
    );
    expect(new Set(verify.Actions.map((a) => a.RunOrder ?? 1))).toEqual(new Set([1]));
    expect(verify.OnFailure).toEqual({ Result: 'RETRY', RetryConfiguration: { RetryMode: 'FAILED_ACTIONS' } });
  });

  test('stage order; the image is built in dev and promoted elsewhere; approval only in prod, right before Deploy', () => {
    const expected = env === 'prod' ? ['Source', 'Verify', 'Image', 'Approve', 'Deploy'] : ['Source', 'Verify', 'Image', 'Deploy'];
    expect(stages.map((s) => s.Name)).toEqual(expected);
    expect(stage('Image')!.Actions.map((a) => a.Name)).toEqual([env === 'dev' ? 'Build-Image' : 'Promote-Image']);
    expect(stage('Image')!.Actions[0]!.Namespace).toBe('Image');
    const approvals = stages.flatMap((s) => s.Actions).filter((a) => a.ActionTypeId.Category === 'Approval');
    if (env === 'prod') {
      expect(approvals).toHaveLength(1);
      expect(approvals[0]!.Configuration).toMatchObject({
        NotificationArn: expect.anything(),
        ExternalEntityLink: `https://github.com/${config.source.owner}/${config.source.repo}/commit/#{Source.CommitId}`,
        CustomData: expect.stringContaining('#{Image.IMAGE_URI}'),
      });
      expect(approvals[0]!.Configuration!.CustomData).toContain('#{Image.SCAN_REPORT_URL}');
      expect(approvals[0]!.Configuration!.CustomData).toContain('https://staging.pay.example.com');
    } else {
      expect(approvals).toHaveLength(0);
    }
  });

  test('Deploy gets the image by digest from the Image stage, then smoke-tests production; no automatic retry', () => {
    const deploy = stage('Deploy')!;
    expect(deploy.OnFailure).toBeUndefined();
    expect(deploy.Actions.map((a) => [a.Name, a.RunOrder])).toEqual([
      ['Deploy', 1],
      ['Smoke-Production', 2],
    ]);
    expect(JSON.parse(deploy.Actions[0]!.Configuration!.EnvironmentVariables as string)).toEqual(
      expect.arrayContaining([{ name: 'IMAGE_URI', type: 'PLAINTEXT', value: '#{Image.IMAGE_URI}' }]),
    );
  });

  test('every CodeBuild project: private subnets, the artifacts key, a pinned curated image, a timeout; privileged only for the image build', () => {
    const projects = ofType('AWS::CodeBuild::Project');
    expect(projects.length).toBe(config.pipeline.nodeVersions.length + 4 + 1 + 2);
    for (const [id, p] of projects) {
      const props = p.Properties as {
        VpcConfig?: unknown;
        EncryptionKey?: unknown;
        Environment: { Image: string; PrivilegedMode: boolean };
        TimeoutInMinutes: number;
      };
      expect({ id, vpc: props.VpcConfig !== undefined, key: props.EncryptionKey !== undefined }).toEqual({ id, vpc: true, key: true });
      expect(props.Environment.Image).toBe('aws/codebuild/standard:7.0');
      expect(props.TimeoutInMinutes).toBeGreaterThan(0);
      expect({ id, privileged: props.Environment.PrivilegedMode }).toEqual({ id, privileged: id.startsWith('DeliveryBuildImage') });
    }
  });

  test('no plaintext credentials in any build environment', () => {
    for (const [, p] of ofType('AWS::CodeBuild::Project')) {
      const vars = ((p.Properties.Environment as { EnvironmentVariables?: { Name: string; Value: unknown }[] }).EnvironmentVariables ?? []).map(
        (v) => v.Name,
      );
      for (const name of vars) expect(name).not.toMatch(/PASSWORD|SECRET$|TOKEN|API_KEY$/);
    }
  });

  test('the deploy role may update this service only, and pass only its task roles to ECS tasks', () => {
    const statements = ofType('AWS::IAM::Policy')
      .filter(([id]) => id.startsWith('DeliveryDeployProjectRole'))
      .flatMap(
        ([, p]) => (p.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown; Condition?: unknown }[] }).Statement,
      );
    const update = statements.find((s) => [s.Action].flat().includes('ecs:UpdateService'))!;
    expect(update.Resource).toEqual({ Ref: expect.stringMatching(/^PaymentService/) });
    const passRole = statements.find((s) => [s.Action].flat().includes('iam:PassRole'))!;
    expect(passRole.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
  });

  test('notifications for failures and approvals go to the alarm topic', () => {
    template.hasResourceProperties('AWS::CodeStarNotifications::NotificationRule', {
      EventTypeIds: Match.arrayWith(['codepipeline-pipeline-pipeline-execution-failed', 'codepipeline-pipeline-manual-approval-needed']),
      Targets: [{ TargetType: 'SNS', TargetAddress: { Ref: Match.stringLikeRegexp('^AlarmsTopic') } }],
    });
  });

  test('ECR: KMS, scan on push, immutable tags (one excluded cache tag where images are built), deployed images shielded', () => {
    const repo = ofType('AWS::ECR::Repository')[0]![1].Properties;
    expect(repo).toMatchObject({
      RepositoryName: `tap/${env}/payment-service`,
      ImageScanningConfiguration: { ScanOnPush: true },
      EncryptionConfiguration: { EncryptionType: 'KMS', KmsKey: expect.anything() },
    });
    if (env === 'dev') {
      expect(repo.ImageTagMutability).toBe('IMMUTABLE_WITH_EXCLUSION');
      expect(repo.ImageTagMutabilityExclusionFilters).toEqual([
        { ImageTagMutabilityExclusionFilterType: 'WILDCARD', ImageTagMutabilityExclusionFilterValue: BUILD_CACHE_TAG },
      ]);
    } else {
      expect(repo.ImageTagMutability).toBe('IMMUTABLE');
    }
    const rules = JSON.parse((repo.LifecyclePolicy as { LifecyclePolicyText: string }).LifecyclePolicyText).rules as {
      rulePriority: number;
      selection: { tagStatus: string; tagPrefixList?: string[]; countType: string };
    }[];
    // The deployed-* rule has the highest priority, so no later rule can expire a deployed image (AWS-TRAPS 17).
    expect(rules[0]).toMatchObject({ rulePriority: 1, selection: { tagStatus: 'tagged', tagPrefixList: [DEPLOYED_TAG_PREFIX] } });
    expect(rules.find((r) => r.selection.tagStatus === 'untagged')).toBeDefined();
  });

  test('the next environment may pull from this repository; nobody else', () => {
    const repo = ofType('AWS::ECR::Repository')[0]![1].Properties as { RepositoryPolicyText?: { Statement: { Principal: unknown }[] } };
    const next = { dev: 'staging', staging: 'prod', prod: undefined }[env];
    if (!next) {
      expect(repo.RepositoryPolicyText).toBeUndefined();
      return;
    }
    const account = shippedConfigs()[next as 'staging' | 'prod'].account;
    expect(repo.RepositoryPolicyText!.Statement).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${account}:root` },
        Action: expect.not.arrayContaining(['ecr:PutImage']),
      }),
    ]);
  });
});

describe('pinned tools', () => {
  test('Trivy and crane downloads are pinned by version and verified by SHA-256 before use', () => {
    expect(TRIVY_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
    for (const sha of [TRIVY_SHA256, CRANE_SHA256]) expect(sha).toMatch(/^[0-9a-f]{64}$/);
  });
});
