import { type Agent, request as httpRequest } from 'node:http';

/** The status and text of an answer. */
export interface Answer {
  status: number;
  text: string;
}

/**
 * `POST <url>/v1/sync` of `body` with a device token on `agent`'s connections; resolves with the answer,
 * rejects on a network error or when nothing answers within 60 s.
 */
export function postSync(url: string, agent: Agent, token: string, body: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${url}/v1/sync`,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${token}`,
          'content-length': String(body.length),
        },
        timeout: 60_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    // A socket the server resets after its answer must not throw outside the request.
    req.on('socket', (s) => {
      if (s.listenerCount('error') === 0) s.on('error', () => {});
    });
    req.on('timeout', () => req.destroy(new Error('no answer in 60 s')));
    req.on('error', reject);
    req.end(body);
  });
}
