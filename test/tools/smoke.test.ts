import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { FirstDeploymentVerdict } from '../../tools/smoke/first-deployment';
import { handleHook, HookDeps } from '../../tools/smoke/hook-handler';
import { main } from '../../tools/smoke/cli';
import { ApiKeySecretError, currentApiKey } from '../../tools/smoke/secrets';
import { runSmokeTest, SmokeTestOptions, SmokeTestResult } from '../../tools/smoke/smoke-test';

const API_KEY = 'smoke-test-key-not-a-real-secret-000000';
/** The API key secret as the stack generates it: the key clients use now, and none before it. */
const SECRET_JSON = JSON.stringify({ current: API_KEY, previous: '' });
/** Mid-rotation: the service accepts both; the smoke test must present current. */
const ROTATING_JSON = JSON.stringify({ current: API_KEY, previous: 'previous-key-not-a-real-secret-11111111' });
const CARD = '4111111111111111';

/** How the fake service misbehaves in a test. */
interface Behaviour {
  readyStatus?: number;
  echoCard?: boolean;
  paymentStatus?: string;
  hang?: boolean;
}

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A local stand-in for the payment service's routes. */
async function startService(behaviour: Behaviour = {}): Promise<{ server: Server; baseUrl: string; received: Received[] }> {
  const received: Received[] = [];
  const payments = new Map<string, object>();
  const send = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (behaviour.hang) return;
      if (req.url === '/health/live') return send(res, 200, { status: 'ok' });
      if (req.url === '/health/ready') return send(res, behaviour.readyStatus ?? 200, { status: 'ready' });
      if (req.headers.authorization !== `Bearer ${API_KEY}`) return send(res, 401, { error: 'unauthorized' });
      if (req.method === 'POST' && req.url === '/v1/payments') {
        const request = JSON.parse(body) as { amount: number; card: { number: string } };
        const payment = {
          id: 'pay_0123456789abcdefghijkl',
          status: behaviour.paymentStatus ?? 'approved',
          amount: request.amount,
          card: {
            brand: 'visa',
            last4: request.card.number.slice(-4),
            token: 'tok_abc',
            ...(behaviour.echoCard ? { number: request.card.number } : {}),
          },
        };
        payments.set(payment.id, payment);
        return send(res, 201, payment);
      }
      const match = /^\/v1\/payments\/([^/]+)$/.exec(req.url ?? '');
      const found = match?.[1] ? payments.get(match[1]) : undefined;
      return found ? send(res, 200, found) : send(res, 404, { error: 'not_found' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, baseUrl: `http://127.0.0.1:${port}`, received };
}

async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

const failed = (result: SmokeTestResult): SmokeTestResult['steps'][number] | undefined => result.steps.find((s) => !s.ok);

describe('runSmokeTest against a local service', () => {
  let server: Server | undefined;
  afterEach(async () => {
    if (server) await stop(server);
    server = undefined;
  });

  test('GIVEN a healthy service THEN every step passes, with the right request and no secret in the result', async () => {
    const service = await startService();
    server = service.server;

    const result = await runSmokeTest({ baseUrl: service.baseUrl, apiKey: API_KEY, timeoutMs: 2000, now: () => Date.parse('2026-03-01T00:00:00Z') });

    expect(result.ok).toBe(true);
    expect(result.steps.map((s) => [s.name, s.ok, s.status])).toEqual([
      ['GET /health/live', true, 200],
      ['GET /health/ready', true, 200],
      ['POST /v1/payments', true, 201],
      ['GET /v1/payments/:id', true, 200],
    ]);
    const post = service.received.find((r) => r.method === 'POST');
    expect(post?.headers['idempotency-key']).toMatch(/^smoke-[0-9a-f-]{36}$/);
    expect(post?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(post?.body ?? '{}')).toEqual({
      amount: 100,
      currency: 'USD',
      card: { number: CARD, expMonth: 12, expYear: 2028, cvc: '123' },
      description: 'smoke test',
    });
    expect(JSON.stringify(result)).not.toContain(API_KEY);
    expect(JSON.stringify(result)).not.toContain(CARD);
  });

  test('GIVEN readiness answers 503 THEN fails at that step and stops', async () => {
    const service = await startService({ readyStatus: 503 });
    server = service.server;

    const result = await runSmokeTest({ baseUrl: service.baseUrl, apiKey: API_KEY, timeoutMs: 2000 });

    expect(result.ok).toBe(false);
    expect(failed(result)).toMatchObject({ name: 'GET /health/ready', status: 503, error: 'HTTP 503, expected 200' });
    expect(result.steps).toHaveLength(2);
  });

  test('GIVEN the response echoes the full card number THEN fails without repeating it', async () => {
    const service = await startService({ echoCard: true });
    server = service.server;

    const result = await runSmokeTest({ baseUrl: service.baseUrl, apiKey: API_KEY, timeoutMs: 2000 });

    expect(failed(result)).toMatchObject({ name: 'POST /v1/payments', error: 'response contains the full card number' });
    expect(JSON.stringify(result)).not.toContain(CARD);
  });

  test('GIVEN the payment is not approved THEN fails naming the status', async () => {
    const service = await startService({ paymentStatus: 'declined' });
    server = service.server;

    const result = await runSmokeTest({ baseUrl: service.baseUrl, apiKey: API_KEY, timeoutMs: 2000 });

    expect(failed(result)).toMatchObject({ name: 'POST /v1/payments', error: 'payment status is "declined", expected "approved"' });
  });

  test('GIVEN a wrong API key THEN fails at the payment step with 401', async () => {
    const service = await startService();
    server = service.server;

    const result = await runSmokeTest({ baseUrl: service.baseUrl, apiKey: 'wrong-key', timeoutMs: 2000 });

    expect(result.ok).toBe(false);
    expect(failed(result)).toMatchObject({ name: 'POST /v1/payments', status: 401, error: 'HTTP 401, expected 201' });
    expect(result.steps).toHaveLength(3);
    expect(service.received.find((r) => r.method === 'POST')?.headers.authorization).toBe('Bearer wrong-key');
  });

  test('GIVEN a service that never answers THEN times out', async () => {
    const service = await startService({ hang: true });
    server = service.server;

    const result = await runSmokeTest({ baseUrl: service.baseUrl, apiKey: API_KEY, timeoutMs: 200 });

    expect(result.ok).toBe(false);
    expect(failed(result)).toMatchObject({ name: 'GET /health/live', error: 'timed out after 200ms' });
  });

  test('GIVEN nothing listens on the port THEN reports it unreachable', async () => {
    const service = await startService();
    await stop(service.server);

    const result = await runSmokeTest({ baseUrl: service.baseUrl, apiKey: API_KEY, timeoutMs: 2000 });

    expect(failed(result)).toMatchObject({ name: 'GET /health/live', error: 'unreachable (ECONNREFUSED)' });
  });

  test('GIVEN a malformed base URL THEN fails at config without throwing', async () => {
    const result = await runSmokeTest({ baseUrl: 'payments.internal', apiKey: API_KEY, timeoutMs: 200 });
    expect(result).toEqual({
      ok: false,
      steps: [{ name: 'config', ok: false, ms: 0, error: 'baseUrl must be an http(s) URL, got: "payments.internal"' }],
    });
  });
});

const PAYMENT_ID = 'pay_0123456789abcdefghijkl';
/** The payment the service answers for the published test card. */
const PAYMENT = { id: PAYMENT_ID, status: 'approved', amount: 100, card: { brand: 'visa', last4: '1111', token: 'tok_abc' } };
const SCRIPTED_BASE = 'https://payments.example.com';
/** Time each scripted request takes on the injected clock. */
const REQUEST_MS = 25;
const TIMEOUT_MS = 250;

/** What the scripted service does for one request: answer a status and a body (a string is sent as it is), or fail. */
type Answer = { status: number; body: unknown } | { fails: unknown } | { response: Response };

const HEALTHY: Record<string, Answer> = {
  'GET /health/live': { status: 200, body: { status: 'ok' } },
  'GET /health/ready': { status: 200, body: { status: 'ready' } },
  'POST /v1/payments': { status: 201, body: PAYMENT },
  [`GET /v1/payments/${PAYMENT_ID}`]: { status: 200, body: PAYMENT },
};

/**
 * A fetch that answers from a script (keyed by method and path under `base`), and a clock that only moves while a
 * request is in flight, by REQUEST_MS each: a step's duration is exactly the time of its request.
 */
function scripted(overrides: Record<string, Answer> = {}, base = SCRIPTED_BASE): { fetchImpl: typeof fetch; now: () => number; requests: string[] } {
  const answers: Record<string, Answer> = { ...HEALTHY, ...overrides };
  const root = base.replace(/\/$/, '');
  const requests: string[] = [];
  let clock = Date.parse('2026-03-01T00:00:00Z');
  const fetchImpl = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = String(input);
    const method = init?.method ?? 'GET';
    requests.push(`${method} ${url}`);
    clock += REQUEST_MS;
    const answer = url.startsWith(`${root}/`) ? answers[`${method} ${url.slice(root.length)}`] : undefined;
    if (answer === undefined) return new Response('{"error":"not_found"}', { status: 404 });
    if ('fails' in answer) throw answer.fails;
    if ('response' in answer) return answer.response;
    return new Response(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body), { status: answer.status });
  };
  return { fetchImpl, now: () => clock, requests };
}

