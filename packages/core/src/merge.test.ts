import { describe, expect, it } from 'vitest';
import { decideDeviceEvent } from './decide.js';
import type { DeviceEvent } from './events.js';
import { policy } from './policy.js';
import { initialState } from './state.js';
import { Account, accepted, MARCH_1, rejected } from './testing.js';
import { DAY_MS, HOUR_MS } from './time.js';

const receivedAt = MARCH_1 + 10 * DAY_MS;
const context = { deviceId: 'd1', receivedAt };

function withLicence() {
  const account = Account.open({ devices: ['d1', 'd2'] });
  accepted(account.issue('l1', 'd1', 'film', MARCH_1));
  return account;
}

describe('R18 an event comes from its device', () => {
  it('R18 an event naming another device than the sender is refused', () => {
    const account = withLicence();
    const decision = account.device(
      { type: 'DownloadCompleted', data: { licenseId: 'l1', deviceId: 'd2', at: MARCH_1 } },
      context,
    );
    expect(rejected(decision).code).toBe('WRONG_DEVICE');
  });

  it('R18 an event about another device’s licence is refused', () => {
    const account = withLicence();
    const decision = account.device(
      { type: 'DownloadCompleted', data: { licenseId: 'l1', deviceId: 'd2', at: MARCH_1 } },
      { deviceId: 'd2', receivedAt },
    );
    expect(rejected(decision)).toMatchObject({ code: 'WRONG_DEVICE', licenseId: 'l1' });
  });

  it('R18 an unknown device, an unknown licence, or an account not open are refused', () => {
    const account = withLicence();
    const event: DeviceEvent = {
      type: 'DownloadCompleted',
      data: { licenseId: 'l1', deviceId: 'd9', at: MARCH_1 },
    };
    expect(rejected(account.device(event, { deviceId: 'd9', receivedAt })).code).toBe(
      'DEVICE_NOT_REGISTERED',
    );
    expect(
      rejected(
        account.device(
          { type: 'DownloadCompleted', data: { licenseId: 'l9', deviceId: 'd1', at: MARCH_1 } },
          context,
        ),
      ).code,
    ).toBe('LICENSE_NOT_FOUND');
    expect(rejected(decideDeviceEvent(initialState('acc'), event, { deviceId: 'd9', receivedAt })).code).toBe(
      'ACCOUNT_NOT_OPEN',
    );
  });
});

describe('R19 device times are clamped to [firstIssuedAt, receivedAt]', () => {
  it.each([
    ['before the issue', MARCH_1 - 5 * DAY_MS, MARCH_1],
    ['1 ms before the issue', MARCH_1 - 1, MARCH_1],
    ['at the issue', MARCH_1, MARCH_1],
    ['inside', MARCH_1 + DAY_MS, MARCH_1 + DAY_MS],
    ['at receipt', receivedAt, receivedAt],
    ['1 ms after receipt', receivedAt + 1, receivedAt],
    ['a year in the future', receivedAt + 365 * DAY_MS, receivedAt],
  ])('R19 a download completed %s', (_name, at, expected) => {
    const account = withLicence();
    const decision = account.device(
      { type: 'DownloadCompleted', data: { licenseId: 'l1', deviceId: 'd1', at } },
      context,
    );
    expect(accepted(decision)).toEqual([
      { type: 'DownloadCompleted', data: { licenseId: 'l1', deviceId: 'd1', at: expected } },
    ]);
    expect(account.license('l1').downloadedAt).toBe(expected);
  });

  it('R19 a renewal does not move the lower bound: it stays the first issue', () => {
    const account = withLicence();
    accepted(account.renew('l1', 'd1', MARCH_1 + 2 * DAY_MS));
    const decision = account.device(
      { type: 'DownloadCompleted', data: { licenseId: 'l1', deviceId: 'd1', at: MARCH_1 + DAY_MS } },
      context,
    );
    expect(accepted(decision)[0]?.data.at).toBe(MARCH_1 + DAY_MS);
  });

  it('R19 a clock rollback is clamped into [registeredAt, receivedAt]; a deactivated device is refused (R8)', () => {
    const account = withLicence();
    const rollback = (at: number): DeviceEvent => ({
      type: 'ClockRollbackDetected',
      data: { deviceId: 'd1', at, wallClockAt: at - HOUR_MS, behindMs: HOUR_MS },
    });
    expect(accepted(account.device(rollback(MARCH_1 - DAY_MS), context))[0]?.data.at).toBe(MARCH_1);
    expect(accepted(account.device(rollback(receivedAt + DAY_MS), context))[0]?.data.at).toBe(receivedAt);
    account.ok({ type: 'DeactivateDevice', deviceId: 'd1', now: MARCH_1 + DAY_MS });
    expect(rejected(account.device(rollback(MARCH_1 + 1), context)).code).toBe('DEVICE_DEACTIVATED');
    expect(account.state.clockRollbacks).toBe(2);
  });
});

