import {
  type LicenseRequest,
  type LicenseResponse,
  PROTOCOL_VERSION,
  PROTOCOL_VERSION_HEADER,
  type RegisterDeviceRequest,
  type RegisterDeviceResponse,
  type SyncRequest,
  type SyncResponse,
} from '@satchel/protocol';
import ky, { isTimeoutError, type KyInstance } from 'ky';
import { ClientError } from '../errors.js';
import {
  LicenseResponseParser,
  type Parser,
  RegisterDeviceResponseParser,
  readErrorResponse,
  SyncResponseParser,
} from './validate.js';

/** The server calls the client makes; every method rejects with a {@link ClientError}. */
export interface Transport {
  sync(token: string, body: SyncRequest): Promise<SyncResponse>;
  register(enrolmentToken: string, body: RegisterDeviceRequest): Promise<RegisterDeviceResponse>;
  requestLicense(token: string, body: LicenseRequest): Promise<LicenseResponse>;
  renew(token: string, licenseId: string): Promise<LicenseResponse>;
}

/** Parses `Retry-After` (seconds or an HTTP date) into milliseconds from `now`. */
export function retryAfterHeaderMs(value: string | null, now: number): number | null {
  if (value === null || value.trim() === '') return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

export interface HttpTransportOptions {
  baseUrl: string;
  fetch?: typeof fetch;
  timeoutMs: number;
  now: () => number;
}

export function httpTransport(options: HttpTransportOptions): Transport {
  const api: KyInstance = ky.create({
    prefix: options.baseUrl,
    timeout: options.timeoutMs,
    retry: 0,
    throwHttpErrors: false,
    headers: { [PROTOCOL_VERSION_HEADER]: String(PROTOCOL_VERSION) },
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
  });

  async function call<T>(path: string, token: string, body: unknown, schema: Parser<T>): Promise<T> {
    let response: Response;
    try {
      response = await api.post(path, { json: body, headers: { authorization: `Bearer ${token}` } });
    } catch (error) {
      if (isTimeoutError(error)) {
        throw new ClientError('TIMEOUT', `The server did not answer ${path} in ${options.timeoutMs} ms`, {
          cause: error,
        });
      }
      throw new ClientError('NETWORK', `Could not reach the server for ${path}`, { cause: error });
    }
    let json: unknown;
    try {
      json = await response.json();
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
    register: (token, body) => call('v1/devices', token, body, RegisterDeviceResponseParser),
    requestLicense: (token, body) => call('v1/licenses', token, body, LicenseResponseParser),
    renew: (token, licenseId) =>
      call(`v1/licenses/${encodeURIComponent(licenseId)}/renew`, token, { licenseId }, LicenseResponseParser),
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
    return new ClientError('SERVER', `${path} failed with HTTP ${status}`, {
      status,
      retryable,
      retryAfterMs: header,
      details: { code: null },
    });
  }
  const retryAfterMs = wire.retryAfterMs ?? header;
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
