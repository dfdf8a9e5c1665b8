import { describe, expect, it } from 'vitest';
import type { LicenseState, PlaybackResult } from './client.js';
import { heldLicense } from './held.js';

const base = { secureNow: 0, clockRollback: null };
const playable: PlaybackResult = {
  ...base,
  licenseId: 'x',
  allowed: true,
  expiresAt: 10,
  reason: 'RENTAL',
  timeLeftMs: 10,
};
const refused = (reason: Extract<PlaybackResult, { allowed: false }>['reason']): PlaybackResult => ({
  ...base,
  licenseId: 'x',
  allowed: false,
  reason,
  expiredAt: null,
  message: '',
});
const license = (
  licenseId: string,
  titleId: string,
  status: LicenseState['status'],
  playback: PlaybackResult,
): LicenseState => ({ licenseId, titleId, status, playback }) as LicenseState;

describe('heldLicense', () => {
  it('finds the issued or downloaded licence of the title, as the server counts it for ALREADY_LICENSED', () => {
    const list = [
      license('a', 'other', 'downloaded', playable),
      license('b', 'film', 'released', refused('RELEASED')),
      license('c', 'film', 'issued', refused('NOT_DOWNLOADED')),
    ];
    expect(heldLicense(list, 'film')?.licenseId).toBe('c');
    expect(heldLicense(list, 'none')).toBeNull();
  });

  it('still holds a licence that waits for a check-in, not one whose window has passed', () => {
    expect(
      heldLicense([license('a', 'film', 'downloaded', refused('CHECK_IN_REQUIRED'))], 'film')?.licenseId,
    ).toBe('a');
    for (const reason of [
      'EXPIRED_RENTAL',
      'EXPIRED_PLAYBACK_WINDOW',
      'EXPIRED_LICENSE',
      'TITLE_UNAVAILABLE',
    ] as const) {
      expect(heldLicense([license('a', 'film', 'downloaded', refused(reason))], 'film')).toBeNull();
    }
  });
});
