import type { WhoAmIResponse } from '@satchel/protocol';
import { ConsoleApiError, session, whoami } from './api.js';
import { h } from './dom.js';
import { PAGES } from './pages/index.js';
import type { Page, PageContext } from './pages/types.js';
import './styles.css';

const root = document.getElementById('app') as HTMLElement;

function match(hash: string): { page: Page; params: Record<string, string> } | null {
  const path = (hash.replace(/^#/, '').split('?')[0] ?? '') || '/accounts';
  for (const page of PAGES) {
    const names: string[] = [];
    const pattern = new RegExp(
      `^${page.route.replace(/:(\w+)/g, (_, name: string) => {
        names.push(name);
        return '([^/]+)';
      })}$`,
    );
    const m = pattern.exec(path);
    if (m)
      return {
        page,
        params: Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1] ?? '')])),
      };
  }
  return null;
}

function signIn(message = ''): void {
  const token = h('textarea', {
    id: 'token',
    name: 'token',
    rows: 4,
    cols: 60,
    required: true,
    'aria-label': 'Operator token',
  });
  const error = h('p', { class: 'error', role: 'alert' }, message);
  const form = h(
    'form',
    {
      id: 'sign-in',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        try {
          await whoami(token.value.trim());
          session.set(token.value.trim());
          await render();
        } catch (err) {
          error.textContent = `Not signed in: ${(err as Error).message}`;
        }
      },
    },
    h('h1', {}, 'Satchel console'),
    h(
      'p',
      {},
      'Sign in with an operator token (',
      h('code', {}, 'pnpm satchel token operator you@example.com --role support'),
      ').',
    ),
    token,
    h('button', { type: 'submit' }, 'Sign in'),
    error,
  );
  root.replaceChildren(h('main', { class: 'sign-in' }, form));
}

let operator: WhoAmIResponse | null = null;

async function render(): Promise<void> {
  if (!session.token) return signIn();
  try {
    operator ??= await whoami();
  } catch (err) {
    session.clear();
    operator = null;
    return signIn(
      err instanceof ConsoleApiError ? `Your token was refused (${err.code}). Sign in again.` : String(err),
    );
  }
  const me = operator;
  const ctx: PageContext = {
    operator: me,
    canChange: me.role === 'admin',
    navigate(hash) {
      if (location.hash === hash) void render();
      else location.hash = hash;
    },
  };
  const found = match(location.hash);
  const header = h(
    'header',
    {},
    h('strong', {}, 'Satchel console'),
    h('nav', {}, ...PAGES.filter((p) => p.nav).map((p) => h('a', { href: `#${p.route}` }, p.nav ?? ''))),
    h(
      'span',
      { class: 'who' },
      `${me.operatorId} (${me.role}) `,
      h(
        'button',
        {
          type: 'button',
          onclick: () => {
            session.clear();
            operator = null;
            signIn();
          },
        },
        'Sign out',
      ),
    ),
  );
  const main = h('main', { id: 'main' }, h('p', {}, 'Loading…'));
  root.replaceChildren(header, main);
  if (found === null) {
    main.replaceChildren(h('p', {}, 'No such page.'));
    return;
  }
  try {
    main.replaceChildren(await found.page.render(ctx, found.params));
  } catch (err) {
    main.replaceChildren(h('p', { class: 'error', role: 'alert' }, (err as Error).message));
  }
}

window.addEventListener('hashchange', () => {
  if (!location.hash.includes('?at=')) void render();
});
void render();
