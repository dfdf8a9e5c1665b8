import type { WhoAmIResponse } from '@satchel/protocol';

const KEY = 'satchel-console-token';

/** A wire error of the admin API. */
export class ConsoleApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConsoleApiError';
  }
}

/** The operator's token, kept for the tab's session only. */
export const session = {
  get token(): string | null {
    return sessionStorage.getItem(KEY);
  },
  set(token: string): void {
    sessionStorage.setItem(KEY, token);
  },
  clear(): void {
    sessionStorage.removeItem(KEY);
  },
};

/** Calls the admin API with the session's token. Throws {@link ConsoleApiError} for an error answer. */
export async function api<T>(
  method: string,
  path: string,
  body?: unknown,
  token = session.token,
): Promise<T> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await response.json().catch(() => ({}))) as { error?: { code: string; message: string } };
  if (!response.ok) {
    throw new ConsoleApiError(
      response.status,
      json.error?.code ?? 'HTTP_ERROR',
      json.error?.message ?? `HTTP ${response.status}`,
    );
  }
  return json as T;
}

/** Who the token speaks for (checks it). */
export const whoami = (token?: string) =>
  api<WhoAmIResponse>('GET', '/v1/admin/whoami', undefined, token ?? session.token);

/**
 * Calls an admin route that streams NDJSON (`Accept: application/x-ndjson`), handing each JSON line to
 * `onLine` as it arrives. Throws {@link ConsoleApiError} for an error answer.
 */
export async function apiStream(
  method: string,
  path: string,
  body: unknown,
  onLine: (value: unknown) => void,
): Promise<void> {
  const headers: Record<string, string> = {
    accept: 'application/x-ndjson',
    'content-type': 'application/json',
  };
  if (session.token) headers.authorization = `Bearer ${session.token}`;
  const response = await fetch(path, { method, headers, body: JSON.stringify(body) });
  if (!response.ok || !response.body) {
    const json = (await response.json().catch(() => ({}))) as { error?: { code: string; message: string } };
    throw new ConsoleApiError(
      response.status,
      json.error?.code ?? 'HTTP_ERROR',
      json.error?.message ?? `HTTP ${response.status}`,
    );
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let pending = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (value) pending += value;
    let nl = pending.indexOf('\n');
    while (nl >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (line) onLine(JSON.parse(line));
      nl = pending.indexOf('\n');
    }
    if (done) break;
  }
  if (pending.trim()) onLine(JSON.parse(pending));
}
