import { isSatchelError } from '@satchel/sdk';
import { loadCatalogue } from './actions/device.js';
import { rereadTimelines } from './actions/timeline.js';
import type { PlayerApp } from './app.js';
import type { DeviceSession } from './device.js';
import { errorWords, syncErrorWords } from './helpers.js';
import type { PanelState } from './state.js';
import { endedWords, STATUS_LABEL } from './words.js';

/** The read in flight per device, and whether another was asked for meanwhile (control flow, not state). */
const inFlight = new WeakMap<DeviceSession, { run: Promise<void>; again: boolean }>();

/** Re-reads a device from the SDK into its state; calls while one runs coalesce into one more run after it. */
export function refresh(app: PlayerApp, d: DeviceSession): Promise<void> {
  const running = inFlight.get(d);
  if (running !== undefined) {
    running.again = true;
    return running.run;
  }
  const entry = { run: Promise.resolve(), again: false };
  entry.run = (async () => {
    do {
      entry.again = false;
      await refreshOnce(app, d);
    } while (entry.again);
  })().finally(() => inFlight.delete(d));
  inFlight.set(d, entry);
  return entry.run;
}

async function refreshOnce(app: PlayerApp, d: DeviceSession): Promise<void> {
  const before = d.view;
  try {
    const after = await d.read();
    noticeChanges(app, d, before, after);
    if (before !== null && before.status.snapshotVersion !== after.status.snapshotVersion)
      rereadTimelines(app, d);
  } catch (error) {
    if (isSatchelError(error, 'CLOSED') || isSatchelError(error, 'STORAGE_CLOSED')) return;
    await app.record(d, 'error', 'Reading the device state failed', errorWords(error));
  }
}

/** Logs what the server changed behind the device's back (revocations, expiries, a failing background sync). */
export function noticeChanges(
  app: PlayerApp,
  d: DeviceSession,
  before: PanelState | null,
  after: PanelState,
): void {
  if (before === null) return;
  const was = new Map(before.licenses.map((l) => [l.licenseId, l]));
  for (const license of after.licenses) {
    const old = was.get(license.licenseId);
    if (old === undefined || old.status === license.status) continue;
    // A revocation may come with the title's withdrawal: the catalogue shown must not offer it.
    if (license.status === 'revoked') void loadCatalogue(app);
    if (license.status === 'revoked' || license.status === 'expired') {
      void app.record(
        d,
        license.status === 'revoked' ? 'revoked' : 'ended',
        `${app.titleName(license.titleId)}: ${STATUS_LABEL[license.status].toLowerCase()}`,
        endedWords(license) ?? '',
      );
    }
  }
  const err = after.status.lastError;
  const previous = before.status.lastError;
  if (err !== null && (previous === null || previous.code !== err.code) && !d.state.busy) {
    void app.record(d, 'error', 'Background sync failed', syncErrorWords(err.code, err.message));
  }
  const self = (view: PanelState) => view.devices.find((x) => x.deviceId === view.status.deviceId)?.status;
  if (before.status.registered && self(before) === 'active' && self(after) === 'deactivated') {
    void app.record(
      d,
      'revoked',
      'This device was deactivated',
      'Another device of the account deactivated it; its downloads are revoked.',
    );
  }
}

/** Stored bytes go when a licence is released, revoked or expired (e.g. a sync brings a revocation). */
export function watchStoredMedia(app: PlayerApp, d: DeviceSession): void {
  d.downloads.watch((removed) => {
    for (const m of removed) {
      const status = d.view?.licenses.find((l) => l.licenseId === m.licenseId)?.status ?? 'released';
      void app.record(
        d,
        'info',
        `Stored media of ${app.titleName(m.titleId)} removed`,
        `${Math.round(m.bytes / 1024)} KB freed: the licence is ${STATUS_LABEL[status].toLowerCase()}.`,
      );
    }
    void app.refresh(d);
  });
}
