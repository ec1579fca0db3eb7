import { randomBytes } from 'crypto';
import { METHODS, request as httpRequest } from 'http';
import type { IncomingMessage } from 'http';
import { connect } from 'net';
import { buildApp } from '../src/app';
import { Health } from '../src/health';
import { createLogger } from '../src/logger';
import type { PaymentService } from '../src/payments';
import { panLeaks } from './adversarial-helpers';
import { CARDS, LogCapture, NOW, startTestServer } from './helpers';
import type { TestServer } from './helpers';

/** What came back on a connection the request asked to close: status, headers and body, or nothing. */
interface Answer {
  readonly status: number | undefined;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Sends `data` on a new connection and reads until the server closes it (works for HEAD and for no answer at all). */
function exchangeUntilClosed(port: number, data: string, timeoutMs = 3000): Promise<Answer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1', () => socket.write(Buffer.from(data, 'latin1')));
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) {
        resolve({ status: undefined, headers: {}, body: '' });
        return;
      }
      const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) headers[line.slice(0, line.indexOf(':')).trim().toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: text.slice(end + 4) });
    });
  });
}

/** Every method Node's parser accepts on this Node version, and QUERY (parsed from Node 20 on; a parse error before). */
const METHODS_TO_TRY = [...new Set([...METHODS, 'QUERY'])].sort();
/** The methods the service declares routes for: everything else must get the uniform not-found answer. */
const ROUTED = new Set(['GET', 'HEAD', 'POST']);

describe('methods without a route: the documented 404 for everyone, before routing, nothing from the target logged', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ config: { logLevel: 'trace' } });
  });
  afterAll(async () => {
    await server.shutdown('test end');
  });

  test(`GIVEN ${METHODS_TO_TRY.length} methods with card data in the target WHEN sent with and without a key THEN uniform answers and clean logs`, async () => {
    const pan = CARDS.visa;
    const target = `/v1/payments/${pan}?card=${CARDS.mastercard}&cvc=987`;
    const unexpected: string[] = [];
    const answeredIds: string[] = [];
    for (const method of METHODS_TO_TRY) {
      for (const [caller, headers] of [
        ['no key', ''],
        ['key', `authorization: ${server.auth.authorization}\r\n`],
      ] as const) {
        const answer = await exchangeUntilClosed(server.port, `${method} ${target} HTTP/1.1\r\nhost: x\r\n${headers}connection: close\r\n\r\n`);
        const label = `${method} (${caller}): ${answer.status ?? 'no answer'} ${answer.body}`;
        if (answer.headers['x-request-id']) answeredIds.push(answer.headers['x-request-id']);
        if (method === 'CONNECT') {
          // Node hands CONNECT to 'connect' listeners only; with none it closes the connection without an answer.
          if (answer.status !== undefined) unexpected.push(label);
        } else if (!METHODS.includes(method)) {
          // QUERY before Node 20: not an HTTP method to the parser, so a client error (our 400 shape, nothing logged).
          if (answer.status !== 400 || answer.body !== '{"error":"bad_request"}') unexpected.push(label);
        } else if (!ROUTED.has(method)) {
          const uniform =
            answer.status === 404 &&
            answer.body === '{"error":"not_found"}' &&
            answer.headers['content-type'] === 'application/json; charset=utf-8' &&
            answer.headers['x-request-id'] !== undefined;
          if (!uniform) unexpected.push(label);
        }
      }
    }
    expect(unexpected).toEqual([]);

    // Every log line of the run, at trace level: no test card number in any disguise, no piece of the raw target.
    expect(panLeaks(server.logs.lines)).toEqual([]);
    for (const piece of ['?card=', 'cvc=987', `/v1/payments/${pan}`, 'incoming request', 'likely a fastify bug']) {
      expect([piece, server.logs.lines.filter((l) => l.includes(piece))]).toEqual([piece, []]);
    }
    // Every answered request has exactly one request line, naming the method and no route for unrouted methods.
    const records = server.logs.records();
    for (const id of answeredIds) {
      const lines = records.filter((r) => r.requestId === id && r.msg === 'request completed');
      expect([id, lines.length]).toEqual([id, 1]);
      const [line] = lines;
      if (line && !ROUTED.has(String(line.method))) expect(line).toEqual(expect.objectContaining({ route: null, statusCode: 404 }));
    }
  });

  test('GIVEN a method without a route and a request body THEN 404 with Connection: close and the connection is not reused for the body', async () => {
    const answer = await exchangeUntilClosed(
      server.port,
      `PUT /v1/payments HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"card":{"number":"${CARDS.visa}"`,
    );
    expect([answer.status, answer.body, answer.headers.connection]).toEqual([404, '{"error":"not_found"}', 'close']);
    expect(panLeaks(server.logs.lines)).toEqual([]);
  });

  test('a routed method is unaffected: a keep-alive connection serves GET after a PURGE', async () => {
    const agentRequest = (method: string, path: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: server.port, method, path }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
    expect(await agentRequest('PURGE', '/health/live')).toBe(404);
    expect(await agentRequest('GET', '/health/live')).toBe(200);
  });
});

describe('req and res serializers: whatever object a log call passes, never the target or headers', () => {
  function fakeIncoming(): IncomingMessage {
    return {
      method: 'PURGE',
      url: `/v1/payments/${CARDS.visa}?cvc=987`,
      headers: { authorization: 'Bearer secret-value', host: `h-${CARDS.mastercard}` },
      socket: { remoteAddress: '127.0.0.1', remotePort: 4242 },
    } as unknown as IncomingMessage;
  }

  test('GIVEN the logger Fastify builds on ours WHEN { req, res } is logged (as Fastify does on its own paths) THEN only method, route and status', async () => {
    const logs = new LogCapture();
    const app = buildApp({
      apiKeys: [randomBytes(24).toString('base64url')],
      payments: {} as PaymentService,
      logger: createLogger({ level: 'trace', destination: logs }),
      health: new Health(),
      clock: () => NOW,
      environmentName: 'local',
    });
    await app.ready();
    app.log.info({ req: fakeIncoming() }, 'incoming request');
    app.log.info(
      { req: Object.assign(fakeIncoming(), { method: `X${CARDS.visa}`, routePattern: '/v1/payments/:id' }), res: { statusCode: 505 } },
      'x',
    );
    app.log.info({ req: 'GET /4111111111111111', res: { statusCode: '404', headers: { a: 1 } } }, 'odd shapes');
    await app.close();
    const records = logs.records().filter((r) => r.msg !== 'Server listening' && r.req !== undefined);
    expect(records.map((r) => [r.req, r.res])).toEqual([
      [{ method: 'PURGE' }, undefined],
      [{ route: '/v1/payments/:id' }, { statusCode: 505 }],
      [{}, {}],
    ]);
    expect(panLeaks(logs.lines)).toEqual([]);
    expect(logs.text).not.toContain('secret-value');
  });
});
