import { describe, expect, it } from 'vitest';
import { type Command, decide, devicesHoldingDownloads, downloadAllowance } from './decide.js';
import { DEFAULT_MAX_REGISTERED_DEVICES, policy } from './policy.js';
import { initialState } from './state.js';
import { Account, accepted, MARCH_1, plan, rejected, utc } from './testing.js';
import { DAY_MS, MONTH_WINDOW_MS, YEAR_WINDOW_MS } from './time.js';

const DAY = DAY_MS;
const days = (n: number) => (n * DAY_MS) / 1000;

describe('R1 devices per plan', () => {
  it.each([1, 2, 4, 6])(
    'R1 with maxDownloadDevices %i: the last device is granted, one more is refused',
    (max) => {
      const devices = Array.from({ length: max + 1 }, (_, i) => `d${i + 1}`);
      const account = Account.open({ plan: plan({ maxDownloadDevices: max }), devices });
      for (let i = 0; i < max; i++) accepted(account.issue(`l${i}`, `d${i + 1}`, 't1', MARCH_1 + i));
      expect(devicesHoldingDownloads(account.state, MARCH_1 + max).size).toBe(max);
      expect(account.issue('lx', `d${max + 1}`, 't1', MARCH_1 + max)).toEqual({
        ok: false,
        rejection: expect.objectContaining({ code: 'DEVICE_LIMIT', limit: max, used: max, remaining: 0 }),
      });
    },
  );

  it('R1 a device that already holds a slot is not refused by the device limit', () => {
    const account = Account.open({ plan: plan({ maxDownloadDevices: 1 }), devices: ['d1', 'd2'] });
    accepted(account.issue('l1', 'd1', 't1', MARCH_1));
    accepted(account.issue('l2', 'd1', 't2', MARCH_1 + 1));
    expect(rejected(account.issue('l3', 'd2', 't3', MARCH_1 + 2)).code).toBe('DEVICE_LIMIT');
  });

  it('R1 a registered device without active licences holds no slot', () => {
    const account = Account.open({ plan: plan({ maxDownloadDevices: 1 }), devices: ['d1', 'd2', 'd3'] });
    accepted(account.issue('l1', 'd2', 't1', MARCH_1));
    expect([...devicesHoldingDownloads(account.state, MARCH_1)]).toEqual(['d2']);
  });
});

describe('R2 active licences per device', () => {
  it.each([
    [3, 'a small plan'],
    [100, 'the default plan'],
  ])('R2 with maxDownloadsPerDevice %i (%s): the last one is granted, one more is refused', (max) => {
    const account = Account.open({ plan: plan({ maxDownloadsPerDevice: max }) });
    for (let i = 0; i < max; i++) accepted(account.issue(`l${i}`, 'd1', `t${i}`, MARCH_1 + i));
    expect(rejected(account.issue('lx', 'd1', 'tx', MARCH_1 + max))).toMatchObject({
      code: 'DEVICE_LICENSE_LIMIT',
      limit: max,
      used: max,
      remaining: 0,
    });
  });

  it('R2 the cap counts active licences only: a release makes room', () => {
    const account = Account.open({ plan: plan({ maxDownloadsPerDevice: 2 }) });
    accepted(account.issue('l1', 'd1', 't1', MARCH_1));
    accepted(account.issue('l2', 'd1', 't2', MARCH_1));
    expect(rejected(account.issue('l3', 'd1', 't3', MARCH_1 + 1)).code).toBe('DEVICE_LICENSE_LIMIT');
    account.ok({ type: 'ReleaseLicense', licenseId: 'l1', deviceId: 'd1', now: MARCH_1 + 2 });
    accepted(account.issue('l3', 'd1', 't3', MARCH_1 + 3));
  });
});

