// A seeded licence history driven through the real service on a virtual clock: accounts, devices,
// licence requests and renewals (some refused), downloads, playback, deletions and releases. For the
// projection and what-if tests and benchmarks.
import { CURRENT_EVENT_VERSIONS, DEFAULT_PLAN, HOUR_MS, type Plan } from '@satchel/core';
import { uuidv7 } from 'uuidv7';
import { NotFoundError, type SatchelService } from '../service.js';

/** A small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SeedOptions {
  accounts: number;
  /** Steps per account (each a request, a device event or a release), default 12. */
  steps?: number;
  devicesPerAccount?: number;
  titles: readonly string[];
  seed: number;
  /** The account id prefix (default `acct`). */
  prefix?: string;
  plan?: Plan;
  /** Renewals are asked for (default true). */
  renewals?: boolean;
}

/**
 * Drives `service` through a random but reproducible history. `clock.now` is advanced between steps
 * (the service must read it). Resolves with the account ids.
 */
export async function seedHistory(
  service: SatchelService,
  clock: { now: number },
  options: SeedOptions,
): Promise<string[]> {
  const rnd = prng(options.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const prefix = options.prefix ?? 'acct';
  const ids: string[] = [];
  for (let a = 0; a < options.accounts; a++) {
    const accountId = `${prefix}-${String(a).padStart(5, '0')}`;
    ids.push(accountId);
    await service.createAccount(accountId, accountId, options.plan ?? DEFAULT_PLAN);
    const devices: { deviceId: string; seq: number }[] = [];
    for (let d = 0; d < (options.devicesPerAccount ?? 2); d++) {
      const { deviceId } = await service.registerDevice(accountId, { name: `device ${d}` });
      devices.push({ deviceId, seq: 0 });
    }
    const held: { licenseId: string; device: (typeof devices)[number]; downloaded: boolean }[] = [];
    const send = async (
      device: (typeof devices)[number],
      type: keyof typeof CURRENT_EVENT_VERSIONS,
      data: object,
    ) => {
      device.seq += 1;
      const at = clock.now;
      await service.sync(accountId, device.deviceId, {
        protocolVersion: 1,
        deviceId: device.deviceId,
        snapshotVersion: null,
        events: [
          {
            eventId: uuidv7(),
            seq: device.seq,
            type: type as never,
            v: CURRENT_EVENT_VERSIONS[type],
            occurredAt: at,
            trustedAt: at,
            data: { at, deviceId: device.deviceId, ...data } as never,
          },
        ],
      });
    };
    for (let s = 0; s < (options.steps ?? 12); s++) {
      clock.now += Math.floor(rnd() * 30 * HOUR_MS);
      const r = rnd();
      const h = held.length > 0 ? pick(held) : undefined;
      if (r < 0.35 || !h) {
        const device = pick(devices);
        const res = await service.requestLicense(accountId, device.deviceId, {
          titleId: pick(options.titles),
        });
        if (res.outcome === 'granted')
          held.push({ licenseId: res.license.licenseId, device, downloaded: false });
      } else if (r < 0.55 && !h.downloaded) {
        await send(h.device, 'DownloadCompleted', { licenseId: h.licenseId });
        h.downloaded = true;
      } else if (r < 0.75 && h.downloaded) {
        await send(h.device, 'PlaybackStarted', { licenseId: h.licenseId, positionMs: 0 });
      } else if (r < 0.83 && options.renewals !== false) {
        if (!(await stillHeld(() => service.renewLicense(accountId, h.device.deviceId, h.licenseId))))
          held.splice(held.indexOf(h), 1);
      } else if (r < 0.9) {
        await send(h.device, 'DownloadDeleted', { licenseId: h.licenseId });
        held.splice(held.indexOf(h), 1);
      } else {
        await stillHeld(() => service.releaseLicense(accountId, h.device.deviceId, h.licenseId));
        held.splice(held.indexOf(h), 1);
      }
    }
  }
  return ids;
}

/**
 * Runs an online call on a licence the generator believes held; false when the server no longer has
 * it (an ended licence is dropped from the account's state after its retention, and lanes that share
 * one virtual clock can move past that). Any other error is thrown.
 */
async function stillHeld(call: () => Promise<unknown>): Promise<boolean> {
  try {
    await call();
    return true;
  } catch (e) {
    if (e instanceof NotFoundError) return false;
    throw e;
  }
}
