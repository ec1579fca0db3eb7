import { createHmac, createSecretKey, randomBytes, timingSafeEqual } from 'crypto';

/** `Bearer <token>` (scheme case-insensitive, token of visible ASCII); one RegExp for every request, not one per call. */
const BEARER = /^Bearer ([\x21-\x7e]+)$/i;

/**
 * Bearer token check in constant time. Both sides are HMAC'd under a per-process random key first, so the
 * buffers compared always have equal length and the comparison leaks neither content nor length.
 */
export function createBearerVerifier(apiKeys: readonly string[]): (authorization: string | undefined) => boolean {
  if (apiKeys.length === 0) throw new Error('at least one API key is required');
  // An empty key would make an empty token a match; configuration refuses it, and so does the verifier.
  if (apiKeys.some((key) => key.length === 0)) throw new Error('API keys must not be empty');
  // Imported once as a KeyObject: createHmac then skips preparing the key on every request.
  const macKey = createSecretKey(randomBytes(32));
  const digest = (value: string): Buffer => createHmac('sha256', macKey).update(value).digest();
  const expected = apiKeys.map(digest);
  return (authorization) => {
    const match = typeof authorization === 'string' ? BEARER.exec(authorization) : null;
    // Digest computed even without a token so a missing header costs the same as a wrong one.
    const presented = digest(match ? match[1] : '');
    // Every accepted key is compared, whichever matches, so the time taken does not tell which key was used.
    let ok = false;
    for (const key of expected) ok = timingSafeEqual(presented, key) || ok;
    return ok && match !== null;
  };
}
