import type { IncomingMessage, Server, ServerResponse } from 'http';

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export interface UnroutedMethodGateProps {
  /** The HTTP server Fastify created (it holds Fastify's request listener). */
  readonly server: Server;
  /** Methods at least one route is declared for; filled while routes are registered, read per request. */
  readonly routedMethods: ReadonlySet<string>;
  /** Answers a request whose method no route has, without routing it. */
  readonly answer: RequestListener;
}

/**
 * Requests whose method no route is declared for are answered before Fastify's router sees them.
 *
 * Why: a method Node parses but Fastify's router does not know (QUERY on Node 20+, and any method a later Node adds)
 * falls past Fastify's not-found handler into its internal fallback, which logs the raw request (target included)
 * and answers a 404 of its own shape. Methods the router does know but no route uses reach the not-found handler;
 * answering every method without a route here gives one answer and one log line for all of them, whatever the
 * Node or Fastify version.
 *
 * Fastify 4 has no hook before routing, so its request listener is wrapped. (`serverFactory` would also do it, but
 * Fastify then skips its HTTP version check: Node hands HTTP/0.9 and HTTP/2.0 request lines to the application.)
 */
export function answerUnroutedMethodsFirst(props: UnroutedMethodGateProps): void {
  const { server, routedMethods, answer } = props;
  const listeners = server.listeners('request');
  // Fail early rather than answer around only part of what the server does with a request.
  if (listeners.length !== 1) throw new Error(`expected exactly Fastify's request listener on the server, got: ${listeners.length} listeners`);
  const route = listeners[0] as RequestListener;
  server.removeListener('request', route);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (routedMethods.has(req.method as string)) route(req, res);
    else answer(req, res);
  });
}
