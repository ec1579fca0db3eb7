import type { IncomingMessage, Server, ServerResponse } from 'http';
import type { Socket } from 'net';
import { DRAIN_IDLE_GRACE_MS, HEADERS_TIMEOUT_MS, KEEP_ALIVE_TIMEOUT_MS, REQUEST_BODY_TIMEOUT_MS } from './contract';

/** The time bounds of one connection. Each is enforced here by a timer, the same way on Node 16, 18 and 20. */
export interface HttpTimeouts {
  /** Idle time between requests on a keep-alive connection (Node's server.keepAliveTimeout). */
  readonly keepAliveMs: number;
  /** From the connection opening, or the previous response ending, to the end of the request headers. */
  readonly headersMs: number;
  /** From the end of the headers to the end of the body. */
  readonly bodyMs: number;
  /** While draining, how long an idle keep-alive connection is kept open for a request already on its way. */
  readonly drainIdleGraceMs: number;
}

export const DEFAULT_HTTP_TIMEOUTS: HttpTimeouts = {
  keepAliveMs: KEEP_ALIVE_TIMEOUT_MS,
  headersMs: HEADERS_TIMEOUT_MS,
  bodyMs: REQUEST_BODY_TIMEOUT_MS,
  drainIdleGraceMs: DRAIN_IDLE_GRACE_MS,
};

/** Overrides (tests) on top of the contract values; headers must outlast keep-alive (see contract.ts). */
export function resolveHttpTimeouts(overrides: Partial<HttpTimeouts> = {}): HttpTimeouts {
  const timeouts = { ...DEFAULT_HTTP_TIMEOUTS, ...overrides };
  for (const [name, value] of Object.entries(timeouts)) {
    if (!Number.isInteger(value) || value <= 0) throw new Error(`HTTP timeout ${name} must be a positive integer of milliseconds, got: ${value}`);
  }
  if (timeouts.headersMs <= timeouts.keepAliveMs) {
    throw new Error(`HTTP timeout headersMs must be above keepAliveMs, got: ${timeouts.headersMs} <= ${timeouts.keepAliveMs}`);
  }
  return timeouts;
}

/** After this long past its body deadline, a connection whose request body is still incomplete is destroyed. */
const BODY_BACKSTOP_GRACE_MS = 1000;
/** A peer that does not close after our FIN is cut off after this long. */
const CLOSE_GRACE_MS = 1000;

const STATUS_TEXT: Readonly<Record<number, string>> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };
const ERROR_CODE: Readonly<Record<number, string>> = { 400: 'bad_request', 408: 'request_timeout', 431: 'headers_too_large' };

/**
 * Ends the socket once `data` (and anything already written) is flushed, as Node does after a `Connection: close`
 * response; a peer that stops reading cannot hold it open past CLOSE_GRACE_MS.
 */