describe('R20 download completed', () => {
  it('R20 an issued licence becomes downloaded; a second completion appends nothing', () => {
    const account = withLicence();
    accepted(
      account.device(
        { type: 'DownloadCompleted', data: { licenseId: 'l1', deviceId: 'd1', at: MARCH_1 + 1 } },
        context,
      ),
    );
    expect(account.license('l1')).toMatchObject({ status: 'downloaded', downloadedAt: MARCH_1 + 1 });
    expect(
      account.device(
        { type: 'DownloadCompleted', data: { licenseId: 'l1', deviceId: 'd1', at: MARCH_1 + 2 } },
        context,
      ),
    ).toEqual({
      ok: true,
      events: [],
    });
    expect(account.license('l1').downloadedAt).toBe(MARCH_1 + 1);
  });

  it.each(['released', 'revoked', 'expired'] as const)(
    'R20 completing the download of a %s licence is refused',
    (status) => {
      const account = Account.open();
      accepted(account.issue('l1', 'd1', 'film', MARCH_1, policy({ licenseDurationSec: 3600 })));
      if (status === 'released')
        account.ok({ type: 'ReleaseLicense', licenseId: 'l1', deviceId: 'd1', now: MARCH_1 + 1 });
      if (status === 'revoked')
        account.ok({ type: 'RevokeLicense', licenseId: 'l1', reason: 'ADMIN', now: MARCH_1 + 1 });
      if (status === 'expired') account.ok({ type: 'ExpireLicenses', now: MARCH_1 + HOUR_MS });
      const decision = account.device(
        { type: 'DownloadCompleted', data: { licenseId: 'l1', deviceId: 'd1', at: MARCH_1 + 2 } },
        context,
      );
      expect(rejected(decision)).toMatchObject({ code: 'LICENSE_NOT_ACTIVE', licenseId: 'l1' });
    },
  );
});