describe('R3 per-title yearly limit', () => {
  const limited = policy({ maxDownloadsPerYear: 3 });
  const t0 = MARCH_1;

  /** Three downloads of 'film' at t0, t0 + 10 d and t0 + 20 d, each released. */
  function threeDownloads() {
    const account = Account.open({ devices: ['d1', 'd2'] });
    [0, 10, 20].forEach((day, i) => {
      accepted(account.issue(`l${i}`, i === 1 ? 'd2' : 'd1', 'film', t0 + day * DAY, limited));
      account.ok({
        type: 'ReleaseLicense',
        licenseId: `l${i}`,
        deviceId: i === 1 ? 'd2' : 'd1',
        now: t0 + day * DAY + 1,
      });
    });
    return account;
  }

  it('R3 limit − 1 used: one more is granted', () => {
    const fresh = Account.open();
    accepted(fresh.issue('a', 'd1', 'film', t0, limited));
    fresh.ok({ type: 'ReleaseLicense', licenseId: 'a', deviceId: 'd1', now: t0 + 1 });
    accepted(fresh.issue('b', 'd1', 'film', t0 + 2, limited));
    fresh.ok({ type: 'ReleaseLicense', licenseId: 'b', deviceId: 'd1', now: t0 + 3 });
    expect(downloadAllowance(fresh.state, 'film', limited, t0 + 4)).toMatchObject({
      limit: 3,
      used: 2,
      remaining: 1,
    });
    accepted(fresh.issue('c', 'd1', 'film', t0 + 4, limited));
  });

  it('R3 limit used (across devices, released or not): refused with the numbers a player shows', () => {
    const account = threeDownloads();
    expect(rejected(account.issue('l3', 'd1', 'film', t0 + 30 * DAY, limited))).toEqual({
      code: 'YEARLY_LIMIT',
      message: expect.any(String),
      titleId: 'film',
      limit: 3,
      used: 3,
      remaining: 0,
      nextAvailableAt: t0 + YEAR_WINDOW_MS,
    });
  });

  it('R3 window edge: refused 1 ms before nextAvailableAt, granted at it', () => {
    const account = threeDownloads();
    expect(rejected(account.issue('l3', 'd1', 'film', t0 + YEAR_WINDOW_MS - 1, limited)).code).toBe(
      'YEARLY_LIMIT',
    );
    expect(downloadAllowance(account.state, 'film', limited, t0 + YEAR_WINDOW_MS)).toMatchObject({
      used: 2,
      remaining: 1,
    });
    accepted(account.issue('l3', 'd1', 'film', t0 + YEAR_WINDOW_MS, limited));
  });

  it('R3 a renewal counts as a download', () => {
    const account = Account.open();
    accepted(account.issue('l1', 'd1', 'film', t0, limited));
    accepted(account.renew('l1', 'd1', t0 + DAY));
    accepted(account.renew('l1', 'd1', t0 + 2 * DAY));
    expect(rejected(account.renew('l1', 'd1', t0 + 3 * DAY))).toMatchObject({
      code: 'YEARLY_LIMIT',
      used: 3,
      nextAvailableAt: t0 + YEAR_WINDOW_MS,
    });
  });

  it('R3 other titles do not count', () => {
    const account = threeDownloads();
    accepted(account.issue('other', 'd1', 'another film', t0 + 30 * DAY, limited));
  });

  it('R3 no limit: any number of downloads', () => {
    const account = Account.open();
    for (let i = 0; i < 10; i++) {
      accepted(account.issue(`l${i}`, 'd1', 'film', t0 + i * DAY));
      account.ok({ type: 'ReleaseLicense', licenseId: `l${i}`, deviceId: 'd1', now: t0 + i * DAY + 1 });
    }
    expect(downloadAllowance(account.state, 'film', policy(), t0 + 10 * DAY)).toMatchObject({
      limit: null,
      used: 10,
      remaining: null,
    });
  });

  it('R3 a limit lowered below what was used: nextAvailableAt is when enough downloads leave the window', () => {
    const account = threeDownloads();
    const lowered = policy({ maxDownloadsPerYear: 2 });
    const second = t0 + 10 * DAY;
    expect(rejected(account.issue('l3', 'd1', 'film', t0 + 30 * DAY, lowered))).toMatchObject({
      code: 'YEARLY_LIMIT',
      limit: 2,
      used: 3,
      nextAvailableAt: second + YEAR_WINDOW_MS,
    });
    expect(rejected(account.issue('l3', 'd1', 'film', second + YEAR_WINDOW_MS - 1, lowered)).code).toBe(
      'YEARLY_LIMIT',
    );
    accepted(account.issue('l3', 'd1', 'film', second + YEAR_WINDOW_MS, lowered));
  });
});

describe('R4 renewals per licence', () => {
  it.each([
    [0, 'never'],
    [1, 'once'],
    [2, 'twice'],
  ])('R4 maxRenewals %i (%s): the last renewal is granted, one more is refused', (max) => {
    const account = Account.open();
    accepted(account.issue('l1', 'd1', 't1', MARCH_1, policy({ maxRenewals: max })));
    for (let i = 1; i <= max; i++) accepted(account.renew('l1', 'd1', MARCH_1 + i * DAY));
    expect(account.license('l1').renewals).toBe(max);
    expect(rejected(account.renew('l1', 'd1', MARCH_1 + (max + 1) * DAY))).toMatchObject({
      code: 'RENEWAL_LIMIT',
      licenseId: 'l1',
      limit: max,
      used: max,
      remaining: 0,
    });
  });
});

