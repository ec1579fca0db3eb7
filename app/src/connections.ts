import type { Server } from 'http';
import type { Socket } from 'net';

/**
 * Tracks which sockets have a request in flight, so draining can close idle keep-alive connections at once
 * and the rest as soon as their last response is written. Works on Node 16, which lacks closeIdleConnections().
 */
export class ConnectionTracker {
  private readonly active = new Map<Socket, number>();
  private draining = false;

  constructor(server: Server) {
    server.on('connection', (socket: Socket) => {
      this.active.set(socket, 0);
      socket.once('close', () => this.active.delete(socket));
    });
    server.on('request', (req, res) => {
      const socket = req.socket;
      this.active.set(socket, (this.active.get(socket) ?? 0) + 1);
      let done = false;
      const finished = (): void => {
        if (done) return;
        done = true;
        const left = (this.active.get(socket) ?? 1) - 1;
        this.active.set(socket, left);
        if (this.draining && left === 0) this.closeSoon(socket);
      };
      res.once('finish', finished);
      res.once('close', finished);
    });
  }

  /** Number of open connections (tests and the drain log line). */
  get connections(): number {
    return this.active.size;
  }

  /** Number of requests still being served. */
  get inFlight(): number {
    let total = 0;
    for (const n of this.active.values()) total += n;
    return total;
  }

  /** Closes idle connections now and every other one once its in-flight requests are answered. */
  drain(): void {
    this.draining = true;
    for (const [socket, n] of this.active) if (n === 0) socket.destroy();
  }

  private closeSoon(socket: Socket): void {
    // end() flushes what is still buffered (the last response) before closing; destroy() stops a peer that never closes.
    socket.end();
    setTimeout(() => socket.destroy(), 1000).unref();
  }
}
