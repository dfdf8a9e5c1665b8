import type {
  LicenseResponse,
  LicenseSnapshot,
  ProtocolError,
  RebaseResponse,
  RegisterDeviceResponse,
  SyncResponse,
} from '@satchel/protocol';

// Lean structural validators for what the client reads from the server. They mirror the protocol's zod
// schemas (a test checks both agree) without shipping zod to the browser.

type V<T> = (value: unknown, path: string) => T;

class Invalid extends Error {}

const fail = (path: string, expected: string): never => {
  throw new Invalid(`${path || 'body'}: expected ${expected}`);
};

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const str: V<string> = (v, p) => (typeof v === 'string' ? v : fail(p, 'a string'));
const nonEmpty: V<string> = (v, p) =>
  typeof v === 'string' && v.length > 0 ? v : fail(p, 'a non-empty string');
const int: V<number> = (v, p) =>
  Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : fail(p, 'a non-negative integer');
const pos: V<number> = (v, p) =>
  Number.isSafeInteger(v) && (v as number) >= 1 ? (v as number) : fail(p, 'a positive integer');
const epoch: V<number> = (v, p) => (int(v, p) <= 8.64e15 ? (v as number) : fail(p, 'an instant'));
const nullable =
  <T>(inner: V<T>): V<T | null> =>
  (v, p) =>
    v === null ? null : inner(v, p);
const oneOf =
  <T extends string>(values: readonly T[]): V<T> =>
  (v, p) =>
    values.includes(v as T) ? (v as T) : fail(p, values.join('|'));
const arr =
  <T>(inner: V<T>): V<T[]> =>
  (v, p) =>
    Array.isArray(v) ? v.map((item, i) => inner(item, `${p}[${i}]`)) : fail(p, 'an array');

function obj<T>(fields: { [K in keyof T]-?: V<T[K]> }, optional: ReadonlyArray<keyof T> = []): V<T> {
  return (v, p) => {
    if (!isObj(v)) return fail(p, 'an object');
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(fields) as Array<keyof T & string>) {
      if (v[key] === undefined && optional.includes(key)) continue;
      out[key] = fields[key](v[key], `${p}.${key}`);
    }
    return out as T;
  };
}

type Snapshot = LicenseSnapshot;
type License = Snapshot['licenses'][number];
type Device = Snapshot['device'];

const policy = obj<License['policy']>({
  licenseDurationSec: int,
  rentalDurationSec: int,
  playbackDurationSec: int,
  offlineCheckInSec: int,
  maxDownloadsPerYear: nullable(int),
  maxRenewals: nullable(int),
  availableUntil: nullable(epoch),
});

const license = obj<License>({
  licenseId: nonEmpty,
  titleId: nonEmpty,
  deviceId: nonEmpty,
  status: oneOf(['issued', 'downloaded', 'released', 'revoked', 'expired']),
  statusReason: nullable(str),
  policy,
  issuedAt: epoch,
  firstPlayedAt: nullable(epoch),
  downloadedAt: nullable(epoch),
  renewals: int,
  lastPositionMs: nullable(int),
  endedAt: nullable(epoch),
  expiresAt: epoch,
  expiryReason: oneOf(['RENTAL', 'PLAYBACK_WINDOW', 'LICENSE_DURATION', 'CHECK_IN', 'AVAILABILITY']),
});

const device = obj<Device>({
  deviceId: nonEmpty,
  name: nonEmpty,
  status: oneOf(['active', 'deactivated']),
  registeredAt: epoch,
  deactivatedAt: nullable(epoch),
});

