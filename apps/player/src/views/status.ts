import { sync } from '../actions/device.js';
import type { PlayerApp } from '../app.js';
import type { DeviceSession } from '../device.js';
import { h } from '../dom.js';
import { syncErrorWords } from '../helpers.js';
import { isDeactivated, type PanelState } from '../state.js';
import { ago, moment } from '../words.js';

/** A device's sync status: network, pending events, last sync, its failure, and Sync now. */
export function statusBlock(app: PlayerApp, d: DeviceSession, view: PanelState): HTMLElement {
  const idx = d.config.index;
  const s = view.status;
  const why = d.sim.networkOff ? 'network switched off' : navigator.onLine ? null : 'browser offline';
  const deactivated = isDeactivated(view);
  return h(
    'div',
    { class: 'status', id: `device-${idx}-status` },
    h(
      'ul',
      { class: 'chips', 'aria-label': `Sync status of device ${idx}` },
      h(
        'li',
        { class: `chip ${d.online ? 'ok' : 'warn'}`, 'data-test': 'network' },
        h('span', { class: `dot ${d.online ? 'on' : 'off'}`, 'aria-hidden': 'true' }),
        d.online ? 'Online' : `Offline (${why})`,
      ),
      h(
        'li',
        { class: `chip ${s.pendingEvents > 0 ? 'info' : ''}`, 'data-test': 'pending' },
        s.pendingEvents === 1 ? '1 event waiting to sync' : `${s.pendingEvents} events waiting to sync`,
      ),
      h(
        'li',
        { class: 'chip', 'data-test': 'last-sync' },
        'Last sync ',
        s.lastSyncAt === null
          ? 'never'
          : h('span', { 'data-ago': s.lastSyncAt, 'data-device': idx }, ago(s.lastSyncAt, d.now())),
      ),
      s.syncing ? h('li', { class: 'chip info' }, 'Syncing…') : null,
      deactivated ? h('li', { class: 'chip bad' }, 'Deactivated') : null,
    ),
    s.lastError === null
      ? null
      : h(
          'p',
          { class: 'sync-error', 'data-test': 'sync-error' },
          'Last sync failed: ',
          syncErrorWords(s.lastError.code, s.lastError.message),
        ),
    s.updateRequired === null
      ? null
      : h('p', { class: 'sync-error' }, 'Update required: ', s.updateRequired.message),
    s.registered
      ? h(
          'p',
          { class: 'status-line' },
          s.checkInDeadline === null
            ? 'No active downloads need a check-in.'
            : h('span', {}, 'Must check in before ', moment(s.checkInDeadline, d.now())),
          view.plan === null
            ? null
            : h(
                'span',
                {},
                ` · Plan: downloads on ${view.plan.maxDownloadDevices} device${view.plan.maxDownloadDevices === 1 ? '' : 's'} at once`,
              ),
        )
      : null,
    s.registered
      ? h(
          'button',
          {
            type: 'button',
            id: `device-${idx}-sync`,
            onclick: () => void sync(app, d),
            disabled: s.syncing,
          },
          'Sync now',
        )
      : null,
  );
}
