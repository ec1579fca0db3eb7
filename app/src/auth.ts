import { createHmac, createSecretKey, randomBytes, timingSafeEqual } from 'crypto';

/**
 * Bearer token check in constant time. Both sides are HMAC'd under a per-process random key first, so the
 * buffers compared always have equal length and the comparison leaks neither content nor length.
 */
export function createBearerVerifier(apiKey: string): (authorization: string | undefined) => boolean {
  // Imported once as a KeyObject: createHmac then skips preparing the key on every request.
  const macKey = createSecretKey(randomBytes(32));
  const digest = (value: string): Buffer => createHmac('sha256', macKey).update(value).digest();
  const expected = digest(apiKey);
  return (authorization) => {
    const match = typeof authorization === 'string' ? /^Bearer ([\x21-\x7e]+)$/i.exec(authorization) : null;
    // Digest computed even without a token so a missing header costs the same as a wrong one.
    const presented = digest(match ? match[1] : '');
    return timingSafeEqual(presented, expected) && match !== null;
  };
}