const snapshot = obj<Snapshot>({
  accountId: nonEmpty,
  deviceId: nonEmpty,
  version: int,
  serverTime: epoch,
  plan: obj<Snapshot['plan']>(
    {
      planId: nonEmpty,
      maxDownloadDevices: int,
      maxDownloadsPerDevice: int,
      maxDownloadsPerMonth: nullable(int),
      maxRegisteredDevices: int as V<number | undefined>,
    },
    ['maxRegisteredDevices'],
  ),
  device,
  devices: arr(device),
  licenses: arr(license),
  allowances: arr(
    obj<Snapshot['allowances'][number]>({
      titleId: nonEmpty,
      limit: nullable(int),
      used: int,
      remaining: nullable(int),
      nextAvailableAt: nullable(epoch),
    }),
  ),
});

type Result = SyncResponse['results'][number];
const result: V<Result> = (v, p) => {
  const base = obj<{ status: Result['status']; seq: number; eventId: string }>({
    status: oneOf(['accepted', 'duplicate', 'rejected']),
    seq: pos,
    eventId: nonEmpty,
  })(v, p);
  if (base.status !== 'rejected') return base as Result;
  const r = v as Record<string, unknown>;
  return { ...base, code: nonEmpty(r.code, `${p}.code`), message: str(r.message, `${p}.message`) } as Result;
};

const syncResponse = obj<SyncResponse>({
  protocolVersion: pos,
  results: arr(result),
  ackSeq: int,
  serverTime: epoch,
  snapshot,
});

type Refusal = Extract<LicenseResponse, { outcome: 'refused' }>['refusal'];
const refusal = obj<Refusal>(
  {
    code: nonEmpty as V<Refusal['code']>,
    message: str,
    limit: int,
    used: int,
    remaining: int,
    nextAvailableAt: epoch,
    retryAt: epoch,
    titleId: nonEmpty,
    licenseId: nonEmpty,
  },
  ['limit', 'used', 'remaining', 'nextAvailableAt', 'retryAt', 'titleId', 'licenseId'],
);

const licenseResponse: V<LicenseResponse> = (v, p) => {
  const outcome = isObj(v) ? v.outcome : undefined;
  if (outcome === 'granted')
    return obj<LicenseResponse>({ outcome: () => 'granted', license, snapshot } as never)(v, p);
  if (outcome === 'refused')
    return obj<LicenseResponse>({ outcome: () => 'refused', refusal, snapshot } as never)(v, p);
  return fail(`${p}.outcome`, 'granted|refused');
};

const registerResponse = obj<RegisterDeviceResponse>(
  {
    deviceId: nonEmpty,
    token: nonEmpty,
    tokenExpiresAt: epoch,
    snapshot,
    deviceSecret: nonEmpty as V<string | undefined>,
  },
  ['deviceSecret'],
);

/** A parser in the shape of zod's `safeParse`. */
export interface Parser<T> {
  safeParse(value: unknown): { success: true; data: T } | { success: false; error: unknown };
}

function parser<T>(validate: V<T>): Parser<T> {
  return {
    safeParse(value) {
      try {
        return { success: true, data: validate(value, '') };
      } catch (error) {
        if (error instanceof Invalid) return { success: false, error };
        throw error;
      }
    },
  };
}

const rebaseResponse = obj<RebaseResponse>({
  protocolVersion: pos,
  fromSeq: pos,
  toSeq: pos,
  ackSeq: int,
  serverTime: epoch,
  snapshot,
});

export const SyncResponseParser = parser(syncResponse);
export const RebaseResponseParser = parser(rebaseResponse);
export const LicenseResponseParser = parser(licenseResponse);
export const RegisterDeviceResponseParser = parser(registerResponse);

/** Reads a wire error body (`{ error: { code, message, … } }`), or null if it is not one. */
export function readErrorResponse(body: unknown): ProtocolError | null {
  const error = isObj(body) ? body.error : undefined;
  if (!isObj(error) || typeof error.code !== 'string' || typeof error.message !== 'string') return null;
  if (
    error.retryAfterMs !== undefined &&
    !(Number.isSafeInteger(error.retryAfterMs) && (error.retryAfterMs as number) >= 0)
  ) {
    return null;
  }
  return error as unknown as ProtocolError;
}
