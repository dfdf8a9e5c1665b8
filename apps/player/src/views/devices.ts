import { deactivate } from '../actions/device.js';
import type { PlayerApp } from '../app.js';
import type { DeviceSession } from '../device.js';
import { h } from '../dom.js';
import { isDeactivated, type PanelState } from '../state.js';

export function devicesBlock(app: PlayerApp, d: DeviceSession, view: PanelState): HTMLElement {
  const idx = d.config.index;
  const items = view.devices.map((device) => {
    const self = device.deviceId === view.status.deviceId;
    const here = app.devices.find((x) => x.view?.status.deviceId === device.deviceId);
    const label = `${device.name}${self ? ' (this device)' : here ? ` (device ${here.config.index} in this page)` : ''}`;
    return h(
      'li',
      { 'data-device-id': device.deviceId },
      h('span', { class: 'device-label' }, label),
      h(
        'span',
        { class: `badge ${device.status === 'active' ? 'status-downloaded' : 'status-revoked'}` },
        device.status === 'active' ? 'Active' : 'Deactivated',
      ),
      !self && device.status === 'active' && !isDeactivated(view)
        ? h(
            'button',
            {
              type: 'button',
              class: 'danger small',
              id: `device-${idx}-deactivate-${device.deviceId}`,
              'aria-label': `Deactivate ${label}`,
              onclick: () => void deactivate(app, d, device.deviceId, label),
            },
            'Deactivate',
          )
        : null,
    );
  });
  return h(
    'section',
    { class: 'account-devices', 'aria-labelledby': `device-${idx}-devices-title` },
    h('h3', { id: `device-${idx}-devices-title` }, 'Devices on this account'),
    h('p', { class: 'hint' }, 'As of this device’s last sync.'),
    h('ul', { class: 'device-list' }, ...items),
    d.state.notices.devices === undefined
      ? null
      : h('p', { class: 'notice bad', role: 'alert' }, d.state.notices.devices),
  );
}