describe('R21 playback started', () => {
  it('R21 before the download completed it is refused', () => {
    const account = withLicence();
    expect(rejected(account.play('l1', 'd1', MARCH_1 + 1, receivedAt))).toMatchObject({
      code: 'NOT_DOWNLOADED',
      licenseId: 'l1',
    });
  });

  it('R21 the first start opens the window; later starts only move the position', () => {
    const account = Account.open();
    account.download('l1', 'd1', 'film', MARCH_1);
    accepted(account.play('l1', 'd1', MARCH_1 + HOUR_MS, MARCH_1 + 3 * HOUR_MS));
    accepted(
      account.device(
        {
          type: 'PlaybackStarted',
          data: { licenseId: 'l1', deviceId: 'd1', at: MARCH_1 + 2 * HOUR_MS, positionMs: 5000 },
        },
        { deviceId: 'd1', receivedAt: MARCH_1 + 3 * HOUR_MS },
      ),
    );
    expect(account.license('l1')).toMatchObject({ firstPlayedAt: MARCH_1 + HOUR_MS, lastPositionMs: 5000 });
  });

  it('R21 a start received at or after the hard expiry is refused; one received 1 ms before it is accepted', () => {
    const account = Account.open();
    account.download('l1', 'd1', 'film', MARCH_1, policy({ rentalDurationSec: 3600 }));
    const end = MARCH_1 + HOUR_MS;
    expect(rejected(account.play('l1', 'd1', end - 1, end))).toMatchObject({
      code: 'LICENSE_NOT_ACTIVE',
      licenseId: 'l1',
    });
    accepted(account.play('l1', 'd1', end - 1, end - 1));
  });

  it('R21 a start on a licence that has ended (released) is refused, whatever date the device gives it', () => {
    const account = Account.open();
    account.download('l1', 'd1', 'film', MARCH_1);
    account.ok({ type: 'ReleaseLicense', licenseId: 'l1', deviceId: 'd1', now: MARCH_1 + DAY_MS });
    expect(rejected(account.play('l1', 'd1', MARCH_1 + DAY_MS, receivedAt)).code).toBe('LICENSE_NOT_ACTIVE');
    expect(rejected(account.play('l1', 'd1', MARCH_1 + DAY_MS - 1, receivedAt)).code).toBe(
      'LICENSE_NOT_ACTIVE',
    );
    expect(rejected(account.play('l1', 'd1', MARCH_1, receivedAt)).code).toBe('LICENSE_NOT_ACTIVE');
  });

  it('R21 a start received after the hard expiry is refused even when dated before it', () => {
    const account = Account.open();
    account.download('l1', 'd1', 'film', MARCH_1, policy({ licenseDurationSec: 86_400 }));
    expect(rejected(account.play('l1', 'd1', MARCH_1 + HOUR_MS, MARCH_1 + 2 * DAY_MS)).code).toBe(
      'LICENSE_NOT_ACTIVE',
    );
    accepted(account.play('l1', 'd1', MARCH_1 + HOUR_MS, MARCH_1 + 2 * HOUR_MS));
  });

  it('R21 playback after an expiry observed by the server is refused', () => {
    const account = Account.open();
    account.download('l1', 'd1', 'film', MARCH_1);
    account.play('l1', 'd1', MARCH_1 + HOUR_MS);
    account.ok({ type: 'ExpireLicenses', now: MARCH_1 + 3 * DAY_MS });
    expect(account.license('l1').status).toBe('expired');
    expect(rejected(account.play('l1', 'd1', MARCH_1 + 50 * HOUR_MS, receivedAt)).code).toBe(
      'LICENSE_NOT_ACTIVE',
    );
  });

  it('R21 a start dated before a renewal (synced late) does not open the renewed term’s window', () => {
    const account = Account.open();
    account.download('l1', 'd1', 'film', MARCH_1);
    const renewedAt = MARCH_1 + 5 * DAY_MS;
    accepted(account.renew('l1', 'd1', renewedAt));
    accepted(account.play('l1', 'd1', MARCH_1 + DAY_MS, receivedAt));
    expect(account.license('l1').firstPlayedAt).toBeNull();
    accepted(account.play('l1', 'd1', renewedAt + HOUR_MS, receivedAt));
    expect(account.license('l1').firstPlayedAt).toBe(renewedAt + HOUR_MS);
  });
});

describe('R22 download deleted', () => {
  it('R22 releases the licence; a duplicate delete is a no-op', () => {
    const account = Account.open();
    account.download('l1', 'd1', 'film', MARCH_1);
    const deleted: DeviceEvent = {
      type: 'DownloadDeleted',
      data: { licenseId: 'l1', deviceId: 'd1', at: MARCH_1 + DAY_MS },
    };
    expect(accepted(account.device(deleted, context))).toEqual([deleted]);
    expect(account.license('l1')).toMatchObject({ status: 'released', endedAt: MARCH_1 + DAY_MS });
    expect(account.device(deleted, context)).toEqual({ ok: true, events: [] });
    expect(
      account.device({ ...deleted, data: { ...deleted.data, at: MARCH_1 + 2 * DAY_MS } }, context),
    ).toEqual({ ok: true, events: [] });
  });

  it('R22 deleting a revoked download appends nothing', () => {
    const account = Account.open();
    account.download('l1', 'd1', 'film', MARCH_1);
    account.ok({ type: 'RevokeLicense', licenseId: 'l1', reason: 'ADMIN', now: MARCH_1 + 1 });
    const decision = account.device(
      { type: 'DownloadDeleted', data: { licenseId: 'l1', deviceId: 'd1', at: MARCH_1 + 2 } },
      context,
    );
    expect(decision).toEqual({ ok: true, events: [] });
    expect(account.license('l1').status).toBe('revoked');
  });
});