describe('R5 monthly limit', () => {
  const monthly = plan({ maxDownloadsPerMonth: 15, maxDownloadDevices: 2 });

  function fifteen() {
    const account = Account.open({ plan: monthly, devices: ['d1', 'd2'] });
    for (let i = 0; i < 14; i++)
      accepted(account.issue(`l${i}`, i % 2 === 0 ? 'd1' : 'd2', `t${i}`, MARCH_1 + i * 1000));
    return account;
  }

  it('R5 limit − 1 used: the 15th download in 30 days is granted (a renewal counts)', () => {
    const account = fifteen();
    accepted(account.renew('l0', 'd1', MARCH_1 + DAY));
  });

  it('R5 limit used: the 16th is refused with nextAvailableAt = oldest + 30 days', () => {
    const account = fifteen();
    accepted(account.issue('l14', 'd1', 't14', MARCH_1 + DAY));
    expect(rejected(account.issue('l15', 'd2', 't15', MARCH_1 + 2 * DAY))).toEqual({
      code: 'MONTHLY_LIMIT',
      message: expect.any(String),
      limit: 15,
      used: 15,
      remaining: 0,
      nextAvailableAt: MARCH_1 + MONTH_WINDOW_MS,
    });
    expect(rejected(account.renew('l1', 'd2', MARCH_1 + 2 * DAY)).code).toBe('MONTHLY_LIMIT');
  });

  it('R5 window edge: refused 1 ms before the oldest leaves the window, granted at it', () => {
    const account = fifteen();
    accepted(account.issue('l14', 'd1', 't14', MARCH_1 + DAY));
    expect(rejected(account.issue('l15', 'd2', 't15', MARCH_1 + MONTH_WINDOW_MS - 1)).code).toBe(
      'MONTHLY_LIMIT',
    );
    accepted(account.issue('l15', 'd2', 't15', MARCH_1 + MONTH_WINDOW_MS));
  });

  it('R5 a plan without a monthly limit does not count', () => {
    const account = Account.open({ plan: plan({ maxDownloadsPerMonth: null }) });
    for (let i = 0; i < 20; i++) accepted(account.issue(`l${i}`, 'd1', `t${i}`, MARCH_1 + i));
  });

  it('R5 a plan lowered below what was used: nextAvailableAt is when enough downloads leave the window', () => {
    const account = fifteen();
    account.ok({
      type: 'ChangePlan',
      plan: plan({ maxDownloadsPerMonth: 10, maxDownloadDevices: 2 }),
      now: MARCH_1 + DAY,
    });
    const fifth = MARCH_1 + 4 * 1000;
    expect(rejected(account.issue('lx', 'd1', 'tx', MARCH_1 + 2 * DAY))).toMatchObject({
      code: 'MONTHLY_LIMIT',
      limit: 10,
      used: 14,
      nextAvailableAt: fifth + MONTH_WINDOW_MS,
    });
    expect(rejected(account.issue('lx', 'd1', 'tx', fifth + MONTH_WINDOW_MS - 1)).code).toBe('MONTHLY_LIMIT');
    accepted(account.issue('lx', 'd1', 'tx', fifth + MONTH_WINDOW_MS));
  });
});

describe('R6 availability and withdrawal', () => {
  const until = utc('2026-03-10T00:00Z');

  it('R6 the policy availableUntil: granted 1 ms before, refused at it', () => {
    const account = Account.open({ devices: ['d1', 'd2'] });
    accepted(account.issue('l1', 'd1', 'film', until - 1, policy({ availableUntil: until })));
    expect(
      rejected(account.issue('l2', 'd2', 'film', until, policy({ availableUntil: until }))),
    ).toMatchObject({
      code: 'TITLE_UNAVAILABLE',
      titleId: 'film',
    });
  });

  it('R6 a withdrawal dated in the future lowers availableUntil of existing and new licences', () => {
    const account = Account.open({ devices: ['d1', 'd2'] });
    accepted(account.issue('l1', 'd1', 'film', MARCH_1));
    expect(
      account.ok({ type: 'WithdrawTitle', titleId: 'film', availableUntil: until, now: MARCH_1 + DAY }),
    ).toHaveLength(1);
    expect(account.license('l1').policy.availableUntil).toBe(until);
    accepted(account.issue('l2', 'd2', 'film', until - 1));
    expect(account.license('l2').policy.availableUntil).toBe(until);
    accepted(account.issue('l3', 'd1', 'another film', until));
    expect(rejected(account.renew('l1', 'd1', until)).code).toBe('TITLE_UNAVAILABLE');
  });

  it('R6 a later withdrawal never extends an earlier availableUntil', () => {
    const account = Account.open();
    accepted(account.issue('l1', 'd1', 'film', MARCH_1, policy({ availableUntil: until })));
    account.ok({ type: 'WithdrawTitle', titleId: 'film', availableUntil: until + DAY, now: MARCH_1 + 1 });
    expect(account.license('l1').policy.availableUntil).toBe(until);
    account.ok({ type: 'WithdrawTitle', titleId: 'film', availableUntil: until - DAY, now: MARCH_1 + 2 });
    expect(account.license('l1').policy.availableUntil).toBe(until - DAY);
    account.ok({ type: 'WithdrawTitle', titleId: 'film', availableUntil: until + 2 * DAY, now: MARCH_1 + 3 });
    expect(account.state.withdrawals.film).toBe(until - DAY);
  });

  it('R6 a withdrawal effective now revokes the active licences of the title (TITLE_WITHDRAWN)', () => {
    const account = Account.open({ devices: ['d1', 'd2'] });
    accepted(account.issue('l1', 'd1', 'film', MARCH_1));
    accepted(account.issue('l2', 'd2', 'film', MARCH_1));
    accepted(account.issue('l3', 'd2', 'other', MARCH_1));
    const events = account.ok({
      type: 'WithdrawTitle',
      titleId: 'film',
      availableUntil: MARCH_1 + DAY,
      now: MARCH_1 + DAY,
    });
    expect(events.map((e) => e.type)).toEqual(['TitleWithdrawn', 'LicenseRevoked', 'LicenseRevoked']);
    expect(account.license('l1')).toMatchObject({ status: 'revoked', statusReason: 'TITLE_WITHDRAWN' });
    expect(account.license('l2')).toMatchObject({ status: 'revoked', statusReason: 'TITLE_WITHDRAWN' });
    expect(account.license('l3').status).toBe('issued');
    expect(rejected(account.issue('l4', 'd1', 'film', MARCH_1 + DAY)).code).toBe('TITLE_UNAVAILABLE');
  });
});

