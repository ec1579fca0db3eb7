import { Token } from 'aws-cdk-lib';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { acknowledgeArtifactGrants, acknowledgePart, arnToken } from '../compliance/acknowledge';

/** The two service prefixes a connection ARN can carry since CodeStar Connections became CodeConnections. */
const CONNECTION_PREFIXES = ['codeconnections', 'codestar-connections'] as const;

/**
 * The IAM action that lets a role use `connectionArn`. IAM matches the action's service prefix against the resource
 * ARN's, so `codestar-connections:UseConnection` never allows an `arn:aws:codeconnections:...` connection and the
 * reverse (https://docs.aws.amazon.com/dtconsole/latest/userguide/rename.html). An ARN only known at deploy time
 * could carry either prefix, so it gets both.
 */
export function useConnectionActions(connectionArn: string): string[] {
  if (Token.isUnresolved(connectionArn)) return CONNECTION_PREFIXES.map((p) => `${p}:UseConnection`);
  const prefix = connectionArn.split(':')[2];
  const known = CONNECTION_PREFIXES.find((p) => p === prefix);
  if (!known) throw new Error(`connection ARN must start with arn:aws:codeconnections: or arn:aws:codestar-connections:, got: ${connectionArn}`);
  return [`${known}:UseConnection`];
}

export interface ConnectionSourceActionProps extends codepipeline.CommonAwsActionProps {
  /** The connection (CodeConnections) to the Git provider. */
  readonly connectionArn: string;
  /** Repository owner (GitHub user or organisation). */
  readonly owner: string;
  readonly repo: string;
  /** The branch a manual start builds; pushes start the pipeline through its trigger. */
  readonly branch: string;
  /** Receives the commit as a ZIP of the repository tree (no .git). */
  readonly output: codepipeline.Artifact;
}

/**
 * The `CodeStarSourceConnection` source action, with `UseConnection` granted under the connection ARN's own prefix.
 * (aws-cdk-lib's CodeStarConnectionsSourceAction always grants `codestar-connections:UseConnection`, which IAM never
 * matches to a connection created since July 2024, `arn:aws:codeconnections:...`: the Source stage would be denied
 * on every run.) Change detection stays off: the pipeline's V2 trigger starts it, with path filters.
 */
export class ConnectionSourceAction extends codepipeline.Action {
  protected readonly providedActionProperties: codepipeline.ActionProperties;

  constructor(private readonly props: ConnectionSourceActionProps) {
    super();
    this.providedActionProperties = {
      ...props,
      category: codepipeline.ActionCategory.SOURCE,
      owner: 'AWS',
      provider: 'CodeStarSourceConnection',
      artifactBounds: { minInputs: 0, maxInputs: 0, minOutputs: 1, maxOutputs: 1 },
      outputs: [props.output],
    };
  }

  protected bound(_scope: Construct, _stage: codepipeline.IStage, options: codepipeline.ActionBindOptions): codepipeline.ActionConfig {
    // https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodestarConnectionSource.html
    options.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: useConnectionActions(this.props.connectionArn), resources: [this.props.connectionArn] }),
    );
    // The action writes the source ZIP into the artifact bucket (with the bucket-owner ACL CodePipeline sets).
    options.bucket.grantReadWrite(options.role);
    options.bucket.grantPutAcl(options.role);
    acknowledgeArtifactGrants(options.role, options.bucket, { write: true });
    acknowledgePart(
      options.role,
      `IAM5[Resource::${arnToken(options.bucket)}/*]`,
      's3:PutObjectAcl and s3:PutObjectVersionAcl inside the pipeline artifact bucket (CDK grant): the Source action writes the commit with the bucket-owner ACL',
    );
    return {
      configuration: {
        ConnectionArn: this.props.connectionArn,
        FullRepositoryId: `${this.props.owner}/${this.props.repo}`,
        BranchName: this.props.branch,
        DetectChanges: false,
      },
    };
  }
}
