import type { AccountsResponse, CreateAccountResponse } from '@satchel/protocol';
import { api } from '../api.js';
import { h, iso, table } from '../dom.js';
import type { Page, PageContext } from './types.js';

/** Find an account by id or name. */
export const accountsPage: Page = {
  route: '/accounts',
  nav: 'Accounts',
  async render(ctx) {
    const results = h('div', { id: 'account-results' });
    const input = h('input', {
      type: 'search',
      id: 'account-search',
      name: 'q',
      placeholder: 'account id or household name',
      'aria-label': 'Find an account',
    });
    const search = async () => {
      const r = await api<AccountsResponse>(
        'GET',
        `/v1/admin/accounts?limit=100&q=${encodeURIComponent(input.value)}`,
      );
      results.replaceChildren(
        r.accounts.length === 0
          ? h('p', {}, 'No account matches.')
          : table(
              ['account', 'household', 'created'],
              r.accounts.map((a) => [
                h('a', { href: `#/accounts/${encodeURIComponent(a.accountId)}` }, a.accountId),
                a.name,
                iso(a.createdAt),
              ]),
              { class: 'accounts' },
            ),
        r.next ? h('p', { class: 'hint' }, 'More accounts match: narrow the search.') : '',
      );
    };
    const form = h(
      'form',
      {
        class: 'search',
        role: 'search',
        onsubmit: (e: Event) => {
          e.preventDefault();
          void search();
        },
      },
      input,
      h('button', { type: 'submit' }, 'Find'),
    );
    await search();
    return h('section', {}, h('h1', {}, 'Accounts'), form, results, ctx.canChange ? createForm(ctx) : '');
  },
};

function createForm(ctx: PageContext): HTMLElement {
  const status = h('p', { class: 'status-line', role: 'status' });
  const form: HTMLFormElement = h(
    'form',
    {
      id: 'create-account',
      class: 'plan',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        const data = new FormData(form);
        const accountId = String(data.get('accountId')).trim();
        try {
          const r = await api<CreateAccountResponse>('POST', '/v1/admin/accounts', {
            accountId,
            name: String(data.get('name')).trim() || accountId,
          });
          status.textContent = r.created ? `Created ${accountId}.` : `${accountId} already exists.`;
          ctx.navigate(`#/accounts/${encodeURIComponent(accountId)}`);
        } catch (err) {
          status.textContent = (err as Error).message;
        }
      },
    },
    h('legend', {}, 'Create an account (admin)'),
    h('label', {}, 'account id ', h('input', { name: 'accountId', required: true, size: 20 })),
    h('label', {}, 'household ', h('input', { name: 'name', size: 24 })),
    h('button', { type: 'submit' }, 'Create'),
  );
  return h('div', {}, form, status);
}
