import type { RecordedEvent } from '@satchel/core';
import type {
  AccountDetail,
  AccountStateResponse,
  AdminTitlesResponse,
  ChangePlanResponse,
  HistoryResponse,
} from '@satchel/protocol';
import { buildTimeline, mountTimeline } from '@satchel/timeline';
import { api } from '../api.js';
import { confirmChange, h, iso, table } from '../dom.js';
import { explanation } from './explain.js';
import type { Page, PageContext } from './types.js';

const toRecorded = (e: HistoryResponse['events'][number]): RecordedEvent =>
  ({
    event: { type: e.type, data: e.data },
    eventId: e.eventId,
    version: e.version,
    recordedAt: e.recordedAt,
    deviceId: typeof e.metadata.deviceId === 'string' ? e.metadata.deviceId : null,
  }) as RecordedEvent;

/** One account: devices, licences, allowances, the timeline scrubbable to any instant, and the plan. */
export const accountPage: Page = {
  route: '/accounts/:accountId',
  async render(ctx, { accountId = '' }) {
    const base = `/v1/admin/accounts/${encodeURIComponent(accountId)}`;
    const [account, history, catalogue] = await Promise.all([
      api<AccountDetail>('GET', base),
      api<HistoryResponse>('GET', `${base}/history?all=true`),
      api<AdminTitlesResponse>('GET', '/v1/admin/catalogue'),
    ]);
    const titles = Object.fromEntries(catalogue.titles.map((t) => [t.titleId, t.name]));
    const stateBox = h('div', { id: 'state-box', 'aria-live': 'polite' });
    const at = Number(new URLSearchParams(location.hash.split('?')[1] ?? '').get('at')) || Date.now();
    let pending = 0;
    const showState = async (instant: number) => {
      const ticket = ++pending;
      const state = await api<AccountStateResponse>('GET', `${base}/state?at=${instant}`);
      if (ticket === pending) stateBox.replaceChildren(explanation(state));
    };
    const model = buildTimeline(accountId, history.events.map(toRecorded), {
      titles,
      to: Math.max(Date.now(), ...history.events.map((e) => e.at)),
    });
    const timelineBox = h('div', { id: 'timeline', class: 'timeline' });
    const instantInput = h('input', {
      type: 'datetime-local',
      step: '1',
      id: 'instant',
      'aria-label': 'Instant',
    });
    const setInput = (instant: number) => {
      instantInput.value = new Date(instant).toISOString().slice(0, 19);
    };
    setInput(at);
    const view = mountTimeline(timelineBox, model, {
      at: Math.min(Math.max(at, model.from), model.to),
      width: 1100,
      onScrub: (instant) => {
        setInput(instant);
        void showState(instant);
      },
    });
    instantInput.addEventListener('change', () => {
      const instant = Date.parse(`${instantInput.value}Z`);
      if (!Number.isFinite(instant)) return;
      view.setAt(instant);
      void showState(instant);
    });
    await showState(at);

    return h(
      'section',
      { class: 'account', 'data-account-id': accountId },
      h('h1', {}, `${account.name} `, h('small', {}, account.accountId)),
      h(
        'p',
        {},
        `Plan ${account.plan.planId}: ${account.plan.maxDownloadDevices} download devices, ${account.plan.maxDownloadsPerDevice} per device, ${account.plan.maxDownloadsPerMonth ?? 'no'} monthly limit. Stream version ${account.version}.`,
      ),
      ctx.canChange
        ? planForm(ctx, accountId, account)
        : h('p', { class: 'hint' }, 'Support role: read only.'),
      h('h2', {}, 'Timeline'),
      h(
        'p',
        { class: 'hint' },
        'Click or drag on the timeline (or focus it and use ←/→, Shift for bigger steps) to see the account at that instant, with the reasons.',
      ),
      h('label', {}, 'Instant (UTC) ', instantInput),
      timelineBox,
      stateBox,
      h('h2', {}, 'Devices now'),
      table(
        ['device', 'name', 'status', 'registered', 'deactivated', ''],
        account.devices.map((d) => [
          d.deviceId,
          d.name,
          d.status,
          iso(d.registeredAt),
          iso(d.deactivatedAt),
          ctx.canChange && d.status === 'active' ? deactivateButton(ctx, accountId, d.deviceId, d.name) : '',
        ]),
        { class: 'devices' },
      ),
      h('h2', {}, 'Licences now'),
      table(
        ['licence', 'title', 'device', 'status', 'expires', 'bound by'],
        account.licenses.map((l) => [
          l.licenseId,
          titles[l.titleId] ?? l.titleId,
          l.deviceId,
          `${l.status}${l.statusReason ? ` (${l.statusReason})` : ''}`,
          iso(l.expiresAt),
          l.expiryReason,
        ]),
        { class: 'licences-now' },
      ),
      historySection(base, history.events),
    );
  },
};

