import { SatchelError } from '@satchel/core';
import type { LicenseView } from '@satchel/protocol';

/** Codes of {@link MediaError}. */
export type MediaErrorCode = 'KEY_REFUSED' | 'KEY_UNAVAILABLE' | 'NOT_STORED' | 'STORE_FAILED';

/**
 * A failure of the Shaka adapter:
 * - `KEY_REFUSED`: the licence proxy refused the content key (the licence is not valid for this device;
 *   `details.status` is the HTTP status, `details.code` the wire code);
 * - `KEY_UNAVAILABLE`: the licence proxy could not be reached or answered nonsense (retryable);
 * - `NOT_STORED`: no stored media for this licence on this device;
 * - `STORE_FAILED`: Shaka could not download or store the media (`cause` is Shaka's error).
 */
export class MediaError extends SatchelError {
  declare readonly code: MediaErrorCode;

  constructor(
    code: MediaErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(code, message, options);
    this.name = 'SatchelMediaError';
  }
}

/** ClearKey keys as Shaka's `drm.clearKeys` takes them: key id (hex) → key (hex). */
export type ClearKeys = Record<string, string>;

/** Fetches the content keys of a licence before its media is stored. */
export type KeySource = (license: LicenseView) => Promise<ClearKeys>;

/** Where the Satchel server's licence proxy is and how to authenticate to it as this device. */
export interface LicenseProxyOptions {
  /** The sync server's base URL (the one given to `createSatchel`). */
  baseUrl: string;
  /** This device's bearer token (the one the SDK registered with). */
  getToken: () => string | null | Promise<string | null>;
  fetch?: typeof fetch;
}

const hex = (b64url: string): string => {
  const b64 = b64url.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return [...bin].map((c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join('');
};

/** The licence proxy's URL for one licence and EME key system. */
export function licenseProxyUrl(baseUrl: string, licenseId: string, keySystem: string): string {
  return new URL(`v1/licenses/${encodeURIComponent(licenseId)}/drm/${keySystem}`, baseUrl).href;
}

/**
 * A {@link KeySource} that asks the Satchel server's licence proxy
 * (`POST /v1/licenses/{licenseId}/drm/org.w3.clearkey`) for the licence's ClearKey keys. The server hands
 * them out only while the licence is valid and this device's.
 * @throws {MediaError} `KEY_REFUSED` (4xx) or `KEY_UNAVAILABLE` (network, 5xx, malformed answer).
 */
export function clearKeysFromLicenseProxy(options: LicenseProxyOptions): KeySource {
  const doFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  return async (license) => {
    const token = await options.getToken();
    let response: Response;
    try {
      response = await doFetch(licenseProxyUrl(options.baseUrl, license.licenseId, 'org.w3.clearkey'), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token === null ? {} : { authorization: `Bearer ${token}` }),
        },
        body: JSON.stringify({ kids: [], type: 'temporary' }),
      });
    } catch (cause) {
      throw new MediaError('KEY_UNAVAILABLE', 'The licence proxy cannot be reached', { cause });
    }
    const body = (await response.json().catch(() => null)) as {
      keys?: { kid?: unknown; k?: unknown }[];
      error?: { code?: string; message?: string };
    } | null;
    if (!response.ok) {
      const code = response.status >= 500 ? 'KEY_UNAVAILABLE' : 'KEY_REFUSED';
      throw new MediaError(code, body?.error?.message ?? `The licence proxy answered ${response.status}`, {
        details: { status: response.status, code: body?.error?.code ?? null },
      });
    }
    const keys: ClearKeys = {};
    for (const k of body?.keys ?? []) {
      if (typeof k.kid === 'string' && typeof k.k === 'string') keys[hex(k.kid)] = hex(k.k);
    }
    if (Object.keys(keys).length === 0) {
      throw new MediaError('KEY_UNAVAILABLE', 'The licence proxy answered without a key');
    }
    return keys;
  };
}
