import { EnvironmentName } from './schema';

/**
 * SSM parameter with the image URI (`<repository>@sha256:<digest>`) last deployed to an environment. Written by the
 * deploy step after a successful deployment, read by the task definition at every stack deployment (docs/deployments.md, trap 1),
 * created with a placeholder by `npm run seed-image` before the very first deployment (docs/deployments.md, trap 4).
 */
export function imageParameterNameOf(env: EnvironmentName): string {
  return `/tap/${env}/app/image-uri`;
}

/** The image repository of an environment (deterministic, so the next environment can promote from it). */
export function repositoryNameOf(env: EnvironmentName): string {
  return `tap/${env}/payment-service`;
}

/** Environments promote in this order: only the first builds, each other one takes the digest its upstream deployed. */
export const PROMOTION_ORDER: readonly EnvironmentName[] = ['dev', 'staging', 'prod'];

/**
 * The recovery stack of an environment, in its second region (config `recovery.region`): the audit-log replicas and
 * the database backup copies. Named after the main stack so every `TapStack-*` template glob covers it.
 */
export function recoveryStackNameOf(env: EnvironmentName): string {
  return `TapStack-${env}-recovery`;
}

/** Fixed names in the recovery stack, so the main stack can point at them without a cross-region reference. */
export const RECOVERY_NAMES = {
  /** The KMS alias of the recovery key (S3 replication accepts an alias ARN as the replica key). */
  keyAlias: (env: EnvironmentName) => `alias/tap-${env}-recovery`,
  /** The replica of the CloudTrail bucket. Account and region make it globally unique. */
  auditLogReplica: (env: EnvironmentName, account: string, region: string) => `tap-${env}-audit-replica-${account}-${region}`,
  /** The replica of the access-log bucket (ALB and S3 server access logs). */
  accessLogReplica: (env: EnvironmentName, account: string, region: string) => `tap-${env}-access-replica-${account}-${region}`,
  /** The AWS Backup vault that receives the database's copies. */
  backupVault: (env: EnvironmentName) => `tap-${env}-recovery`,
} as const;
