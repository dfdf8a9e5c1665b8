import type { RecordedEvent } from '@satchel/core';
import type {
  AdminTitlesResponse,
  RuleChangeRequest,
  WhatIfAccountResponse,
  WhatIfResponse,
} from '@satchel/protocol';
import { buildTimeline, type MountedTimeline, mountTimeline } from '@satchel/timeline';
import { api, apiStream, ConsoleApiError } from '../api.js';
import { h, iso, table } from '../dom.js';
import type { Page } from './types.js';

const HOUR_MS = 3_600_000;
const duration = (ms: number) =>
  Math.abs(ms) >= HOUR_MS ? `${(ms / HOUR_MS).toFixed(1)} h` : `${Math.round(ms / 60_000)} min`;

/**
 * `key=value` pairs separated by spaces or commas, as on the CLI (`playbackDurationSec=86400`):
 * integers, or `none` for a limit that may be absent. Throws with the pair it cannot read.
 */
export function parseFields(text: string): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const pair of text.split(/[\s,]+/).filter(Boolean)) {
    const m = /^(\w+)=(\d+|none)$/.exec(pair);
    if (!m?.[1] || !m[2]) throw new Error(`expected key=value with a whole number or none, got ${pair}`);
    out[m[1]] = m[2] === 'none' ? null : Number(m[2]);
  }
  if (Object.keys(out).length === 0) throw new Error('name at least one field to change');
  return out;
}

const changeParam = (change: RuleChangeRequest) => encodeURIComponent(JSON.stringify(change));

function describeChange(change: RuleChangeRequest): string {
  const part = (kind: string, by: Record<string, Record<string, unknown>> | undefined) =>
    Object.entries(by ?? {}).map(
      ([id, fields]) =>
        `${kind} ${id}: ${Object.entries(fields)
          .map(([k, v]) => `${k}=${v ?? 'none'}`)
          .join(', ')}`,
    );
  return [...part('title', change.titles), ...part('plan', change.plans)].join('; ');
}

function totals(r: WhatIfResponse): HTMLElement {
  const t = r.totals;
  const codes = (c: Record<string, number>) =>
    Object.entries(c)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ') || '—';
  const shift = (s: { licences: number; totalMs: number; maxMs: number }) =>
    s.licences === 0 ? '0' : `${s.licences} (${duration(s.totalMs)} in all, at most ${duration(s.maxMs)})`;
  return table(
    ['', 'Total', 'Detail'],
    [
      ['Accounts scanned', t.accountsScanned, ''],
      ['Accounts affected', t.accountsAffected, ''],
      ['Grants that would be refused', t.refusedGrants.total, codes(t.refusedGrants.byCode)],
      ['Renewals that would be refused', t.refusedRenewals.total, codes(t.refusedRenewals.byCode)],
      ['Refused requests that would be granted', t.newGrants, ''],
      ['Licences expiring earlier', t.expiresEarlier.licences, shift(t.expiresEarlier)],
      ['Licences expiring later', t.expiresLater.licences, shift(t.expiresLater)],
    ],
    { id: 'what-if-totals', class: 'totals' },
  );
}

