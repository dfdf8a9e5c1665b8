import type { BridgeRequest, SatchelBridge } from './bridge.js';

/**
 * A `fetch` for the SDK that goes through the main process (`net.fetch` over IPC, see forward.ts). A
 * request the main process could not send rejects with a `TypeError`, as a failed `fetch` does.
 */
export function bridgeFetch(bridge: SatchelBridge): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const message: BridgeRequest = {
      url: request.url,
      method: request.method,
      headers: [...request.headers],
      body: request.method === 'GET' || request.method === 'HEAD' ? null : await request.text(),
    };
    // The SDK's timeout aborts the signal: stop waiting for the main process then.
    const answer = await new Promise<Awaited<ReturnType<SatchelBridge['fetch']>>>((resolve, reject) => {
      request.signal.addEventListener('abort', () => reject(request.signal.reason), { once: true });
      bridge.fetch(message).then(resolve, () => reject(new TypeError('Failed to fetch')));
    });
    return new Response(answer.status === 204 ? null : answer.body, {
      status: answer.status,
      statusText: answer.statusText,
      headers: answer.headers,
    });
  };
}
