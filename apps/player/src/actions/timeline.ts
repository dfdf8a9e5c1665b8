import { ApiError, fetchLicenseHistory } from '../api.js';
import type { PlayerApp } from '../app.js';
import type { DeviceSession } from '../device.js';
import { errorWords } from '../helpers.js';

/** Reads a licence's history from the server into its open timeline (the device's token; online). */
export async function readTimeline(app: PlayerApp, d: DeviceSession, licenseId: string): Promise<void> {
  if (d.state.timelines[licenseId] === undefined)
    d.dispatch({ type: 'timeline', licenseId, data: { kind: 'loading' } });
  try {
    const token = await d.deviceToken();
    if (token === null) throw new Error('This device is not registered.');
    const events = await fetchLicenseHistory(d.fetch, app.options.baseUrl, token, licenseId);
    if (d.state.timelines[licenseId] === undefined) return; // closed meanwhile
    d.dispatch({ type: 'timeline', licenseId, data: { kind: 'ready', events } });
  } catch (error) {
    if (d.state.timelines[licenseId] === undefined) return;
    const message = error instanceof ApiError ? error.message : errorWords(error);
    d.dispatch({ type: 'timeline', licenseId, data: { kind: 'failed', message } });
  }
}

/** Reads every open timeline of a device again (after a sync brought the server's news). */
export function rereadTimelines(app: PlayerApp, d: DeviceSession): void {
  for (const licenseId of Object.keys(d.state.timelines)) void readTimeline(app, d, licenseId);
}
