import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { synthEnv } from './helpers';
import { ExpectedRolePolicy, ExpectedStatement, INFRA_APPLY_CLOUDFORMATION, expectRolePolicy, rolesOf } from './iam-policies';

/**
 * Every IAM role of the production stacks and everything it may do: who may assume it, the AWS managed policies it
 * carries, and each statement of every policy that grants to it. An added action, a widened resource, a dropped
 * condition or a new role fails here until this list says so, and the change is reviewed in this file.
 */

const ACCOUNT = '${AWS::AccountId}';
const EC2 = 'arn:${AWS::Partition}:ec2:${AWS::Region}:' + ACCOUNT;
const PRIVATE_SUBNETS = [1, 2, 3].map((i) => `${EC2}:subnet/{Ref:NetworkVpcprivateSubnet${i}Subnet}`);
const IMAGE_PARAMETER = `arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/tap/prod/app/image-uri`;
const STACK = `arn:aws:cloudformation:us-east-1:${ACCOUNT}:stack/TapStack-prod/*`;
const BOOTSTRAP_EXEC_ROLE = `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-${ACCOUNT}-us-east-1`;
const REPOSITORY = '{GetAtt:ImagesRepository.Arn}';
const ARTIFACT_BUCKET = ['{GetAtt:ArtifactStoreBucket.Arn}', '{GetAtt:ArtifactStoreBucket.Arn}/*'];
const READ_ARTIFACTS = ['s3:GetBucket*', 's3:GetObject*', 's3:List*'];
const WRITE_ARTIFACTS = [
  ...READ_ARTIFACTS,
  's3:Abort*',
  's3:DeleteObject*',
  's3:PutObject',
  's3:PutObjectLegalHold',
  's3:PutObjectRetention',
  's3:PutObjectTagging',
  's3:PutObjectVersionTagging',
];