describe('runSmokeTest against a scripted service', () => {
  const run = (service: ReturnType<typeof scripted>, overrides: Partial<SmokeTestOptions> = {}): Promise<SmokeTestResult> =>
    runSmokeTest({ baseUrl: SCRIPTED_BASE, apiKey: API_KEY, timeoutMs: TIMEOUT_MS, fetchImpl: service.fetchImpl, now: service.now, ...overrides });

  test('GIVEN an https service THEN every step passes, each timed from its start to its end on the injected clock', async () => {
    const service = scripted();

    const result = await run(service);

    expect(result).toStrictEqual({
      ok: true,
      steps: [
        { name: 'GET /health/live', ok: true, status: 200, ms: REQUEST_MS },
        { name: 'GET /health/ready', ok: true, status: 200, ms: REQUEST_MS },
        { name: 'POST /v1/payments', ok: true, status: 201, ms: REQUEST_MS },
        { name: 'GET /v1/payments/:id', ok: true, status: 200, ms: REQUEST_MS },
      ],
    });
    expect(service.requests).toEqual([
      `GET ${SCRIPTED_BASE}/health/live`,
      `GET ${SCRIPTED_BASE}/health/ready`,
      `POST ${SCRIPTED_BASE}/v1/payments`,
      `GET ${SCRIPTED_BASE}/v1/payments/${PAYMENT_ID}`,
    ]);
  });

  test.each([`${SCRIPTED_BASE}/stage`, `${SCRIPTED_BASE}/stage/`])(
    'GIVEN the base URL %s THEN every request goes under its path',
    async (baseUrl) => {
      const service = scripted({}, baseUrl);

      const result = await run(service, { baseUrl });

      expect(result.ok).toBe(true);
      expect(service.requests).toEqual([
        `GET ${SCRIPTED_BASE}/stage/health/live`,
        `GET ${SCRIPTED_BASE}/stage/health/ready`,
        `POST ${SCRIPTED_BASE}/stage/v1/payments`,
        `GET ${SCRIPTED_BASE}/stage/v1/payments/${PAYMENT_ID}`,
      ]);
    },
  );

  test.each(['ftp://payments.example.com', 'file:///etc/payments'])(
    'GIVEN the non-http base URL %s THEN fails at config, sending nothing',
    async (baseUrl) => {
      const service = scripted();

      const result = await run(service, { baseUrl });

      expect(result).toStrictEqual({
        ok: false,
        steps: [{ name: 'config', ok: false, ms: 0, error: `baseUrl must be an http(s) URL, got: ${JSON.stringify(baseUrl)}` }],
      });
      expect(service.requests).toEqual([]);
    },
  );

  test.each<[string, string]>([
    ['an array', '[{"status":"ok"}]'],
    ['null', 'null'],
    ['a number', '5'],
    ['a string', '"ok"'],
    ['not JSON', 'ok'],
  ])('GIVEN a body that is %s THEN the step fails with its status', async (_what, body) => {
    const service = scripted({ 'GET /health/live': { status: 200, body } });

    const result = await run(service);

    expect(result).toStrictEqual({
      ok: false,
      steps: [{ name: 'GET /health/live', ok: false, status: 200, ms: REQUEST_MS, error: 'response body is not a JSON object' }],
    });
  });

  const named = (name: string, message = name): Error => Object.assign(new Error(message), { name });
  test.each<[string, unknown, string]>([
    ['an abort', named('AbortError', 'This operation was aborted'), `timed out after ${TIMEOUT_MS}ms`],
    ['a timeout', named('TimeoutError', 'The operation was aborted due to timeout'), `timed out after ${TIMEOUT_MS}ms`],
    [
      'a DNS failure',
      new TypeError('fetch failed', { cause: Object.assign(new Error('getaddrinfo'), { code: 'ENOTFOUND' }) }),
      'unreachable (ENOTFOUND)',
    ],
    ['a cause without a code', new TypeError('fetch failed', { cause: new Error('bad port') }), 'request failed (TypeError: bad port)'],
    ['an error without a cause', new TypeError('fetch failed'), 'request failed (TypeError)'],
    ['a nameless object with a cause message', { cause: { message: 'other side closed' } }, 'request failed (unknown error: other side closed)'],
    ['null', null, 'request failed (unknown error)'],
    ['a string', 'offline', 'request failed (unknown error)'],
  ])('GIVEN fetch fails with %s THEN the step fails with no status, saying why', async (_what, failure, error) => {
    const service = scripted({ 'GET /health/live': { fails: failure } });

    const result = await run(service);

    expect(result).toStrictEqual({ ok: false, steps: [{ name: 'GET /health/live', ok: false, ms: REQUEST_MS, error }] });
  });

  test('GIVEN the body breaks off while being read THEN the step fails with the status, saying why', async () => {
    const aborted = Object.assign(new Response(null, { status: 200 }), {
      text: (): Promise<string> => Promise.reject(named('AbortError', 'This operation was aborted')),
    });
    const service = scripted({ 'GET /health/live': { response: aborted } });

    const result = await run(service);

    expect(result).toStrictEqual({
      ok: false,
      steps: [{ name: 'GET /health/live', ok: false, status: 200, ms: REQUEST_MS, error: `reading the body: timed out after ${TIMEOUT_MS}ms` }],
    });
  });

  test.each<[string, () => string, string]>([
    [
      'an Error',
      () => {
        throw new RangeError('no entropy');
      },
      'unexpected error (RangeError)',
    ],
    [
      'a non-Error',
      () => {
        throw 'no entropy';
      },
      'unexpected error (unknown)',
    ],
  ])('GIVEN the idempotency key source throws %s THEN the payment step fails naming only its kind', async (_what, idSource, error) => {
    const service = scripted();

    const result = await run(service, { idSource });

    expect(result.ok).toBe(false);
    expect(result.steps.at(-1)).toStrictEqual({ name: 'POST /v1/payments', ok: false, ms: 0, error });
    expect(service.requests).toEqual([`GET ${SCRIPTED_BASE}/health/live`, `GET ${SCRIPTED_BASE}/health/ready`]);
  });

  const CARD_RULE = 'response card must have last4 "1111", a brand and a token';
  test.each<[string, object, string]>([
    ['an empty id', { ...PAYMENT, id: '' }, 'response has no payment id'],
    ['a numeric id', { ...PAYMENT, id: 42 }, 'response has no payment id'],
    ['no card', { ...PAYMENT, card: undefined }, CARD_RULE],
    ['a null card', { ...PAYMENT, card: null }, CARD_RULE],
    ['another last4', { ...PAYMENT, card: { ...PAYMENT.card, last4: '4242' } }, CARD_RULE],
    ['a card without a brand', { ...PAYMENT, card: { ...PAYMENT.card, brand: undefined } }, CARD_RULE],
    ['a card without a token', { ...PAYMENT, card: { ...PAYMENT.card, token: undefined } }, CARD_RULE],
    ['a card with an empty token', { ...PAYMENT, card: { ...PAYMENT.card, token: '' } }, CARD_RULE],
  ])('GIVEN the payment comes back with %s THEN the payment step fails and it is not read back', async (_what, payment, error) => {
    const service = scripted({ 'POST /v1/payments': { status: 201, body: payment } });

    const result = await run(service);

    expect(result.ok).toBe(false);
    expect(result.steps.at(-1)).toStrictEqual({ name: 'POST /v1/payments', ok: false, status: 201, ms: REQUEST_MS, error });
    expect(service.requests).toHaveLength(3);
  });

  test('GIVEN reading the payment back returns another payment THEN the read step fails', async () => {
    const service = scripted({ [`GET /v1/payments/${PAYMENT_ID}`]: { status: 200, body: { ...PAYMENT, id: 'pay_zyxwvutsrqponmlkjihgfedc' } } });

    const result = await run(service);

    expect(result.ok).toBe(false);
    expect(result.steps.at(-1)).toStrictEqual({
      name: 'GET /v1/payments/:id',
      ok: false,
      status: 200,
      ms: REQUEST_MS,
      error: 'returned a different payment id',
    });
  });
});

