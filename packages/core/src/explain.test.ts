import { describe, expect, it } from 'vitest';
import type { DomainEvent } from './events.js';
import { explainAccount, type RecordedEvent } from './explain.js';
import { policy } from './policy.js';
import { Account, MARCH_1, plan } from './testing.js';
import { DAY_MS, HOUR_MS, YEAR_WINDOW_MS } from './time.js';

/** The account's events as a store returns them; device events carry their device and arrival. */
function recorded(events: readonly DomainEvent[], arrivals: Map<DomainEvent, number> = new Map()) {
  return events.map(
    (event, i): RecordedEvent => ({
      event,
      eventId: `e${i + 1}`,
      version: i + 1,
      recordedAt: arrivals.get(event) ?? event.data.at,
      deviceId: arrivals.has(event) ? 'd1' : null,
    }),
  );
}

describe('explainAccount', () => {
  it('says nothing of a plan before the account existed', () => {
    const account = Account.open();
    const x = explainAccount('acc', recorded(account.events), MARCH_1 - 1);
    expect(x.exists).toBe(false);
    expect(x.plan).toBeNull();
    expect(x.licenses).toEqual([]);
  });

  it('names the playback window and the PlaybackStarted that opened it (R10)', () => {
    const account = Account.open();
    account.download('00000000-0000-4000-8000-000000000001', 'd1', 'night-train', MARCH_1);
    account.play('00000000-0000-4000-8000-000000000001', 'd1', MARCH_1 + HOUR_MS);
    const history = recorded(account.events);
    const before = explainAccount('acc', history, MARCH_1 + 2 * HOUR_MS);
    expect(before.licenses[0]).toMatchObject({
      status: 'downloaded',
      playable: true,
      bound: 'PLAYBACK_WINDOW',
    });

    const after = explainAccount('acc', history, MARCH_1 + 50 * HOUR_MS);
    const l = after.licenses[0];
    expect(l).toMatchObject({
      status: 'expired',
      statusReason: 'PLAYBACK_WINDOW',
      playable: false,
      pending: true,
      expiresAt: MARCH_1 + HOUR_MS + 48 * HOUR_MS,
    });
    expect(l?.rule).toMatch(/playback window: 48 h/);
    expect(l?.setBy.map((r) => r.type)).toEqual(['LicenseIssued', 'PlaybackStarted']);
    expect(l?.bounds.map((b) => b.reason)).toEqual(['PLAYBACK_WINDOW', 'LICENSE_DURATION', 'CHECK_IN']);
  });

  it("stops a licence at the device's check-in bound and names the last check-in", () => {
    const account = Account.open();
    const terms = policy({ offlineCheckInSec: 3 * 86_400 });
    account.download('00000000-0000-4000-8000-000000000002', 'd1', 'quiet-river', MARCH_1, terms);
    const x = explainAccount('acc', recorded(account.events), MARCH_1 + 4 * DAY_MS);
    expect(x.licenses[0]).toMatchObject({ status: 'expired', statusReason: 'CHECK_IN', playable: false });
    expect(x.licenses[0]?.setBy[0]?.type).toBe('LicenseIssued');
    expect(x.devices[0]?.lastCheckInAt).toBe(MARCH_1);
  });

  it('lists each counted use of a limited title and when it frees, and the slot holders', () => {
    const account = Account.open({ plan: plan({ maxDownloadDevices: 1 }) });
    const limited = policy({ maxDownloadsPerYear: 2 });
    account.download('00000000-0000-4000-8000-000000000003', 'd1', 'harbour', MARCH_1, limited);
    const x = explainAccount('acc', recorded(account.events), MARCH_1 + DAY_MS);
    expect(x.allowances).toEqual([
      expect.objectContaining({
        titleId: 'harbour',
        limit: 2,
        used: 1,
        remaining: 1,
        uses: [expect.objectContaining({ at: MARCH_1, freesAt: MARCH_1 + YEAR_WINDOW_MS })],
      }),
    ]);
    expect(x.slots?.holders).toEqual([
      { deviceId: 'd1', licenseIds: ['00000000-0000-4000-8000-000000000003'] },
    ]);
  });

  it('lists clock rollbacks and selects by arrival with the recorded basis', () => {
    const account = Account.open();
    account.device(
      {
        type: 'ClockRollbackDetected',
        data: { deviceId: 'd1', at: MARCH_1 + HOUR_MS, wallClockAt: 5, behindMs: 9 },
      },
      { deviceId: 'd1', receivedAt: MARCH_1 + 5 * HOUR_MS },
    );
    const rollback = account.events.at(-1) as DomainEvent;
    const history = recorded(account.events, new Map([[rollback, MARCH_1 + 5 * HOUR_MS]]));
    expect(explainAccount('acc', history, MARCH_1 + 2 * HOUR_MS).clockRollbacks).toHaveLength(1);
    expect(
      explainAccount('acc', history, MARCH_1 + 2 * HOUR_MS, { basis: 'recorded' }).clockRollbacks,
    ).toHaveLength(0);
    const later = explainAccount('acc', history, MARCH_1 + 6 * HOUR_MS);
    expect(later.devices[0]).toMatchObject({ clockRollbacks: 1, lastSyncAt: MARCH_1 + 5 * HOUR_MS });
  });
});