describe('R7 one active licence per title per device', () => {
  it('R7 a second licence for the title on the same device is refused with the one held', () => {
    const account = Account.open({ devices: ['d1', 'd2'] });
    accepted(account.issue('l1', 'd1', 'film', MARCH_1));
    expect(rejected(account.issue('l2', 'd1', 'film', MARCH_1 + 1))).toMatchObject({
      code: 'ALREADY_LICENSED',
      titleId: 'film',
      licenseId: 'l1',
    });
    accepted(account.issue('l2', 'd2', 'film', MARCH_1 + 2));
  });

  it('R7 once the licence is released or expired, the title may be licensed again', () => {
    const account = Account.open();
    accepted(account.issue('l1', 'd1', 'film', MARCH_1, policy({ licenseDurationSec: days(2) })));
    accepted(account.issue('l2', 'd1', 'film', MARCH_1 + 2 * DAY));
    account.ok({ type: 'ReleaseLicense', licenseId: 'l2', deviceId: 'd1', now: MARCH_1 + 3 * DAY });
    accepted(account.issue('l3', 'd1', 'film', MARCH_1 + 3 * DAY));
  });

  it('R7 renewing an expired licence while another licence for the title is active is refused', () => {
    const account = Account.open();
    accepted(account.issue('l1', 'd1', 'film', MARCH_1, policy({ licenseDurationSec: days(2) })));
    accepted(account.issue('l2', 'd1', 'film', MARCH_1 + 3 * DAY));
    expect(rejected(account.renew('l1', 'd1', MARCH_1 + 4 * DAY))).toMatchObject({
      code: 'ALREADY_LICENSED',
      licenseId: 'l2',
    });
  });
});

describe('R8 deactivated device', () => {
  it('R8 deactivation revokes the licences that have not ended and frees the slot', () => {
    const account = Account.open({ plan: plan({ maxDownloadDevices: 1 }), devices: ['d1', 'd2'] });
    accepted(account.issue('l1', 'd1', 't1', MARCH_1));
    accepted(account.issue('l2', 'd1', 't2', MARCH_1));
    account.ok({ type: 'ReleaseLicense', licenseId: 'l2', deviceId: 'd1', now: MARCH_1 + 1 });
    expect(rejected(account.issue('l3', 'd2', 't1', MARCH_1 + 2)).code).toBe('DEVICE_LIMIT');
    const events = account.ok({ type: 'DeactivateDevice', deviceId: 'd1', now: MARCH_1 + 3 });
    expect(events).toEqual([
      { type: 'DeviceDeactivated', data: { deviceId: 'd1', at: MARCH_1 + 3 } },
      { type: 'LicenseRevoked', data: { licenseId: 'l1', at: MARCH_1 + 3, reason: 'DEVICE_DEACTIVATED' } },
    ]);
    expect(account.license('l2').status).toBe('released');
    accepted(account.issue('l3', 'd2', 't1', MARCH_1 + 4));
  });

  it.each([
    [
      'an issue',
      {
        type: 'IssueLicense',
        licenseId: 'lx',
        deviceId: 'd1',
        titleId: 'tx',
        policy: policy(),
        now: MARCH_1 + DAY,
      },
    ],
    ['a renewal', { type: 'RenewLicense', licenseId: 'l1', deviceId: 'd1', now: MARCH_1 + DAY }],
    ['a second deactivation', { type: 'DeactivateDevice', deviceId: 'd1', now: MARCH_1 + DAY }],
  ] as Array<[string, Command]>)('R8 %s for a deactivated device is refused', (_name, command) => {
    const account = Account.open();
    accepted(account.issue('l1', 'd1', 't1', MARCH_1));
    account.ok({ type: 'DeactivateDevice', deviceId: 'd1', now: MARCH_1 + 1 });
    expect(rejected(account.decide(command)).code).toBe('DEVICE_DEACTIVATED');
  });

  it('R8 a deactivated device may register again', () => {
    const account = Account.open();
    account.ok({ type: 'DeactivateDevice', deviceId: 'd1', now: MARCH_1 + 1 });
    account.ok({ type: 'RegisterDevice', deviceId: 'd1', name: 'again', now: MARCH_1 + 2 });
    expect(account.state.devices.d1).toMatchObject({ status: 'active', deactivatedAt: null, name: 'again' });
    accepted(account.issue('l1', 'd1', 't1', MARCH_1 + 3));
  });
});

