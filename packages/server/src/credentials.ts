import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Queryable } from './db/database.js';
import { ServerError } from './errors.js';

/** What a device token's credential is now: usable, revoked by deactivation, superseded, or unknown. */
export type CredentialStatus = 'active' | 'revoked' | 'superseded' | 'unknown';

/** A device's stored credential: its secret's SHA-256 (null for a device registered before secrets). */
export interface DeviceCredential {
  readonly secretHash: Uint8Array | null;
  readonly generation: number;
  readonly revoked: boolean;
}

/** A known `deviceId` was registered again without that device's secret (wire: 409 DEVICE_ALREADY_REGISTERED). */
export class DeviceAlreadyRegisteredError extends ServerError {
  constructor() {
    super(
      'DEVICE_ALREADY_REGISTERED',
      'This device id is already registered: registering it again needs the secret the device registered with',
    );
    this.name = 'SatchelDeviceAlreadyRegisteredError';
  }
}

/** SHA-256 of a device secret. Secrets are 256 random bits from the SDK, so a fast hash is enough. */
export const hashDeviceSecret = (secret: string): Uint8Array =>
  new Uint8Array(createHash('sha256').update(secret, 'utf8').digest());

/** A fresh device secret (32 random bytes, base64url): for a registration that did not bring one. */
export const newDeviceSecret = (): string => randomBytes(32).toString('base64url');

/** True when `secret` hashes to `stored` (constant time). */
export function secretMatches(secret: string | undefined, stored: Uint8Array | null): boolean {
  if (secret === undefined || stored === null) return false;
  const given = hashDeviceSecret(secret);
  const have = new Uint8Array(stored);
  return given.length === have.length && timingSafeEqual(given, have);
}

/** The device's credential, locked for the rest of the transaction; null when it has none. */
export async function lockCredential(
  tx: Queryable,
  accountId: string,
  deviceId: string,
): Promise<DeviceCredential | null> {
  const rows = await tx.query<{ secret_hash: Uint8Array | null; generation: number; revoked: boolean }>(
    `SELECT secret_hash, generation, revoked_at IS NOT NULL AS revoked
       FROM device_credentials WHERE account_id = $1 AND device_id = $2 FOR UPDATE`,
    [accountId, deviceId],
  );
  const row = rows[0];
  return row
    ? { secretHash: row.secret_hash, generation: Number(row.generation), revoked: row.revoked }
    : null;
}

/** Writes the device's credential (usable again: `revoked_at` cleared). */
export async function saveCredential(
  tx: Queryable,
  accountId: string,
  deviceId: string,
  credential: { secretHash: Uint8Array | null; generation: number },
): Promise<void> {
  await tx.query(
    `INSERT INTO device_credentials (account_id, device_id, secret_hash, generation, revoked_at, updated_at)
     VALUES ($1, $2, $3, $4, NULL, now())
     ON CONFLICT (account_id, device_id) DO UPDATE
       SET secret_hash = EXCLUDED.secret_hash, generation = EXCLUDED.generation, revoked_at = NULL,
           updated_at = now()`,
    [accountId, deviceId, credential.secretHash, credential.generation],
  );
}

/** Revokes every token of the device at once (deactivation). Idempotent. */
export async function revokeCredential(tx: Queryable, accountId: string, deviceId: string): Promise<void> {
  await tx.query(
    `INSERT INTO device_credentials (account_id, device_id, revoked_at) VALUES ($1, $2, now())
     ON CONFLICT (account_id, device_id) DO UPDATE
       SET revoked_at = COALESCE(device_credentials.revoked_at, now()), updated_at = now()`,
    [accountId, deviceId],
  );
}

/** The device's credential generation and whether it is revoked, or null when the device has none. */
export async function currentCredential(
  db: Queryable,
  accountId: string,
  deviceId: string,
): Promise<{ generation: number; revoked: boolean } | null> {
  const rows = await db.query<{ generation: number; revoked: boolean }>(
    'SELECT generation, revoked_at IS NOT NULL AS revoked FROM device_credentials WHERE account_id = $1 AND device_id = $2',
    [accountId, deviceId],
  );
  const row = rows[0];
  return row ? { generation: Number(row.generation), revoked: row.revoked } : null;
}

/**
 * Where a device token's credential stands now: one primary-key read, made on every request a device
 * token authorises, so a deactivation or a re-registration takes effect on the next request, on every
 * instance. Never throws except for database errors.
 */
export async function credentialStatus(
  db: Queryable,
  accountId: string,
  deviceId: string,
  generation: number,
): Promise<CredentialStatus> {
  return statusOf(await currentCredential(db, accountId, deviceId), generation);
}

/** Where a token of `generation` stands against the device's credential `row` (null: it has none). */
export function statusOf(
  row: { generation: number; revoked: boolean } | null,
  generation: number,
): CredentialStatus {
  if (!row) return 'unknown';
  if (row.revoked) return 'revoked';
  return row.generation === generation ? 'active' : 'superseded';
}
