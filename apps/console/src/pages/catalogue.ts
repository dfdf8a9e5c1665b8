import type {
  AdminTitlesResponse,
  PolicyVersionsResponse,
  PutTitleResponse,
  WithdrawResponse,
} from '@satchel/protocol';
import { api } from '../api.js';
import { confirmChange, h, iso, table } from '../dom.js';
import type { Page, PageContext } from './types.js';

const FIELDS = [
  'licenseDurationSec',
  'rentalDurationSec',
  'playbackDurationSec',
  'offlineCheckInSec',
  'maxDownloadsPerYear',
  'maxRenewals',
  'availableUntil',
] as const;

/** The catalogue: titles, their policy versions, and (admin) a policy change with confirmation. */
export const cataloguePage: Page = {
  route: '/catalogue',
  nav: 'Catalogue',
  async render(ctx) {
    const { titles } = await api<AdminTitlesResponse>('GET', '/v1/admin/catalogue');
    return h(
      'section',
      {},
      h('h1', {}, 'Catalogue'),
      h(
        'p',
        { class: 'hint' },
        'A policy change is a new version: licences already issued keep the policy (and version) they were issued under.',
      ),
      table(
        ['title', 'name', 'version', 'updated', ...FIELDS],
        titles.map((t) => [
          t.titleId,
          t.name,
          String(t.version),
          iso(t.updatedAt),
          ...FIELDS.map((f) => (t.policy[f] === null ? 'none' : String(t.policy[f]))),
        ]),
        { class: 'titles' },
      ),
      versionsView(titles),
      ctx.canChange ? policyForm(ctx, titles) : h('p', { class: 'hint' }, 'Support role: read only.'),
      ctx.canChange ? withdrawForm(titles) : '',
    );
  },
};

function policyForm(ctx: PageContext, titles: AdminTitlesResponse['titles']): HTMLElement {
  const status = h('p', { class: 'status-line', role: 'status' });
  const select = h(
    'select',
    { name: 'titleId', id: 'policy-title' },
    ...titles.map((t) => h('option', { value: t.titleId }, t.titleId)),
  );
  const field = h(
    'select',
    { name: 'field', id: 'policy-field' },
    ...FIELDS.map((f) => h('option', { value: f }, f)),
  );
  const value = h('input', {
    name: 'value',
    id: 'policy-value',
    required: true,
    placeholder: 'seconds, a number, or none',
    size: 14,
  });
  const form = h(
    'form',
    {
      class: 'policy',
      id: 'policy-form',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        const raw = value.value.trim();
        const parsed = raw === 'none' ? null : Number(raw);
        if (parsed !== null && !Number.isInteger(parsed)) {
          status.textContent = 'The value must be an integer or none.';
          return;
        }
        const ok = await confirmChange(
          `Change ${field.value} of ${select.value}?`,
          `${field.value} becomes ${raw}. Licences issued from now on get the new version; existing licences keep theirs.`,
        );
        if (!ok) return;
        try {
          const r = await api<PutTitleResponse>(
            'PATCH',
            `/v1/admin/catalogue/${encodeURIComponent(select.value)}`,
            { policy: { [field.value]: parsed } },
          );
          status.textContent = `${r.title.titleId} is at policy version ${r.title.version}.`;
          ctx.navigate('#/catalogue');
        } catch (err) {
          status.textContent = (err as Error).message;
        }
      },
    },
    h('legend', {}, 'Change a policy (admin)'),
    h('label', {}, 'title ', select),
    h('label', {}, 'field ', field),
    h('label', {}, 'value ', value),
    h('button', { type: 'submit' }, 'Change policy…'),
  );
  return h('div', {}, form, status);
}

const policyText = (p: Record<string, unknown>) =>
  Object.entries(p)
    .map(([k, v]) => `${k}=${v === null ? 'none' : String(v)}`)
    .join(' ');

function versionsView(titles: AdminTitlesResponse['titles']): HTMLElement {
  const out = h('div', { id: 'versions' });
  const select = h(
    'select',
    { id: 'versions-title' },
    ...titles.map((t) => h('option', { value: t.titleId }, t.titleId)),
  );
  const form = h(
    'form',
    {
      onsubmit: async (e: Event) => {
        e.preventDefault();
        const r = await api<PolicyVersionsResponse>(
          'GET',
          `/v1/admin/catalogue/${encodeURIComponent(select.value)}/versions`,
        );
        out.replaceChildren(
          table(
            ['version', 'written', 'by', 'name', 'policy'],
            r.versions.map((v) => [
              String(v.version),
              iso(v.recordedAt),
              v.changedBy ?? '—',
              v.name,
              policyText(v.policy),
            ]),
            { class: 'versions' },
          ),
        );
      },
    },
    h('label', {}, 'Policy versions of ', select),
    h('button', { type: 'submit' }, 'Show versions'),
  );
  return h('div', {}, form, out);
}

function withdrawForm(titles: AdminTitlesResponse['titles']): HTMLElement {
  const status = h('p', { class: 'status-line', role: 'status' });
  const select = h(
    'select',
    { id: 'withdraw-title' },
    ...titles.map((t) => h('option', { value: t.titleId }, t.titleId)),
  );
  const when = h('input', {
    type: 'datetime-local',
    step: '1',
    id: 'withdraw-at',
    'aria-label': 'Leaves at (UTC; empty: now)',
  });
  const form = h(
    'form',
    {
      class: 'policy',
      id: 'withdraw-form',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        const at = when.value ? Date.parse(`${when.value}Z`) : undefined;
        const ok = await confirmChange(
          `Withdraw ${select.value}?`,
          `${select.value} leaves the catalogue ${at === undefined ? 'now: its active licences are revoked (TITLE_WITHDRAWN)' : `at ${iso(at)}: its licences expire then (AVAILABILITY)`}.`,
        );
        if (!ok) return;
        try {
          const r = await api<WithdrawResponse>(
            'POST',
            `/v1/admin/catalogue/${encodeURIComponent(select.value)}/withdraw`,
            at === undefined ? {} : { at },
          );
          status.textContent = `${r.titleId} leaves the catalogue at ${iso(r.availableUntil)}: ${r.accounts} accounts, ${r.revoked} licences revoked.`;
        } catch (err) {
          status.textContent = (err as Error).message;
        }
      },
    },
    h('legend', {}, 'Withdraw a title (admin)'),
    h('label', {}, 'title ', select),
    h('label', {}, 'leaves at (UTC, empty: now) ', when),
    h('button', { type: 'submit', class: 'danger' }, 'Withdraw…'),
  );
  return h('div', {}, form, status);
}
