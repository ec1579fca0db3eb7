import { randomBytes } from 'crypto';
import { createBearerVerifier } from '../src/auth';

/** Keys as the service's secret holds them: random, URL-safe, generated per run (never a real key). */
const CURRENT = randomBytes(24).toString('base64url');
const PREVIOUS = randomBytes(24).toString('base64url');

describe('the bearer verifier', () => {
  test('refuses to start without a key, or with an empty one, saying which', () => {
    expect(() => createBearerVerifier([])).toThrow(new Error('at least one API key is required'));
    expect(() => createBearerVerifier([CURRENT, ''])).toThrow(new Error('API keys must not be empty'));
  });

  test('accepts the key after "Bearer ", the scheme in any case', () => {
    const verify = createBearerVerifier([CURRENT]);
    expect([`Bearer ${CURRENT}`, `bearer ${CURRENT}`, `BEARER ${CURRENT}`].map(verify)).toEqual([true, true, true]);
  });

  test.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['the scheme alone', 'Bearer '],
    ['the key without the scheme', CURRENT],
    ['another scheme', `Basic ${CURRENT}`],
    ['text before the scheme', `xBearer ${CURRENT}`],
    ['a space before the scheme', ` Bearer ${CURRENT}`],
    ['two spaces after the scheme', `Bearer  ${CURRENT}`],
    ['text after the key', `Bearer ${CURRENT} extra`],
    ['a newline after the key', `Bearer ${CURRENT}\n`],
    ['a prefix of the key', `Bearer ${CURRENT.slice(0, -1)}`],
    ['the key extended', `Bearer ${CURRENT}x`],
    ['the key in another case', `Bearer ${CURRENT.toUpperCase() === CURRENT ? CURRENT.toLowerCase() : CURRENT.toUpperCase()}`],
  ])('refuses %s', (_what, header) => {
    expect(createBearerVerifier([CURRENT])(header)).toBe(false);
  });

  test('accepts each configured key (current and previous, during a rotation) and nothing else', () => {
    const verify = createBearerVerifier([CURRENT, PREVIOUS]);
    expect([`Bearer ${CURRENT}`, `Bearer ${PREVIOUS}`, `Bearer ${CURRENT}${PREVIOUS}`, 'Bearer other'].map(verify)).toEqual([
      true,
      true,
      false,
      false,
    ]);
    // The order of the keys does not matter: the last one is not the only one compared.
    const reversed = createBearerVerifier([PREVIOUS, CURRENT]);
    expect([`Bearer ${CURRENT}`, `Bearer ${PREVIOUS}`].map(reversed)).toEqual([true, true]);
  });

  test('a key is not accepted in place of the header it is part of: the token is exactly the key', () => {
    // A key made of the visible characters the header allows is matched as a whole.
    const key = 'k!~#';
    const verify = createBearerVerifier([key]);
    expect([`Bearer ${key}`, 'Bearer k!~', 'Bearer !~#', `Bearer ${key}${key}`].map(verify)).toEqual([true, false, false, false]);
  });
});