describe('R26 registered devices per plan', () => {
  it('R26 registering beyond maxRegisteredDevices active devices is refused; deactivating one frees a place', () => {
    const account = Account.open({ plan: plan({ maxRegisteredDevices: 2 }), devices: ['d1', 'd2'] });
    expect(
      rejected(account.decide({ type: 'RegisterDevice', deviceId: 'd3', name: 'x', now: MARCH_1 })),
    ).toMatchObject({ code: 'DEVICE_LIMIT', limit: 2, used: 2, remaining: 0 });
    account.ok({ type: 'DeactivateDevice', deviceId: 'd1', now: MARCH_1 + 1 });
    account.ok({ type: 'RegisterDevice', deviceId: 'd3', name: 'x', now: MARCH_1 + 2 });
  });

  it('R26 without maxRegisteredDevices the plan allows DEFAULT_MAX_REGISTERED_DEVICES', () => {
    const devices = Array.from({ length: DEFAULT_MAX_REGISTERED_DEVICES }, (_, i) => `d${i}`);
    const account = Account.open({ devices });
    expect(
      rejected(account.decide({ type: 'RegisterDevice', deviceId: 'dx', name: 'x', now: MARCH_1 })).code,
    ).toBe('DEVICE_LIMIT');
  });
});

describe('R9 release frees the slot', () => {
  it('R9 ReleaseLicense frees the device slot at once; the download still counts for the yearly limit', () => {
    const account = Account.open({ plan: plan({ maxDownloadDevices: 1 }), devices: ['d1', 'd2'] });
    const once = policy({ maxDownloadsPerYear: 1 });
    accepted(account.issue('l1', 'd1', 'film', MARCH_1, once));
    expect(rejected(account.issue('l2', 'd2', 'other', MARCH_1 + 1)).code).toBe('DEVICE_LIMIT');
    expect(account.ok({ type: 'ReleaseLicense', licenseId: 'l1', deviceId: 'd1', now: MARCH_1 + 2 })).toEqual(
      [{ type: 'LicenseReleased', data: { licenseId: 'l1', at: MARCH_1 + 2 } }],
    );
    accepted(account.issue('l2', 'd2', 'other', MARCH_1 + 2));
    expect(rejected(account.issue('l3', 'd2', 'film', MARCH_1 + 3, once)).code).toBe('YEARLY_LIMIT');
  });

  it('R9 a download deleted on the device frees the slot the same way', () => {
    const account = Account.open({ plan: plan({ maxDownloadDevices: 1 }), devices: ['d1', 'd2'] });
    account.download('l1', 'd1', 'film', MARCH_1);
    accepted(
      account.device(
        { type: 'DownloadDeleted', data: { licenseId: 'l1', deviceId: 'd1', at: MARCH_1 + 5 } },
        { deviceId: 'd1', receivedAt: MARCH_1 + 10 },
      ),
    );
    accepted(account.issue('l2', 'd2', 'film', MARCH_1 + 10));
  });

  it.each(['released', 'revoked', 'expired'] as const)('R9 releasing a %s licence is refused', (status) => {
    const account = Account.open();
    accepted(account.issue('l1', 'd1', 'film', MARCH_1, policy({ licenseDurationSec: days(1) })));
    if (status === 'released')
      account.ok({ type: 'ReleaseLicense', licenseId: 'l1', deviceId: 'd1', now: MARCH_1 + 1 });
    if (status === 'revoked')
      account.ok({ type: 'RevokeLicense', licenseId: 'l1', reason: 'ADMIN', now: MARCH_1 + 1 });
    if (status === 'expired') account.ok({ type: 'ExpireLicenses', now: MARCH_1 + DAY });
    expect(account.license('l1').status).toBe(status);
    expect(
      rejected(
        account.decide({ type: 'ReleaseLicense', licenseId: 'l1', deviceId: 'd1', now: MARCH_1 + 2 * DAY }),
      ),
    ).toMatchObject({
      code: 'LICENSE_NOT_ACTIVE',
      licenseId: 'l1',
    });
  });
});