function closeSocket(socket: Socket, data?: string): void {
  if (socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const fallback = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
  fallback.unref();
  socket.once('close', () => clearTimeout(fallback));
  const destroy = (): void => {
    socket.destroy();
  };
  if (data === undefined) socket.end(destroy);
  else socket.end(data, destroy);
}

/**
 * Answers a connection that has no request Node could hand to the application (a parse error, headers too large
 * or too slow) with this service's JSON error shape and closes it. Quotes nothing from the request.
 *
 * When responses are still owed on the connection (requests pipelined before the bad one), it writes nothing: an
 * error written now would arrive before them, and the client would take it for the answer to an earlier request
 * (a payment that was made). It stops reading, lets the owed responses go out (the last with `Connection: close`)
 * and closes the connection after them.
 */
export function rejectConnection(socket: Socket, statusCode: 400 | 408 | 431): void {
  const state = connectionStates.get(socket);
  // The response owed last: known to the tracker, or (an app listening without one) the one Node is writing.
  const last = state ? state.lastResponse : ((socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage ?? undefined);
  const owed = state ? state.inFlight > 0 : last !== undefined && !last.writableFinished;
  // The one exception: the bad bytes are inside the body of the only request in flight, whose answer has not
  // started. Then this error is that request's answer, and nothing is owed before it.
  const answersTheRequestInFlight = (state ? state.inFlight === 1 : owed) && last !== undefined && !last.headersSent && bodyPending(last.req);
  if (owed && !answersTheRequestInFlight) {
    socket.pause();
    if (state) {
      state.closeWhenAnswered = true;
      if (last && !last.headersSent) last.setHeader('connection', 'close');
    } else {
      last?.once('close', () => closeSocket(socket));
    }
    return;
  }
  const body = `{"error":"${ERROR_CODE[statusCode] ?? 'bad_request'}"}`;
  closeSocket(
    socket,
    `HTTP/1.1 ${statusCode} ${STATUS_TEXT[statusCode] ?? 'Bad Request'}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** True while the client still owes body bytes for `req` (the connection cannot be reused before they arrive). */
export function bodyPending(req: IncomingMessage): boolean {
  if (req.complete) return false;
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

interface ConnectionState {
  /** Requests received on this connection and not yet answered. */
  inFlight: number;
  /** The response to the last request received (the one owed last). */
  lastResponse: ServerResponse | undefined;
  /** The client sent something that was not a request after requests still owed: close once they are answered. */
  closeWhenAnswered: boolean;
  /** Headers deadline while no request is in flight; the idle grace while draining. */
  timer: NodeJS.Timeout | undefined;
  /** Per-request body deadlines (backstop behind the body reader's own 408). */
  readonly bodyTimers: Set<NodeJS.Timeout>;
}

/** The state of every tracked connection, for rejectConnection (which Fastify's clientErrorHandler calls with the socket only). */
const connectionStates = new WeakMap<Socket, ConnectionState>();

/**
 * Owns every open connection: the headers and body time bounds, and closing connections when draining.
 *
 * State lives in one record per socket, created on 'connection' and deleted on the socket's 'close'. Every later
 * event (a response finishing after the socket closed, a timer) works on that record and never re-adds the socket:
 * re-adding after 'close' was a leak any client could trigger by aborting requests.
 *
 * Draining: the listener closes (no new connections). A request in flight is answered with `Connection: close`
 * and its connection ends after the response. An idle keep-alive connection is NOT destroyed at once: a request
 * may already be on its way (the client picked the connection just before the drain), and destroying it would reset
 * that request. It is closed after its next response or after `drainIdleGraceMs` without a request.
 * Node 18.20+/19+ would destroy idle connections inside server.close() (closeIdleConnections); that is turned off
 * for this server so the rule above is the only one, on every Node version.
 */
export class ConnectionTracker {
  private readonly states = new Map<Socket, ConnectionState>();
  private draining = false;

  constructor(
    server: Server,
    private readonly timeouts: HttpTimeouts,
  ) {
    (server as Server & { closeIdleConnections?: () => void }).closeIdleConnections = () => undefined;
    server.on('connection', (socket: Socket) => this.onConnection(socket));
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res));
  }

  /** Number of open connections. */
  get connections(): number {
    return this.states.size;
  }

  /** Number of requests received and not yet answered. */
  get inFlight(): number {
    let total = 0;
    for (const state of this.states.values()) total += state.inFlight;
    return total;
  }

  /** Timers armed for open connections (each is cleared when its connection closes). */
  get pendingTimers(): number {
    let total = 0;
    for (const state of this.states.values()) total += (state.timer ? 1 : 0) + state.bodyTimers.size;
    return total;
  }

  /** Starts draining: connections end after their current response, idle ones after the grace. */
  drain(): void {
    this.draining = true;
    for (const [socket, state] of this.states) if (state.inFlight === 0) this.armIdleGrace(socket, state);
  }

  private onConnection(socket: Socket): void {
    const state: ConnectionState = { inFlight: 0, lastResponse: undefined, closeWhenAnswered: false, timer: undefined, bodyTimers: new Set() };
    this.states.set(socket, state);
    connectionStates.set(socket, state);
    socket.once('close', () => {
      this.states.delete(socket);
      connectionStates.delete(socket);
      state.lastResponse = undefined;
      if (state.timer) clearTimeout(state.timer);
      for (const timer of state.bodyTimers) clearTimeout(timer);
      state.timer = undefined;
      state.bodyTimers.clear();
    });
    if (this.draining) this.armIdleGrace(socket, state);
    else this.armHeadersDeadline(socket, state);
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket;
    const state = this.states.get(socket);
    // The socket closed before the request surfaced (pipelined requests parsed from a dead connection).
    if (!state || socket.destroyed) return;
    state.inFlight += 1;
    state.lastResponse = res;
    if (state.timer) clearTimeout(state.timer);
    state.timer = undefined;

    const bodyTimer = setTimeout(() => {
      state.bodyTimers.delete(bodyTimer);
      if (bodyPending(req)) socket.destroy();
    }, this.timeouts.bodyMs + BODY_BACKSTOP_GRACE_MS);
    bodyTimer.unref();
    state.bodyTimers.add(bodyTimer);

    let done = false;
    const finished = (): void => {
      if (done) return;
      done = true;
      // A body still owed keeps its deadline; otherwise the deadline is no longer needed.
      if (!bodyPending(req)) {
        clearTimeout(bodyTimer);
        state.bodyTimers.delete(bodyTimer);
      }
      state.inFlight -= 1;
      if (state.lastResponse === res) state.lastResponse = undefined;
      if (socket.destroyed || state.inFlight > 0) return;
      if (this.draining || state.closeWhenAnswered) closeSocket(socket);
      else this.armHeadersDeadline(socket, state);
    };
    res.once('finish', finished);
    res.once('close', finished);
  }

  private armHeadersDeadline(socket: Socket, state: ConnectionState): void {
    if (state.timer) clearTimeout(state.timer);
    state.timer = setTimeout(() => {
      state.timer = undefined;
      if (state.inFlight === 0) rejectConnection(socket, 408);
    }, this.timeouts.headersMs);
    state.timer.unref();
  }

  private armIdleGrace(socket: Socket, state: ConnectionState): void {
    if (state.timer) clearTimeout(state.timer);
    state.timer = setTimeout(() => {
      state.timer = undefined;
      if (state.inFlight === 0) closeSocket(socket);
    }, this.timeouts.drainIdleGraceMs);
    state.timer.unref();
  }
}