describe('lifecycle hook handler', () => {
  let server: Server | undefined;
  let logs: string[];
  afterEach(async () => {
    if (server) await stop(server);
    server = undefined;
  });
  beforeEach(() => {
    logs = [];
  });

  const LATER: FirstDeploymentVerdict = { first: false, reason: 'deployment d-2 replaces revision 1' };
  const deps = (
    env: NodeJS.ProcessEnv,
    getSecret: HookDeps['getSecret'] = async () => API_KEY,
    checkFirstDeployment: HookDeps['checkFirstDeployment'] = async () => LATER,
  ): HookDeps => ({
    env,
    getSecret,
    runSmoke: (opts) => runSmokeTest(opts),
    checkFirstDeployment,
    log: (line) => logs.push(line),
  });
  const SERVICE_ARN = 'arn:aws:ecs:eu-west-1:123456789012:service/tap-cluster/payments';
  const REVISION_ARN = 'arn:aws:ecs:eu-west-1:123456789012:service-revision/tap-cluster/payments/01275892';
  /**
   * A POST_TEST_TRAFFIC_SHIFT invocation as ECS sends it: the developer guide's payload (Lifecycle payloads) inside
   * `executionDetails`, the stage beside it, as AWS's sample hooks read it.
   */
  const event = {
    executionDetails: { serviceArn: SERVICE_ARN, targetServiceRevisionArn: REVISION_ARN, testTrafficWeights: {}, productionTrafficWeights: {} },
    lifecycleStage: 'POST_TEST_TRAFFIC_SHIFT',
  };
  const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tap/api-key';

  test('GIVEN the payload as ECS sends it THEN the log names its stage, service and revision', async () => {
    const checkFirst = jest.fn(async () => LATER);

    await handleHook(event, deps({ API_KEY_SECRET_ARN: SECRET_ARN }, undefined, checkFirst));

    expect(logs[0]).toBe(`smoke hook invoked: stage POST_TEST_TRAFFIC_SHIFT service ${SERVICE_ARN} revision ${REVISION_ARN}`);
    expect(checkFirst).toHaveBeenCalledWith({
      lifecycleStage: 'POST_TEST_TRAFFIC_SHIFT',
      serviceArn: SERVICE_ARN,
      targetServiceRevisionArn: REVISION_ARN,
    });
  });

  test("GIVEN the service's first deployment THEN SUCCEEDED without a smoke test, with the reason logged", async () => {
    const runSmoke = jest.fn(runSmokeTest);
    const first: FirstDeploymentVerdict = { first: true, reason: 'deployment d-1 is the first of payments: it has no source service revision' };

    const answer = await handleHook(event, { ...deps({}, undefined, async () => first), runSmoke });

    expect(answer).toEqual({ hookStatus: 'SUCCEEDED' });
    expect(runSmoke).not.toHaveBeenCalled();
    expect(logs[1]).toBe(`smoke hook SUCCEEDED without a smoke test, first deployment of the service: ${first.reason}`);
  });

  test('GIVEN a later deployment whose revision is not ready THEN the smoke test runs and answers FAILED', async () => {
    const service = await startService({ readyStatus: 503 });
    server = service.server;

    const answer = await handleHook(event, deps({ TEST_URL: service.baseUrl, API_KEY_SECRET_ARN: SECRET_ARN }));

    expect(answer).toEqual({ hookStatus: 'FAILED' });
    expect(logs[1]).toBe(`smoke test required: ${LATER.reason}`);
    // The FAILED comes from the smoke test itself: it reached the revision and stopped at readiness.
    expect(service.received.map((r) => r.url)).toEqual(['/health/live', '/health/ready']);
    expect(logs.at(-1)).toBe('smoke hook FAILED');
  });

  test('GIVEN the first-deployment check itself throws THEN the smoke test still decides', async () => {
    const service = await startService({ readyStatus: 503 });
    server = service.server;
    const broken = async (): Promise<FirstDeploymentVerdict> => {
      throw new TypeError('boom');
    };

    const answer = await handleHook(event, deps({ TEST_URL: service.baseUrl, API_KEY_SECRET_ARN: SECRET_ARN }, undefined, broken));

    expect(answer).toEqual({ hookStatus: 'FAILED' });
    expect(logs[1]).toBe('smoke test required: first-deployment check failed (TypeError)');
    expect(service.received.map((r) => r.url)).toEqual(['/health/live', '/health/ready']);
    expect(logs.at(-1)).toBe('smoke hook FAILED');
  });

  test('GIVEN the new revision passes THEN SUCCEEDED, and the logs hold no secret', async () => {
    const service = await startService();
    server = service.server;
    const getSecret = jest.fn(async () => API_KEY);

    await expect(handleHook(event, deps({ TEST_URL: service.baseUrl, API_KEY_SECRET_ARN: SECRET_ARN }, getSecret))).resolves.toEqual({
      hookStatus: 'SUCCEEDED',
    });
    expect(getSecret).toHaveBeenCalledTimes(1);
    expect(getSecret).toHaveBeenCalledWith(SECRET_ARN);
    expect(service.received.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /health/live',
      'GET /health/ready',
      'POST /v1/payments',
      'GET /v1/payments/pay_0123456789abcdefghijkl',
    ]);
    expect(logs[0]).toBe(`smoke hook invoked: stage POST_TEST_TRAFFIC_SHIFT service ${SERVICE_ARN} revision ${REVISION_ARN}`);
    expect(logs.at(-1)).toBe('smoke hook SUCCEEDED');
    expect(logs.join('\n')).not.toContain(API_KEY);
    expect(logs.join('\n')).not.toContain(CARD);
  });

  test('GIVEN the new revision is not ready THEN FAILED (ECS rolls back)', async () => {
    const service = await startService({ readyStatus: 503 });
    server = service.server;

    await expect(handleHook(event, deps({ TEST_URL: service.baseUrl, API_KEY_SECRET_ARN: SECRET_ARN }))).resolves.toEqual({ hookStatus: 'FAILED' });
    const report = logs.find((l) => l.startsWith(`smoke test against ${service.baseUrl}:`)) ?? '';
    expect(
      report
        .split('\n')
        .slice(1)
        .map((l) => l.replace(/ +\d+ms/, ' <ms>')),
    ).toEqual([`PASS ${'GET /health/live'.padEnd(22)} 200 <ms>`, `FAIL ${'GET /health/ready'.padEnd(22)} 503 <ms>  HTTP 503, expected 200`]);
    expect(logs.at(-1)).toBe('smoke hook FAILED');
  });

  test('GIVEN the JSON API key secret THEN the hook presents its current key and SUCCEEDS; the logs hold neither key', async () => {
    const service = await startService();
    server = service.server;

    const answer = await handleHook(
      event,
      deps({ TEST_URL: service.baseUrl, API_KEY_SECRET_ARN: SECRET_ARN }, async () => ROTATING_JSON),
    );

    expect(answer).toEqual({ hookStatus: 'SUCCEEDED' });
    expect(logs.at(-1)).toBe('smoke hook SUCCEEDED');
    expect(service.received.filter((r) => r.url.startsWith('/v1/')).map((r) => r.headers.authorization)).toEqual([
      `Bearer ${API_KEY}`,
      `Bearer ${API_KEY}`,
    ]);
    expect(logs.join('\n')).not.toContain(API_KEY);
    expect(logs.join('\n')).not.toContain('previous-key-not-a-real-secret');
  });

  test('GIVEN a malformed JSON secret THEN FAILED naming the secret, never its value, and no request is sent', async () => {
    const service = await startService();
    server = service.server;
    const broken = `{"current": "${API_KEY}"`;

    const answer = await handleHook(
      event,
      deps({ TEST_URL: service.baseUrl, API_KEY_SECRET_ARN: SECRET_ARN }, async () => broken),
    );

    expect(answer).toEqual({ hookStatus: 'FAILED' });
    expect(logs).toContain(
      `smoke hook FAILED: secret ${SECRET_ARN} starts with "{" but is not valid JSON (expected {"current": "...", "previous": "..."})`,
    );
    expect(logs.join('\n')).not.toContain(API_KEY);
    expect(service.received).toEqual([]);
  });

  test('GIVEN the secret cannot be read THEN FAILED with a hint', async () => {
    // A healthy service behind TEST_URL: the FAILED can only come from the secret, not from an unreachable URL.
    const service = await startService();
    server = service.server;
    const denied = async (): Promise<string> => {
      throw Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' });
    };
    await expect(handleHook(event, deps({ TEST_URL: service.baseUrl, API_KEY_SECRET_ARN: SECRET_ARN }, denied))).resolves.toEqual({
      hookStatus: 'FAILED',
    });
    expect(logs.at(-1)).toBe(
      `smoke hook FAILED: cannot read ${SECRET_ARN} (AccessDeniedException); check the hook role's secretsmanager:GetSecretValue and kms:Decrypt`,
    );
    expect(service.received).toEqual([]);
  });

  test('GIVEN TEST_URL is missing THEN FAILED naming it', async () => {
    const getSecret = jest.fn(async () => API_KEY);
    await expect(handleHook(event, deps({ API_KEY_SECRET_ARN: SECRET_ARN }, getSecret))).resolves.toEqual({ hookStatus: 'FAILED' });
    expect(logs.at(-1)).toBe('smoke hook FAILED: TEST_URL and API_KEY_SECRET_ARN must be set (TEST_URL=missing, API_KEY_SECRET_ARN=set)');
    expect(getSecret).not.toHaveBeenCalled();
  });

  test('GIVEN API_KEY_SECRET_ARN is missing THEN FAILED naming it, without reading any secret', async () => {
    const service = await startService();
    server = service.server;
    const getSecret = jest.fn(async () => 'unused');
    await expect(handleHook(event, deps({ TEST_URL: service.baseUrl }, getSecret))).resolves.toEqual({ hookStatus: 'FAILED' });
    expect(logs.at(-1)).toBe('smoke hook FAILED: TEST_URL and API_KEY_SECRET_ARN must be set (TEST_URL=set, API_KEY_SECRET_ARN=missing)');
    expect(getSecret).not.toHaveBeenCalled();
    expect(service.received).toEqual([]);
  });

  test.each(['0', '-5', '1.5', 'soon'])(
    'GIVEN SMOKE_TIMEOUT_MS=%s THEN FAILED naming the value, without reading any secret or sending a request',
    async (raw) => {
      const service = await startService();
      server = service.server;
      const getSecret = jest.fn(async () => API_KEY);

      const answer = await handleHook(event, deps({ TEST_URL: service.baseUrl, API_KEY_SECRET_ARN: SECRET_ARN, SMOKE_TIMEOUT_MS: raw }, getSecret));

      expect(answer).toEqual({ hookStatus: 'FAILED' });
      expect(logs.at(-1)).toBe(`smoke hook FAILED: SMOKE_TIMEOUT_MS must be a positive integer, got: ${JSON.stringify(raw)}`);
      expect(getSecret).not.toHaveBeenCalled();
      expect(service.received).toEqual([]);
    },
  );

  test('GIVEN settings padded with whitespace THEN the hook uses them trimmed', async () => {
    const getSecret = jest.fn(async () => API_KEY);
    const runSmoke = jest.fn(async (): Promise<SmokeTestResult> => ({ ok: true, steps: [] }));
    const env = { TEST_URL: ' https://test.payments.example.com:8443\n', API_KEY_SECRET_ARN: `\t${SECRET_ARN} `, SMOKE_TIMEOUT_MS: ' 3000 ' };

    const answer = await handleHook(event, { ...deps(env, getSecret), runSmoke });

    expect(answer).toEqual({ hookStatus: 'SUCCEEDED' });
    expect(getSecret.mock.calls).toEqual([[SECRET_ARN]]);
    expect(runSmoke.mock.calls).toEqual([[{ baseUrl: 'https://test.payments.example.com:8443', apiKey: API_KEY, timeoutMs: 3000 }]]);
    expect(logs.slice(2)).toEqual(['smoke test against https://test.payments.example.com:8443:\n', 'smoke hook SUCCEEDED']);
  });

  test('GIVEN SMOKE_TIMEOUT_MS holds only whitespace THEN the default timeout applies', async () => {
    const runSmoke = jest.fn(async (): Promise<SmokeTestResult> => ({ ok: true, steps: [] }));

    const answer = await handleHook(event, {
      ...deps({ TEST_URL: 'http://alb:8080', API_KEY_SECRET_ARN: SECRET_ARN, SMOKE_TIMEOUT_MS: '  ' }),
      runSmoke,
    });

    expect(answer).toEqual({ hookStatus: 'SUCCEEDED' });
    expect(runSmoke.mock.calls).toEqual([[{ baseUrl: 'http://alb:8080', apiKey: API_KEY, timeoutMs: 5000 }]]);
  });

  test('GIVEN a padded SMOKE_TIMEOUT_MS that is not a number THEN FAILED quoting it trimmed', async () => {
    const answer = await handleHook(event, deps({ TEST_URL: 'http://alb:8080', API_KEY_SECRET_ARN: SECRET_ARN, SMOKE_TIMEOUT_MS: ' soon ' }));

    expect(answer).toEqual({ hookStatus: 'FAILED' });
    expect(logs.at(-1)).toBe('smoke hook FAILED: SMOKE_TIMEOUT_MS must be a positive integer, got: "soon"');
  });

  test('GIVEN the first-deployment check rejects with something other than an Error THEN the smoke test is required, calling it an error', async () => {
    const odd = (): Promise<FirstDeploymentVerdict> => Promise.reject('ECS answered nonsense');

    const answer = await handleHook(event, deps({ API_KEY_SECRET_ARN: SECRET_ARN }, undefined, odd));

    expect(answer).toEqual({ hookStatus: 'FAILED' });
    expect(logs.slice(1)).toEqual([
      'smoke test required: first-deployment check failed (error)',
      'smoke hook FAILED: TEST_URL and API_KEY_SECRET_ARN must be set (TEST_URL=missing, API_KEY_SECRET_ARN=set)',
    ]);
  });

  test('GIVEN reading the secret rejects with something other than an Error THEN FAILED with a hint, calling it an error', async () => {
    const odd = (): Promise<string> => Promise.reject({ code: 'AccessDenied' });

    const answer = await handleHook(event, deps({ TEST_URL: 'http://alb:8080', API_KEY_SECRET_ARN: SECRET_ARN }, odd));

    expect(answer).toEqual({ hookStatus: 'FAILED' });
    expect(logs.at(-1)).toBe(
      `smoke hook FAILED: cannot read ${SECRET_ARN} (error); check the hook role's secretsmanager:GetSecretValue and kms:Decrypt`,
    );
  });
});