/** A what-if run: the change, a progress bar while the server replays, then the totals and the accounts. */
export const whatIfPage: Page = {
  route: '/what-if',
  nav: 'What if',
  async render() {
    const catalogue = await api<AdminTitlesResponse>('GET', '/v1/admin/catalogue');
    const kind = h(
      'select',
      { name: 'kind', id: 'what-if-kind' },
      h('option', { value: 'title' }, "a title's policy"),
      h('option', { value: 'plan' }, "a plan's limits"),
    );
    const titleSelect = h(
      'select',
      { name: 'titleId', id: 'what-if-title', 'aria-label': 'Title' },
      ...catalogue.titles.map((t) => h('option', { value: t.titleId }, `${t.name} (${t.titleId})`)),
    );
    const planInput = h('input', {
      name: 'planId',
      id: 'what-if-plan',
      value: 'standard',
      hidden: true,
      'aria-label': 'Plan id',
    });
    const fields = h('input', {
      name: 'fields',
      id: 'what-if-fields',
      size: 50,
      required: true,
      placeholder: 'playbackDurationSec=86400',
      'aria-label': 'Fields to change (key=value)',
    });
    kind.addEventListener('change', () => {
      titleSelect.hidden = kind.value !== 'title';
      planInput.hidden = kind.value !== 'plan';
      fields.placeholder = kind.value === 'title' ? 'playbackDurationSec=86400' : 'maxDownloadDevices=1';
    });
    const bar = h('progress', {
      id: 'what-if-progress',
      max: 1,
      value: 0,
      hidden: true,
      'aria-label': 'Accounts replayed',
    });
    const status = h('span', { id: 'what-if-status', 'aria-live': 'polite' });
    const results = h('div', { id: 'what-if-results' });
    const run = h('button', { type: 'submit' }, 'Run');
    const form = h(
      'form',
      {
        id: 'what-if-form',
        onsubmit: async (e: Event) => {
          e.preventDefault();
          let change: RuleChangeRequest;
          try {
            const values = parseFields(fields.value);
            change =
              kind.value === 'title'
                ? { titles: { [titleSelect.value]: values } }
                : { plans: { [planInput.value.trim()]: values } };
          } catch (err) {
            status.textContent = (err as Error).message;
            return;
          }
          run.disabled = true;
          bar.hidden = false;
          bar.value = 0;
          status.textContent = 'Replaying…';
          results.replaceChildren();
          let report: WhatIfResponse | null = null;
          try {
            await apiStream('POST', '/v1/admin/what-if', change, (line) => {
              const l = line as
                | { type: 'progress'; done: number; total: number }
                | { type: 'result'; result: WhatIfResponse }
                | { type: 'error'; error: { code: string; message: string } };
              if (l.type === 'progress') {
                bar.max = Math.max(1, l.total);
                bar.value = l.done;
                status.textContent = `${l.done} of ${l.total} accounts replayed`;
              } else if (l.type === 'result') report = l.result;
              else throw new ConsoleApiError(500, l.error.code, l.error.message);
            });
          } catch (err) {
            status.textContent = `The what-if failed: ${(err as Error).message}`;
            return;
          } finally {
            run.disabled = false;
          }
          const r = report as WhatIfResponse | null;
          if (!r) return;
          status.textContent = `Done: ${r.totals.accountsScanned} accounts replayed. Nothing was written.`;
          results.replaceChildren(
            h('h2', {}, describeChange(r.change)),
            totals(r),
            h('h2', {}, `Accounts that differ${r.truncated ? ` (the first ${r.accounts.length})` : ''}`),
            table(
              [
                'Account',
                'Grants refused',
                'Renewals refused',
                'Newly granted',
                'Earlier',
                'Later',
                'Expiry shift',
                '',
              ],
              r.accounts.map((a) => [
                a.accountId,
                a.refusedGrants,
                a.refusedRenewals,
                a.newGrants,
                a.expiresEarlier,
                a.expiresLater,
                duration(a.expiryDeltaMs),
                h(
                  'a',
                  { href: `#/what-if/${encodeURIComponent(a.accountId)}?change=${changeParam(r.change)}` },
                  'Compare timelines',
                ),
              ]),
              { id: 'what-if-accounts' },
            ),
          );
        },
      },
      h('label', {}, 'Change ', kind),
      ' ',
      titleSelect,
      planInput,
      ' ',
      fields,
      ' ',
      run,
      h('p', {}, bar, ' ', status),
    );
    return h(
      'section',
      { class: 'what-if' },
      h('h1', {}, 'What if'),
      h(
        'p',
        {},
        'Re-decide the history of every account a rule change could touch, under the proposed rules, and see what would differ. It reads the store and writes nothing.',
      ),
      form,
      results,
    );
  },
};

const toRecorded = (events: WhatIfAccountResponse['actualEvents']): RecordedEvent[] =>
  (events ?? []).map(
    (e, i) =>
      ({
        event: { type: e.type, data: e.data },
        eventId: `${i}`,
        version: i + 1,
        recordedAt: Number(e.data.at),
        deviceId: typeof e.data.deviceId === 'string' ? e.data.deviceId : null,
      }) as RecordedEvent,
  );

