import { DAY_MS, HOUR_MS, isHeldStatus, MINUTE_MS, policy } from '@satchel/core';
import type { LicenseState } from '@satchel/sdk';
import type { Title } from '@satchel/server';
import type { SimDevice } from './device.js';
import type { Random } from './random.js';

/** The catalogue of a run. */
export const TITLES: readonly Title[] = [
  { titleId: 'night-train', name: 'Night Train (48 h window)', policy: policy() },
  {
    titleId: 'short-film',
    name: 'Short Film (6 h window, 7 d to start)',
    policy: policy({ playbackDurationSec: (6 * HOUR_MS) / 1000, rentalDurationSec: (7 * DAY_MS) / 1000 }),
  },
  {
    titleId: 'paper-moon',
    name: 'Paper Moon (no playback window)',
    policy: policy({ playbackDurationSec: 0 }),
  },
  { titleId: 'quiet-river', name: 'Quiet River', policy: policy() },
  {
    titleId: 'harbour-lights',
    name: 'Harbour Lights (3 downloads a year, 2 renewals)',
    policy: policy({ maxDownloadsPerYear: 3, maxRenewals: 2 }),
  },
  {
    titleId: 'weekly-check',
    name: 'Weekly Check (check in every 7 d)',
    policy: policy({ offlineCheckInSec: (7 * DAY_MS) / 1000 }),
  },
  { titleId: 'leaving-soon', name: 'Leaving Soon (withdrawn with a day of notice)', policy: policy() },
  { titleId: 'pulled-doc', name: 'Pulled Doc (withdrawn at once)', policy: policy() },
];

/** The operator's withdrawals: when (as a fraction of the run) and with how much notice. */
export const WITHDRAWALS = [
  { titleId: 'leaving-soon', atFraction: 0.4, noticeMs: DAY_MS },
  { titleId: 'pulled-doc', atFraction: 0.6, noticeMs: 0 },
] as const;

/** The device behaviour models. */
export const PROFILES = ['commuter', 'traveller', 'binge', 'cheater', 'deleter', 'household'] as const;
export type ProfileName = (typeof PROFILES)[number];

/** Default mix of the individual profiles (households are whole accounts, see `householdShare`). */
export const DEFAULT_MIX: Readonly<Record<Exclude<ProfileName, 'household'>, number>> = {
  commuter: 40,
  traveller: 12,
  binge: 18,
  cheater: 12,
  deleter: 18,
};

/** A behaviour: does the device's next thing, and says how long until the one after. */
export interface Behaviour {
  readonly name: ProfileName;
  step(device: SimDevice): Promise<number>;
}

const hourOf = (t: number) => (t % DAY_MS) / HOUR_MS;
/** Milliseconds from `t` to the next time of day `hour` (plus up to `jitterH` hours). */
const untilHour = (t: number, hour: number, random: Random, jitterH = 0): number => {
  const target = hour + random.between(0, jitterH);
  let wait = (target - hourOf(t)) * HOUR_MS;
  if (wait <= 0) wait += DAY_MS;
  return Math.round(wait);
};
const hours = (random: Random, min: number, max: number) => Math.round(random.between(min, max) * HOUR_MS);

const downloaded = (licences: LicenseState[]) => licences.filter((l) => l.status === 'downloaded');
const playable = (licences: LicenseState[]) => downloaded(licences).filter((l) => l.playback.allowed);

/** Deletes downloads that no longer play (frees their slots at the sync that follows). */
async function tidy(device: SimDevice, licences: LicenseState[]): Promise<void> {
  for (const l of downloaded(licences)) {
    if (!l.playback.allowed) await device.deleteDownload(l.licenseId);
  }
}

async function playOne(device: SimDevice, licences: LicenseState[], minMin: number, maxMin: number) {
  const choices = downloaded(licences);
  if (choices.length === 0) return null;
  const licence = device.random.pick(choices);
  return device.play(licence.licenseId, device.random.int(minMin, maxMin));
}

