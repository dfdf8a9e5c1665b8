import type { RecordedEvent } from '@satchel/core';
import type { HistoryResponse } from '@satchel/protocol';
import type { LicenseState } from '@satchel/sdk';
import { buildTimeline, mountTimeline } from '@satchel/timeline';
import { fetchLicenseHistory } from '../api.js';
import type { PlayerApp } from '../app.js';
import type { DeviceSession } from '../device.js';
import { h } from '../dom.js';
import { errorWords } from '../helpers.js';

const toRecorded = (e: HistoryResponse['events'][number]): RecordedEvent =>
  ({
    event: { type: e.type, data: e.data },
    eventId: e.eventId,
    version: e.version,
    recordedAt: e.recordedAt,
    deviceId: typeof e.metadata.deviceId === 'string' ? e.metadata.deviceId : null,
  }) as RecordedEvent;

/**
 * A licence's life drawn with the shared timeline (`@satchel/timeline`, as in the operator console):
 * issued, downloaded, first play, each bound, the end, and the device's clock rollbacks. Drawn from the
 * server's history when opened (online), so it shows what the server knows.
 */
export function timelineBlock(app: PlayerApp, d: DeviceSession, license: LicenseState): HTMLElement {
  const slug = `device-${d.config.index}-license-${license.licenseId}-timeline`;
  const box = h('div', { class: 'timeline', id: slug, 'data-test': 'timeline' });
  const details = h('details', { class: 'license-timeline' }, h('summary', {}, 'Licence timeline'), box);
  // The card is redrawn on every change: an open timeline stays open (and is drawn again).
  if (d.openTimelines.has(license.licenseId)) {
    details.open = true;
    void draw(app, d, license, box);
  }
  details.addEventListener('toggle', () => {
    if (details.open === d.openTimelines.has(license.licenseId)) return;
    if (details.open) {
      d.openTimelines.add(license.licenseId);
      void draw(app, d, license, box);
    } else d.openTimelines.delete(license.licenseId);
  });
  return details;
}

async function draw(
  app: PlayerApp,
  d: DeviceSession,
  license: LicenseState,
  box: HTMLElement,
): Promise<void> {
  box.replaceChildren(h('p', { class: 'hint' }, 'Reading the licence’s history from the server…'));
  try {
    const token = await d.deviceToken();
    if (token === null) throw new Error('This device is not registered.');
    const events = await fetchLicenseHistory(d.fetch, app.options.baseUrl, token, license.licenseId);
    const model = buildTimeline(d.view?.accountId ?? '', events.map(toRecorded), {
      titles: { [license.titleId]: app.titleName(license.titleId) },
      to: Math.max(Date.now(), license.expiresAt, ...events.map((e) => e.at)),
    });
    const lanes = model.lanes.filter((l) => l.id === license.licenseId || l.id === license.deviceId);
    box.replaceChildren();
    mountTimeline(box, { ...model, lanes }, { at: d.trustedNow() });
  } catch (error) {
    box.replaceChildren(
      h('p', { class: 'notice bad' }, `The timeline needs the server: ${errorWords(error)}`),
    );
  }
}