/** One account under a proposed change: what would differ, and its two timelines side by side. */
export const whatIfAccountPage: Page = {
  route: '/what-if/:accountId',
  async render(_ctx, { accountId = '' }) {
    const query = new URLSearchParams(location.hash.split('?')[1] ?? '');
    const change = JSON.parse(query.get('change') ?? '{}') as RuleChangeRequest;
    const [r, catalogue] = await Promise.all([
      api<WhatIfAccountResponse>(
        'POST',
        `/v1/admin/what-if/accounts/${encodeURIComponent(accountId)}`,
        change,
      ),
      api<AdminTitlesResponse>('GET', '/v1/admin/catalogue'),
    ]);
    const titles = Object.fromEntries(catalogue.titles.map((t) => [t.titleId, t.name]));
    const actual = toRecorded(r.actualEvents);
    const proposed = toRecorded(r.proposedEvents);
    const instants = [...actual, ...proposed].map((e) => e.event.data.at);
    const bounds = [...r.expiryChanges.flatMap((c) => [c.actualExpiresAt, c.proposedExpiresAt])];
    const from = Math.min(...instants, Date.now());
    const to = Math.max(...instants, ...bounds, from + 86_400_000);
    const differences = [
      ...r.refusedGrants.map(
        (g) =>
          `Grant of ${titles[g.titleId] ?? g.titleId} on ${g.deviceId} at ${iso(g.at)} would be refused: ${g.code}`,
      ),
      ...r.refusedRenewals.map(
        (g) =>
          `Renewal ${g.renewal} of ${titles[g.titleId] ?? g.titleId} at ${iso(g.at)} would be refused: ${g.code}`,
      ),
      ...r.newGrants.map(
        (g) =>
          `${g.request === 'issue' ? 'Grant' : 'Renewal'} of ${titles[g.titleId] ?? g.titleId} at ${iso(g.at)}, refused with ${g.wasRefusedWith}, would be granted`,
      ),
      ...r.expiryChanges.map(
        (c) =>
          `Licence of ${titles[c.titleId] ?? c.titleId} would expire ${c.deltaMs < 0 ? 'earlier' : 'later'} by ${duration(Math.abs(c.deltaMs))}: ${iso(c.actualExpiresAt)} → ${iso(c.proposedExpiresAt)}`,
      ),
    ];
    const views = new Map<string, MountedTimeline>();
    let cursor = to;
    const column = (id: string, heading: string, events: RecordedEvent[]) => {
      const box = h('div', { id, class: 'timeline' });
      const model = buildTimeline(accountId, events, { titles, from, to });
      // As wide as its column: side by side on a wide screen, one above the other on a narrow one.
      let drawn = 0;
      const draw = (width: number) => {
        if (width === drawn) return;
        drawn = width;
        views.get(id)?.destroy();
        views.set(
          id,
          mountTimeline(box, model, {
            at: cursor,
            width,
            labelWidth: Math.min(190, Math.round(width * 0.36)),
            onScrub: (at) => {
              cursor = at;
              for (const [other, v] of views) if (other !== id) v.setAt(at);
            },
          }),
        );
      };
      draw(540);
      let shown = false;
      const resized = new ResizeObserver(() => {
        if (!box.isConnected) {
          if (shown) resized.disconnect();
          return;
        }
        shown = true;
        if (box.clientWidth > 0) draw(Math.max(320, Math.floor(box.clientWidth)));
      });
      resized.observe(box);
      return h('div', { class: 'what-if-column' }, h('h2', {}, heading), box);
    };
    return h(
      'section',
      { class: 'what-if-account', 'data-account-id': accountId },
      h('h1', {}, `What if: ${accountId}`),
      h('p', {}, h('a', { href: '#/what-if' }, '← What if'), ` · ${describeChange(change)}`),
      h(
        'ul',
        { id: 'what-if-differences' },
        ...(differences.length === 0 ? ['Nothing would differ.'] : differences).map((d) => h('li', {}, d)),
      ),
      h(
        'div',
        { class: 'side-by-side' },
        column('timeline-actual', 'Actual', actual),
        column('timeline-proposed', 'Under the proposed rules', proposed),
      ),
    );
  },
};
