import { isHeldStatus } from '@satchel/core';
import type { LicenseView } from '@satchel/protocol';
import type { Logger } from 'pino';
import { ForbiddenError, NotFoundError, type SatchelService } from '../service.js';
import { parseJsonBody } from './body.js';

/** EME key systems the licence proxy knows (the `:keySystem` path segment). */
export const KEY_SYSTEMS = [
  'org.w3.clearkey',
  'com.widevine.alpha',
  'com.microsoft.playready',
  'com.apple.fps',
] as const;
export type KeySystem = (typeof KEY_SYSTEMS)[number];

/** A ClearKey content key: 16-byte key id and key, both as lowercase hex. */
export interface ClearKey {
  keyId: string;
  key: string;
}

/** A DRM vendor's licence server the proxy forwards a device's challenge to (Widevine, PlayReady, FairPlay). */
export interface LicenseUpstream {
  /** The licence server's URL; the challenge is POSTed there as it came. */
  url: string;
  /** Headers that authenticate the proxy to the vendor (e.g. a signed provider token). */
  headers?: Record<string, string>;
  /** Time allowed for the vendor's answer (default 10 000 ms). */
  timeoutMs?: number;
}

/** Where the licence proxy finds keys (ClearKey) or the vendors' licence servers. */
export interface LicenseProxyOptions {
  /** The ClearKey keys of a title (empty or null: the title has none). */
  clearKeys?: (titleId: string) => readonly ClearKey[] | null | Promise<readonly ClearKey[] | null>;
  /** Licence servers by key system, for the systems that cannot answer here. */
  upstreams?: Partial<Record<Exclude<KeySystem, 'org.w3.clearkey'>, LicenseUpstream>>;
  fetch?: typeof fetch;
}

const b64url = (hex: string) => Buffer.from(hex, 'hex').toString('base64url');
const hex = (b64: string) => Buffer.from(b64, 'base64url').toString('hex');

/**
 * Whether the server would hand this licence's content key out now: the licence is the device's own,
 * issued or downloaded (not released, revoked or expired) and not past its expiry at the server's time.
 */
export function keyReleasable(license: LicenseView, serverTime: number): boolean {
  return isHeldStatus(license.status) && license.expiresAt > serverTime;
}

function refusal(license: LicenseView, serverTime: number): string {
  if (license.status === 'released') return 'The licence was released: no key is handed out for it';
  if (license.status === 'revoked')
    return `The licence was revoked (${license.statusReason ?? 'no reason'}): no key is handed out for it`;
  if (license.status === 'expired' || license.expiresAt <= serverTime)
    return 'The licence has expired: renew it to get the key again';
  return 'The licence does not allow the key now';
}

/**
 * The licence proxy: a device asks for the content key of one of its licences, and gets it only while the
 * licence is valid ({@link keyReleasable}). For ClearKey the answer is the W3C ClearKey licence
 * (`{ keys: [{ kty: 'oct', kid, k }], type: 'temporary' }`, base64url), to a request body that is either
 * empty or a ClearKey licence request (`{ kids: [...] }`; a non-empty list narrows the answer). For another key
 * system the device's challenge is forwarded to the configured vendor licence server and its answer
 * returned as it came: the same gate, with the vendor's CDM enforcing the licence's durations.
 *
 * @throws {NotFoundError} when the licence is not this device's, or the key system has no source here.
 * @throws {ForbiddenError} when the licence is released, revoked or expired.
 */
export function licenseProxy(service: SatchelService, options: LicenseProxyOptions, log?: Logger) {
  const doFetch = options.fetch ?? fetch;
  return async (
    who: { accountId: string; deviceId: string },
    licenseId: string,
    keySystem: string,
    request: Request,
    readBody: () => Promise<Uint8Array> = async () => new Uint8Array(await request.arrayBuffer()),
  ): Promise<Response> => {
    if (!(KEY_SYSTEMS as readonly string[]).includes(keySystem)) {
      throw new NotFoundError(`Unknown key system ${keySystem}; one of ${KEY_SYSTEMS.join(', ')}`);
    }
    const { licenses, serverTime } = await service.licenses(who.accountId, who.deviceId);
    const license = licenses.find((l) => l.licenseId === licenseId);
    if (!license) throw new NotFoundError(`No licence ${licenseId} on this device`);
    if (!keyReleasable(license, serverTime)) {
      log?.info({ licenseId, keySystem, status: license.status }, 'content key refused');
      throw new ForbiddenError('FORBIDDEN', refusal(license, serverTime));
    }
    if (keySystem === 'org.w3.clearkey') {
      const keys = (await options.clearKeys?.(license.titleId)) ?? [];
      if (keys.length === 0) throw new NotFoundError(`Title ${license.titleId} has no ClearKey key`);
      let wanted: Set<string> | null = null;
      const body = await readBody();
      if (Buffer.from(body).toString('utf8').trim() !== '') {
        let parsed: { kids?: unknown } = {};
        try {
          parsed = (parseJsonBody(body) ?? {}) as { kids?: unknown };
        } catch {
          // Not a ClearKey licence request: answer with all the licence's keys, as for an empty body.
        }
        if (Array.isArray(parsed.kids) && parsed.kids.length > 0)
          wanted = new Set(parsed.kids.map((k) => hex(String(k))));
      }
      const chosen = keys.filter((k) => wanted === null || wanted.has(k.keyId));
      log?.info({ licenseId, keySystem, keys: chosen.length }, 'content key released');
      return Response.json({
        keys: chosen.map((k) => ({ kty: 'oct', kid: b64url(k.keyId), k: b64url(k.key) })),
        type: 'temporary',
      });
    }
    const upstream = options.upstreams?.[keySystem as Exclude<KeySystem, 'org.w3.clearkey'>];
    if (!upstream) throw new NotFoundError(`No ${keySystem} licence server is configured`);
    const answer = await doFetch(upstream.url, {
      method: 'POST',
      headers: {
        'content-type': request.headers.get('content-type') ?? 'application/octet-stream',
        ...upstream.headers,
      },
      body: Buffer.from(await readBody()),
      signal: AbortSignal.timeout(upstream.timeoutMs ?? 10_000),
    });
    log?.info({ licenseId, keySystem, status: answer.status }, 'licence forwarded');
    return new Response(await answer.arrayBuffer(), {
      status: answer.ok ? 200 : 502,
      headers: { 'content-type': answer.headers.get('content-type') ?? 'application/octet-stream' },
    });
  };
}