describe('R23 information events', () => {
  it('R23 PlaybackStopped records the position, clamped, on any licence state', () => {
    const account = Account.open();
    account.download('l1', 'd1', 'film', MARCH_1);
    account.ok({ type: 'ReleaseLicense', licenseId: 'l1', deviceId: 'd1', now: MARCH_1 + 1 });
    const decision = account.device(
      {
        type: 'PlaybackStopped',
        data: { licenseId: 'l1', deviceId: 'd1', at: receivedAt + DAY_MS, positionMs: 93500 },
      },
      context,
    );
    expect(accepted(decision)).toEqual([
      {
        type: 'PlaybackStopped',
        data: { licenseId: 'l1', deviceId: 'd1', at: receivedAt, positionMs: 93500 },
      },
    ]);
    expect(account.license('l1')).toMatchObject({ status: 'released', lastPositionMs: 93500 });
  });

  it('R23 LicenseExpiryObserved is recorded and changes no status', () => {
    const account = Account.open();
    account.download('l1', 'd1', 'film', MARCH_1);
    const before = account.license('l1');
    accepted(
      account.device(
        {
          type: 'LicenseExpiryObserved',
          data: { licenseId: 'l1', deviceId: 'd1', at: MARCH_1 + 1, reason: 'CHECK_IN' },
        },
        context,
      ),
    );
    expect(account.license('l1')).toEqual(before);
    expect(account.state.version).toBe(account.events.length);
  });

  it('R23 ClockRollbackDetected counts the account’s rollbacks', () => {
    const account = Account.open();
    accepted(
      account.device(
        {
          type: 'ClockRollbackDetected',
          data: { deviceId: 'd1', at: MARCH_1 + 1, wallClockAt: MARCH_1 - DAY_MS, behindMs: DAY_MS },
        },
        context,
      ),
    );
    expect(account.state.clockRollbacks).toBe(1);
  });
});

describe('R8 deactivated device: its recorded events', () => {
  function deactivated() {
    const account = Account.open();
    account.download('l1', 'd1', 'film', MARCH_1);
    account.ok({ type: 'DeactivateDevice', deviceId: 'd1', now: MARCH_1 + DAY_MS });
    return account;
  }

  it.each([
    [
      'PlaybackStarted',
      {
        type: 'PlaybackStarted',
        data: { licenseId: 'l1', deviceId: 'd1', at: MARCH_1 + DAY_MS, positionMs: 0 },
      },
    ],
    [
      'PlaybackStopped',
      {
        type: 'PlaybackStopped',
        data: { licenseId: 'l1', deviceId: 'd1', at: MARCH_1 + 2 * DAY_MS, positionMs: 0 },
      },
    ],
    [
      'DownloadDeleted',
      { type: 'DownloadDeleted', data: { licenseId: 'l1', deviceId: 'd1', at: MARCH_1 + DAY_MS } },
    ],
  ] as Array<[string, DeviceEvent]>)(
    'R8 %s dated at or after the deactivation is refused',
    (_name, incoming) => {
      expect(rejected(deactivated().device(incoming, context)).code).toBe('DEVICE_DEACTIVATED');
    },
  );

  it.each([
    [
      'PlaybackStarted',
      { type: 'PlaybackStarted', data: { licenseId: 'l1', deviceId: 'd1', at: MARCH_1 + 1, positionMs: 0 } },
    ],
    [
      'PlaybackStopped',
      { type: 'PlaybackStopped', data: { licenseId: 'l1', deviceId: 'd1', at: MARCH_1 + 1, positionMs: 5 } },
    ],
    [
      'LicenseExpiryObserved',
      { type: 'LicenseExpiryObserved', data: { licenseId: 'l1', deviceId: 'd1', at: MARCH_1 + 1 } },
    ],
    ['DownloadDeleted', { type: 'DownloadDeleted', data: { licenseId: 'l1', deviceId: 'd1', at: MARCH_1 } }],
    [
      'ClockRollbackDetected',
      {
        type: 'ClockRollbackDetected',
        data: { deviceId: 'd1', at: MARCH_1 + 1, wallClockAt: MARCH_1 - DAY_MS, behindMs: DAY_MS },
      },
    ],
  ] as Array<[string, DeviceEvent]>)(
    'R8 %s back-dated to before the deactivation is refused too',
    (_name, incoming) => {
      const account = deactivated();
      expect(rejected(account.device(incoming, context)).code).toBe('DEVICE_DEACTIVATED');
      expect(account.license('l1')).toMatchObject({ status: 'revoked', firstPlayedAt: null });
    },
  );
});
