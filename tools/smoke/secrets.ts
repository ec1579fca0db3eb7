/** Reads the API key the smoke test presents, from Secrets Manager (the same secret ECS injects as API_KEY). */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { withRetry } from '../common/retry';

/** Returns the secret's string value; fails naming the ARN (never the value) when it has none. */
export async function getSecretString(secretArn: string, client: SecretsManagerClient = new SecretsManagerClient({})): Promise<string> {
  const response = await withRetry(() => client.send(new GetSecretValueCommand({ SecretId: secretArn })));
  if (typeof response.SecretString !== 'string' || response.SecretString === '') {
    throw new Error(`secret ${secretArn} has no string value (binary secrets are not supported)`);
  }
  return response.SecretString;
}

/** The API key secret's value is not a key the smoke test can present. The message never contains the value. */
export class ApiKeySecretError extends Error {
  override readonly name = 'ApiKeySecretError';
}

/**
 * The key a client presents now, from the API key secret's value: JSON `{"current": "<key>", "previous": "<key or
 * empty>"}` (the service accepts both during a rotation; the smoke test presents `current`, the key clients are told to
 * use), or a plain key (a secret from before the JSON format, or a local `API_KEY`). Anything starting with `{` is read
 * as JSON, as the service's own parser does (app/src/config.ts, parseApiKeys), so both agree on what the key is.
 * `source` names where the value came from in errors, which never quote the value or the JSON parser's message
 * (that can quote the input).
 */
export function currentApiKey(value: string, source: string): string {
  if (!value.trimStart().startsWith('{')) {
    if (value.trim() === '') throw new ApiKeySecretError(`${source} is empty`);
    return value;
  }
  let current: unknown;
  try {
    // JSON text starting with "{" can only be an object: no array, null or scalar reaches `.current`.
    current = (JSON.parse(value) as Record<string, unknown>).current;
  } catch {
    throw new ApiKeySecretError(`${source} starts with "{" but is not valid JSON (expected {"current": "...", "previous": "..."})`);
  }
  if (typeof current !== 'string' || current.trim() === '') {
    throw new ApiKeySecretError(`${source} is JSON without a non-empty string field "current" (expected {"current": "...", "previous": "..."})`);
  }
  return current;
}
