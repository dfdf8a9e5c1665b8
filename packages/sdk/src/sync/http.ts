import {
  type LicenseRequest,
  type LicenseResponse,
  PROTOCOL_VERSION,
  PROTOCOL_VERSION_HEADER,
  type RebaseRequest,
  type RebaseResponse,
  type RegisterDeviceRequest,
  type RegisterDeviceResponse,
  type SyncRequest,
  type SyncResponse,
} from '@satchel/protocol';
import { ClientError } from '../errors.js';
import type { SatchelTimers } from './loop.js';
import {
  LicenseResponseParser,
  type Parser,
  RebaseResponseParser,
  RegisterDeviceResponseParser,
  readErrorResponse,
  SyncResponseParser,
} from './validate.js';

/** The server calls the client makes; every method rejects with a {@link ClientError}. */
export interface Transport {
  sync(token: string, body: SyncRequest): Promise<SyncResponse>;
  rebase(token: string, body: RebaseRequest): Promise<RebaseResponse>;
  register(enrolmentToken: string, body: RegisterDeviceRequest): Promise<RegisterDeviceResponse>;
  requestLicense(token: string, body: LicenseRequest): Promise<LicenseResponse>;
  renew(token: string, licenseId: string, fromRenewal: number): Promise<LicenseResponse>;
}

/**
 * The range every server retry hint is clamped into, in ms: a hint below `min` waits `min`, one above
 * `max` (or an HTTP date years away) waits `max`; a hint that is not a number is ignored.
 */
export const RETRY_HINT_RANGE_MS = { min: 1000, max: 3_600_000 } as const;

/** Clamps a retry hint into {@link RETRY_HINT_RANGE_MS}; null for none (or one that is not a finite number). */
export function clampRetryHint(ms: number | null | undefined): number | null {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return null;
  return Math.min(RETRY_HINT_RANGE_MS.max, Math.max(RETRY_HINT_RANGE_MS.min, Math.round(ms)));
}

/** Parses `Retry-After` (seconds or an HTTP date) into milliseconds from `now`, clamped; null when absent or unreadable. */
export function retryAfterHeaderMs(value: string | null, now: number): number | null {
  if (value === null || value.trim() === '') return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return clampRetryHint(seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : clampRetryHint(at - now);
}

export interface HttpTransportOptions {
  baseUrl: string;
  fetch?: typeof fetch;
  /** Bound on the whole exchange: connecting, the headers and the body. */
  timeoutMs: number;
  /** Wall clock, to read a `Retry-After` date. */
  now: () => number;
  timers: SatchelTimers;
}

export function httpTransport(options: HttpTransportOptions): Transport {
  const base = options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`;
  const doFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));

  // Connecting, the headers and the whole body run under one deadline: a server that sends its headers
  // and then stalls mid-body times out like one that never answers. The race settles even when a fetch
  // implementation ignores the abort signal.
  async function exchange(
    path: string,
    headers: Record<string, string>,
    body: unknown,
  ): Promise<{ response: Response; text: string }> {
    const controller = new AbortController();
    let handle: unknown = null;
    const deadline = new Promise<never>((_, reject) => {
      handle = options.timers.setTimeout(() => {
        reject(new ClientError('TIMEOUT', `The server did not answer ${path} in ${options.timeoutMs} ms`));
        controller.abort();
      }, options.timeoutMs);
    });
    deadline.catch(() => undefined);
    try {
      return await Promise.race([
        (async () => {
          let response: Response;
          try {
            response = await doFetch(new URL(path, base), {
              method: 'POST',
              headers: {
                'content-type': 'application/json',
                [PROTOCOL_VERSION_HEADER]: String(PROTOCOL_VERSION),
                ...headers,
              },
              body: JSON.stringify(body),
              signal: controller.signal,
            });
          } catch (error) {
            throw new ClientError('NETWORK', `Could not reach the server for ${path}`, { cause: error });
          }
          try {
            return { response, text: await response.text() };
          } catch (error) {
            throw new ClientError('NETWORK', `The answer to ${path} was cut off`, {
              cause: error,
              status: response.status,
            });
          }
        })(),
        deadline,
      ]);
    } finally {
      options.timers.clearTimeout(handle);
    }
  }

  async function call<T>(
    path: string,
    token: string,
    body: unknown,
    schema: Parser<T>,
    extra: Record<string, string> = {},
  ): Promise<T> {
    const { response, text } = await exchange(path, { authorization: `Bearer ${token}`, ...extra }, body);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      json = undefined;
      if (response.ok) {
        throw new ClientError('INVALID_RESPONSE', `The answer to ${path} is not JSON`, {
          cause: error,
          status: response.status,
        });
      }
    }
    if (!response.ok) throw errorFrom(path, response, json, options.now());
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new ClientError('INVALID_RESPONSE', `The answer to ${path} does not match the protocol`, {
        cause: parsed.error,
        status: response.status,
      });
    }
    return parsed.data;
  }

  return {
    sync: (token, body) => call('v1/sync', token, body, SyncResponseParser),
    rebase: (token, body) => call('v1/sync/rebase', token, body, RebaseResponseParser),
    register: (token, body) => call('v1/devices', token, body, RegisterDeviceResponseParser),
    requestLicense: (token, body) => call('v1/licenses', token, body, LicenseResponseParser),
    renew: (token, licenseId, fromRenewal) =>
      call(
        `v1/licenses/${encodeURIComponent(licenseId)}/renew`,
        token,
        { licenseId, fromRenewal },
        LicenseResponseParser,
      ),
  };
}

/** Whether an HTTP status means "the same request may succeed later" (the protocol's retryable codes are exactly 429 and 5xx). */
export function retryableStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

function errorFrom(path: string, response: Response, json: unknown, now: number): ClientError {
  const wire = readErrorResponse(json);
  const header = retryAfterHeaderMs(response.headers.get('retry-after'), now);
  const status = response.status;
  const retryable = retryableStatus(status);
  if (wire === null) {
    if (status === 401) {
      return new ClientError('UNAUTHORIZED', `${path} failed with HTTP 401`, { status, retryable: false });
    }
    return new ClientError('SERVER', `${path} failed with HTTP ${status}`, {
      status,
      retryable,
      retryAfterMs: header,
      details: { code: status === 413 ? 'PAYLOAD_TOO_LARGE' : null },
    });
  }
  const retryAfterMs = clampRetryHint(wire.retryAfterMs) ?? header;
  const details = { code: wire.code, wire };
  if (wire.code === 'PROTOCOL_VERSION_UNSUPPORTED') {
    return new ClientError('UPDATE_REQUIRED', wire.message, { status, details, retryable: false });
  }
  if (wire.code === 'UNAUTHENTICATED' || wire.code === 'TOKEN_EXPIRED') {
    return new ClientError('UNAUTHORIZED', wire.message, { status, details, retryable: false });
  }
  return new ClientError('SERVER', wire.message, {
    status,
    details,
    retryable,
    retryAfterMs,
  });
}
