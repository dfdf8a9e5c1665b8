import type { Allowance } from '@satchel/protocol';
import { register } from '../actions/device.js';
import { download } from '../actions/media.js';
import type { CatalogueTitle } from '../api.js';
import type { PlayerApp } from '../app.js';
import type { DeviceSession, PanelState } from '../device.js';
import { h } from '../dom.js';
import { ACTIVE, isDeactivated } from '../helpers.js';
import { allowanceWords, moment, policyWords } from '../words.js';

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
    app.devEnrolment === null
      ? null
      : h(
          'div',
          { class: 'dev-enrol' },
          h(
            'button',
            {
              type: 'button',
              id: `device-${idx}-dev-enrol`,
              onclick: () => void register(app, d, app.devEnrolment ?? '', d.config.name),
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
      value: app.settings.enrolmentToken ?? '',
      autocomplete: 'off',
      spellcheck: 'false',
      required: true,
    }),
    h('button', { type: 'submit', id: `device-${idx}-register` }, 'Register'),
    d.notices.has('register')
      ? h('p', { class: 'notice bad', role: 'alert' }, d.notices.get('register'))
      : null,
  );
  return form;
}

export function catalogueBlock(app: PlayerApp, d: DeviceSession, view: PanelState): HTMLElement {
  const idx = d.config.index;
  const now = d.now();
  const held = new Map(view.licenses.filter((l) => ACTIVE.has(l.status)).map((l) => [l.titleId, l]));
  const items = app.catalogue.map((title) => {
    const license = held.get(title.titleId);
    const allowance = allowanceWords(
      view.allowances.find((a) => a.titleId === title.titleId),
      now,
    );
    const notice = d.notices.get(title.titleId);
    const slug = `device-${idx}-title-${title.titleId}`;
    let action: HTMLElement;
    if (isDeactivated(view)) {
      action = h('p', { class: 'hint' }, 'Downloads are off: this device was deactivated.');
    } else if (license === undefined) {
      const why = downloadBlocked(
        title,
        view.allowances.find((a) => a.titleId === title.titleId),
        now,
      );
      action = h(
        'div',
        { class: 'buttons' },
        h(
          'button',
          {
            type: 'button',
            id: `${slug}-download`,
            'aria-label': `Download ${title.name}`,
            disabled: why !== null,
            'aria-describedby': why === null ? null : `${slug}-why`,
            onclick: () => void download(app, d, title),
          },
          'Download',
        ),
        why === null
          ? null
          : h('span', { class: 'why', id: `${slug}-why`, 'data-test': 'why-download' }, why),
      );
    } else {
      action = h('p', { class: 'held' }, license.status === 'issued' ? 'Downloading…' : 'On this device');
    }
    return h(
      'li',
      { class: 'title-card', id: slug, 'data-title-id': title.titleId },
      h('h4', { id: `${slug}-name` }, title.name),
      h(
        'ul',
        { class: 'policy', 'aria-label': `Rules for ${title.name}` },
        ...policyWords(title.policy, now).map((w) => h('li', {}, w)),
      ),
      allowance === null ? null : h('p', { class: 'allowance' }, allowance),
      action,
      notice === undefined
        ? null
        : h('p', { class: 'notice bad', role: 'alert', 'data-test': 'refusal' }, notice),
    );
  });
  return h(
    'section',
    { class: 'catalogue', 'aria-labelledby': `device-${idx}-catalogue-title` },
    h('h3', { id: `device-${idx}-catalogue-title` }, 'Catalogue'),
    app.catalogueNote === null ? null : h('p', { class: 'notice' }, app.catalogueNote),
    items.length === 0 ? h('p', {}, 'No titles to show yet.') : h('ul', { class: 'cards' }, ...items),
  );
}

/** Why a download can only be refused now (no allowance left, the title has left the catalogue), or null. */
export function downloadBlocked(
  title: CatalogueTitle,
  allowance: Allowance | undefined,
  now: number,
): string | null {
  if (title.policy.availableUntil !== null && title.policy.availableUntil <= now) {
    return 'This title has left the catalogue.';
  }
  if (allowance?.remaining === 0) {
    return allowance.nextAvailableAt === null
      ? 'No downloads of this title are left.'
      : `No downloads left: the next one frees up on ${moment(allowance.nextAvailableAt, now)}.`;
  }
  return null;
}