/** Downloads a title the device does not hold yet (picked at random). */
async function downloadNew(device: SimDevice, licences: LicenseState[], titles: readonly string[]) {
  const held = new Set(licences.filter((l) => isHeldStatus(l.status)).map((l) => l.titleId));
  const choices = titles.filter((t) => !held.has(t) && !device.blocked(t));
  return choices.length === 0 ? null : device.download(device.random.pick(choices));
}

type Memory = { phase?: string; licenseId?: string | null; until?: number; cheats?: number };
const memory = (device: SimDevice) => device.memory as Memory;

const COMMUTER_TITLES = [
  'night-train',
  'short-film',
  'paper-moon',
  'quiet-river',
  'leaving-soon',
  'pulled-doc',
];

/** Downloads at home in the morning, watches offline on the way to and from work, syncs at night. */
const commuter: Behaviour = {
  name: 'commuter',
  async step(d) {
    const m = memory(d);
    switch (m.phase ?? 'morning') {
      case 'morning': {
        d.setOnline(true);
        await tidy(d, await d.licences());
        await d.sync();
        const licences = await d.licences();
        if (playable(licences).length < 2) await downloadNew(d, licences, COMMUTER_TITLES);
        d.setOnline(false);
        m.phase = 'to-work';
        return hours(d.random, 0.5, 1.5);
      }
      case 'to-work':
        await playOne(d, await d.licences(), 25, 50);
        m.phase = 'to-home';
        return untilHour(d.now, 17, d.random, 1.5);
      case 'to-home':
        await playOne(d, await d.licences(), 25, 50);
        m.phase = 'home';
        return hours(d.random, 1, 3);
      default: {
        // Home for the night: the deletions reach the server with tomorrow morning's sync.
        if (d.random.chance(0.2)) {
          const choices = downloaded(await d.licences());
          if (choices.length > 0) await d.deleteDownload(d.random.pick(choices).licenseId);
        }
        m.phase = 'morning';
        return untilHour(d.now, 6.5, d.random, 1.5);
      }
    }
  },
};

/** Downloads for a trip, then stays offline for weeks: meets the check-in deadline. */
const traveller: Behaviour = {
  name: 'traveller',
  async step(d) {
    const m = memory(d);
    if ((m.phase ?? 'home') === 'home') {
      d.setOnline(true);
      await tidy(d, await d.licences());
      await d.sync();
      const licences = await d.licences();
      const held = new Set(playable(licences).map((l) => l.titleId));
      for (const titleId of ['weekly-check', 'quiet-river', 'paper-moon']) {
        if (!held.has(titleId)) await d.download(titleId);
      }
      d.setOnline(false);
      m.phase = 'trip';
      m.until = d.now + d.random.int(10, 40) * DAY_MS;
      return hours(d.random, 2, 8);
    }
    if (d.now >= (m.until ?? 0)) {
      m.phase = 'home';
      return hours(d.random, 0, 2);
    }
    await playOne(d, await d.licences(), 60, 150);
    return hours(d.random, 12, 60);
  },
};

/** Starts a 48 h (or 6 h) window and watches episode after episode across it. */
const binge: Behaviour = {
  name: 'binge',
  async step(d) {
    const m = memory(d);
    if ((m.phase ?? 'start') === 'start') {
      d.setOnline(true);
      await tidy(d, await d.licences());
      await d.sync();
      const licences = await d.licences();
      const current = playable(licences).find(
        (l) => l.titleId === 'night-train' || l.titleId === 'short-film',
      );
      m.licenseId = current?.licenseId ?? (await downloadNew(d, licences, ['night-train', 'short-film']));
      d.setOnline(d.random.chance(0.3));
      m.phase = 'watch';
      return hours(d.random, 0.5, 2);
    }
    if (!m.licenseId) {
      m.phase = 'start';
      return untilHour(d.now, 18, d.random, 3);
    }
    const result = await d.play(m.licenseId, d.random.int(40, 60));
    if (result !== null && !result.allowed) {
      m.phase = 'start';
      return untilHour(d.now, 18, d.random, 3);
    }
    const h = hourOf(d.now);
    return h >= 1 && h < 8 ? untilHour(d.now, 9, d.random, 2) : hours(d.random, 1.5, 5);
  },
};

