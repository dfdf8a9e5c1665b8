import { isSatchelError, type LicenseState } from '@satchel/sdk';
import type { DeviceConfig, LogEntry } from './persist.js';
import { countdown } from './words.js';

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
export const DEVICE_NAMES = [
  'Living-room laptop',
  'Phone',
  'Tablet',
  'Work laptop',
  'Games console',
  'Car screen',
];
export const CATALOGUE_CACHE = 'satchel-player:catalogue';
export const CLOCK_STEPS: Array<{ label: string; name: string; ms: number }> = [
  { label: '−1 day', name: 'Move the clock back 1 day', ms: -DAY },
  { label: '−1 h', name: 'Move the clock back 1 hour', ms: -HOUR },
  { label: '+1 h', name: 'Move the clock forward 1 hour', ms: HOUR },
  { label: '+1 day', name: 'Move the clock forward 1 day', ms: DAY },
  { label: '+49 h', name: 'Move the clock forward 49 hours', ms: 49 * HOUR },
  { label: '+31 days', name: 'Move the clock forward 31 days', ms: 31 * DAY },
];

export const KIND_LABEL: Record<LogEntry['kind'], string> = {
  granted: 'Granted',
  refused: 'Refused',
  allowed: 'Allowed',
  denied: 'Refused',
  sync: 'Sync',
  error: 'Failed',
  info: 'Recorded',
  revoked: 'Revoked',
  ended: 'Ended',
  clock: 'Clock',
  network: 'Network',
};

/** An SDK failure in words. */
export function errorWords(error: unknown): string {
  if (isSatchelError(error, 'KEY_REFUSED'))
    return `the server refused the content key: this device holds no valid licence for it (${error.message}). Nothing was stored.`;
  if (isSatchelError(error, 'KEY_UNAVAILABLE'))
    return `the content key could not be fetched (${error.message}); try again online.`;
  if (isSatchelError(error)) return syncErrorWords(error.code, error.message);
  return error instanceof Error ? error.message : String(error);
}

export function syncErrorWords(code: string, message: string): string {
  switch (code) {
    case 'NETWORK':
      return 'the server cannot be reached — this device is offline. It retries when the connection is back.';
    case 'TIMEOUT':
      return 'the server did not answer in time; it will retry.';
    case 'UNAUTHORIZED':
      return `the server refused this device’s credentials (${message}).`;
    case 'UPDATE_REQUIRED':
      return `this player is too old for the server: ${message}`;
    case 'DEVICE_DEACTIVATED':
      return 'this device was deactivated.';
    case 'RATE_LIMITED':
      return 'too many requests; it will retry shortly.';
    default:
      return `${message} (${code})`;
  }
}

export function configFor(index: number): DeviceConfig {
  return {
    index,
    name: DEVICE_NAMES[(index - 1) % DEVICE_NAMES.length] ?? `Device ${index}`,
    dbName: `satchel-device-${index}`,
  };
}

export function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = req.onerror = req.onblocked = () => resolve();
  });
}

/**
 * The instant the licence stops playing and the rule behind it. Once playback has started (even offline,
 * not yet synced) the playback window binds, which the SDK's decision already accounts for.
 */
export function bindingExpiry(license: LicenseState): { at: number; reason: string } {
  const decision = license.playback;
  if (decision.allowed && license.firstPlayedAt !== null)
    return { at: decision.expiresAt, reason: decision.reason };
  return { at: license.expiresAt, reason: license.expiryReason };
}

/** A clock offset in words: "49 hours", "1 day", "31 days", or a countdown for odd amounts. */
export function offsetWords(ms: number): string {
  const abs = Math.abs(ms);
  if (abs % (24 * HOUR) === 0) return abs === 24 * HOUR ? '1 day' : `${abs / (24 * HOUR)} days`;
  if (abs % HOUR === 0) return abs === HOUR ? '1 hour' : `${abs / HOUR} hours`;
  return countdown(abs);
}

export function countdownWords(leftMs: number): string {
  return leftMs > 0 ? `${countdown(leftMs)} left` : 'time is up';
}
