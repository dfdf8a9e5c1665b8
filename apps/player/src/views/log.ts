import type { PlayerApp } from '../app.js';
import { h, patch } from '../dom.js';
import { KIND_LABEL } from '../helpers.js';
import { moment } from '../words.js';

/** The decision log, newest first, from the page's state. */
export function renderLog(app: PlayerApp): void {
  const items = app.page.entries.map((e) =>
    h(
      'li',
      { class: `entry ${e.kind}` },
      h(
        'span',
        { class: 'entry-meta' },
        h('span', { class: `badge kind-${e.kind}` }, KIND_LABEL[e.kind]),
        ` ${e.device === 0 ? 'Browser' : `Device ${e.device}`} · ${moment(e.deviceTime, e.deviceTime)}`,
      ),
      h('span', { class: 'entry-title' }, e.title),
      e.reason === '' ? null : h('span', { class: 'entry-reason' }, e.reason),
    ),
  );
  patch(app.logEl, ...(items.length === 0 ? [h('li', { class: 'empty' }, 'Nothing decided yet.')] : items));
}
