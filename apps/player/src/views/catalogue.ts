import type { Allowance } from '@satchel/protocol';
import { isHeldStatus } from '@satchel/sdk';
import { download } from '../actions/media.js';
import type { CatalogueTitle } from '../api.js';
import type { PlayerApp } from '../app.js';
import type { DeviceSession } from '../device.js';
import { h } from '../dom.js';
import type { PanelState } from '../state.js';
import { accountAllowances, isDeactivated } from '../state.js';
import { allowanceWords, moment, policyWords } from '../words.js';

/** The catalogue as a device sees it: each title's rules, the account's allowance, and Download. */
export function catalogueBlock(app: PlayerApp, d: DeviceSession, view: PanelState): HTMLElement {
  const idx = d.config.index;
  const now = d.now();
  const allowances = accountAllowances(
    app.devices.map((x) => x.view),
    view.accountId,
  );
  const held = new Map(view.licenses.filter((l) => isHeldStatus(l.status)).map((l) => [l.titleId, l]));
  const items = app.page.catalogue.map((title) => {
    const license = held.get(title.titleId);
    const allowance = allowanceWords(
      allowances.find((a) => a.titleId === title.titleId),
      now,
    );
    const notice = d.state.notices[title.titleId];
    const slug = `device-${idx}-title-${title.titleId}`;
    let action: HTMLElement;
    if (isDeactivated(view)) {
      action = h('p', { class: 'hint' }, 'Downloads are off: this device was deactivated.');
    } else if (license === undefined) {
      const why = downloadBlocked(
        title,
        allowances.find((a) => a.titleId === title.titleId),
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
      const words =
        license.status === 'downloaded'
          ? 'On this device'
          : d.state.transfers[license.licenseId] !== undefined
            ? 'Downloading…'
            : 'Download not finished: see My downloads';
      action = h('p', { class: 'held' }, words);
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
    app.page.catalogueNote === null ? null : h('p', { class: 'notice' }, app.page.catalogueNote),
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