describe('R10 expired licences stop holding slots', () => {
  it('R10 at the hard expiry the slot is free, before it is not, with or without LicenseExpired', () => {
    const account = Account.open({ plan: plan({ maxDownloadDevices: 1 }), devices: ['d1', 'd2'] });
    accepted(account.issue('l1', 'd1', 'film', MARCH_1, policy({ licenseDurationSec: days(2) })));
    const end = MARCH_1 + 2 * DAY;
    expect(rejected(account.issue('l2', 'd2', 'film', end - 1)).code).toBe('DEVICE_LIMIT');
    expect(account.license('l1').status).toBe('issued');
    accepted(account.issue('l2', 'd2', 'film', end));
  });

  it('R10 ExpireLicenses records each expiry at its instant with its reason, oldest first, once', () => {
    const account = Account.open({ devices: ['d1', 'd2'] });
    account.download('l1', 'd1', 'a', MARCH_1, policy({ rentalDurationSec: days(1) }));
    account.download('l2', 'd2', 'b', MARCH_1 + 1);
    account.play('l2', 'd2', MARCH_1 + DAY);
    accepted(account.issue('l3', 'd2', 'c', MARCH_1 + 2, policy({ availableUntil: MARCH_1 + 3 * DAY })));
    accepted(account.issue('l4', 'd1', 'd', MARCH_1 + 3));
    const now = MARCH_1 + 5 * DAY;
    expect(account.ok({ type: 'ExpireLicenses', now })).toEqual([
      { type: 'LicenseExpired', data: { licenseId: 'l1', at: MARCH_1 + DAY, reason: 'RENTAL' } },
      { type: 'LicenseExpired', data: { licenseId: 'l2', at: MARCH_1 + 3 * DAY, reason: 'PLAYBACK_WINDOW' } },
      { type: 'LicenseExpired', data: { licenseId: 'l3', at: MARCH_1 + 3 * DAY, reason: 'AVAILABILITY' } },
    ]);
    expect(account.ok({ type: 'ExpireLicenses', now })).toEqual([]);
    expect(account.license('l4').status).toBe('issued');
  });

  it('R10 the check-in bound never expires a licence on the server', () => {
    const account = Account.open();
    accepted(account.issue('l1', 'd1', 'film', MARCH_1, policy({ offlineCheckInSec: 60 })));
    expect(account.ok({ type: 'ExpireLicenses', now: MARCH_1 + 10 * DAY })).toEqual([]);
  });
});

describe('R11 plan downgrade revokes with LIMIT_CONFLICT', () => {
  it('R11 the devices granted last lose all their licences', () => {
    const account = Account.open({
      plan: plan({ maxDownloadDevices: 4 }),
      devices: ['d1', 'd2', 'd3', 'd4'],
    });
    accepted(account.issue('a', 'd3', 't1', MARCH_1));
    accepted(account.issue('b', 'd1', 't1', MARCH_1 + 1));
    accepted(account.issue('c', 'd2', 't1', MARCH_1 + 2));
    accepted(account.issue('d', 'd3', 't2', MARCH_1 + 3));
    accepted(account.issue('e', 'd2', 't2', MARCH_1 + 4));
    const events = account.ok({
      type: 'ChangePlan',
      plan: plan({ maxDownloadDevices: 2 }),
      now: MARCH_1 + 5,
    });
    expect(events).toEqual([
      { type: 'AccountPlanChanged', data: { plan: plan({ maxDownloadDevices: 2 }), at: MARCH_1 + 5 } },
      { type: 'LicenseRevoked', data: { licenseId: 'c', at: MARCH_1 + 5, reason: 'LIMIT_CONFLICT' } },
      { type: 'LicenseRevoked', data: { licenseId: 'e', at: MARCH_1 + 5, reason: 'LIMIT_CONFLICT' } },
    ]);
    expect([...devicesHoldingDownloads(account.state, MARCH_1 + 5)].sort()).toEqual(['d1', 'd3']);
  });

  it('R11 on a kept device, the licences granted last lose', () => {
    const account = Account.open({ plan: plan({ maxDownloadsPerDevice: 5 }) });
    for (let i = 0; i < 5; i++) accepted(account.issue(`l${i}`, 'd1', `t${i}`, MARCH_1 + i));
    const events = account.ok({
      type: 'ChangePlan',
      plan: plan({ maxDownloadsPerDevice: 3 }),
      now: MARCH_1 + DAY,
    });
    expect(
      events.slice(1).map((e) => e.type === 'LicenseRevoked' && [e.data.licenseId, e.data.reason]),
    ).toEqual([
      ['l3', 'LIMIT_CONFLICT'],
      ['l4', 'LIMIT_CONFLICT'],
    ]);
  });

  it('R11 an upgrade, or licences that already ended, revoke nothing', () => {
    const account = Account.open({ plan: plan({ maxDownloadDevices: 2 }), devices: ['d1', 'd2'] });
    accepted(account.issue('a', 'd1', 't1', MARCH_1, policy({ licenseDurationSec: days(1) })));
    accepted(account.issue('b', 'd2', 't1', MARCH_1 + 1));
    expect(
      account.ok({ type: 'ChangePlan', plan: plan({ maxDownloadDevices: 4 }), now: MARCH_1 + 2 }),
    ).toHaveLength(1);
    expect(
      account.ok({ type: 'ChangePlan', plan: plan({ maxDownloadDevices: 1 }), now: MARCH_1 + DAY }),
    ).toHaveLength(1);
    expect(account.state.plan.maxDownloadDevices).toBe(1);
  });
});

