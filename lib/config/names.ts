import { EnvironmentName } from './schema';

/**
 * SSM parameter with the image URI (`<repository>@sha256:<digest>`) last deployed to an environment. Written by the
 * deploy step after a successful deployment, read by the task definition at every stack deployment (AWS-TRAPS 1),
 * created with a placeholder by `npm run bootstrap` before the very first deployment (AWS-TRAPS 4).
 */
export function imageParameterNameOf(env: EnvironmentName): string {
  return `/tap/${env}/app/image-uri`;
}