describe('smoke CLI', () => {
  let server: Server | undefined;
  beforeEach(() => {
    jest.spyOn(console, 'log').mockImplementation(() => undefined);
    jest.spyOn(console, 'error').mockImplementation(() => undefined);
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    if (server) await stop(server);
    server = undefined;
  });

  test('exits 0 on success and 1 on failure', async () => {
    const service = await startService();
    server = service.server;
    await expect(main({ BASE_URL: service.baseUrl, API_KEY_SECRET_ARN: 'arn:secret' }, async () => API_KEY)).resolves.toBe(0);
    expect(console.log).toHaveBeenLastCalledWith('smoke: passed');
    expect(console.error).not.toHaveBeenCalled();
    await expect(main({ BASE_URL: service.baseUrl, API_KEY: 'wrong-key' })).resolves.toBe(1);
    expect((console.error as jest.Mock).mock.calls).toEqual([
      ['smoke: FAILED; see the failing step above and the service logs (CloudWatch log group of the ECS service)'],
    ]);
    expect((console.log as jest.Mock).mock.calls.at(-1)?.[0]).toMatch(/FAIL POST \/v1\/payments +401 .*HTTP 401, expected 201$/);
  });

  test('GIVEN the JSON API key secret THEN presents current (not previous) and exits 0; a current key the service refuses exits 1', async () => {
    const service = await startService();
    server = service.server;

    await expect(main({ BASE_URL: service.baseUrl, API_KEY_SECRET_ARN: 'arn:secret' }, async () => ROTATING_JSON)).resolves.toBe(0);
    // The previous key alone would pass; presenting current, which the service does not know, must fail
    const stale = JSON.stringify({ current: 'not-the-key-the-service-knows-22222222', previous: API_KEY });
    await expect(main({ BASE_URL: service.baseUrl, API_KEY_SECRET_ARN: 'arn:secret' }, async () => stale)).resolves.toBe(1);
    // A plain API_KEY in the same JSON form works too (local runs)
    await expect(main({ BASE_URL: service.baseUrl, API_KEY: SECRET_JSON })).resolves.toBe(0);
  });

  test('GIVEN a secret whose JSON has no current key THEN exits 2 naming the secret, never printing the value', async () => {
    const value = JSON.stringify({ previous: API_KEY });
    await expect(main({ BASE_URL: 'http://127.0.0.1:1', API_KEY_SECRET_ARN: 'arn:secret' }, async () => value)).resolves.toBe(2);
    const printed = (console.error as jest.Mock).mock.calls.flat().join('\n');
    expect(printed).toBe(
      'smoke: cannot start: secret arn:secret is JSON without a non-empty string field "current" (expected {"current": "...", "previous": "..."})',
    );
    expect(printed).not.toContain(API_KEY);
  });

  test('exits 2 when no key source is set', async () => {
    await expect(main({ BASE_URL: 'http://127.0.0.1:1' })).resolves.toBe(2);
    expect((console.error as jest.Mock).mock.calls).toEqual([['smoke: cannot start: set API_KEY_SECRET_ARN (preferred) or API_KEY']]);
    expect(console.log).not.toHaveBeenCalled();
  });
});