function deactivateButton(ctx: PageContext, accountId: string, deviceId: string, name: string): HTMLElement {
  return h(
    'button',
    {
      type: 'button',
      class: 'danger',
      'data-device-id': deviceId,
      onclick: async () => {
        const ok = await confirmChange(
          `Deactivate ${name}?`,
          `Device ${deviceId} loses its download slot and every licence it holds is revoked (DEVICE_DEACTIVATED).`,
        );
        if (!ok) return;
        await api(
          'POST',
          `/v1/admin/accounts/${encodeURIComponent(accountId)}/devices/${encodeURIComponent(deviceId)}/deactivate`,
        );
        ctx.navigate(`#/accounts/${encodeURIComponent(accountId)}`);
      },
    },
    'Deactivate…',
  );
}

function historyRows(events: HistoryResponse['events']): HTMLTableElement {
  return table(
    ['v', 'at', 'recorded', 'type', 'from', 'data'],
    events.map((e) => [
      String(e.version),
      iso(e.at),
      iso(e.recordedAt),
      e.type,
      typeof e.metadata.deviceId === 'string'
        ? `device ${e.metadata.deviceId} #${String(e.metadata.seq)}`
        : 'server',
      h('code', {}, JSON.stringify(e.data)),
    ]),
    { class: 'history' },
  );
}

/** The account's history, whole, filterable by type, device and licence (the API filters). */
function historySection(base: string, all: HistoryResponse['events']): HTMLElement {
  const rows = h('div', { id: 'history-rows' }, historyRows(all));
  const types = [...new Set(all.map((e) => e.type))].sort();
  const type = h(
    'select',
    { name: 'type', id: 'history-type' },
    h('option', { value: '' }, 'every type'),
    ...types.map((t) => h('option', { value: t }, t)),
  );
  const device = h('input', { name: 'device', id: 'history-device', placeholder: 'device id', size: 20 });
  const license = h('input', { name: 'license', id: 'history-license', placeholder: 'licence id', size: 20 });
  const form = h(
    'form',
    {
      id: 'history-filter',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        const params = new URLSearchParams({ all: 'true' });
        if (type.value) params.set('type', type.value);
        if (device.value.trim()) params.set('device', device.value.trim());
        if (license.value.trim()) params.set('license', license.value.trim());
        const r = await api<HistoryResponse>('GET', `${base}/history?${params}`);
        rows.replaceChildren(historyRows(r.events));
      },
    },
    h('label', {}, 'type ', type),
    h('label', {}, 'device ', device),
    h('label', {}, 'licence ', license),
    h('button', { type: 'submit' }, 'Filter'),
  );
  return h('section', { class: 'history-section' }, h('h2', {}, 'History'), form, rows);
}

function planForm(ctx: PageContext, accountId: string, account: AccountDetail): HTMLElement {
  const field = (name: string, label: string, value: string) =>
    h('label', {}, `${label} `, h('input', { name, value, required: name !== 'perMonth', size: 8 }));
  const status = h('p', { class: 'status-line', role: 'status' });
  const form = h(
    'form',
    {
      class: 'plan',
      id: 'plan-form',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        const data = new FormData(form);
        const perMonth = String(data.get('perMonth') ?? '').trim();
        const plan = {
          planId: String(data.get('planId')),
          maxDownloadDevices: Number(data.get('devices')),
          maxDownloadsPerDevice: Number(data.get('perDevice')),
          maxDownloadsPerMonth: perMonth === '' ? null : Number(perMonth),
        };
        const ok = await confirmChange(
          `Change the plan of ${accountId}?`,
          `New plan ${plan.planId}: ${plan.maxDownloadDevices} download devices, ${plan.maxDownloadsPerDevice} per device. A downgrade revokes what no longer fits (LIMIT_CONFLICT).`,
        );
        if (!ok) return;
        try {
          const r = await api<ChangePlanResponse>(
            'PUT',
            `/v1/admin/accounts/${encodeURIComponent(accountId)}/plan`,
            { plan },
          );
          status.textContent = `Plan changed to ${r.plan.planId}; ${r.revoked.length} licences revoked.`;
          ctx.navigate(`#/accounts/${encodeURIComponent(accountId)}`);
        } catch (err) {
          status.textContent = (err as Error).message;
        }
      },
    },
    h('legend', {}, 'Change plan (admin)'),
    field('planId', 'plan', account.plan.planId),
    field('devices', 'download devices', String(account.plan.maxDownloadDevices)),
    field('perDevice', 'per device', String(account.plan.maxDownloadsPerDevice)),
    field(
      'perMonth',
      'per month',
      account.plan.maxDownloadsPerMonth === null ? '' : String(account.plan.maxDownloadsPerMonth),
    ),
    h('button', { type: 'submit' }, 'Change plan…'),
  );
  return h('div', {}, form, status);
}
