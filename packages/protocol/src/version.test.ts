import { describe, expect, it } from 'vitest';
import { ProtocolError } from './entries/schemas.js';
import {
  httpStatusFor,
  MIN_SUPPORTED_PROTOCOL_VERSION,
  negotiateProtocolVersion,
  PROTOCOL_VERSION,
  PROTOCOL_VERSION_HEADER,
  REQUEST_ID_HEADER,
} from './index.js';

describe('negotiateProtocolVersion', () => {
  it('answers a supported version in that version', () => {
    expect(negotiateProtocolVersion(PROTOCOL_VERSION)).toEqual({ ok: true, version: PROTOCOL_VERSION });
    expect(negotiateProtocolVersion(MIN_SUPPORTED_PROTOCOL_VERSION)).toEqual({
      ok: true,
      version: MIN_SUPPORTED_PROTOCOL_VERSION,
    });
  });

  it.each([
    ['too old', MIN_SUPPORTED_PROTOCOL_VERSION - 1, MIN_SUPPORTED_PROTOCOL_VERSION - 1],
    ['negative', -3, -3],
    ['newer than the server', PROTOCOL_VERSION + 1, PROTOCOL_VERSION + 1],
    ['fractional', 1.5, null],
    ['NaN', Number.NaN, null],
    ['infinite', Number.POSITIVE_INFINITY, null],
  ])(
    'refuses a version that is %s with PROTOCOL_VERSION_UNSUPPORTED (426) and the range',
    (_n, version, echoed) => {
      const result = negotiateProtocolVersion(version);
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.error.code).toBe('PROTOCOL_VERSION_UNSUPPORTED');
      expect(httpStatusFor(result.error.code)).toBe(426);
      expect(result.error.details).toEqual({
        minVersion: MIN_SUPPORTED_PROTOCOL_VERSION,
        maxVersion: PROTOCOL_VERSION,
        clientVersion: echoed,
      });
      expect(result.error.retryAfterMs).toBeUndefined();
      expect(ProtocolError.parse(JSON.parse(JSON.stringify(result.error)))).toEqual(result.error);
    },
  );

  it('exposes the version constants and header names', () => {
    expect(PROTOCOL_VERSION).toBe(1);
    expect(MIN_SUPPORTED_PROTOCOL_VERSION).toBe(1);
    expect(PROTOCOL_VERSION_HEADER).toBe('satchel-protocol-version');
    expect(REQUEST_ID_HEADER).toBe('x-request-id');
  });
});
