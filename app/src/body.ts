import type { IncomingMessage } from 'http';
import { TextDecoder } from 'util';
import { StrictJsonError, parseStrictJson } from './strict-json';

/** Why a body was not read; the status and texts are safe to send as they are (they quote nothing). */
export interface BodyFailure {
  readonly statusCode: 400 | 408 | 413;
  readonly error: 'malformed_json' | 'request_timeout' | 'payload_too_large' | 'bad_request';
  readonly message?: string;
}

/** Strict UTF-8 (fatal on any invalid sequence); the byte order mark is kept so the JSON check refuses it. */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export interface BodyLimits {
  readonly maxBytes: number;
  /** Time allowed for the whole body, from when reading starts (right after the headers). */
  readonly timeoutMs: number;
}

/**
 * `application/json` with no charset or `charset=utf-8` (RFC 8259 §8.1: JSON exchanged between systems is UTF-8).
 * Any other charset would make the bytes mean something else to a component that honours it.
 */
export function isJsonContentType(header: string | undefined): boolean {
  if (typeof header !== 'string') return false;
  // The value nearly every client sends, checked twice per payment (parser and handler): no split, no allocation.
  if (header === 'application/json') return true;
  const [type, ...params] = header.split(';');
  if ((type ?? '').trim().toLowerCase() !== 'application/json') return false;
  return params.every((param) => {
    const [name, value] = param.split('=').map((s) => s.trim().toLowerCase());
    return name !== 'charset' || value === 'utf-8' || value === '"utf-8"';
  });
}

/**
 * Reads a JSON request body with a size limit and a deadline, decodes it as strict UTF-8 (no byte order mark,
 * no invalid or overlong sequences, no encoded surrogates) and parses it as strict JSON (see strict-json.ts).
 * Fastify's own reader has no deadline: a client sending the body slowly, or not at all, would hold the request
 * (and its connection) forever. Calls `done` exactly once.
 */
export function readJsonBody(stream: IncomingMessage, limits: BodyLimits, done: (failure: BodyFailure | undefined, value?: unknown) => void): void {
  const declared = stream.headers['content-length'];
  if (declared !== undefined && Number(declared) > limits.maxBytes) {
    done(tooLarge(limits));
    return;
  }
  const chunks: Buffer[] = [];
  let received = 0;
  let finished = false;
  const finish = (failure: BodyFailure | undefined, value?: unknown): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    stream.removeListener('data', onData);
    stream.removeListener('end', onEnd);
    stream.removeListener('error', onError);
    stream.removeListener('aborted', onError);
    done(failure, value);
  };
  const onData = (chunk: Buffer): void => {
    received += chunk.length;
    if (received > limits.maxBytes) {
      finish(tooLarge(limits));
      return;
    }
    chunks.push(chunk);
  };
  const onEnd = (): void => {
    let text: string;
    try {
      text = UTF8.decode(Buffer.concat(chunks, received));
    } catch {
      finish({ statusCode: 400, error: 'malformed_json', message: 'request body must be UTF-8 (without a byte order mark)' });
      return;
    }
    try {
      finish(undefined, parseStrictJson(text));
    } catch (err) {
      const reason = err instanceof StrictJsonError ? err.reason : 'syntax';
      finish({ statusCode: 400, error: 'malformed_json', message: new StrictJsonError(reason).message });
    }
  };
  const onError = (): void => finish({ statusCode: 400, error: 'bad_request', message: 'the request body could not be read' });
  const timer = setTimeout(() => finish({ statusCode: 408, error: 'request_timeout' }), limits.timeoutMs);
  stream.on('data', onData);
  stream.on('end', onEnd);
  stream.on('error', onError);
  stream.on('aborted', onError);
  stream.resume();
}

function tooLarge(limits: BodyLimits): BodyFailure {
  return { statusCode: 413, error: 'payload_too_large', message: `request body must be at most ${limits.maxBytes} bytes` };
}
