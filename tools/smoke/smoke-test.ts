/**
 * Post-deploy smoke test of the payment API: liveness, readiness, one payment with a published test card, and
 * reading it back. It never throws: every outcome is a step result the caller logs and turns into a verdict.
 * Results and reasons never contain the API key, the card number or a response body (which could echo either).
 */
import { randomUUID } from 'node:crypto';

/** The card networks' published Visa test number; never a real card. */
export const TEST_CARD_NUMBER = '4111111111111111';

/** Settings of one smoke run. */
export interface SmokeTestOptions {
  /** Service root, e.g. `https://payments.example.com` or the test listener `http://alb:8080`. */
  readonly baseUrl: string;
  /** Bearer key for /v1. */
  readonly apiKey: string;
  /** Limit for each HTTP call. */
  readonly timeoutMs: number;
  /**
   * HTTP client.
   * @default - Node's global fetch
   */
  readonly fetchImpl?: typeof fetch;
  /**
   * Clock in epoch ms (step timings and the test card's expiry year).
   * @default - Date.now
   */
  readonly now?: () => number;
  /**
   * Idempotency-Key suffix source.
   * @default - a random UUID
   */
  readonly idSource?: () => string;
}

/** Outcome of one step. */
export interface SmokeStep {
  readonly name: string;
  readonly ok: boolean;
  /** HTTP status, when a response arrived. */
  readonly status?: number;
  /** Duration of the step. */
  readonly ms: number;
  /** Why the step failed (safe to log). */
  readonly error?: string;
}

/** Outcome of the whole run: ok only if every step passed. */
export interface SmokeTestResult {
  readonly ok: boolean;
  readonly steps: SmokeStep[];
}

class StepFailure extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function prop(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

/**
 * Why fetch failed, without echoing anything that came from the request. Duck-typed, not `instanceof`: fetch's
 * errors (DOMException, undici's TypeError) may come from another realm than this module's Error.
 */
function describeFetchError(error: unknown, timeoutMs: number): string {
  const name = prop(error, 'name');
  if (name === 'TimeoutError' || name === 'AbortError') return `timed out after ${timeoutMs}ms`;
  const code = prop(prop(error, 'cause'), 'code');
  if (typeof code === 'string') return `unreachable (${code})`;
  // undici's cause messages describe the connection (e.g. "bad port"), never the request headers or body.
  const causeMessage = prop(prop(error, 'cause'), 'message');
  return `request failed (${typeof name === 'string' ? name : 'unknown error'}${typeof causeMessage === 'string' ? `: ${causeMessage}` : ''})`;
}

/** The URL when the text is an absolute http: or https: URL; otherwise undefined. */
function httpUrl(text: string): URL | undefined {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs the smoke steps in order and stops at the first failure (later steps depend on earlier ones).
 * Resolves `{ ok: false }` with the failing step and reason on any error status, bad body, timeout or network error.
 */
export async function runSmokeTest(opts: SmokeTestOptions): Promise<SmokeTestResult> {
  const fetchImpl = opts.fetchImpl ?? fetch;
  const now = opts.now ?? Date.now;
  const steps: SmokeStep[] = [];

  const base = httpUrl(opts.baseUrl);
  if (!base) {
    return {
      ok: false,
      steps: [{ name: 'config', ok: false, ms: 0, error: `baseUrl must be an http(s) URL, got: ${JSON.stringify(opts.baseUrl)}` }],
    };
  }
  // Every path here starts with "/"; resolved without it, below the base URL's own path (https://host/prefix/...).
  const url = (path: string): string => new URL(path.slice(1), base.href.endsWith('/') ? base.href : `${base.href}/`).href;

  /** Sends one request; returns status and the parsed JSON body (or throws a StepFailure with a safe reason). */
  const call = async (
    method: string,
    path: string,
    expectStatus: number,
    init: { headers?: Record<string, string>; body?: string } = {},
  ): Promise<Json> => {
    let response: Response;
    try {
      response = await fetchImpl(url(path), { method, ...init, signal: AbortSignal.timeout(opts.timeoutMs) });
    } catch (error) {
      throw new StepFailure(describeFetchError(error, opts.timeoutMs));
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw new StepFailure(`reading the body: ${describeFetchError(error, opts.timeoutMs)}`, response.status);
    }
    // Checked on every response, whatever its status: the service must never send a full card number back.
    if (text.includes(TEST_CARD_NUMBER)) throw new StepFailure('response contains the full card number', response.status);
    if (response.status !== expectStatus) throw new StepFailure(`HTTP ${response.status}, expected ${expectStatus}`, response.status);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: body stays undefined and is refused below, with a body that is JSON but not an object.
    }
    if (!isObject(body)) throw new StepFailure('response body is not a JSON object', response.status);
    return body;
  };

  const step = async (name: string, fn: () => Promise<number>): Promise<boolean> => {
    const started = now();
    try {
      const status = await fn();
      steps.push({ name, ok: true, status, ms: now() - started });
      return true;
    } catch (error) {
      const failure = error instanceof StepFailure ? error : new StepFailure(`unexpected error (${error instanceof Error ? error.name : 'unknown'})`);
      steps.push({
        name,
        ok: false,
        ...(failure.status === undefined ? {} : { status: failure.status }),
        ms: now() - started,
        error: failure.message,
      });
      return false;
    }
  };

  const auth = { authorization: `Bearer ${opts.apiKey}` };
  let paymentId = '';
  const passed =
    (await step('GET /health/live', async () => (await call('GET', '/health/live', 200), 200))) &&
    (await step('GET /health/ready', async () => (await call('GET', '/health/ready', 200), 200))) &&
    (await step('POST /v1/payments', async () => {
      const body = await call('POST', '/v1/payments', 201, {
        headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': `smoke-${(opts.idSource ?? randomUUID)()}` },
        body: JSON.stringify({
          amount: 100,
          currency: 'USD',
          card: { number: TEST_CARD_NUMBER, expMonth: 12, expYear: new Date(now()).getUTCFullYear() + 2, cvc: '123' },
          description: 'smoke test',
        }),
      });
      const card = body.card;
      if (typeof body.id !== 'string' || body.id === '') throw new StepFailure('response has no payment id', 201);
      if (body.status !== 'approved') throw new StepFailure(`payment status is ${JSON.stringify(body.status)}, expected "approved"`, 201);
      if (!isObject(card) || card.last4 !== '1111' || typeof card.brand !== 'string' || typeof card.token !== 'string' || card.token === '') {
        throw new StepFailure('response card must have last4 "1111", a brand and a token', 201);
      }
      paymentId = body.id;
      return 201;
    })) &&
    (await step('GET /v1/payments/:id', async () => {
      const body = await call('GET', `/v1/payments/${encodeURIComponent(paymentId)}`, 200, { headers: auth });
      if (body.id !== paymentId) throw new StepFailure('returned a different payment id', 200);
      return 200;
    }));
  return { ok: passed, steps };
}

/** One line per step, safe to log. */
export function formatSteps(result: SmokeTestResult): string {
  return result.steps
    .map(
      (s) =>
        `${s.ok ? 'PASS' : 'FAIL'} ${s.name.padEnd(22)} ${String(s.status ?? '-').padEnd(4)} ${String(s.ms).padStart(6)}ms${s.error ? `  ${s.error}` : ''}`,
    )
    .join('\n');
}
