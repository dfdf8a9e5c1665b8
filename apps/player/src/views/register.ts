import { register } from '../actions/device.js';
import type { PlayerApp } from '../app.js';
import type { DeviceSession } from '../device.js';
import { h } from '../dom.js';

/** The form that registers a device: one click on a development server, or a pasted enrolment token. */
export function registerBlock(app: PlayerApp, d: DeviceSession): HTMLElement {
  const idx = d.config.index;
  const tokenId = `device-${idx}-enrol`;
  const nameId = `device-${idx}-device-name`;
  const form = h(
    'form',
    {
      class: 'register',
      onsubmit: (event: Event) => {
        event.preventDefault();
        const token = (document.getElementById(tokenId) as HTMLInputElement).value.trim();
        const name = (document.getElementById(nameId) as HTMLInputElement).value.trim() || d.config.name;
        void register(app, d, token, name);
      },
    },
    h('h3', {}, 'Register this device'),
    app.page.devEnrolment === null || app.page.devEnrolment === undefined
      ? null
      : h(
          'div',
          { class: 'dev-enrol' },
          h(
            'button',
            {
              type: 'button',
              id: `device-${idx}-dev-enrol`,
              onclick: () => void register(app, d, app.page.devEnrolment ?? '', d.config.name),
            },
            'Enrol in the demo account',
          ),
          h(
            'p',
            { class: 'hint' },
            'This development server hands out its demo account’s token; or paste another below.',
          ),
        ),
    h('p', {}, 'Paste the account’s enrolment token (the sync server prints it when it starts).'),
    h('label', { for: nameId }, 'Device name'),
    h('input', { id: nameId, name: 'name', value: d.config.name, autocomplete: 'off', maxlength: 100 }),
    h('label', { for: tokenId }, 'Enrolment token'),
    h('input', {
      id: tokenId,
      name: 'token',
      value: app.page.enrolmentToken ?? '',
      autocomplete: 'off',
      spellcheck: 'false',
      required: true,
    }),
    h('button', { type: 'submit', id: `device-${idx}-register` }, 'Register'),
    d.state.notices.register === undefined
      ? null
      : h('p', { class: 'notice bad', role: 'alert' }, d.state.notices.register),
  );
  return form;
}
