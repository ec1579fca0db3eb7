import { randomBytes } from 'crypto';
import { rawExchange, rawRequest } from './adversarial-helpers';
import type { RawOutcome } from './adversarial-helpers';
import { http, startTestServer } from './helpers';
import type { TestServer } from './helpers';

/**
 * The key check must follow the route the router actually picks, however the request target is spelled.
 * Oracle: a target either reaches a route (with the key it gets that route's answer; without it, 401) or it reaches
 * none, and then every caller, with a key or without, gets the very same answer.
 */

const ID = 'pay_aaaaaaaaaaaaaaaaaaaaaa';

function pct(ch: string, lower = false): string {
  const hex = Array.from(Buffer.from(ch, 'utf8'), (b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
  return lower ? hex.toLowerCase() : hex;
}

/** Spellings of one path an HTTP router might (or might not) normalise back to it. */
function spellings(path: string): string[] {
  const out = new Set<string>([path]);
  const chars = path.split('');
  chars.forEach((ch, i) => {
    if (ch === '/') {
      out.add(`${path.slice(0, i)}%2F${path.slice(i + 1)}`);
      out.add(`${path.slice(0, i)}%2f${path.slice(i + 1)}`);
      out.add(`${path.slice(0, i)}//${path.slice(i + 1)}`);
      out.add(`${path.slice(0, i)}/./${path.slice(i + 1)}`);
      out.add(`${path.slice(0, i)}/x/../${path.slice(i + 1)}`);
      out.add(`${path.slice(0, i)}/%2e/${path.slice(i + 1)}`);
      out.add(`${path.slice(0, i)}\\${path.slice(i + 1)}`);
      out.add(`${path.slice(0, i)};x/${path.slice(i + 1)}`);
    } else {
      out.add(`${path.slice(0, i)}${pct(ch)}${path.slice(i + 1)}`);
      out.add(`${path.slice(0, i)}${pct(ch, true)}${path.slice(i + 1)}`);
      out.add(`${path.slice(0, i)}${ch.toUpperCase()}${path.slice(i + 1)}`);
    }
  });
  const allEncoded = chars.map((ch) => (ch === '/' ? '/' : pct(ch))).join('');
  for (const variant of [
    allEncoded,
    allEncoded.replace(/%/g, '%25'),
    path.toUpperCase(),
    `${path}/`,
    `${path}//`,
    `${path};`,
    `${path};x=1`,
    `${path}?`,
    `${path}?x=1`,
    `${path}#frag`,
    `${path}%3F`,
    `${path}%23`,
    `${path}%00`,
    `${path}%20`,
    `${path}/.`,
    `${path}/..`,
    `/${path}`,
    `/.${path}`,
    path.replace('/v1', '/v1%EF%BC%8F').replace('%EF%BC%8F/', '%EF%BC%8F'),
    path.replace('/v1/', '/v1%C0%AF'),
    path.replace('payments', 'payment%C5%BF'),
    `http://localhost${path}`,
    `HTTP://LOCALHOST${path}`,
    `https://localhost${path}`,
    `http://localhost:80${path}`,
    `http://user:pass@localhost${path}`,
    `http://localhost/${path}`,
    `http://localhost%2F${path}`,
    `x-scheme://h${path}`,
    `//localhost${path}`,
  ]) {
    out.add(variant);
  }
  return [...out];
}

function summary(outcome: RawOutcome): string {
  if (outcome.kind !== 'response') return outcome.kind;
  return `${outcome.response.status} ${outcome.response.body}`;
}

/** Not a route: what every caller gets when nothing is matched (the target is unknown or malformed). */
function isNoRoute(outcome: RawOutcome): boolean {
  if (outcome.kind !== 'response') return true;
  const { status, body } = outcome.response;
  // A malformed target is refused before routing (400): that is not a route either, as long as it is not a route's own 400.
  return (status === 404 && (body === '{"error":"not_found"}' || body === '')) || (status === 400 && !body.includes('validation_failed'));
}

describe('authentication bypass: the key check follows the matched route, whatever the spelling', () => {
  let server: TestServer;
  let wrong: string;
  beforeAll(async () => {
    server = await startTestServer();
    wrong = `Bearer ${randomBytes(24).toString('base64url')}`;
  });
  afterAll(async () => {
    await server.shutdown('test end');
  });

  const cases: [string, string, string | undefined][] = [];
  for (const target of spellings('/v1/payments')) cases.push(['POST', target, '{}']);
  for (const target of spellings(`/v1/payments/${ID}`)) {
    cases.push(['GET', target, undefined]);
    cases.push(['HEAD', target, undefined]);
  }
  cases.push(['GET', '/v1', undefined], ['GET', '/v1/', undefined], ['GET', '/v1/unknown', undefined], ['DELETE', `/v1/payments/${ID}`, undefined]);
  cases.push(['OPTIONS', '*', undefined], ['GET', '*', undefined], ['PUT', '/v1/payments', '{}']);

  test(`${cases.length} spellings of the protected routes: routed -> 401 without a valid key; not routed -> the same answer for everyone`, async () => {
    const failures: string[] = [];
    for (const [method, target, body] of cases) {
      const send = (authorization?: string): Promise<RawOutcome> => {
        const headers: Record<string, string> = { connection: 'close' };
        if (authorization) headers.authorization = authorization;
        if (body !== undefined) {
          headers['content-type'] = 'application/json';
          headers['idempotency-key'] = 'adversarial-key-0001';
        }
        return rawExchange(server.port, rawRequest(method, target, headers, body));
      };
      const withKey = await send(server.auth.authorization);
      const withoutKey = await send();
      const wrongKey = await send(wrong);
      if (isNoRoute(withKey)) {
        if (summary(withoutKey) !== summary(withKey) || summary(wrongKey) !== summary(withKey)) {
          failures.push(
            `${method} ${target}: not routed, answers differ: key=${summary(withKey)} none=${summary(withoutKey)} wrong=${summary(wrongKey)}`,
          );
        }
      } else {
        for (const [name, outcome] of [
          ['none', withoutKey],
          ['wrong', wrongKey],
        ] as const) {
          const ok =
            outcome.kind === 'response' &&
            outcome.response.status === 401 &&
            (method === 'HEAD' ? outcome.response.body === '' : outcome.response.body === '{"error":"unauthorized"}');
          if (!ok) failures.push(`${method} ${target}: routed (key=${summary(withKey)}) but ${name} key got ${summary(outcome)}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });
});

describe('API keys: current and previous both work, nothing else does', () => {
  test('GIVEN a current and a previous key THEN both are accepted and a third key, prefixes and extensions are refused', async () => {
    const current = randomBytes(24).toString('base64url');
    const previous = randomBytes(24).toString('base64url');
    const server = await startTestServer({ config: { apiKeys: [current, previous] } });
    const status = async (authorization: string): Promise<number> =>
      (await http(server.port, { path: `/v1/payments/${ID}`, headers: { authorization } })).status;
    try {
      expect(await status(`Bearer ${current}`)).toBe(404);
      expect(await status(`Bearer ${previous}`)).toBe(404);
      expect(await status(`bearer ${previous}`)).toBe(404);
      for (const bad of [
        `Bearer ${randomBytes(24).toString('base64url')}`,
        `Bearer ${current.slice(0, -1)}`,
        `Bearer ${previous}x`,
        `Bearer ${current}${previous}`,
        `Bearer ${current},${previous}`,
        `Bearer  ${current}`,
        `Basic ${current}`,
        current,
        'Bearer',
      ]) {
        expect(await status(bad)).toBe(401);
      }
    } finally {
      await server.shutdown('test end');
    }
  });
});
