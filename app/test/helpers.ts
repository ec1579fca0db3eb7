import { randomBytes } from 'crypto';
import { request as httpRequest } from 'http';
import type { Agent, IncomingHttpHeaders } from 'http';
import { Writable } from 'stream';
import type { Config } from '../src/config';
import { startServer } from '../src/lifecycle';
import type { RunningServer, StartOptions } from '../src/lifecycle';
import { createLogger } from '../src/logger';
import { databaseConfig } from './database';

/** Published test card numbers only (see README). */
export const CARDS = {
  visa: '4111111111111111',
  mastercard: '5555555555554444',
  amex: '378282246310005',
  discover: '6011111111111117',
  declined: '4000000000000002',
  insufficientFunds: '4000000000009995',
} as const;

/** Fixed clock so card expiry is deterministic. */
export const NOW = new Date('2025-06-15T12:00:00.000Z');

/** Keys generated per run: never a real secret in the repository or test output. The database is the jest run's. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return {
    port: 0,
    apiKeys: [randomBytes(24).toString('base64url')],
    tokenizationKey: randomBytes(24).toString('base64url'),
    logLevel: 'debug',
    shutdownDeadlineMs: 5000,
    database: databaseConfig(),
    environmentName: 'local',
    tracing: { enabled: false, sampleRatio: 0, otlpEndpoint: 'http://127.0.0.1:4318' },
    ...overrides,
  };
}

/** Collects every log line the server writes. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  private partial = '';

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const text = this.partial + chunk.toString('utf8');
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    this.lines.push(...parts.filter((l) => l !== ''));
    cb();
  }

  get text(): string {
    return this.lines.join('\n') + this.partial;
  }

  records(): Record<string, unknown>[] {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

export interface TestServer extends RunningServer {
  readonly config: Config;
  readonly logs: LogCapture;
  readonly auth: { authorization: string };
}

export async function startTestServer(
  options: Partial<Omit<StartOptions, 'config' | 'logger'>> & { config?: Partial<Config> } = {},
): Promise<TestServer> {
  const config = testConfig(options.config);
  const logs = new LogCapture();
  const logger = createLogger({ level: config.logLevel, destination: logs });
  const running = await startServer({ ...options, config, logger, clock: options.clock ?? (() => NOW), host: '127.0.0.1' });
  // Ready means the database answered with a compatible schema, as the tests expect of a started server.
  await running.ready;
  return Object.assign(running, { config, logs, auth: { authorization: `Bearer ${config.apiKeys[0]}` } });
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  readonly json: Record<string, unknown>;
}

export interface HttpOptions {
  readonly method?: string;
  readonly path: string;
  readonly headers?: Record<string, string | number>;
  readonly body?: string | Buffer | object;
  readonly agent?: Agent;
}

/** A real HTTP request over loopback (Node 16 has no global fetch). */
export function http(port: number, options: HttpOptions): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    let payload: Buffer | undefined;
    const headers: Record<string, string | number> = { ...(options.headers ?? {}) };
    if (options.body !== undefined) {
      payload = Buffer.isBuffer(options.body)
        ? options.body
        : Buffer.from(typeof options.body === 'string' ? options.body : JSON.stringify(options.body));
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    const req = httpRequest(
      { host: '127.0.0.1', port, method: options.method ?? 'GET', path: options.path, headers, ...(options.agent ? { agent: options.agent } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Record<string, unknown> = {};
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            json = {};
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

export function paymentBody(overrides: Record<string, unknown> = {}, card: Record<string, unknown> = {}): Record<string, unknown> {
  return { amount: 1299, currency: 'EUR', card: { number: CARDS.visa, expMonth: 12, expYear: 2030, cvc: '123', ...card }, ...overrides };
}

let keyCounter = 0;
export function newIdempotencyKey(): string {
  keyCounter += 1;
  return `test-key-${keyCounter}-${randomBytes(6).toString('hex')}`;
}

export interface SlowRequest {
  /** Resolves once the request headers have been flushed to the server. */
  readonly headersSent: Promise<void>;
  readonly response: Promise<HttpResponse>;
}

/**
 * A POST whose body trickles in over `chunks * intervalMs`: a genuinely slow request in flight, with no
 * special route in the service.
 */
export function slowPost(
  port: number,
  headers: Record<string, string>,
  body: object,
  chunks: number,
  intervalMs: number,
  agent?: Agent,
): SlowRequest {
  const payload = Buffer.from(JSON.stringify(body));
  let resolveSent: () => void = () => undefined;
  const headersSent = new Promise<void>((resolve) => {
    resolveSent = resolve;
  });
  const response = new Promise<HttpResponse>((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/v1/payments',
        headers: { ...headers, 'content-type': 'application/json', 'content-length': payload.length },
        ...(agent ? { agent } : {}),
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: JSON.parse(text) as Record<string, unknown> });
        });
      },
    );
    req.on('error', reject);
    req.flushHeaders();
    const size = Math.ceil(payload.length / chunks);
    let offset = 0;
    const tick = (): void => {
      req.write(payload.subarray(offset, offset + size));
      offset += size;
      if (offset >= payload.length) req.end();
      else setTimeout(tick, intervalMs);
    };
    req.once('socket', (socket) => {
      const start = (): void => {
        resolveSent();
        setTimeout(tick, intervalMs);
      };
      if (socket.connecting) socket.once('connect', start);
      else start();
    });
  });
  return { headersSent, response };
}

export async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
