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
