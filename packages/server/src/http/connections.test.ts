import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type Listener, serveFetch } from '../server.js';
import type { ConnectionLimits } from './connections.js';

// The listener's bounds, on a fetch handler without a database: what a connection may hold and for how
// long. Every wait here is a deadline polled for, generous enough for a loaded 2-core machine.

const listeners: Listener[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(listeners.splice(0).map((l) => l.close()));
});

/**
 * `POST /read` reads its whole body before answering; any other POST is refused at once without reading
 * its body (as a 401 or a 413 is); a GET answers `ok`.
 */
const refuseUnread = async (request: Request) => {
  if (request.method !== 'POST') return new Response('ok');
  if (new URL(request.url).pathname === '/read') return new Response(`read ${(await request.text()).length}`);
  return new Response('{"error":"refused"}', {
    status: 413,
    headers: { 'content-type': 'application/json' },
  });
};

async function listen(limits: ConnectionLimits = {}): Promise<number> {
  const l = await serveFetch(refuseUnread, 0, '127.0.0.1', limits);
  listeners.push(l);
  return l.port;
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    sockets.push(s);
    s.once('error', reject);
  });
}

/** Resolves with the bytes received and how the socket ended: `end` (FIN), `reset` or `open` at the deadline. */
function collect(s: Socket, deadlineMs: number): Promise<{ text: string; how: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (how: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ text: Buffer.concat(chunks).toString(), how, ms: Date.now() - started });
    };
    const timer = setTimeout(() => finish('open'), deadlineMs);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => finish('end'));
    s.on('error', (e: NodeJS.ErrnoException) =>
      finish(e.code === 'ECONNRESET' ? 'reset' : `error ${e.code}`),
    );
    s.on('close', () => finish('close'));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('connection limits of the HTTP listener', () => {
  it('delivers a refusal to a client still sending a 10 MB chunked body that reads its answer late (no reset)', async () => {
    const port = await listen();
    const s = await open(port);
    s.on('error', () => {});
    s.pause(); // a busy client: reads nothing for the first 2.5 s, while it sends its body over 2 s
    s.write(
      'POST /v1/sync HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
    const chunk = Buffer.alloc(256 * 1024, 0x61);
    const framed = Buffer.concat([
      Buffer.from(`${chunk.length.toString(16)}\r\n`),
      chunk,
      Buffer.from('\r\n'),
    ]);
    let sent = 0;
    const writing = (async () => {
      while (sent < 10 * 1024 * 1024 && !s.destroyed) {
        const ok = s.write(framed);
        sent += chunk.length;
        if (!ok)
          await new Promise((r) => {
            s.once('drain', r);
            s.once('close', r);
          });
        await sleep(50);
      }
    })();
    await sleep(2_500);
    const received = collect(s, 20_000);
    s.resume();
    const { text } = await received;
    await writing;
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    expect(text).toContain('{"error":"refused"}');
  }, 30_000);

  it('closes a connection whose headers do not arrive within headersTimeoutMs (slow headers)', async () => {
    const port = await listen({ headersTimeoutMs: 1_000, requestTimeoutMs: 2_000 });
    const s = await open(port);
    const result = collect(s, 20_000);
    s.write('POST /v1/sync HTTP/1.1\r\nHost: x\r\n'); // and never the end of the headers
    const { text, how, ms } = await result;
    expect(how).not.toBe('open');
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
    expect(ms).toBeGreaterThanOrEqual(900);
  }, 30_000);

  it('closes a connection whose body does not arrive within requestTimeoutMs (slow body that is being read)', async () => {
    const port = await listen({ headersTimeoutMs: 1_000, requestTimeoutMs: 2_000 });
    const s = await open(port);
    const result = collect(s, 20_000);
    s.write('POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n12345');
    const trickle = setInterval(() => !s.destroyed && s.write('6'), 200);
    const { how, ms } = await result;
    clearInterval(trickle);
    expect(how).not.toBe('open');
    expect(ms).toBeGreaterThanOrEqual(1_900);
  }, 30_000);

  it('answers a POST refused on its headers at once and then closes it, though the client holds its body back', async () => {
    const port = await listen();
    const s = await open(port);
    const started = Date.now();
    let answeredMs = -1;
    s.on('data', () => {
      if (answeredMs < 0) answeredMs = Date.now() - started;
    });
    const result = collect(s, 20_000);
    s.write(
      'POST /v1/sync HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":',
    );
    const { text, how, ms } = await result;
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    // Answered from the headers; closed once the client has been quiet (0.5 s adapter drain + 0.5 s idle
    // linger), not when a 30 s request timeout fires.
    expect(answeredMs).toBeGreaterThanOrEqual(0);
    expect(how).not.toBe('open');
    expect(ms).toBeLessThan(10_000);
  }, 30_000);

  it('closes an idle keep-alive connection after keepAliveTimeoutMs', async () => {
    const port = await listen({ keepAliveTimeoutMs: 1_000 });
    const s = await open(port);
    const result = collect(s, 20_000);
    s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    const { text, how, ms } = await result;
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(how).not.toBe('open');
    expect(ms).toBeGreaterThanOrEqual(900);
  }, 30_000);

  it('holds at most maxConnections connections and serves a fresh one once a held one goes', async () => {
    const port = await listen({ maxConnections: 3, keepAliveTimeoutMs: 60_000 });
    const held = await Promise.all([open(port), open(port), open(port)]);
    // The server counts a connection once it has accepted it: wait until all three answered a request.
    for (const s of held) {
      const answer = new Promise<string>((r) => s.once('data', (c: Buffer) => r(c.toString())));
      s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      expect(await answer).toMatch(/^HTTP\/1\.1 200 /);
    }
    const extra = await open(port);
    extra.on('error', () => {});
    const refused = collect(extra, 20_000);
    extra.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    const r = await refused;
    expect(r.how).not.toBe('open');
    expect(r.text).toBe('');

    held[0]?.destroy();
    let served = '';
    for (const deadline = Date.now() + 15_000; Date.now() < deadline && served === ''; ) {
      const fresh = await open(port);
      fresh.on('error', () => {});
      const answer = collect(fresh, 2_000);
      fresh.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      served = (await answer).text;
      if (served === '') await sleep(100);
    }
    expect(served).toMatch(/^HTTP\/1\.1 200 /);
  }, 30_000);
});
