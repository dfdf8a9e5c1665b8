import type { StudioMonthRow, StudioReportResponse } from '@satchel/protocol';
import type uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api } from '../api.js';
import { h, table } from '../dom.js';
import type { Page } from './types.js';

/** The measures drawn per month, with their colours (distinguishable, AA on white). */
const SERIES = [
  { key: 'issued', label: 'Issued', stroke: '#0b3d91' },
  { key: 'renewed', label: 'Renewed', stroke: '#1a7f37' },
  { key: 'released', label: 'Released', stroke: '#9a6700' },
  { key: 'expired', label: 'Expired', stroke: '#cf222e' },
  { key: 'activeAtMonthEnd', label: 'Active at month end', stroke: '#8250df' },
] as const;

const HALF_MONTH_S = 15 * 86_400;
const sum = (r: Record<string, number>) => Object.values(r).reduce((a, n) => a + n, 0);
const monthStart = (month: string) =>
  Date.UTC(Number(month.slice(0, 4)), Number(month.slice(5, 7)) - 1, 1) / 1000;

/** Months from `from` to `to` inclusive (YYYY-MM). */
export function monthsBetween(from: string, to: string): string[] {
  const out: string[] = [];
  let y = Number(from.slice(0, 4));
  let m = Number(from.slice(5, 7));
  for (;;) {
    const month = `${y}-${String(m).padStart(2, '0')}`;
    if (month > to) return out;
    out.push(month);
    m += 1;
    if (m === 13) {
      m = 1;
      y += 1;
    }
  }
}

/** Totals per month over the rows (every title of the selection), for the chart. */
function perMonth(rows: readonly StudioMonthRow[], months: readonly string[]): uPlot.AlignedData {
  const index = new Map(months.map((m, i) => [m, i]));
  const columns = SERIES.map(() => months.map(() => 0));
  for (const r of rows) {
    const i = index.get(r.month);
    if (i === undefined) continue;
    SERIES.forEach((s, k) => {
      const column = columns[k];
      if (column) column[i] = (column[i] ?? 0) + r[s.key];
    });
  }
  return [months.map(monthStart), ...columns];
}

/** The chart library is loaded with the first chart (a chunk of its own), not with every console page. */
async function chart(rows: readonly StudioMonthRow[], from: string, to: string): Promise<HTMLElement> {
  const { default: UPlot } = await import('uplot');
  const box = h('div', {
    id: 'studio-chart',
    class: 'chart',
    role: 'img',
    'aria-label': 'Licences per month',
  });
  const months = monthsBetween(from, to);
  const bars = UPlot.paths.bars?.({ size: [0.6, 40] });
  // Mounted once the box is in the document, so uPlot measures real fonts.
  queueMicrotask(
    () =>
      new UPlot(
        {
          width: 1100,
          height: 300,
          scales: {
            // Half a month either side, so the first and last months' bars are whole.
            x: { time: true, range: (_u, min, max) => [min - HALF_MONTH_S, max + HALF_MONTH_S] },
            y: { range: (_u, _min, max) => [0, Math.max(1, max)] },
          },
          axes: [
            { values: (_u, ticks) => ticks.map((t) => new Date(t * 1000).toISOString().slice(0, 7)) },
            // Counts: whole ticks only.
            {
              label: 'licences',
              incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 100_000],
            },
          ],
          series: [
            {
              label: 'Month',
              value: (_u, v) => (v === null ? '—' : new Date(v * 1000).toISOString().slice(0, 7)),
            },
            ...SERIES.map((s, k) => ({
              label: s.label,
              stroke: s.stroke,
              width: 2,
              ...(k === 0 && bars ? { paths: bars, fill: `${s.stroke}33` } : { points: { show: true } }),
            })),
          ],
        },
        perMonth(rows, months),
        box,
      ),
  );
  return box;
}

/** Studio accounting per studio, title and month: a chart of the totals, the table, and the projection's lag. */
export const reportsPage: Page = {
  route: '/reports',
  nav: 'Reports',
  async render(ctx) {
    const query = new URLSearchParams(location.hash.split('?')[1] ?? '');
    const now = new Date().toISOString().slice(0, 7);
    const from = query.get('from') ?? `${now.slice(0, 4)}-01`;
    const to = query.get('to') ?? now;
    const studio = query.get('studio') ?? '';
    const params = new URLSearchParams({ from, to, ...(studio ? { studio } : {}) });
    const report = await api<StudioReportResponse>('GET', `/v1/admin/reports/studios?${params}`);
    const studios = [...new Set(report.rows.map((r) => r.studio))].sort();
    const input = (name: string, value: string) =>
      h('input', { type: 'month', name, id: `report-${name}`, value, required: true });
    const form = h(
      'form',
      {
        id: 'report-form',
        onsubmit: (e: Event) => {
          e.preventDefault();
          const data = new FormData(e.target as HTMLFormElement);
          const next = new URLSearchParams();
          for (const key of ['from', 'to', 'studio']) {
            const v = String(data.get(key) ?? '');
            if (v) next.set(key, v);
          }
          ctx.navigate(`#/reports?${next}`);
        },
      },
      h('label', {}, 'From ', input('from', from)),
      h('label', {}, ' to ', input('to', to)),
      h(
        'label',
        {},
        ' studio ',
        h(
          'select',
          { name: 'studio', id: 'report-studio' },
          h('option', { value: '' }, 'every studio'),
          ...(studio && !studios.includes(studio) ? [studio, ...studios] : studios).map((s) =>
            h('option', { value: s, selected: s === studio }, s),
          ),
        ),
      ),
      ' ',
      h('button', { type: 'submit' }, 'Show'),
    );
    return h(
      'section',
      { class: 'reports' },
      h('h1', {}, 'Studio accounting'),
      form,
      h(
        'p',
        { id: 'report-lag' },
        ...report.lag.map(
          (l) =>
            `${l.projection} (generation ${l.generation}, ${l.status}): ${l.eventsBehind} events, ${l.secondsBehind} s behind the feed${l.leaseOwner ? '' : ' — no instance runs it now'}. `,
        ),
      ),
      report.rows.length === 0
        ? h('p', {}, 'No licences in these months.')
        : await chart(report.rows, from, to),
      table(
        [
          'Studio',
          'Title',
          'Month',
          'Issued',
          'Renewed',
          'Released',
          'Revoked',
          'Expired',
          'Refused',
          'Accounts',
          'Devices',
          'Active at end',
        ],
        report.rows.map((r) => [
          r.studio,
          r.titleId,
          r.month,
          r.issued,
          r.renewed,
          r.released,
          sum(r.revoked),
          r.expired,
          sum(r.refused),
          r.accounts,
          r.devices,
          r.activeAtMonthEnd,
        ]),
        { class: 'report', id: 'report-table' },
      ),
    );
  },
};