describe('currentApiKey', () => {
  test('takes current from the JSON secret, with or without previous', () => {
    expect(currentApiKey(SECRET_JSON, 'secret s')).toBe(API_KEY);
    expect(currentApiKey(ROTATING_JSON, 'secret s')).toBe(API_KEY);
    expect(currentApiKey(JSON.stringify({ current: API_KEY }), 'secret s')).toBe(API_KEY);
    expect(currentApiKey(`  ${SECRET_JSON}\n`, 'secret s')).toBe(API_KEY);
  });

  test('accepts a plain key (a secret from before the JSON format) as it is', () => {
    expect(currentApiKey(API_KEY, 'secret s')).toBe(API_KEY);
  });

  const EXPECTED_FORM = '(expected {"current": "...", "previous": "..."})';
  test.each([
    ['malformed JSON', `{"current": "${API_KEY}", previous}`, `secret s starts with "{" but is not valid JSON ${EXPECTED_FORM}`],
    ['no current', JSON.stringify({ previous: API_KEY }), `secret s is JSON without a non-empty string field "current" ${EXPECTED_FORM}`],
    [
      'empty current',
      JSON.stringify({ current: '', previous: API_KEY }),
      `secret s is JSON without a non-empty string field "current" ${EXPECTED_FORM}`,
    ],
    ['current not a string', JSON.stringify({ current: [API_KEY] }), `secret s is JSON without a non-empty string field "current" ${EXPECTED_FORM}`],
    [
      'blank current',
      JSON.stringify({ current: ' \t ', previous: API_KEY }),
      `secret s is JSON without a non-empty string field "current" ${EXPECTED_FORM}`,
    ],
    ['empty value', '   ', 'secret s is empty'],
  ])('refuses %s, and the message never holds the value', (_what, value, message) => {
    let caught: unknown = 'nothing thrown';
    try {
      currentApiKey(value, 'secret s');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ApiKeySecretError);
    expect((caught as Error).name).toBe('ApiKeySecretError');
    expect((caught as Error).message).toBe(message);
    expect((caught as Error).message).not.toContain(API_KEY);
  });
});
