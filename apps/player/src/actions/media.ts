import type { LicenseView } from '@satchel/protocol';
import { isSatchelError, type LicenseState, type PlaybackResult } from '@satchel/sdk';
import type { CatalogueTitle } from '../api.js';
import type { PlayerApp } from '../app.js';
import type { DeviceSession } from '../device.js';
import { errorWords } from '../helpers.js';
import { accountAllowances } from '../state.js';
import { confirmAction } from '../views/confirm.js';
import { countdown, EXPIRY_BOUND, moment, playbackWords, position, refusalWords } from '../words.js';
import { sync } from './device.js';

export async function download(app: PlayerApp, d: DeviceSession, title: CatalogueTitle): Promise<void> {
  d.dispatch({ type: 'notice', key: title.titleId, text: null });
  d.dispatch({ type: 'busy', busy: true });
  let granted: LicenseView | null = null;
  try {
    const result = await d.client.requestDownload(title.titleId);
    if (result.ok) {
      granted = result.license;
      await app.record(
        d,
        'granted',
        `Licence issued for ${title.name}`,
        `Expires ${moment(granted.expiresAt, d.now())} (${EXPIRY_BOUND[granted.expiryReason] ?? granted.expiryReason}) unless playback starts sooner.`,
      );
    } else {
      const words = refusalWords(result.refusal, d.now());
      d.dispatch({ type: 'notice', key: title.titleId, text: words });
      await app.record(d, 'refused', `Download of ${title.name} refused (${result.refusal.code})`, words);
    }
  } catch (error) {
    const words = errorWords(error);
    d.dispatch({ type: 'notice', key: title.titleId, text: `Could not download: ${words}` });
    await app.record(d, 'error', `Download of ${title.name} failed`, words);
  }
  await app.refresh(d);
  d.dispatch({ type: 'busy', busy: false });
  if (granted !== null) await transfer(app, d, granted.licenseId, title.name);
}

/**
 * Stores the licence's media with Shaka's offline storage (the key comes from the licence proxy), then
 * records `downloadCompleted` (which works offline): the SDK's Shaka adapter does both.
 */
export async function transfer(
  app: PlayerApp,
  d: DeviceSession,
  licenseId: string,
  name: string,
): Promise<void> {
  const license = d.view?.licenses.find((l) => l.licenseId === licenseId);
  if (license === undefined) return;
  d.dispatch({ type: 'transfer', licenseId, progress: 0 });
  const show = (progress: number) => d.dispatch({ type: 'transfer', licenseId, progress });
  try {
    const media = await d.downloads.fetchMedia(license, { onProgress: show });
    await app.record(
      d,
      'info',
      `${name} downloaded`,
      `${Math.round(media.bytes / 1024)} KB stored on the device; the server hears of it at the next sync.`,
    );
  } catch (error) {
    const words = errorWords(error);
    // A refused key means the server no longer holds the licence valid: say so, and sync to learn why.
    const refused = isSatchelError(error, 'KEY_REFUSED');
    const key = refused ? `key:${licenseId}` : licenseId;
    d.dispatch({ type: 'notice', key, text: `Could not download: ${words}` });
    await app.record(d, 'error', `Downloading ${name} failed`, words);
    if (refused) void sync(app, d);
  }
  d.dispatch({ type: 'transfer', licenseId, progress: null });
  await app.refresh(d);
}

/** A Stop pressed while its Play was still starting (decided, loading): honoured once the start ends. */
const stopWhenStarted = new WeakMap<DeviceSession, string>();
/** The licence whose Play is starting on a device (between the click and the adapter's answer). */
const starting = new WeakMap<DeviceSession, string>();

export async function play(app: PlayerApp, d: DeviceSession, license: LicenseState): Promise<void> {
  if (d.state.playing !== null) await stop(app, d, 'Stopped');
  const name = app.titleName(license.titleId);
  d.dispatch({ type: 'notice', key: license.licenseId, text: null });
  const last = license.lastPositionMs ?? 0;
  const resumeAt = last >= d.runtime(license.licenseId) - 500 ? 0 : last;
  let result: PlaybackResult;
  try {
    d.dispatch({
      type: 'playing',
      playing: { licenseId: license.licenseId, expiresAt: Number.POSITIVE_INFINITY },
    });
    starting.set(d, license.licenseId);
    try {
      result = await d.downloads.play(license.licenseId, d.video, { positionMs: resumeAt });
    } finally {
      starting.delete(d);
    }
    if (!result.allowed) d.dispatch({ type: 'playing', playing: null });
  } catch (error) {
    stopWhenStarted.delete(d);
    d.dispatch({ type: 'playing', playing: null });
    // Stopped before the video started: the stop was recorded, and nothing failed.
    if (error instanceof DOMException && error.name === 'AbortError') return;
    await app.record(d, 'error', `Play ${name} failed`, errorWords(error));
    return;
  }
  d.dispatch({ type: 'decided', secureNow: result.secureNow, wallNow: d.now() });
  if (result.clockRollback !== null) {
    await app.record(
      d,
      'clock',
      'Clock rollback detected',
      `The device clock was set back ${countdown(result.clockRollback.behindMs)} against the SDK’s own count of time; the decision used the time it trusts, ${moment(result.secureNow, d.now())}.`,
    );
  }
  const wall = d.now();
  const trusted =
    Math.abs(result.secureNow - wall) > 5000
      ? ` Decided at trusted time ${moment(result.secureNow, wall)}; the device clock says ${moment(wall, wall)}.`
      : '';
  const words =
    playbackWords(
      result,
      { ...license, firstPlayedAt: license.firstPlayedAt ?? result.secureNow },
      result.secureNow,
    ) + trusted;
  if (result.allowed) {
    d.dispatch({ type: 'playing', playing: { licenseId: license.licenseId, expiresAt: result.expiresAt } });
    await app.record(d, 'allowed', `Play ${name}: allowed`, words);
    if (stopWhenStarted.get(d) === license.licenseId) {
      stopWhenStarted.delete(d);
      await stop(app, d, 'Stopped');
      return;
    }
  } else {
    stopWhenStarted.delete(d);
    d.dispatch({ type: 'notice', key: license.licenseId, text: words });
    await app.record(d, 'denied', `Play ${name}: refused (${result.reason})`, words);
  }
  await app.refresh(d);
}