describe('R12 renewal', () => {
  it('R12 renewal restarts the term and counts the renewal', () => {
    const account = Account.open();
    account.download('l1', 'd1', 'film', MARCH_1);
    account.play('l1', 'd1', MARCH_1 + DAY);
    expect(account.renew('l1', 'd1', MARCH_1 + 2 * DAY)).toEqual({
      ok: true,
      events: [{ type: 'LicenseRenewed', data: { licenseId: 'l1', at: MARCH_1 + 2 * DAY, renewal: 1 } }],
    });
    expect(account.license('l1')).toMatchObject({
      status: 'downloaded',
      issuedAt: MARCH_1 + 2 * DAY,
      firstIssuedAt: MARCH_1,
      firstPlayedAt: null,
      renewals: 1,
    });
  });

  it('R12 an expired licence may be renewed and is active again', () => {
    const account = Account.open();
    account.download('l1', 'd1', 'film', MARCH_1, policy({ licenseDurationSec: days(2) }));
    account.ok({ type: 'ExpireLicenses', now: MARCH_1 + 3 * DAY });
    expect(account.license('l1').status).toBe('expired');
    accepted(account.renew('l1', 'd1', MARCH_1 + 3 * DAY));
    expect(account.license('l1')).toMatchObject({ status: 'downloaded', statusReason: null, endedAt: null });
  });

  it('R12 renewing a licence that is no longer active needs a slot again', () => {
    const account = Account.open({ plan: plan({ maxDownloadDevices: 1 }), devices: ['d1', 'd2'] });
    accepted(account.issue('l1', 'd1', 'film', MARCH_1, policy({ licenseDurationSec: days(2) })));
    accepted(account.issue('l2', 'd2', 'film', MARCH_1 + 2 * DAY));
    expect(rejected(account.renew('l1', 'd1', MARCH_1 + 3 * DAY)).code).toBe('DEVICE_LIMIT');
  });

  it('R12 renewing an active licence needs no new slot, even on a full account', () => {
    const account = Account.open({ plan: plan({ maxDownloadsPerDevice: 1 }) });
    accepted(account.issue('l1', 'd1', 'film', MARCH_1));
    accepted(account.renew('l1', 'd1', MARCH_1 + DAY));
  });

  it.each(['released', 'revoked'] as const)('R12 a %s licence cannot be renewed', (status) => {
    const account = Account.open();
    accepted(account.issue('l1', 'd1', 'film', MARCH_1));
    account.ok(
      status === 'released'
        ? { type: 'ReleaseLicense', licenseId: 'l1', deviceId: 'd1', now: MARCH_1 + 1 }
        : { type: 'RevokeLicense', licenseId: 'l1', reason: 'ADMIN', now: MARCH_1 + 1 },
    );
    expect(rejected(account.renew('l1', 'd1', MARCH_1 + 2))).toMatchObject({
      code: 'LICENSE_NOT_ACTIVE',
      licenseId: 'l1',
    });
  });
});

describe('R13 the account must be open', () => {
  const commands: Array<[string, Command]> = [
    ['ChangePlan', { type: 'ChangePlan', plan: plan(), now: MARCH_1 }],
    ['RegisterDevice', { type: 'RegisterDevice', deviceId: 'd1', name: 'n', now: MARCH_1 }],
    ['DeactivateDevice', { type: 'DeactivateDevice', deviceId: 'd1', now: MARCH_1 }],
    [
      'IssueLicense',
      { type: 'IssueLicense', licenseId: 'l1', deviceId: 'd1', titleId: 't', policy: policy(), now: MARCH_1 },
    ],
    ['RenewLicense', { type: 'RenewLicense', licenseId: 'l1', deviceId: 'd1', now: MARCH_1 }],
    ['ReleaseLicense', { type: 'ReleaseLicense', licenseId: 'l1', deviceId: 'd1', now: MARCH_1 }],
    ['WithdrawTitle', { type: 'WithdrawTitle', titleId: 't', availableUntil: MARCH_1, now: MARCH_1 }],
  ];
  it.each(commands)('R13 %s on an account that is not open is refused', (_name, command) => {
    expect(rejected(decide(initialState('acc'), command)).code).toBe('ACCOUNT_NOT_OPEN');
  });

  it('R13 an account opens once', () => {
    const account = Account.open();
    expect(account.state).toMatchObject({ opened: true, accountId: 'acc' });
    expect(
      rejected(account.decide({ type: 'OpenAccount', accountId: 'acc', plan: plan(), now: MARCH_1 + 1 }))
        .code,
    ).toBe('ACCOUNT_ALREADY_OPEN');
  });
});

