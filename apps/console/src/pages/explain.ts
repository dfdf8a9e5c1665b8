import type { AccountStateResponse } from '@satchel/protocol';
import { h, iso, table } from '../dom.js';

type Ref = { type: string; version: number; eventId: string; at: number };
const ref = (r: Ref) =>
  h(
    'span',
    { class: 'ref', 'data-event-id': r.eventId },
    `${r.type} #${r.version}`,
    h('small', {}, ` ${iso(r.at)}`),
  );

/** The state of an account at an instant, with the reasons: what the scrubber shows. */
export function explanation(s: AccountStateResponse): HTMLElement {
  if (!s.exists || s.plan === null) {
    return h(
      'section',
      { class: 'state', id: 'state', 'data-at': s.at },
      h('h2', {}, `State at ${iso(s.at)}`),
      h('p', {}, 'The account did not exist yet.'),
    );
  }
  const plan = s.plan;
  return h(
    'section',
    { class: 'state', id: 'state', 'data-at': s.at },
    h('h2', {}, `State at ${iso(s.at)}`),
    h(
      'p',
      {},
      `Plan ${plan.planId}: ${plan.maxDownloadDevices} download devices, ${plan.maxDownloadsPerDevice} per device. `,
      s.planSetBy ? h('span', {}, 'Set by ', ref(s.planSetBy)) : '',
    ),
    h('h3', {}, 'Licences'),
    s.licenses.length === 0
      ? h('p', {}, 'No licence.')
      : h(
          'ul',
          { class: 'licences' },
          ...s.licenses.map((l) =>
            h(
              'li',
              { class: `licence ${l.playable ? 'playable' : 'stopped'}`, 'data-license-id': l.licenseId },
              h('strong', {}, l.titleId),
              ` on ${l.deviceId}: `,
              h('span', { class: 'status' }, `${l.status}${l.statusReason ? ` (${l.statusReason})` : ''}`),
              l.pending ? h('em', {}, ' — the rules say so; the server has not recorded it yet') : '',
              h('span', { class: 'playable' }, l.playable ? ' · playable' : ' · not playable'),
              h('div', { class: 'rule' }, `Expires ${iso(l.expiresAt)} — bound by ${l.bound}: ${l.rule}`),
              h(
                'div',
                { class: 'bounds' },
                'Bounds: ',
                l.bounds.map((b) => `${b.reason} ${iso(b.at)}`).join(' · '),
              ),
              h(
                'div',
                { class: 'because' },
                'Because of: ',
                ...l.setBy.flatMap((r, i) => [i > 0 ? ', ' : '', ref(r)]),
              ),
              h(
                'div',
                { class: 'hint' },
                `Policy version ${l.policyVersion ?? '—'}; issued ${iso(l.issuedAt)}, downloaded ${iso(l.downloadedAt)}, first played ${iso(l.firstPlayedAt)}`,
              ),
            ),
          ),
        ),
    h('h3', {}, 'Allowances'),
    s.allowances.length === 0
      ? h('p', {}, 'No limited title downloaded in the last year.')
      : table(
          ['title', 'used', 'left', 'uses (each frees a year later)'],
          s.allowances.map((a) => [
            a.titleId,
            `${a.used} of ${a.limit}`,
            String(a.remaining),
            a.uses.map((u) => `${iso(u.at)} → frees ${iso(u.freesAt)}`).join('; '),
          ]),
          { class: 'allowances' },
        ),
    h('h3', {}, 'Download slots'),
    s.slots
      ? h(
          'p',
          { class: 'slots' },
          `${s.slots.holders.length} of ${s.slots.maxDownloadDevices} devices hold downloads: `,
          s.slots.holders.map((x) => `${x.deviceId} (${x.licenseIds.length})`).join(', ') || 'none',
          `. ${s.slots.downloadsThisMonth} downloads in the last 30 days.`,
        )
      : '',
    h('h3', {}, 'Devices'),
    table(
      ['device', 'status', 'last check-in', 'last sync', 'clock rollbacks'],
      s.devices.map((d) => [
        `${d.name} (${d.deviceId})`,
        d.status,
        iso(d.lastCheckInAt),
        iso(d.lastSyncAt),
        String(d.clockRollbacks),
      ]),
      { class: 'devices-at' },
    ),
    s.clockRollbacks.length === 0
      ? ''
      : h(
          'div',
          {},
          h('h3', {}, 'Clock rollbacks'),
          h(
            'ul',
            {},
            ...s.clockRollbacks.map((r) =>
              h(
                'li',
                {},
                `${r.deviceId}: ${Math.round(r.behindMs / 1000)} s behind at ${iso(r.at)} — `,
                ref(r.event),
              ),
            ),
          ),
        ),
  );
}
