import type { OperatorTokenResponse } from '@satchel/protocol';
import { api } from '../api.js';
import { confirmChange, h, iso } from '../dom.js';
import type { Page } from './types.js';

/** The lifetimes offered for a new operator token, in seconds (the API accepts 60 s to 30 days). */
const LIFETIMES: ReadonlyArray<readonly [label: string, seconds: number]> = [
  ['1 hour', 3600],
  ['12 hours', 12 * 3600],
  ['1 day', 86_400],
  ['7 days', 7 * 86_400],
  ['30 days', 30 * 86_400],
];

/** Operators: who you are, and (admin) minting an operator token, shown once. */
export const operatorsPage: Page = {
  route: '/operators',
  nav: 'Operators',
  async render(ctx) {
    const intro = h(
      'p',
      {},
      `Signed in as ${ctx.operator.operatorId} (${ctx.operator.role}). `,
      'A support token reads everything and changes nothing; an admin token may also change titles, plans and devices and mint tokens.',
    );
    if (!ctx.canChange) {
      return h(
        'section',
        { class: 'operators' },
        h('h1', {}, 'Operators'),
        intro,
        h('p', { class: 'hint', id: 'mint-refused' }, 'Only an admin can mint operator tokens.'),
      );
    }
    const status = h('p', { class: 'status-line', role: 'status' });
    const minted = h('div', { id: 'minted-token' });
    const form: HTMLFormElement = h(
      'form',
      {
        id: 'mint-form',
        class: 'plan',
        onsubmit: async (e: Event) => {
          e.preventDefault();
          const data = new FormData(form);
          const operatorId = String(data.get('operatorId')).trim();
          const role = String(data.get('role')) === 'admin' ? 'admin' : 'support';
          const ttlSec = Number(data.get('ttlSec'));
          const lifetime = LIFETIMES.find(([, s]) => s === ttlSec)?.[0] ?? `${ttlSec} s`;
          const ok = await confirmChange(
            `Mint a ${role} token for ${operatorId}?`,
            `It is valid for ${lifetime}. It is shown once: copy it and hand it over privately.`,
          );
          if (!ok) return;
          minted.replaceChildren();
          try {
            const r = await api<OperatorTokenResponse>('POST', '/v1/admin/tokens', {
              operatorId,
              role,
              ttlSec,
            });
            status.textContent = `Minted a ${r.role} token for ${r.operatorId}, valid until ${iso(r.expiresAt)}. Copy it now: it is not shown again.`;
            minted.replaceChildren(tokenBox(r.token));
            form.reset();
          } catch (err) {
            status.textContent = (err as Error).message;
          }
        },
      },
      h('legend', {}, 'Mint an operator token (admin)'),
      h(
        'label',
        {},
        'operator id ',
        h('input', { name: 'operatorId', required: true, size: 24, placeholder: 'name@example.com' }),
      ),
      h(
        'label',
        {},
        'role ',
        h(
          'select',
          { name: 'role', id: 'mint-role' },
          h('option', { value: 'support' }, 'support (read only)'),
          h('option', { value: 'admin' }, 'admin'),
        ),
      ),
      h(
        'label',
        {},
        'lifetime ',
        h(
          'select',
          { name: 'ttlSec', id: 'mint-ttl' },
          ...LIFETIMES.map(([label, s]) => h('option', { value: s, selected: s === 12 * 3600 }, label)),
        ),
      ),
      h('button', { type: 'submit' }, 'Mint token…'),
    );
    return h('section', { class: 'operators' }, h('h1', {}, 'Operators'), intro, form, status, minted);
  },
};

/** The minted token, read-only, with a copy button (the clipboard, else a selection to copy by hand). */
function tokenBox(token: string): HTMLElement {
  const field = h('textarea', {
    id: 'minted-token-value',
    readonly: true,
    rows: 6,
    cols: 80,
    'aria-label': 'The new operator token',
  });
  field.value = token;
  const copied = h('span', { class: 'hint', role: 'status' });
  const copy = h(
    'button',
    {
      type: 'button',
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(token);
          copied.textContent = 'Copied.';
        } catch {
          field.select();
          copied.textContent = 'The clipboard is not available here: the token is selected, copy it by hand.';
        }
      },
    },
    'Copy',
  );
  return h('div', {}, field, h('div', {}, copy, ' ', copied));
}