describe('R14 devices must be registered', () => {
  it('R14 an unknown device is refused', () => {
    const account = Account.open();
    expect(rejected(account.issue('l1', 'nobody', 'film', MARCH_1)).code).toBe('DEVICE_NOT_REGISTERED');
    expect(
      rejected(account.decide({ type: 'DeactivateDevice', deviceId: 'nobody', now: MARCH_1 })).code,
    ).toBe('DEVICE_NOT_REGISTERED');
  });

  it('R14 an active device registers once', () => {
    const account = Account.open();
    expect(
      rejected(account.decide({ type: 'RegisterDevice', deviceId: 'd1', name: 'x', now: MARCH_1 + 1 })).code,
    ).toBe('DEVICE_ALREADY_REGISTERED');
  });

  it('R14 a device id that is an Object.prototype key is just an unknown device', () => {
    const account = Account.open();
    expect(rejected(account.issue('l1', 'constructor', 'film', MARCH_1)).code).toBe('DEVICE_NOT_REGISTERED');
    expect(rejected(account.renew('toString', 'd1', MARCH_1)).code).toBe('LICENSE_NOT_FOUND');
  });
});

describe('R15 a licence belongs to one device', () => {
  it.each([
    ['renew', 'RenewLicense'],
    ['release', 'ReleaseLicense'],
  ] as const)('R15 %s: an unknown licence and another device’s licence are refused', (_name, type) => {
    const account = Account.open({ devices: ['d1', 'd2'] });
    accepted(account.issue('l1', 'd1', 'film', MARCH_1));
    expect(
      rejected(account.decide({ type, licenseId: 'nope', deviceId: 'd1', now: MARCH_1 + 1 })),
    ).toMatchObject({
      code: 'LICENSE_NOT_FOUND',
      licenseId: 'nope',
    });
    expect(
      rejected(account.decide({ type, licenseId: 'l1', deviceId: 'd2', now: MARCH_1 + 1 })),
    ).toMatchObject({
      code: 'WRONG_DEVICE',
      licenseId: 'l1',
    });
  });
});

describe('R16 issuing is idempotent by licence id', () => {
  it('R16 the same id, device and title again appends nothing', () => {
    const account = Account.open();
    accepted(account.issue('l1', 'd1', 'film', MARCH_1));
    expect(account.issue('l1', 'd1', 'film', MARCH_1 + 1)).toEqual({ ok: true, events: [] });
    expect(account.state.grants).toEqual({ film: [MARCH_1] });
  });

  it('R16 the id reused for another title or device is refused', () => {
    const account = Account.open({ devices: ['d1', 'd2'] });
    accepted(account.issue('l1', 'd1', 'film', MARCH_1));
    expect(rejected(account.issue('l1', 'd1', 'other', MARCH_1 + 1))).toMatchObject({
      code: 'INVALID_COMMAND',
      licenseId: 'l1',
    });
    expect(rejected(account.issue('l1', 'd2', 'film', MARCH_1 + 1)).code).toBe('INVALID_COMMAND');
  });
});

describe('R17 revocation by the operator', () => {
  it('R17 RevokeLicense ends a licence with its reason; again, or for an unknown licence, it is refused', () => {
    const account = Account.open();
    accepted(account.issue('l1', 'd1', 'film', MARCH_1));
    expect(account.ok({ type: 'RevokeLicense', licenseId: 'l1', reason: 'ADMIN', now: MARCH_1 + 1 })).toEqual(
      [{ type: 'LicenseRevoked', data: { licenseId: 'l1', at: MARCH_1 + 1, reason: 'ADMIN' } }],
    );
    expect(account.license('l1')).toMatchObject({
      status: 'revoked',
      statusReason: 'ADMIN',
      endedAt: MARCH_1 + 1,
    });
    expect(
      rejected(account.decide({ type: 'RevokeLicense', licenseId: 'l1', reason: 'ADMIN', now: MARCH_1 + 2 }))
        .code,
    ).toBe('LICENSE_NOT_ACTIVE');
    expect(
      rejected(account.decide({ type: 'RevokeLicense', licenseId: 'l9', reason: 'ADMIN', now: MARCH_1 + 2 }))
        .code,
    ).toBe('LICENSE_NOT_FOUND');
  });
});
