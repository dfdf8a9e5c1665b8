import { type ProtocolErrorOf, protocolError } from './errors.js';

/** The protocol version this package speaks (the highest the server accepts). */
export const PROTOCOL_VERSION = 1;

/** The oldest protocol version the server still accepts. */
export const MIN_SUPPORTED_PROTOCOL_VERSION = 1;

/** Request header carrying the client's protocol version (lowercase, as HTTP/2 sends it). */
export const PROTOCOL_VERSION_HEADER = 'satchel-protocol-version';

/** Request and response header carrying the request id; the server generates one when absent. */
export const REQUEST_ID_HEADER = 'x-request-id';

/** The outcome of {@link negotiateProtocolVersion}. */
export type ProtocolNegotiation =
  | { readonly ok: true; readonly version: number }
  | { readonly ok: false; readonly error: ProtocolErrorOf<'PROTOCOL_VERSION_UNSUPPORTED'> };

/**
 * Decides which protocol version to answer a client in. A client version within
 * [{@link MIN_SUPPORTED_PROTOCOL_VERSION}, {@link PROTOCOL_VERSION}] is answered in that version. Any other
 * value (too old, newer than this server, not an integer) yields a `PROTOCOL_VERSION_UNSUPPORTED` error
 * (HTTP 426) whose details give the supported range, so a newer client can fall back. Never throws.
 */
export function negotiateProtocolVersion(clientVersion: number): ProtocolNegotiation {
  if (
    Number.isSafeInteger(clientVersion) &&
    clientVersion >= MIN_SUPPORTED_PROTOCOL_VERSION &&
    clientVersion <= PROTOCOL_VERSION
  ) {
    return { ok: true, version: clientVersion };
  }
  const announced = Number.isSafeInteger(clientVersion) ? clientVersion : null;
  const reason =
    announced === null
      ? 'is not an integer'
      : announced < MIN_SUPPORTED_PROTOCOL_VERSION
        ? 'is too old'
        : 'is newer than this server';
  return {
    ok: false,
    error: protocolError(
      'PROTOCOL_VERSION_UNSUPPORTED',
      `Protocol version ${String(clientVersion)} ${reason}; supported: ${MIN_SUPPORTED_PROTOCOL_VERSION}..${PROTOCOL_VERSION}`,
      {
        details: {
          minVersion: MIN_SUPPORTED_PROTOCOL_VERSION,
          maxVersion: PROTOCOL_VERSION,
          clientVersion: announced,
        },
      },
    ),
  };
}
