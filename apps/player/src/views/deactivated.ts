import { reset } from '../actions/device.js';
import type { PlayerApp } from '../app.js';
import type { DeviceSession } from '../device.js';
import { h } from '../dom.js';

/** Shown on a device that was deactivated: why it can no longer download, and how to start again. */
export function deactivatedBlock(app: PlayerApp, d: DeviceSession): HTMLElement {
  const idx = d.config.index;
  return h(
    'div',
    { class: 'notice bad', role: 'note' },
    h(
      'p',
      {},
      h('strong', {}, 'This device was deactivated. '),
      'Its downloads were revoked and it can no longer download.',
    ),
    h(
      'button',
      {
        type: 'button',
        class: 'secondary small',
        id: `device-${idx}-reset`,
        onclick: () => void reset(app, d),
      },
      'Reset and register again',
    ),
  );
}
