/**
 * Run once per environment before the first `cdk deploy`: `npm run seed-image -- <env> <placeholder-image-uri>`
 * (or PLACEHOLDER_IMAGE_URI in the environment). The placeholder must be pinned by digest and pullable by the
 * task's execution role, e.g. a public image mirrored into the account's ECR.
 * Exit codes: 0 created or already there, 1 AWS error, 2 bad arguments.
 */
import { SSMClient } from '@aws-sdk/client-ssm';
import { EnvironmentName, parseEnvironmentName } from '../../lib/config';
import { validateImageUri } from '../deploy/ecs-deploy';
import { ensureImageParameter, imageParameterName } from './seed-image';

/** Seeds the image parameter of one environment and returns the exit code. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv, ssm: SSMClient = new SSMClient({})): Promise<number> {
  const [envArg, placeholderArg] = argv;
  const placeholder = placeholderArg ?? env.PLACEHOLDER_IMAGE_URI?.trim();
  let envName: EnvironmentName;
  try {
    envName = parseEnvironmentName(envArg);
  } catch (error) {
    console.error(`seed-image: ${(error as Error).message}`);
    return 2;
  }
  if (!placeholder) {
    console.error('seed-image: give the placeholder image URI as the second argument or in PLACEHOLDER_IMAGE_URI');
    return 2;
  }
  try {
    validateImageUri(placeholder);
  } catch (error) {
    console.error(`seed-image: placeholder: ${(error as Error).message}`);
    return 2;
  }
  const name = imageParameterName(envName);
  try {
    const outcome = await ensureImageParameter({ name, placeholder }, { ssm });
    console.log(outcome === 'created' ? `seed-image: created ${name} = ${placeholder}` : `seed-image: ${name} already exists, left unchanged`);
    return 0;
  } catch (error) {
    console.error(
      `seed-image: FAILED on ${name} (${(error as Error).name}): ${(error as Error).message}; check credentials and ssm:GetParameter/PutParameter`,
    );
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2), process.env).then((code) => {
    process.exitCode = code;
  });
}
