import type { BridgeRequest, BridgeResponse } from './bridge.js';

/**
 * The main process's half of the renderer's `fetch`: sends a request from the renderer with `fetchImpl`
 * (Electron's `net.fetch`: Chromium's network stack, the system proxy, no CORS) — only to the sync server,
 * so the renderer cannot use the main process as an open proxy. A failure to send rejects; the renderer
 * turns that into the `TypeError` a failed `fetch` throws, which the SDK reads as NETWORK.
 */
export function forwarder(
  fetchImpl: (url: string, init: RequestInit) => Promise<Response>,
  server: URL,
): (request: BridgeRequest) => Promise<BridgeResponse> {
  return async (request) => {
    const target = new URL(request.url);
    if (target.origin !== server.origin) throw new TypeError(`Not the sync server: ${target.origin}`);
    const response = await fetchImpl(target.toString(), {
      method: request.method,
      headers: request.headers,
      ...(request.body === null ? {} : { body: request.body }),
    });
    return {
      status: response.status,
      statusText: response.statusText,
      headers: [...response.headers],
      body: await response.text(),
    };
  };
}
