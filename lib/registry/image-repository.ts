import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { checkovSkip } from '../compliance/checkov';

export interface ImageRepositoryProps {
  /** Encrypts the image layers. */
  readonly key: kms.IKey;
  readonly removalPolicy: RemovalPolicy;
  /** Deterministic name, so the downstream environment's promote step can find it: `tap/<env>/payment-service`. */
  readonly repositoryName: string;
  /**
   * The environment that builds here keeps its BuildKit layer cache in the one mutable tag `buildcache`
   * (IMMUTABLE_WITH_EXCLUSION, docs/deployments.md, trap 18); every other tag stays immutable.
   * @default false
   */
  readonly buildCache?: boolean;
  /**
   * Account of the next environment, whose promote step pulls the deployed digest from here.
   * @default - none (the last environment)
   */
  readonly downstreamAccount?: string;
  /**
   * How many commit builds (`sha-*` tags) are kept; older ones expire.
   * @default 50
   */
  readonly keepBuilds?: number;
}

/** Tag prefix of every image the pipeline builds (`sha-<commit>`). */
export const BUILD_TAG_PREFIX = 'sha-';
/** Tag prefix the deploy step adds to an image that is or was deployed (`deployed-<env>-<time>`); never expired. */
export const DEPLOYED_TAG_PREFIX = 'deployed-';

/** The one mutable tag: BuildKit's registry cache (never deployed: deploys are by digest). */
export const BUILD_CACHE_TAG = 'buildcache';

/** How many deployed images are kept: years of releases, and every rollback target. */
export const DEPLOYED_KEEP = 500;

/**
 * The service's image repository: KMS-encrypted, immutable tags, scanned on push. Lifecycle rules expire untagged
 * layers after a day and keep the newest builds, but never touch an image tagged `deployed-*` (docs/deployments.md, trap 17): the
 * deploy step tags every image it ships, so what runs, and what ran recently, stays pullable for rollbacks.
 */
export class ImageRepository extends Construct {
  public readonly repository: ecr.Repository;

  constructor(scope: Construct, id: string, props: ImageRepositoryProps) {
    super(scope, id);
    this.repository = new ecr.Repository(this, 'Repository', {
      encryption: ecr.RepositoryEncryption.KMS,
      encryptionKey: props.key,
      repositoryName: props.repositoryName,
      imageTagMutability: props.buildCache ? ecr.TagMutability.IMMUTABLE_WITH_EXCLUSION : ecr.TagMutability.IMMUTABLE,
      imageTagMutabilityExclusionFilters: props.buildCache ? [ecr.ImageTagMutabilityExclusionFilter.wildcard(BUILD_CACHE_TAG)] : undefined,
      imageScanOnPush: true,
      removalPolicy: props.removalPolicy,
      // ECR never lets a lower-priority rule expire an image that a higher-priority rule selected, so rule 1 shields
      // every deployed image from rule 3 (https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html).
      lifecycleRules: [
        {
          rulePriority: 1,
          description: `Shield deployed images (${DEPLOYED_TAG_PREFIX}*): the newest ${DEPLOYED_KEEP} stay`,
          tagStatus: ecr.TagStatus.TAGGED,
          tagPrefixList: [DEPLOYED_TAG_PREFIX],
          maxImageCount: DEPLOYED_KEEP,
        },
        { rulePriority: 2, description: 'Untagged layers after a day', tagStatus: ecr.TagStatus.UNTAGGED, maxImageAge: Duration.days(1) },
        {
          rulePriority: 3,
          description: `Keep the newest ${props.keepBuilds ?? 50} builds that were never deployed`,
          tagStatus: ecr.TagStatus.TAGGED,
          tagPrefixList: [BUILD_TAG_PREFIX],
          maxImageCount: props.keepBuilds ?? 50,
        },
      ],
    });
    // CloudFormation deletes the repository only when that is really meant: with `retain`, only when its own creation
    // rolls back (RetainExceptOnCreate), and the pipeline the same stack creates starts a run at once, so an image may
    // already be pushed by then; a non-empty repository would fail that delete, and the retry would meet "already
    // exists". EmptyOnDelete lets the delete go through. On stack deletion with `retain` nothing is deleted at all.
    // (CDK's emptyOnDelete prop insists on DESTROY; the CloudFormation property has no such rule.)
    (this.repository.node.defaultChild as ecr.CfnRepository).emptyOnDelete = true;
    if (props.buildCache) {
      checkovSkip(
        this.repository,
        'CKV_AWS_51',
        `Every tag is immutable except '${BUILD_CACHE_TAG}', BuildKit's layer cache, which is never deployed (deploys are by digest)`,
      );
    }
    if (props.downstreamAccount) this.shareWith(props.downstreamAccount, props);
  }

  /**
   * The next environment's account may pull (and describe) images, nothing else: promotion copies the deployed digest
   * out of this repository. Its layers are encrypted with the data key; the key admits that account only through ECR
   * and only for this repository's layers (ECR's encryption context names the repository), so nothing else the data
   * key protects (secrets, the alarm topic) opens to it.
   * https://docs.aws.amazon.com/AmazonECR/latest/userguide/repository-policy-examples.html
   * https://docs.aws.amazon.com/AmazonECR/latest/userguide/encryption-at-rest.html#ecr-encryption-context
   */
  private shareWith(account: string, props: ImageRepositoryProps): void {
    const stack = Stack.of(this);
    const principal = new iam.AccountPrincipal(account);
    this.repository.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'PromoteToNextEnvironment',
        principals: [principal],
        actions: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability', 'ecr:DescribeImages'],
      }),
    );
    // The name, not the repository's ARN attribute: the key cannot depend on the repository it encrypts.
    const repositoryArn = stack.formatArn({ service: 'ecr', resource: 'repository', resourceName: props.repositoryName });
    props.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'PullPromotedImagesFromNextEnvironment',
        principals: [principal],
        actions: ['kms:Decrypt'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'kms:ViaService': `ecr.${stack.region}.amazonaws.com`, 'kms:EncryptionContext:aws:ecr:arn': repositoryArn },
        },
      }),
    );
  }
}