/** Plays, then sets the device clock back days to stretch the licence. */
const cheater: Behaviour = {
  name: 'cheater',
  async step(d) {
    const m = memory(d);
    if ((m.phase ?? 'start') === 'start') {
      d.setOnline(true);
      await tidy(d, await d.licences());
      await d.sync();
      const licences = await d.licences();
      const current = playable(licences)[0];
      m.licenseId = current?.licenseId ?? (await downloadNew(d, licences, ['night-train', 'short-film']));
      m.cheats = 0;
      d.setOnline(false);
      m.phase = 'watch';
      return hours(d.random, 1, 3);
    }
    if (!m.licenseId) {
      m.phase = 'start';
      return hours(d.random, 12, 36);
    }
    const result = await d.play(m.licenseId, 60);
    if (result !== null && !result.allowed) {
      if ((m.cheats ?? 0) < 2) {
        m.cheats = (m.cheats ?? 0) + 1;
        d.setClock(d.wallOffset - d.random.int(1, 4) * DAY_MS);
        return d.random.int(5, 60) * MINUTE_MS;
      }
      m.phase = 'start';
      return hours(d.random, 12, 36);
    }
    if (d.random.chance(0.3)) d.setClock(d.wallOffset - d.random.int(1, 3) * DAY_MS);
    return hours(d.random, 6, 20);
  },
};

/** Frees slots by deleting, and re-downloads a title limited to 3 downloads a year. */
const deleter: Behaviour = {
  name: 'deleter',
  async step(d) {
    const m = memory(d);
    switch (m.phase ?? 'get') {
      case 'get':
        d.setOnline(true);
        await d.sync();
        m.licenseId = await d.download('harbour-lights');
        d.setOnline(false);
        m.phase = 'watch';
        return hours(d.random, 1, 4);
      case 'watch':
        if (m.licenseId) {
          await d.play(m.licenseId, d.random.int(30, 90));
          if (d.random.chance(0.3)) {
            d.setOnline(true);
            await d.renew(m.licenseId);
            d.setOnline(false);
          }
        }
        m.phase = 'delete';
        return hours(d.random, 6, 30);
      default:
        if (m.licenseId) await d.deleteDownload(m.licenseId);
        m.phase = 'get';
        return hours(d.random, 12, 48);
    }
  },
};

const HOUSEHOLD_TITLES = ['night-train', 'quiet-river', 'paper-moon', 'short-film'];

/** Several devices of one account, each wanting the plan's last download slot at the same instant. */
const household: Behaviour = {
  name: 'household',
  async step(d) {
    d.setOnline(true);
    await tidy(d, await d.licences());
    await d.sync();
    const licences = await d.licences();
    const mine = playable(licences);
    if (mine.length === 0) {
      await downloadNew(d, licences, HOUSEHOLD_TITLES);
    } else if (d.random.chance(0.4)) {
      await d.deleteDownload(d.random.pick(mine).licenseId);
    } else {
      await playOne(d, mine, 45, 90);
    }
    // Every device of the household comes back at the same instant every other day: a race for the slot.
    let day = Math.floor(d.now / DAY_MS) + 1;
    if (day % 2 === 1) day += 1;
    return day * DAY_MS + 20 * HOUR_MS - d.now;
  },
};

export const BEHAVIOURS: Readonly<Record<ProfileName, Behaviour>> = {
  commuter,
  traveller,
  binge,
  cheater,
  deleter,
  household,
};
