import { policy } from '@satchel/core';
import { describe, expect, it } from 'vitest';
import type { LicenseState } from './client.js';
import { heldLicense } from './held.js';

const DAY = 86_400_000;
const terms = policy({
  rentalDurationSec: 30 * 86_400,
  playbackDurationSec: 2 * 86_400,
  licenseDurationSec: 60 * 86_400,
  offlineCheckInSec: 7 * 86_400,
});

/** A licence issued at 0, its decision read at trusted time `now`. */
const license = (
  licenseId: string,
  titleId: string,
  status: LicenseState['status'],
  now: number,
  extra: Partial<LicenseState> = {},
): LicenseState =>
  ({
    licenseId,
    titleId,
    status,
    issuedAt: 0,
    firstPlayedAt: null,
    policy: terms,
    playback: { licenseId, secureNow: now, clockRollback: null },
    ...extra,
  }) as LicenseState;

describe('heldLicense', () => {
  it('finds the issued or downloaded licence of the title, as the server counts it for ALREADY_LICENSED', () => {
    const list = [
      license('a', 'other', 'downloaded', DAY),
      license('b', 'film', 'released', DAY),
      license('c', 'film', 'issued', DAY),
    ];
    expect(heldLicense(list, 'film')?.licenseId).toBe('c');
    expect(heldLicense(list, 'none')).toBeNull();
  });

  it('still holds a licence that waits for a check-in, not one whose window has passed', () => {
    // Ten days offline: past the 7-day check-in, within the 30-day rental.
    expect(heldLicense([license('a', 'film', 'downloaded', 10 * DAY)], 'film')?.licenseId).toBe('a');
    const ended = [
      license('rental', 'film', 'downloaded', 31 * DAY),
      license('playback', 'film', 'downloaded', 4 * DAY, { firstPlayedAt: DAY }),
      license('licence', 'film', 'downloaded', 61 * DAY, { firstPlayedAt: 60 * DAY }),
      license('availability', 'film', 'downloaded', 5 * DAY, {
        policy: { ...terms, availableUntil: 4 * DAY },
      }),
    ];
    for (const l of ended) expect(heldLicense([l], 'film'), l.licenseId).toBeNull();
  });
});
