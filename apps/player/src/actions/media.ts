import type { LicenseView } from '@satchel/protocol';
import type { LicenseState, PlaybackResult } from '@satchel/sdk';
import type { CatalogueTitle } from '../api.js';
import type { PlayerApp } from '../app.js';
import type { DeviceSession } from '../device.js';
import { errorWords } from '../helpers.js';
import { confirmAction } from '../views/confirm.js';
import { countdown, EXPIRY_BOUND, moment, playbackWords, position, refusalWords } from '../words.js';

export async function download(app: PlayerApp, d: DeviceSession, title: CatalogueTitle): Promise<void> {
  d.notices.delete(title.titleId);
  app.busy.add(d);
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
      d.notices.set(title.titleId, words);
      await app.record(d, 'refused', `Download of ${title.name} refused (${result.refusal.code})`, words);
    }
  } catch (error) {
    const words = errorWords(error);
    d.notices.set(title.titleId, `Could not download: ${words}`);
    await app.record(d, 'error', `Download of ${title.name} failed`, words);
  }
  await app.refresh(d);
  app.busy.delete(d);
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
  d.transfers.set(licenseId, 0);
  app.render(d);
  const show = (progress: number) => {
    d.transfers.set(licenseId, progress);
    const bar = document.getElementById(`device-${d.config.index}-license-${licenseId}-transfer`);
    if (bar instanceof HTMLProgressElement) bar.value = Math.round(progress * 100);
    const text = app.panels.get(d.config.index)?.querySelector(`[data-transfer="${licenseId}"]`);
    if (text) text.textContent = `${Math.round(progress * 100)} %`;
  };
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
    d.notices.set(licenseId, `Could not download: ${words}`);
    await app.record(d, 'error', `Downloading ${name} failed`, words);
  }
  d.transfers.delete(licenseId);
  await app.refresh(d);
}

export async function play(app: PlayerApp, d: DeviceSession, license: LicenseState): Promise<void> {
  if (d.playing !== null) await stop(app, d, 'Stopped');
  const name = app.titleName(license.titleId);
  d.notices.delete(license.licenseId);
  const last = license.lastPositionMs ?? 0;
  const resumeAt = last >= d.runtime(license.licenseId) - 500 ? 0 : last;
  let result: PlaybackResult;
  try {
    d.playing = { licenseId: license.licenseId, expiresAt: Number.POSITIVE_INFINITY };
    app.render(d);
    result = await d.downloads.play(license.licenseId, d.video, { positionMs: resumeAt });
    if (!result.allowed) d.playing = null;
  } catch (error) {
    d.playing = null;
    await app.record(d, 'error', `Play ${name} failed`, errorWords(error));
    return;
  }
  d.trustedSkewMs = result.secureNow - d.now();
  if (result.clockRollback !== null) {
    await app.record(
      d,
      'denied',
      'Clock rollback detected',
      `The device clock is ${countdown(result.clockRollback.behindMs)} behind trusted time; the decision used ${moment(result.secureNow, d.now())}.`,
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
    d.playing = { licenseId: license.licenseId, expiresAt: result.expiresAt };
    await app.record(d, 'allowed', `Play ${name}: allowed`, words);
  } else {
    d.notices.set(license.licenseId, words);
    await app.record(d, 'denied', `Play ${name}: refused (${result.reason})`, words);
  }
  await app.refresh(d);
}

export async function stop(app: PlayerApp, d: DeviceSession, why: string): Promise<void> {
  const playing = d.playing;
  if (playing === null) return;
  const pos = d.position();
  d.playing = null;
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
  await app.refresh(d);
}

export async function remove(app: PlayerApp, d: DeviceSession, license: LicenseState): Promise<void> {
  const title = app.titleName(license.titleId);
  const sure = await confirmAction(
    `Delete ${title}?`,
    'Its stored media is removed from this device now, and the licence is released at the next sync: watching it again takes a new download.',
    'Delete',
  );
  if (!sure) return;
  if (d.playing?.licenseId === license.licenseId) await stop(app, d, 'Stopped');
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
  d.notices.delete(license.licenseId);
  app.busy.add(d);
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
      const words = refusalWords(result.refusal, d.now());
      d.notices.set(license.licenseId, words);
      await app.record(d, 'refused', `Renewal of ${name} refused (${result.refusal.code})`, words);
    }
  } catch (error) {
    const words = errorWords(error);
    d.notices.set(license.licenseId, `Could not renew: ${words}`);
    await app.record(d, 'error', `Renewal of ${name} failed`, words);
  }
  await app.refresh(d);
  app.busy.delete(d);
}