export async function stop(app: PlayerApp, d: DeviceSession, why: string): Promise<void> {
  const playing = d.state.playing;
  if (playing === null) return;
  if (d.downloads.playing()?.licenseId !== playing.licenseId) {
    // Still starting (the decision or the load is under way): stop as soon as it has started, so the stop
    // is recorded at its position and the video does not play on behind a card that says it stopped.
    if (starting.get(d) === playing.licenseId) {
      stopWhenStarted.set(d, playing.licenseId);
      return;
    }
    // Nothing plays in the adapter (a stop is under way, or the start was refused): nothing to record.
    d.dispatch({ type: 'playing', playing: null });
    return;
  }
  const pos = d.position();
  const name = app.titleName(d.view?.licenses.find((l) => l.licenseId === playing.licenseId)?.titleId ?? '');
  try {
    await d.downloads.stop(playing.licenseId);
    await app.record(
      d,
      'info',
      `${why}: ${name} at ${position(pos)}`,
      'The position is kept for the next Play.',
    );
  } catch (error) {
    await app.record(d, 'error', `Recording the stop of ${name} failed`, errorWords(error));
  }
  // The card leaves "Playing" once the SDK holds the position it shows next ("Stopped at …").
  await app.refresh(d);
  if (d.state.playing?.licenseId === playing.licenseId) d.dispatch({ type: 'playing', playing: null });
}

export async function remove(app: PlayerApp, d: DeviceSession, license: LicenseState): Promise<void> {
  const title = app.titleName(license.titleId);
  const sure = await confirmAction(
    `Delete ${title}?`,
    'Its stored media is removed from this device now, and the licence is released at the next sync: watching it again takes a new download.',
    'Delete',
  );
  if (!sure) return;
  if (d.state.playing?.licenseId === license.licenseId) await stop(app, d, 'Stopped');
  const name = app.titleName(license.titleId);
  try {
    await d.downloads.remove(license.licenseId);
    await app.record(
      d,
      'info',
      `${name} deleted`,
      'Its stored media is removed; its download slot is released at the next sync.',
    );
  } catch (error) {
    await app.record(d, 'error', `Deleting ${name} failed`, errorWords(error));
  }
  await app.refresh(d);
}

export async function renew(app: PlayerApp, d: DeviceSession, license: LicenseState): Promise<void> {
  const name = app.titleName(license.titleId);
  d.dispatch({ type: 'notice', key: license.licenseId, text: null });
  d.dispatch({ type: 'busy', busy: true });
  try {
    const result = await d.client.renew(license.licenseId);
    if (result.ok) {
      await app.record(
        d,
        'granted',
        `${name} renewed`,
        `Now expires ${moment(result.license.expiresAt, d.now())}; a renewal counts as a download.`,
      );
    } else {
      const words = refusalWords(
        result.refusal,
        d.now(),
        {},
        { downloadsLeft: downloadsLeft(app, d, license.titleId) },
      );
      d.dispatch({ type: 'notice', key: license.licenseId, text: words });
      await app.record(d, 'refused', `Renewal of ${name} refused (${result.refusal.code})`, words);
    }
  } catch (error) {
    const words = errorWords(error);
    d.dispatch({ type: 'notice', key: license.licenseId, text: `Could not renew: ${words}` });
    await app.record(d, 'error', `Renewal of ${name} failed`, words);
  }
  await app.refresh(d);
  d.dispatch({ type: 'busy', busy: false });
}

/** The account's downloads of a title left this year, as the newest snapshot says (null: no limit). */
function downloadsLeft(app: PlayerApp, d: DeviceSession, titleId: string): number | null {
  return (
    accountAllowances(
      app.devices.map((x) => x.view),
      d.view?.accountId ?? null,
    ).find((a) => a.titleId === titleId)?.remaining ?? null
  );
}
