/**
 * Seeds the image parameter before the first deploy of an environment (docs/deployments.md, traps 1 and 4); not to be confused with
 * `cdk bootstrap`, which prepares the account for the CDK. The stack reads the running image from an SSM parameter that
 * the deploy step owns. On a new account that parameter does not exist yet, so this creates it once with a placeholder
 * image that exists and can pass health checks; it never overwrites it, because after the first deploy its value
 * is the version really in production.
 */
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { withRetry, RetryOptions } from '../common/retry';

/** Which parameter, and the value to seed it with. */
export interface EnsureImageParameterOptions {
  /** Parameter name, e.g. `/tap/dev/app/image-uri`. */
  readonly name: string;
  /** Image URI written only when the parameter does not exist yet. */
  readonly placeholder: string;
}

/** AWS access, injected for tests. */
export interface EnsureImageParameterDeps {
  readonly ssm: SSMClient;
  /**
   * Retry settings for the SSM calls.
   * @default - 5 retries, 200 ms base, 10 s cap, real sleep
   */
  readonly retry?: RetryOptions;
}

/** The SSM parameter name that holds the deployed image of an environment (one definition, shared with the stack). */
export { imageParameterNameOf as imageParameterName } from '../../lib/config/names';

function errorName(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { name?: unknown }).name : undefined;
}

/**
 * Creates the parameter with the placeholder if it does not exist. Returns `'created'` or `'exists'`; an existing
 * value is never changed, whatever it is.
 */
export async function ensureImageParameter(opts: EnsureImageParameterOptions, deps: EnsureImageParameterDeps): Promise<'created' | 'exists'> {
  if (opts.placeholder.trim() === '') throw new Error(`placeholder image URI for ${opts.name} must not be empty`);
  try {
    await withRetry(() => deps.ssm.send(new GetParameterCommand({ Name: opts.name })), deps.retry);
    return 'exists';
  } catch (error) {
    if (errorName(error) !== 'ParameterNotFound') throw error;
  }
  try {
    // Overwrite false: if a deploy wrote it between our read and this write, its value wins.
    await withRetry(
      () => deps.ssm.send(new PutParameterCommand({ Name: opts.name, Value: opts.placeholder, Type: 'String', Overwrite: false })),
      deps.retry,
    );
    return 'created';
  } catch (error) {
    if (errorName(error) === 'ParameterAlreadyExists') return 'exists';
    throw error;
  }
}
