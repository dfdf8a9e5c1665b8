import type { RecordedEvent } from '@satchel/core';
import type { HistoryResponse } from '@satchel/protocol';
import type { LicenseState } from '@satchel/sdk';
import { buildTimeline, mountTimeline } from '@satchel/timeline';
import { readTimeline } from '../actions/timeline.js';
import type { PlayerApp } from '../app.js';
import type { DeviceSession } from '../device.js';
import { h } from '../dom.js';

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
 * server's history (read when opened, and again after a sync), so it shows what the server knows.
 */
export function timelineBlock(app: PlayerApp, d: DeviceSession, license: LicenseState): HTMLElement {
  const slug = `device-${d.config.index}-license-${license.licenseId}-timeline`;
  const data = d.state.timelines[license.licenseId];
  const box = h('div', { class: 'timeline', id: slug, 'data-test': 'timeline' });
  const details = h('details', { class: 'license-timeline' }, h('summary', {}, 'Licence timeline'), box);
  details.open = data !== undefined;
  if (data?.kind === 'loading')
    box.append(h('p', { class: 'hint' }, 'Reading the licence’s history from the server…'));
  else if (data?.kind === 'failed')
    box.append(h('p', { class: 'notice bad' }, `The timeline needs the server: ${data.message}`));
  else if (data?.kind === 'ready') {
    const events = data.events;
    const model = buildTimeline(d.view?.accountId ?? '', events.map(toRecorded), {
      titles: { [license.titleId]: app.titleName(license.titleId) },
      to: Math.max(Date.now(), license.expiresAt, ...events.map((e) => e.at)),
    });
    const lanes = model.lanes.filter((l) => l.id === license.licenseId || l.id === license.deviceId);
    // As wide as the device's panel allows (the card's padding aside), so that it reads without scrolling.
    const panel = app.panels.get(d.config.index)?.clientWidth ?? 0;
    const width = panel > 0 ? Math.max(420, panel - 70) : 640;
    mountTimeline(box, { ...model, lanes }, { at: d.trustedNow(), width, labelWidth: 180 });
  }
  details.addEventListener('toggle', () => {
    if (details.open === (d.state.timelines[license.licenseId] !== undefined)) return;
    if (details.open) void readTimeline(app, d, license.licenseId);
    else d.dispatch({ type: 'timeline', licenseId: license.licenseId, data: null });
  });
  return details;
}
