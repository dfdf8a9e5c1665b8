import { Agent, request } from 'node:http';

export interface JsonResponse {
  status: number;
  body: unknown;
}

/** A keep-alive HTTP/1.1 client for one origin, `sockets` connections at most. */
export function httpClient(baseUrl: string, sockets: number) {
  const url = new URL(baseUrl);
  // Idle sockets are closed after 2 s, well before the server's keep-alive timeout (5 s), so a request
  // rarely meets a socket the server is closing.
  const agent = new Agent({ keepAlive: true, maxSockets: sockets, timeout: 2_000 });
  return {
    /**
     * POSTs `body`. A keep-alive socket the server closed while it sat idle (its keep-alive timeout) is
     * retried (up to `retries` times), as Node's documentation advises: nothing was sent on it.
     */
    post(path: string, token: string, body: string, retries = 3): Promise<JsonResponse> {
      return new Promise((resolve, reject) => {
        const req = request(
          {
            agent,
            host: url.hostname,
            port: url.port,
            path,
            method: 'POST',
            headers: {
              authorization: `Bearer ${token}`,
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(body),
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              let parsed: unknown = text;
              try {
                parsed = JSON.parse(text);
              } catch {}
              resolve({ status: res.statusCode ?? 0, body: parsed });
            });
            res.on('error', reject);
          },
        );
        req.on('error', (e: NodeJS.ErrnoException) => {
          if (retries > 0 && req.reusedSocket && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) {
            resolve(this.post(path, token, body, retries - 1));
          } else reject(e);
        });
        req.end(body);
      });
    },
    close() {
      agent.destroy();
    },
  };
}