/** The artifacts key, as CDK grants it to the pipeline and every build project. */
const USE_ARTIFACTS_KEY: ExpectedStatement = {
  actions: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'],
  resources: '{GetAtt:KeysArtifactsKey.Arn}',
};
/** The data key, only as Secrets Manager uses it to decrypt a secret for the caller. */
const DATA_KEY_THROUGH_SECRETS_MANAGER: ExpectedStatement = {
  actions: 'kms:Decrypt',
  resources: '{GetAtt:KeysDataKey.Arn}',
  conditions: { StringEquals: { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com' } },
};
/** Publishing to the alarm topic, which the data key encrypts. */
const PUBLISH_TO_ALARM_TOPIC: ExpectedStatement[] = [
  { actions: 'sns:Publish', resources: '{Ref:AlarmsTopic}' },
  { actions: ['kms:Decrypt', 'kms:GenerateDataKey*'], resources: '{GetAtt:KeysDataKey.Arn}' },
];
const PULL_IMAGE: ExpectedStatement[] = [
  { actions: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'], resources: REPOSITORY },
  { actions: 'ecr:GetAuthorizationToken', resources: '*' },
];

const service = (name: string): string[] => [`Service:${name}`];
const FROM_PIPELINE = ['AWS:{GetAtt:DeliveryPipelineRole.Arn}'];

/**
 * What every CodeBuild project of the pipeline holds, `project` being its construct id without `Project`
 * (`DeliveryTestNode16`): its own report groups and default log group, the pipeline's build log group, a network
 * interface in the private subnets with its own security group, the artifacts key, and reading (or, for a step
 * with an output artifact, writing) the artifact bucket.
 */
function buildProject(project: string, options: { writesArtifact: boolean }, own: ExpectedStatement[]): ExpectedRolePolicy {
  const defaultLogGroup = `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws/codebuild/{Ref:${project}Project}`;
  return {
    assumedBy: service('codebuild.amazonaws.com'),
    statements: [
      {
        actions: [
          'codebuild:BatchPutCodeCoverages',
          'codebuild:BatchPutTestCases',
          'codebuild:CreateReport',
          'codebuild:CreateReportGroup',
          'codebuild:UpdateReport',
        ],
        resources: `arn:aws:codebuild:us-east-1:${ACCOUNT}:report-group/{Ref:${project}Project}-*`,
      },
      { actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'], resources: [defaultLogGroup, `${defaultLogGroup}:*`] },
      { actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: '{GetAtt:DeliveryBuildLogs.Arn}' },
      {
        actions: [
          'ec2:CreateNetworkInterface',
          'ec2:DeleteNetworkInterface',
          'ec2:DescribeDhcpOptions',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeSecurityGroups',
          'ec2:DescribeSubnets',
          'ec2:DescribeVpcs',
        ],
        resources: '*',
      },
      {
        actions: 'ec2:CreateNetworkInterfacePermission',
        resources: `${EC2}:network-interface/*`,
        conditions: { StringEquals: { 'ec2:AuthorizedService': 'codebuild.amazonaws.com', 'ec2:Subnet': PRIVATE_SUBNETS } },
      },
      USE_ARTIFACTS_KEY,
      { actions: options.writesArtifact ? WRITE_ARTIFACTS : READ_ARTIFACTS, resources: ARTIFACT_BUCKET },
      ...own,
    ],
  };
}

/** The role the pipeline assumes to run one CodeBuild action: start, follow and stop builds of that project only. */
const startsBuildsOf = (project: string): ExpectedRolePolicy => ({
  assumedBy: FROM_PIPELINE,
  statements: [{ actions: ['codebuild:BatchGetBuilds', 'codebuild:StartBuild', 'codebuild:StopBuild'], resources: `{GetAtt:${project}Project.Arn}` }],
});

/** Where a CodeBuild action of the prod pipeline sits: its action role's short name, and its project's. */
const BUILD_ACTIONS: Record<string, string> = {
  DeliveryPipelineVerifyTestNode16CodePipelineActionRole: 'DeliveryTestNode16',
  DeliveryPipelineVerifyTestNode18CodePipelineActionRole: 'DeliveryTestNode18',
  DeliveryPipelineVerifyTestNode20CodePipelineActionRole: 'DeliveryTestNode20',
  DeliveryPipelineVerifyLintTypecheckCodePipelineActionRole: 'DeliveryLintTypecheck',
  DeliveryPipelineVerifyStaticAnalysisCodePipelineActionRole: 'DeliveryStaticAnalysis',
  DeliveryPipelineVerifyDependencyScanCodePipelineActionRole: 'DeliveryDependencyScan',
  DeliveryPipelineVerifyIaCCheckCodePipelineActionRole: 'DeliveryIaCCheck',
  DeliveryPipelineImagePromoteImageCodePipelineActionRole: 'DeliveryPromoteImage',
  DeliveryPipelineInfrastructureInfraPlanCodePipelineActionRole: 'DeliveryInfraPlan',
  DeliveryPipelineDeployInfraApplyCodePipelineActionRole: 'DeliveryInfraApply',
  DeliveryPipelineDeployCodePipelineActionRole: 'DeliveryDeploy',
  DeliveryPipelineDeploySmokeProductionCodePipelineActionRole: 'DeliverySmokeProduction',
};

const LISTENER_RULES: ExpectedStatement = { actions: 'elasticloadbalancing:DescribeRules', resources: '*' };
const MIGRATE_FAMILY = `arn:aws:ecs:us-east-1:${ACCOUNT}:task-definition/TapStack-prod-migrate:*`;
const SERVICE_FAMILY = `arn:aws:ecs:us-east-1:${ACCOUNT}:task-definition/TapStackprodPaymentServiceTaskDefinition189293DE:*`;
const IN_THE_CLUSTER = { ArnEquals: { 'ecs:cluster': '{GetAtt:PaymentServiceCluster.Arn}' } };

/** The complete policy of every role of the prod main stack, by short name (logical id without CDK's hash). */
const PROD: Record<string, ExpectedRolePolicy> = {
  // --- Audit trail and network ---
  AuditTrailLogsRole: {
    assumedBy: service('cloudtrail.amazonaws.com'),
    statements: [{ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: '{GetAtt:AuditTrailLogGroup.Arn}' }],
  },
  NetworkVpcFlowLogIAMRole: {
    assumedBy: service('vpc-flow-logs.amazonaws.com'),
    statements: [
      { actions: ['logs:CreateLogStream', 'logs:DescribeLogStreams', 'logs:PutLogEvents'], resources: '{GetAtt:NetworkFlowLogGroup.Arn}' },
    ],
  },
  // CDK's custom resource that empties the VPC's default security group (restrictDefaultSecurityGroup).
  CustomVpcRestrictDefaultSGCustomResourceProviderRole: {
    assumedBy: service('lambda.amazonaws.com'),
    managedPolicies: ['arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'],
    statements: [
      {
        actions: [
          'ec2:AuthorizeSecurityGroupEgress',
          'ec2:AuthorizeSecurityGroupIngress',
          'ec2:RevokeSecurityGroupEgress',
          'ec2:RevokeSecurityGroupIngress',
        ],
        resources: `arn:aws:ec2:us-east-1:${ACCOUNT}:security-group/{GetAtt:NetworkVpc.DefaultSecurityGroup}`,
      },
    ],
  },

  // --- The payment service ---
  PaymentServiceTaskDefinitionTaskRole: {
    assumedBy: service('ecs-tasks.amazonaws.com'),
    statements: [{ actions: 'secretsmanager:GetSecretValue', resources: '{Ref:DatabaseAppUserSecret}' }, DATA_KEY_THROUGH_SECRETS_MANAGER],
  },
  PaymentServiceTaskDefinitionExecutionRole: {
    assumedBy: service('ecs-tasks.amazonaws.com'),
    statements: [
      ...PULL_IMAGE,
      { actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: '{GetAtt:PaymentServiceLogGroup.Arn}' },
      {
        actions: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
        resources: ['{Ref:SecretsApiKey}', '{Ref:SecretsTokenizationKey}'],
      },
      DATA_KEY_THROUGH_SECRETS_MANAGER,
    ],
  },
  PaymentServiceGreenTargetRole: {
    assumedBy: service('ecs.amazonaws.com'),
    managedPolicies: ['arn:${AWS::Partition}:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers'],
    statements: [],
  },
  PaymentServiceSmokeTestFunctionServiceRole: {
    assumedBy: service('lambda.amazonaws.com'),
    managedPolicies: [
      'arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
      'arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole',
    ],
    statements: [
      { actions: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'], resources: '*' },
      { actions: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'], resources: '{Ref:SecretsApiKey}' },
      DATA_KEY_THROUGH_SECRETS_MANAGER,
      {
        actions: ['ecs:DescribeServiceDeployments', 'ecs:ListServiceDeployments'],
        resources: [
          `arn:aws:ecs:us-east-1:${ACCOUNT}:service/{Ref:PaymentServiceCluster}/*`,
          `arn:aws:ecs:us-east-1:${ACCOUNT}:service-deployment/{Ref:PaymentServiceCluster}/*`,
        ],
      },
    ],
  },
  PaymentServiceSmokeTestHookRole: {
    assumedBy: service('ecs.amazonaws.com'),
    statements: [{ actions: 'lambda:InvokeFunction', resources: '{GetAtt:PaymentServiceSmokeTestFunction.Arn}' }],
  },

  // --- The schema migration task ---
  MigrationTaskDefinitionTaskRole: {
    assumedBy: service('ecs-tasks.amazonaws.com'),
    statements: [
      { actions: 'secretsmanager:GetSecretValue', resources: ['{Ref:DatabaseAppUserSecret}', '{Ref:DatabaseMasterSecret}'] },
      DATA_KEY_THROUGH_SECRETS_MANAGER,
    ],
  },
  MigrationTaskDefinitionExecutionRole: {
    assumedBy: service('ecs-tasks.amazonaws.com'),
    statements: [...PULL_IMAGE, { actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: '{GetAtt:PaymentServiceLogGroup.Arn}' }],
  },

  // --- The pipeline and the roles of its actions ---
  DeliveryPipelineRole: {
    assumedBy: service('codepipeline.amazonaws.com'),
    statements: [
      USE_ARTIFACTS_KEY,
      { actions: WRITE_ARTIFACTS, resources: ARTIFACT_BUCKET },
      {
        actions: 'sts:AssumeRole',
        resources: [
          'DeliveryPipelineSourceGitHubCodePipelineActionRole',
          'DeliveryPipelineApproveCodePipelineActionRole',
          ...Object.keys(BUILD_ACTIONS),
        ].map((role) => `{GetAtt:${role}.Arn}`),
      },
    ],
  },
  DeliveryPipelineSourceGitHubCodePipelineActionRole: {
    assumedBy: FROM_PIPELINE,
    statements: [
      {
        actions: 'codeconnections:UseConnection',
        resources: 'arn:aws:codeconnections:us-east-1:333333333333:connection/00000000-0000-0000-0000-000000000000',
      },
      USE_ARTIFACTS_KEY,
      { actions: WRITE_ARTIFACTS, resources: ARTIFACT_BUCKET },
      { actions: ['s3:PutObjectAcl', 's3:PutObjectVersionAcl'], resources: '{GetAtt:ArtifactStoreBucket.Arn}/*' },
    ],
  },
  DeliveryPipelineApproveCodePipelineActionRole: { assumedBy: FROM_PIPELINE, statements: PUBLISH_TO_ALARM_TOPIC },
  ...Object.fromEntries(Object.entries(BUILD_ACTIONS).map(([role, project]) => [role, startsBuildsOf(project)])),

  // --- The pipeline's build projects ---
  DeliveryTestNode16ProjectRole: buildProject('DeliveryTestNode16', { writesArtifact: false }, []),
  DeliveryTestNode18ProjectRole: buildProject('DeliveryTestNode18', { writesArtifact: false }, []),
  DeliveryTestNode20ProjectRole: buildProject('DeliveryTestNode20', { writesArtifact: false }, []),
  DeliveryLintTypecheckProjectRole: buildProject('DeliveryLintTypecheck', { writesArtifact: false }, []),
  DeliveryStaticAnalysisProjectRole: buildProject('DeliveryStaticAnalysis', { writesArtifact: false }, []),
  DeliveryDependencyScanProjectRole: buildProject('DeliveryDependencyScan', { writesArtifact: false }, []),
  DeliveryIaCCheckProjectRole: buildProject('DeliveryIaCCheck', { writesArtifact: false }, []),
  // Promotes staging's promotable image by digest into this repository (prod builds no image).
  DeliveryPromoteImageProjectRole: buildProject('DeliveryPromoteImage', { writesArtifact: true }, [
    {
      actions: [
        'ecr:BatchCheckLayerAvailability',
        'ecr:BatchGetImage',
        'ecr:CompleteLayerUpload',
        'ecr:DescribeImages',
        'ecr:GetDownloadUrlForLayer',
        'ecr:InitiateLayerUpload',
        'ecr:PutImage',
        'ecr:UploadLayerPart',
      ],
      resources: REPOSITORY,
    },
    { actions: 'ecr:GetAuthorizationToken', resources: '*' },
    {
      actions: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:DescribeImages', 'ecr:GetDownloadUrlForLayer'],
      resources: 'arn:aws:ecr:us-east-1:222222222222:repository/tap/staging/payment-service',
    },
  ]),
  DeliveryInfraPlanProjectRole: buildProject('DeliveryInfraPlan', { writesArtifact: true }, [
    {
      actions: 'cloudformation:CreateChangeSet',
      resources: [STACK, 'arn:aws:cloudformation:us-east-1:aws:transform/SecretsManager-2024-09-16'],
      conditions: { StringEquals: { 'cloudformation:RoleArn': BOOTSTRAP_EXEC_ROLE } },
    },
    {
      actions: [
        'cloudformation:DeleteChangeSet',
        'cloudformation:DescribeChangeSet',
        'cloudformation:DescribeStackResources',
        'cloudformation:DescribeStacks',
        'cloudformation:GetTemplate',
      ],
      resources: STACK,
    },
    {
      actions: ['cloudformation:DescribeStacks', 'cloudformation:GetTemplate'],
      resources: `arn:aws:cloudformation:us-west-2:${ACCOUNT}:stack/TapStack-prod-recovery/*`,
    },
    {
      actions: 'iam:PassRole',
      resources: BOOTSTRAP_EXEC_ROLE,
      conditions: { StringEquals: { 'iam:PassedToService': 'cloudformation.amazonaws.com' } },
    },
    { actions: 'sts:AssumeRole', resources: `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-file-publishing-role-${ACCOUNT}-us-east-1` },
    { actions: 's3:GetObject', resources: `arn:aws:s3:::cdk-hnb659fds-assets-${ACCOUNT}-us-east-1/*` },
    {
      actions: ['ssm:GetParameter', 'ssm:GetParameters'],
      resources: [`arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/cdk-bootstrap/hnb659fds/version`, IMAGE_PARAMETER],
    },
    LISTENER_RULES,
  ]),
  DeliveryInfraApplyProjectRole: buildProject('DeliveryInfraApply', { writesArtifact: false }, [
    { actions: INFRA_APPLY_CLOUDFORMATION, resources: STACK },
    LISTENER_RULES,
    { actions: 'ssm:GetParameter', resources: IMAGE_PARAMETER },
    ...PUBLISH_TO_ALARM_TOPIC,
    { actions: 'codepipeline:StartPipelineExecution', resources: `arn:aws:codepipeline:us-east-1:${ACCOUNT}:{Ref:DeliveryPipeline}` },
  ]),
  DeliveryDeployProjectRole: buildProject('DeliveryDeploy', { writesArtifact: false }, [
    {
      actions: ['ecr:BatchGetImage', 'ecr:BatchImportUpstreamImage', 'ecr:CreateRepository'],
      resources: `arn:aws:ecr:us-east-1:${ACCOUNT}:repository/tap-prod-ecr-public/aws-observability/aws-otel-collector`,
    },
    { actions: ['ecs:DescribeServices', 'ecs:ListServiceDeployments', 'ecs:UpdateService'], resources: '{Ref:PaymentService}' },
    {
      actions: 'ecs:DescribeServiceDeployments',
      resources: `arn:aws:ecs:us-east-1:${ACCOUNT}:service-deployment/{Ref:PaymentServiceCluster}/{GetAtt:PaymentService.Name}/*`,
    },
    { actions: 'ecs:RegisterTaskDefinition', resources: [MIGRATE_FAMILY, SERVICE_FAMILY] },
    {
      actions: 'ecs:TagResource',
      resources: [MIGRATE_FAMILY, SERVICE_FAMILY],
      conditions: { StringEquals: { 'ecs:CreateAction': 'RegisterTaskDefinition' } },
    },
    { actions: 'ecs:RunTask', resources: MIGRATE_FAMILY, conditions: IN_THE_CLUSTER },
    {
      actions: ['ecs:DescribeTasks', 'ecs:StopTask'],
      resources: `arn:aws:ecs:us-east-1:${ACCOUNT}:task/{Ref:PaymentServiceCluster}/*`,
      conditions: IN_THE_CLUSTER,
    },
    { actions: 'ecs:DescribeTaskDefinition', resources: '*' },
    {
      actions: 'iam:PassRole',
      resources: [
        '{GetAtt:MigrationTaskDefinitionExecutionRole.Arn}',
        '{GetAtt:MigrationTaskDefinitionTaskRole.Arn}',
        '{GetAtt:PaymentServiceTaskDefinitionExecutionRole.Arn}',
        '{GetAtt:PaymentServiceTaskDefinitionTaskRole.Arn}',
      ],
      conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
    },
    { actions: ['ssm:GetParameter', 'ssm:PutParameter'], resources: IMAGE_PARAMETER },
    { actions: ['ecr:BatchGetImage', 'ecr:DescribeImages', 'ecr:PutImage'], resources: REPOSITORY },
  ]),
  DeliverySmokeProductionProjectRole: buildProject('DeliverySmokeProduction', { writesArtifact: false }, [
    { actions: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'], resources: '{Ref:SecretsApiKey}' },
    DATA_KEY_THROUGH_SECRETS_MANAGER,
    { actions: 'ssm:GetParameter', resources: IMAGE_PARAMETER },
    { actions: ['ecr:BatchGetImage', 'ecr:DescribeImages', 'ecr:PutImage'], resources: REPOSITORY },
  ]),

  // --- Disaster recovery ---
  RecoveryReplicationRole: {
    assumedBy: service('s3.amazonaws.com'),
    statements: [
      { actions: ['s3:GetReplicationConfiguration', 's3:ListBucket'], resources: ['{GetAtt:AccessLogsBucket.Arn}', '{GetAtt:AuditTrailBucket.Arn}'] },
      {
        actions: ['s3:GetObjectVersionAcl', 's3:GetObjectVersionForReplication', 's3:GetObjectVersionTagging'],
        resources: ['{GetAtt:AccessLogsBucket.Arn}/*', '{GetAtt:AuditTrailBucket.Arn}/*'],
      },
      {
        actions: ['s3:ReplicateObject', 's3:ReplicateTags'],
        resources: [
          'arn:${AWS::Partition}:s3:::tap-prod-access-replica-' + ACCOUNT + '-us-west-2/*',
          'arn:${AWS::Partition}:s3:::tap-prod-audit-replica-' + ACCOUNT + '-us-west-2/*',
        ],
      },
      {
        actions: 'kms:Decrypt',
        resources: '{GetAtt:KeysLogsKey.Arn}',
        conditions: {
          StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' },
          StringLike: { 'kms:EncryptionContext:aws:s3:arn': ['{GetAtt:AuditTrailBucket.Arn}', '{GetAtt:AuditTrailBucket.Arn}/*'] },
        },
      },
      {
        actions: ['kms:Encrypt', 'kms:GenerateDataKey'],
        resources: 'arn:${AWS::Partition}:kms:us-west-2:' + ACCOUNT + ':key/*',
        conditions: {
          StringEquals: { 'kms:ViaService': 's3.us-west-2.amazonaws.com' },
          StringLike: {
            'kms:EncryptionContext:aws:s3:arn': [
              'arn:${AWS::Partition}:s3:::tap-prod-audit-replica-' + ACCOUNT + '-us-west-2',
              'arn:${AWS::Partition}:s3:::tap-prod-audit-replica-' + ACCOUNT + '-us-west-2/*',
            ],
          },
        },
      },
    ],
  },
  RecoveryBackupPlanDatabaseRole: {
    assumedBy: service('backup.amazonaws.com'),
    managedPolicies: ['arn:${AWS::Partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup'],
    statements: [],
  },

  // --- Operations ---
  DeploymentEventsPublisherRole: {
    assumedBy: service('events.amazonaws.com'),
    statements: [
      { actions: 'sns:Publish', resources: ['{Ref:AlarmsTopic}', '{Ref:PagesTopic}'] },
      { actions: ['kms:Decrypt', 'kms:GenerateDataKey*'], resources: '{GetAtt:KeysDataKey.Arn}' },
    ],
  },
  SmokeCanaryRole: {
    assumedBy: service('lambda.amazonaws.com'),
    statements: [
      { actions: 's3:PutObject', resources: '{GetAtt:SmokeCanaryArtifacts.Arn}/canary/*' },
      { actions: 's3:GetBucketLocation', resources: '{GetAtt:SmokeCanaryArtifacts.Arn}' },
      { actions: 's3:ListAllMyBuckets', resources: '*' },
      { actions: 'cloudwatch:PutMetricData', resources: '*', conditions: { StringEquals: { 'cloudwatch:namespace': 'CloudWatchSynthetics' } } },
      {
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws/lambda/cwsyn-tapstack-prod-smoke-*`,
      },
      { actions: 'secretsmanager:GetSecretValue', resources: '{Ref:SecretsApiKey}' },
      DATA_KEY_THROUGH_SECRETS_MANAGER,
      {
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: '{GetAtt:KeysLogsKey.Arn}',
        conditions: { StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' } },
      },
    ],
  },
};

describe('IAM roles of prod: each role with its complete policy', () => {
  const { stack } = synthEnv('prod');
  const main = Template.fromStack(stack);
  const recovery = stack.node.root.node.children.find((c): c is Stack => c instanceof Stack && c !== stack)!;

  test('every role of the main stack has its policy stated here, and every stated role exists', () => {
    expect([...rolesOf(main).keys()].sort()).toEqual(Object.keys(PROD).sort());
  });

  test.each(Object.keys(PROD))('%s: exactly its stated policy', (role) => {
    expectRolePolicy(main, role, PROD[role]!);
  });

  test('the recovery stack has no role: replication and backup copies run as roles of the main stack', () => {
    expect(recovery.stackName).toBe('TapStack-prod-recovery');
    expect([...rolesOf(Template.fromStack(recovery)).keys()]).toEqual([]);
  });
});

describe('expectRolePolicy', () => {
  const build = (change: (role: iam.Role, bucketArn: string) => void = () => undefined) => {
    const stack = new Stack(new App(), 'S');
    const role = new iam.Role(stack, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    const bucketArn = 'arn:aws:s3:::reports';
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [`${bucketArn}/daily/*`] }));
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: ['arn:aws:kms:us-east-1:111111111111:key/k'],
        conditions: { StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' } },
      }),
    );
    change(role, bucketArn);
    return Template.fromStack(stack);
  };
  const expected: ExpectedRolePolicy = {
    assumedBy: ['Service:lambda.amazonaws.com'],
    statements: [
      { actions: 's3:GetObject', resources: 'arn:aws:s3:::reports/daily/*' },
      {
        actions: 'kms:Decrypt',
        resources: 'arn:aws:kms:us-east-1:111111111111:key/k',
        conditions: { StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' } },
      },
    ],
  };

  test('GIVEN the role as stated THEN passes', () => {
    expect(() => expectRolePolicy(build(), 'Reader', expected)).not.toThrow();
  });

  test.each([
    [
      'an added action',
      (r: iam.Role, b: string) => r.addToPolicy(new iam.PolicyStatement({ actions: ['s3:DeleteObject'], resources: [`${b}/daily/*`] })),
    ],
    ['a widened resource', (r: iam.Role, b: string) => r.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [`${b}/*`] }))],
    [
      'the same action without its condition',
      (r: iam.Role) => r.addToPolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: ['arn:aws:kms:us-east-1:111111111111:key/k'] })),
    ],
    [
      'a separate policy attached to the role',
      (r: iam.Role) =>
        new iam.Policy(r, 'Extra', {
          roles: [r],
          statements: [new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: ['arn:aws:sqs:us-east-1:111111111111:q'] })],
        }),
    ],
    ['an AWS managed policy', (r: iam.Role) => r.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('ReadOnlyAccess'))],
  ])('GIVEN %s THEN fails', (_what, change) => {
    expect(() => expectRolePolicy(build(change), 'Reader', expected)).toThrow();
  });

  test('GIVEN another principal may assume the role THEN fails', () => {
    const template = build((r) =>
      r.assumeRolePolicy!.addStatements(new iam.PolicyStatement({ actions: ['sts:AssumeRole'], principals: [new iam.AccountRootPrincipal()] })),
    );
    expect(() => expectRolePolicy(template, 'Reader', expected)).toThrow();
  });

  test('GIVEN a name no role has THEN fails, listing the roles', () => {
    expect(() => expectRolePolicy(build(), 'Writer', expected)).toThrow('expectRolePolicy: Writer matches 0 roles; the roles are: Reader');
  });
});
