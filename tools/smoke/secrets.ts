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
