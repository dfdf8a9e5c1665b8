import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * What one HTTP listener allows a connection (all times in milliseconds). Each bound keeps a slow or
 * idle client from holding a socket, its buffers and a file descriptor for long.
 */
export interface ConnectionLimits {
  /**
   * Connections open at once (default 4096). A connection beyond it is closed as soon as it is accepted
   * (the client sees a reset), so memory and file descriptors stay bounded whatever the clients do.
   */
  maxConnections?: number;
  /** Time to receive a request's headers, from its first byte (default 10 000). Then 408 and close. */
  headersTimeoutMs?: number;
  /** Time to receive a whole request, headers and body (default 30 000). Then 408 and close. */
  requestTimeoutMs?: number;
  /** How long an idle keep-alive connection is kept between requests (default 5 000). */
  keepAliveTimeoutMs?: number;
  /**
   * When a connection is closed after an answer while the client is still sending a body it was not
   * asked for (a refused or oversized body), the server first sends its end (FIN) and keeps reading and
   * dropping what still arrives, until the client closes or stops sending for `lingerIdleMs` (default
   * 500), and for at most `lingerMaxMs` (default 5 000). Closing at once with unread bytes would reset
   * the connection, and a reset can discard the answer before the client reads it.
   */
  lingerIdleMs?: number;
  lingerMaxMs?: number;
}

/** The defaults of {@link ConnectionLimits}. */
export const DEFAULT_CONNECTION_LIMITS: Required<ConnectionLimits> = {
  maxConnections: 4096,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  lingerIdleMs: 500,
  lingerMaxMs: 5_000,
};

/** The options `http.createServer` takes for `limits` (timeouts checked every second, not every 30 s). */
export function httpServerOptions(limits: Required<ConnectionLimits>) {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Node checks headersTimeout and requestTimeout on this interval (30 s by default, which would let a
    // slow client hold its socket up to 30 s past either limit).
    connectionsCheckingInterval: Math.max(
      250,
      Math.min(1_000, limits.headersTimeoutMs, limits.requestTimeoutMs),
    ),
  };
}

/** Applies `limits` to a listening (or about to listen) Node HTTP server. */
export function applyConnectionLimits(server: Server, limits: Required<ConnectionLimits>): void {
  server.maxConnections = limits.maxConnections;
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.on('connection', (socket: Socket) => lingerOnClose(socket, limits));
}

/**
 * Replaces the socket's `destroySoon` (what Node's HTTP server and the Hono adapter call to close a
 * connection after an answer) by a lingering close: end the write side, keep reading and dropping,
 * destroy once the client closes, goes quiet for `lingerIdleMs`, or after `lingerMaxMs`.
 */
function lingerOnClose(socket: Socket, limits: Required<ConnectionLimits>): void {
  const closing = socket as Socket & { destroySoon(): void };
  let lingering = false;
  closing.destroySoon = () => {
    if (lingering || socket.destroyed) return;
    lingering = true;
    if (socket.writable) socket.end();
    const started = Date.now();
    let seen = socket.bytesRead;
    const check = setInterval(
      () => {
        const read = socket.bytesRead;
        if (read === seen || Date.now() - started >= limits.lingerMaxMs) socket.destroy();
        seen = read;
      },
      Math.max(50, limits.lingerIdleMs),
    );
    check.unref();
    socket.once('close', () => clearInterval(check));
    // The client closed its side: nothing more will arrive, the answer was read.
    socket.once('end', () => socket.destroy());
  };
}
