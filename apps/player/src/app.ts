import type { LicenseStatus, LicenseView } from '@satchel/protocol';
import { isSatchelError, type LicenseState, type PlaybackResult } from '@satchel/sdk';
import { ApiError, type CatalogueTitle, deactivateDevice, fetchCatalogue } from './api.js';
import { actions, cardState, stateLabel } from './card-state.js';
import { DeviceSession, type PanelState } from './device.js';
import { h, patch } from './dom.js';
import {
  clearSettings,
  type DecisionLog,
  type DeviceConfig,
  type LogEntry,
  loadSettings,
  type Settings,
  saveSettings,
} from './persist.js';
import {
  ago,
  allowanceWords,
  countdown,
  EXPIRY_BOUND,
  endedWords,
  moment,
  playbackWords,
  policyWords,
  position,
  refusalWords,
  STATUS_LABEL,
} from './words.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ACTIVE = new Set<LicenseStatus>(['issued', 'downloaded']);
const DEVICE_NAMES = ['Living-room laptop', 'Phone', 'Tablet', 'Work laptop', 'Games console', 'Car screen'];
const CATALOGUE_CACHE = 'satchel-player:catalogue';
const CLOCK_STEPS: Array<{ label: string; name: string; ms: number }> = [
  { label: '−1 day', name: 'Move the clock back 1 day', ms: -DAY },
  { label: '−1 h', name: 'Move the clock back 1 hour', ms: -HOUR },
  { label: '+1 h', name: 'Move the clock forward 1 hour', ms: HOUR },
  { label: '+1 day', name: 'Move the clock forward 1 day', ms: DAY },
  { label: '+49 h', name: 'Move the clock forward 49 hours', ms: 49 * HOUR },
  { label: '+31 days', name: 'Move the clock forward 31 days', ms: 31 * DAY },
];

/** Page options read from the URL: `?server=` (sync server), `?transferMs=` (simulated download time), `?enrol=`. */
export interface PageOptions {
  baseUrl: string;
  transferMs: number;
  enrolmentToken: string | null;
  /** `?device=N`: show only device N (another tab of the same device, or a device of its own tab). */
  onlyDevice: number | null;
}

/** The demo player: device panels side by side, a decision log, and the simulation controls. */
export class PlayerApp {
  readonly #options: PageOptions;
  readonly #log: DecisionLog;
  readonly #settings: Settings;
  readonly #devices: DeviceSession[] = [];
  readonly #panels = new Map<number, HTMLElement>();
  /** Devices running a call the page logs itself: a failure it stores is not a background sync's. */
  readonly #busy = new Set<DeviceSession>();
  #entries: LogEntry[] = [];
  #catalogue: CatalogueTitle[] = [];
  #catalogueNote: string | null = null;
  #root: HTMLElement;
  #devicesEl = h('div', { class: 'devices' });
  #logEl = h('ol', { class: 'log', id: 'log-list' });
  #browserEl = h('p', { class: 'browser-status', id: 'browser-status' });
  #announce = h('p', { class: 'sr-only', role: 'status', 'aria-live': 'polite', id: 'announce' });

  constructor(root: HTMLElement, options: PageOptions, log: DecisionLog) {
    this.#root = root;
    this.#options = options;
    this.#log = log;
    this.#settings = loadSettings();
    if (options.enrolmentToken !== null) this.#settings.enrolmentToken = options.enrolmentToken;
    saveSettings(this.#settings);
    try {
      const cached = localStorage.getItem(CATALOGUE_CACHE);
      if (cached !== null) this.#catalogue = JSON.parse(cached) as CatalogueTitle[];
    } catch {}
  }

  async start(): Promise<void> {
    this.#layout();
    this.#entries = await this.#log.recent();
    this.#renderLog();
    const only = this.#options.onlyDevice;
    if (only !== null && !this.#settings.devices.some((c) => c.index === only)) {
      this.#settings.devices.push(configFor(only));
      saveSettings(this.#settings);
    }
    for (const config of this.#settings.devices) {
      if (only === null || config.index === only) this.#addSession(config);
    }
    addEventListener('online', () => this.#browserChanged(true));
    addEventListener('offline', () => this.#browserChanged(false));
    this.#renderBrowser();
    await Promise.all(this.#devices.map((d) => this.#refresh(d)));
    await this.#loadCatalogue();
    for (const d of this.#devices) {
      if (d.view?.status.registered === false) await this.#autoRegister(d);
    }
    setInterval(() => this.#tick(), 500);
  }

  // ---- layout and rendering -------------------------------------------------------------------

  #layout(): void {
    const addDevice = h(
      'button',
      { type: 'button', id: 'add-device', class: 'secondary', onclick: () => void this.#addDevice() },
      'Add a device',
    );
    const startOver = h(
      'button',
      { type: 'button', id: 'start-over', class: 'danger', onclick: () => void this.#startOver() },
      'Start over',
    );
    const clear = h(
      'button',
      {
        type: 'button',
        id: 'clear-log',
        class: 'secondary',
        onclick: async () => {
          await this.#log.clear();
          this.#entries = [];
          this.#renderLog();
        },
      },
      'Clear the log',
    );
    patch(
      this.#root,
      h(
        'header',
        { class: 'top' },
        h(
          'div',
          {},
          h('h1', {}, 'Satchel player'),
          h('p', { class: 'tagline' }, 'Downloads that keep playing offline — and say why when they stop.'),
        ),
        h('div', { class: 'top-actions' }, this.#browserEl, addDevice, startOver),
      ),
      h('main', { id: 'main' }, h('h2', { class: 'sr-only' }, 'Devices'), this.#devicesEl),
      h(
        'section',
        { class: 'log-panel', 'aria-labelledby': 'log-title' },
        h('div', { class: 'log-head' }, h('h2', { id: 'log-title' }, 'What the SDK decided, and why'), clear),
        this.#logEl,
      ),
      this.#announce,
    );
  }

  #renderBrowser(): void {
    const online = navigator.onLine;
    patch(
      this.#browserEl,
      h('span', { class: `dot ${online ? 'on' : 'off'}`, 'aria-hidden': 'true' }),
      online ? 'Browser online' : 'Browser offline',
    );
  }

  #addSession(config: DeviceConfig): DeviceSession {
    const sim = this.#settings.sim[String(config.index)] ?? { networkOff: false, clockOffsetMs: 0 };
    this.#settings.sim[String(config.index)] = sim;
    const d = new DeviceSession(config, sim, this.#options.baseUrl);
    this.#devices.push(d);
    const panel = h('article', {
      class: 'device',
      id: `device-${config.index}`,
      'aria-labelledby': `device-${config.index}-name`,
    });
    this.#panels.set(config.index, panel);
    this.#devicesEl.append(panel);
    d.client.subscribe(() => void this.#refresh(d));
    // Stored bytes go when a licence is released, revoked or expired (e.g. a sync brings a revocation).
    d.downloads.watch((removed) => {
      for (const m of removed) {
        const status = d.view?.licenses.find((l) => l.licenseId === m.licenseId)?.status ?? 'released';
        void this.#record(
          d,
          'info',
          `Stored media of ${this.#titleName(m.titleId)} removed`,
          `${Math.round(m.bytes / 1024)} KB freed: the licence is ${STATUS_LABEL[status].toLowerCase()}.`,
        );
      }
      void this.#refresh(d);
    });
    return d;
  }

  /** Re-reads and re-renders a device; calls while one runs coalesce into one more run after it. */
  #refresh(d: DeviceSession): Promise<void> {
    if (d.refreshing !== null) {
      d.dirty = true;
      return d.refreshing;
    }
    d.refreshing = (async () => {
      do {
        d.dirty = false;
        await this.#refreshOnce(d);
      } while (d.dirty);
    })().finally(() => {
      d.refreshing = null;
    });
    return d.refreshing;
  }

  async #refreshOnce(d: DeviceSession): Promise<void> {
    const before = d.view;
    try {
      const view = await d.read();
      this.#noticeChanges(d, before, view);
    } catch (error) {
      if (isSatchelError(error, 'CLOSED') || isSatchelError(error, 'STORAGE_CLOSED')) return;
      await this.#record(d, 'error', 'Reading the device state failed', errorWords(error));
    }
    this.#render(d);
  }

  /** Logs what the server changed behind the device's back (revocations, expiries, a failing background sync). */
  #noticeChanges(d: DeviceSession, before: PanelState | null, after: PanelState): void {
    if (before === null) return;
    const was = new Map(before.licenses.map((l) => [l.licenseId, l]));
    for (const license of after.licenses) {
      const old = was.get(license.licenseId);
      if (old === undefined || old.status === license.status) continue;
      if (license.status === 'revoked' || license.status === 'released') d.notices.delete(license.licenseId);
      if (license.status === 'revoked' || license.status === 'expired') {
        const kind = license.status === 'revoked' ? 'revoked' : 'ended';
        void this.#record(
          d,
          kind,
          `${this.#titleName(license.titleId)}: ${STATUS_LABEL[license.status].toLowerCase()}`,
          endedWords(license) ?? '',
        );
      }
    }
    const err = after.status.lastError;
    const previous = before.status.lastError;
    if (err !== null && (previous === null || previous.code !== err.code) && !this.#busy.has(d)) {
      void this.#record(d, 'error', 'Background sync failed', syncErrorWords(err.code, err.message));
    }
    if (
      before.status.registered &&
      after.devices.find((x) => x.deviceId === after.status.deviceId)?.status === 'deactivated'
    ) {
      const wasActive =
        before.devices.find((x) => x.deviceId === before.status.deviceId)?.status === 'active';
      if (wasActive)
        void this.#record(
          d,
          'revoked',
          'This device was deactivated',
          'Another device of the account deactivated it; its downloads are revoked.',
        );
    }
  }

  #render(d: DeviceSession): void {
    const panel = this.#panels.get(d.config.index);
    if (panel === undefined) return;
    const view = d.view;
    const idx = d.config.index;
    const tab = h(
      'a',
      { href: `?device=${idx}`, target: '_blank', rel: 'noopener', class: 'tab-link' },
      'Open in a new tab',
      h('span', { class: 'sr-only' }, ` (device ${idx})`),
    );
    const name = h(
      'h2',
      { id: `device-${idx}-name` },
      `Device ${idx}`,
      h('span', { class: 'device-name' }, ` · ${d.config.name}`),
    );
    if (view === null) {
      patch(panel, h('header', { class: 'device-head' }, name), h('p', {}, 'Opening the device storage…'));
      return;
    }
    patch(
      panel,
      h(
        'header',
        { class: 'device-head' },
        h('div', { class: 'device-title' }, name, tab),
        this.#statusBlock(d, view),
      ),
      isDeactivated(view) ? this.#deactivatedBlock(d) : null,
      this.#simBlock(d),
      view.status.registered ? null : this.#registerBlock(d),
      view.status.registered ? this.#catalogueBlock(d, view) : null,
      view.status.registered ? this.#downloadsBlock(d, view) : null,
      view.status.registered ? this.#devicesBlock(d, view) : null,
    );
    this.#tickPanel(d);
  }

  #statusBlock(d: DeviceSession, view: PanelState): HTMLElement {
    const idx = d.config.index;
    const s = view.status;
    const why = d.sim.networkOff ? 'network switched off' : navigator.onLine ? null : 'browser offline';
    const deactivated = view.devices.find((x) => x.deviceId === s.deviceId)?.status === 'deactivated';
    return h(
      'div',
      { class: 'status', id: `device-${idx}-status` },
      h(
        'ul',
        { class: 'chips', 'aria-label': `Sync status of device ${idx}` },
        h(
          'li',
          { class: `chip ${d.online ? 'ok' : 'warn'}`, 'data-test': 'network' },
          h('span', { class: `dot ${d.online ? 'on' : 'off'}`, 'aria-hidden': 'true' }),
          d.online ? 'Online' : `Offline (${why})`,
        ),
        h(
          'li',
          { class: `chip ${s.pendingEvents > 0 ? 'info' : ''}`, 'data-test': 'pending' },
          s.pendingEvents === 1 ? '1 event waiting to sync' : `${s.pendingEvents} events waiting to sync`,
        ),
        h(
          'li',
          { class: 'chip', 'data-test': 'last-sync' },
          'Last sync ',
          s.lastSyncAt === null
            ? 'never'
            : h('span', { 'data-ago': s.lastSyncAt, 'data-device': idx }, ago(s.lastSyncAt, d.now())),
        ),
        s.syncing ? h('li', { class: 'chip info' }, 'Syncing…') : null,
        deactivated ? h('li', { class: 'chip bad' }, 'Deactivated') : null,
      ),
      s.lastError === null
        ? null
        : h(
            'p',
            { class: 'sync-error', 'data-test': 'sync-error' },
            'Last sync failed: ',
            syncErrorWords(s.lastError.code, s.lastError.message),
          ),
      s.updateRequired === null
        ? null
        : h('p', { class: 'sync-error' }, 'Update required: ', s.updateRequired.message),
      s.registered
        ? h(
            'p',
            { class: 'status-line' },
            s.checkInDeadline === null
              ? 'No active downloads need a check-in.'
              : h('span', {}, 'Must check in before ', moment(s.checkInDeadline, d.now())),
            view.plan === null
              ? null
              : h(
                  'span',
                  {},
                  ` · Plan: downloads on ${view.plan.maxDownloadDevices} device${view.plan.maxDownloadDevices === 1 ? '' : 's'} at once`,
                ),
          )
        : null,
      s.registered
        ? h(
            'button',
            {
              type: 'button',
              id: `device-${idx}-sync`,
              onclick: () => void this.#sync(d),
              disabled: s.syncing,
            },
            'Sync now',
          )
        : null,
    );
  }

  #deactivatedBlock(d: DeviceSession): HTMLElement {
    const idx = d.config.index;
    return h(
      'div',
      { class: 'notice bad', role: 'note' },
      h(
        'p',
        {},
        h('strong', {}, 'This device was deactivated. '),
        'Its downloads were revoked and it can no longer download.',
      ),
      h(
        'button',
        {
          type: 'button',
          class: 'secondary small',
          id: `device-${idx}-reset`,
          onclick: () => void this.#reset(d),
        },
        'Reset and register again',
      ),
    );
  }

  /** Forgets the device's local state (its IndexedDB database) and registers it again as a new device. */
  async #reset(d: DeviceSession): Promise<void> {
    const at = this.#devices.indexOf(d);
    await d.close();
    await deleteDatabase(d.config.dbName);
    const fresh = new DeviceSession(d.config, d.sim, this.#options.baseUrl);
    this.#devices.splice(at, 1, fresh);
    fresh.client.subscribe(() => void this.#refresh(fresh));
    await this.#record(
      fresh,
      'info',
      'Device reset',
      'Its local database was deleted; registering it again.',
    );
    await this.#refresh(fresh);
    await this.#autoRegister(fresh);
  }

  #simBlock(d: DeviceSession): HTMLElement {
    const idx = d.config.index;
    const offset = d.sim.clockOffsetMs;
    return h(
      'section',
      { class: 'sim', 'aria-labelledby': `device-${idx}-sim-title` },
      h('h3', { id: `device-${idx}-sim-title` }, 'Simulation'),
      h(
        'div',
        { class: 'sim-row' },
        h(
          'button',
          {
            type: 'button',
            id: `device-${idx}-network`,
            class: `switch ${d.sim.networkOff ? 'off' : 'on'}`,
            'aria-pressed': String(!d.sim.networkOff),
            onclick: () => void this.#toggleNetwork(d),
          },
          `Network ${d.sim.networkOff ? 'off' : 'on'}`,
        ),
      ),
      h(
        'div',
        { class: 'sim-row', role: 'group', 'aria-labelledby': `device-${idx}-clock-label` },
        h(
          'p',
          { class: 'clock', id: `device-${idx}-clock-label` },
          'Device clock: ',
          h('output', { id: `device-${idx}-clock`, 'data-clock': idx }, moment(d.now(), d.now())),
          offset === 0 ? ' (real time)' : ` (${offset > 0 ? '+' : '−'}${offsetWords(offset)})`,
        ),
        Math.abs(d.trustedSkewMs) > 5000 || offset !== 0
          ? h(
              'p',
              { class: 'clock trusted', 'data-test': 'clock-explained' },
              'The server keeps real time. The SDK’s secure clock now trusts ',
              h('output', { 'data-trusted': idx }, moment(d.trustedNow(), d.now())),
              Math.abs(d.trustedSkewMs) > 5000
                ? ', not the device clock: it never goes back, and the next sync sets it to the server’s time.'
                : ', the device clock.',
            )
          : null,
        h(
          'div',
          { class: 'buttons' },
          ...CLOCK_STEPS.map((step) =>
            h(
              'button',
              {
                type: 'button',
                class: 'small',
                id: `device-${idx}-clock-${step.ms}`,
                'aria-label': `${step.label}: ${step.name.toLowerCase()}`,
                title: step.name,
                onclick: () => void this.#moveClock(d, step.ms),
              },
              step.label,
            ),
          ),
          h(
            'button',
            {
              type: 'button',
              class: 'small',
              id: `device-${idx}-clock-reset`,
              disabled: offset === 0,
              onclick: () => void this.#moveClock(d, -offset),
            },
            'Real time',
          ),
        ),
      ),
    );
  }

  #registerBlock(d: DeviceSession): HTMLElement {
    const idx = d.config.index;
    const tokenId = `device-${idx}-enrol`;
    const nameId = `device-${idx}-device-name`;
    const form = h(
      'form',
      {
        class: 'register',
        onsubmit: (event: Event) => {
          event.preventDefault();
          const token = (document.getElementById(tokenId) as HTMLInputElement).value.trim();
          const name = (document.getElementById(nameId) as HTMLInputElement).value.trim() || d.config.name;
          void this.#register(d, token, name);
        },
      },
      h('h3', {}, 'Register this device'),
      h('p', {}, 'Paste the account’s enrolment token (the sync server prints it when it starts).'),
      h('label', { for: nameId }, 'Device name'),
      h('input', { id: nameId, name: 'name', value: d.config.name, autocomplete: 'off', maxlength: 100 }),
      h('label', { for: tokenId }, 'Enrolment token'),
      h('input', {
        id: tokenId,
        name: 'token',
        value: this.#settings.enrolmentToken ?? '',
        autocomplete: 'off',
        spellcheck: 'false',
        required: true,
      }),
      h('button', { type: 'submit', id: `device-${idx}-register` }, 'Register'),
      d.notices.has('register')
        ? h('p', { class: 'notice bad', role: 'alert' }, d.notices.get('register'))
        : null,
    );
    return form;
  }

  #catalogueBlock(d: DeviceSession, view: PanelState): HTMLElement {
    const idx = d.config.index;
    const now = d.now();
    const held = new Map(view.licenses.filter((l) => ACTIVE.has(l.status)).map((l) => [l.titleId, l]));
    const items = this.#catalogue.map((title) => {
      const license = held.get(title.titleId);
      const allowance = allowanceWords(
        view.allowances.find((a) => a.titleId === title.titleId),
        now,
      );
      const notice = d.notices.get(title.titleId);
      const slug = `device-${idx}-title-${title.titleId}`;
      let action: HTMLElement;
      if (isDeactivated(view)) {
        action = h('p', { class: 'hint' }, 'Downloads are off: this device was deactivated.');
      } else if (license === undefined) {
        action = h(
          'button',
          {
            type: 'button',
            id: `${slug}-download`,
            'aria-label': `Download ${title.name}`,
            onclick: () => void this.#download(d, title),
          },
          'Download',
        );
      } else {
        action = h('p', { class: 'held' }, license.status === 'issued' ? 'Downloading…' : 'On this device');
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
      this.#catalogueNote === null ? null : h('p', { class: 'notice' }, this.#catalogueNote),
      items.length === 0 ? h('p', {}, 'No titles to show yet.') : h('ul', { class: 'cards' }, ...items),
    );
  }

  #downloadsBlock(d: DeviceSession, view: PanelState): HTMLElement {
    const idx = d.config.index;
    const now = d.trustedNow();
    const sorted = [...view.licenses].sort(
      (a, b) => Number(ACTIVE.has(b.status)) - Number(ACTIVE.has(a.status)) || b.issuedAt - a.issuedAt,
    );
    const items = sorted.map((license) => this.#licenseItem(d, license, now));
    return h(
      'section',
      { class: 'downloads', 'aria-labelledby': `device-${idx}-downloads-title` },
      h('h3', { id: `device-${idx}-downloads-title` }, 'My downloads'),
      items.length === 0
        ? h('p', { class: 'empty' }, 'Nothing downloaded on this device yet.')
        : h('ul', { class: 'licenses' }, ...items),
    );
  }

  #licenseItem(d: DeviceSession, license: LicenseState, now: number): HTMLElement {
    const idx = d.config.index;
    const name = this.#titleName(license.titleId);
    const slug = `device-${idx}-license-${license.licenseId}`;
    const playing = d.playing?.licenseId === license.licenseId;
    const transfer = d.transfers.get(license.licenseId);
    const media = d.media.get(license.licenseId);
    const state = cardState(license, { transfer, stored: media !== undefined, playing });
    const ended = state.kind === 'ended';
    const decision = license.playback;
    const notice = d.notices.get(license.licenseId);
    const allowance = d.view?.allowances.find((a) => a.titleId === license.titleId);
    const can = actions(state, {
      online: d.online && (d.view?.status.online ?? true),
      renewalsLeft:
        license.policy.maxRenewals === null
          ? null
          : Math.max(0, license.policy.maxRenewals - license.renewals),
      downloadsLeft: allowance?.remaining ?? null,
    });
    const button = (
      key: string,
      label: string,
      text: string,
      a: { enabled: boolean; why: string | null },
      onclick: () => void,
      cls?: string,
    ) => {
      const whyId = `${slug}-${key}-why`;
      return [
        h(
          'button',
          {
            type: 'button',
            class: cls,
            id: `${slug}-${key}`,
            'aria-label': `${label} ${name}`,
            disabled: !a.enabled,
            'aria-describedby': a.why === null ? null : whyId,
            onclick,
          },
          text,
        ),
        a.why === null ? null : h('span', { class: 'why', id: whyId, 'data-test': `why-${key}` }, a.why),
      ];
    };
    const buttons: Array<HTMLElement | null> = [];
    if (state.kind === 'interrupted') {
      buttons.push(
        ...button('resume', 'Resume downloading', 'Resume download', can.resume, () =>
          this.#transfer(d, license.licenseId, name),
        ),
      );
    } else if (!ended && state.kind !== 'downloading') {
      buttons.push(
        ...(playing
          ? button('playback', 'Stop', 'Stop', { enabled: true, why: null }, () => this.#stop(d, 'Stopped'))
          : button('playback', 'Play', 'Play', can.play, () => this.#play(d, license))),
      );
    }
    if (!ended) {
      buttons.push(
        ...button('renew', 'Renew', 'Renew', can.renew, () => this.#renew(d, license), 'secondary'),
        ...button('delete', 'Delete', 'Delete', can.remove, () => this.#delete(d, license), 'danger'),
      );
    }
    const runtime = d.runtime(license.licenseId);
    const expiry = bindingExpiry(license);
    return h(
      'li',
      {
        class: `license ${ended ? 'ended' : 'active'}`,
        id: slug,
        'data-license-id': license.licenseId,
        'data-status': license.status,
        'data-state': state.kind,
        'aria-labelledby': `${slug}-name`,
      },
      h(
        'div',
        { class: 'license-head' },
        h('h4', { id: `${slug}-name` }, name),
        h(
          'span',
          { class: `badge state-${state.kind} status-${license.status}`, 'data-test': 'status' },
          stateLabel(state),
        ),
        license.pendingSync ? h('span', { class: 'badge pending' }, 'Waiting to sync') : null,
      ),
      ended
        ? h('p', { class: 'ended-reason' }, endedWords(license) ?? '')
        : state.kind === 'time-up'
          ? null
          : h(
              'p',
              { class: 'expiry' },
              'Expires ',
              h('strong', {}, moment(expiry.at, now)),
              ` (${EXPIRY_BOUND[expiry.reason] ?? expiry.reason}) · `,
              h(
                'span',
                { 'data-until': expiry.at, 'data-key': license.licenseId, class: 'countdown' },
                countdownWords(expiry.at - now),
              ),
            ),
      transfer === undefined
        ? null
        : h(
            'div',
            { class: 'progress-row' },
            h('label', { for: `${slug}-transfer` }, 'Download progress'),
            h('progress', { id: `${slug}-transfer`, max: 100, value: Math.round(transfer * 100) }),
            h('span', { 'data-transfer': license.licenseId }, `${Math.round(transfer * 100)} %`),
          ),
      license.status === 'downloaded' && !playing
        ? h(
            'p',
            {
              class: `decision ${decision.allowed ? 'ok' : 'bad'}`,
              id: `${slug}-decision`,
              'data-test': 'decision',
            },
            decision.allowed ? 'Offline decision: ' : 'Cannot play: ',
            playbackWords(decision, license, now),
          )
        : null,
      !ended && media !== undefined
        ? h(
            'p',
            { class: 'stored', 'data-test': 'stored' },
            `Stored on this device: ${Math.round(media.bytes / 1024)} KB, ${position(media.durationMs)}`,
          )
        : null,
      playing
        ? h(
            'div',
            { class: 'screen' },
            d.video,
            h(
              'div',
              { class: 'progress-row playing' },
              h('label', { for: `${slug}-position` }, 'Playing'),
              h('progress', {
                id: `${slug}-position`,
                max: runtime,
                value: Math.round(d.position()),
                'data-position': idx,
              }),
              h('span', { 'data-position-text': idx }, `${position(d.position())} / ${position(runtime)}`),
            ),
          )
        : license.lastPositionMs !== null && !ended
          ? h(
              'p',
              { class: 'resume-at' },
              `Stopped at ${position(license.lastPositionMs)} of ${position(runtime)}`,
            )
          : null,
      notice === undefined
        ? null
        : h('p', { class: 'notice bad', role: 'alert', 'data-test': 'refusal' }, notice),
      buttons.length === 0 ? null : h('div', { class: 'buttons' }, ...buttons),
    );
  }

  #devicesBlock(d: DeviceSession, view: PanelState): HTMLElement {
    const idx = d.config.index;
    const items = view.devices.map((device) => {
      const self = device.deviceId === view.status.deviceId;
      const here = this.#devices.find((x) => x.view?.status.deviceId === device.deviceId);
      const label = `${device.name}${self ? ' (this device)' : here ? ` (device ${here.config.index} in this page)` : ''}`;
      return h(
        'li',
        { 'data-device-id': device.deviceId },
        h('span', { class: 'device-label' }, label),
        h(
          'span',
          { class: `badge ${device.status === 'active' ? 'status-downloaded' : 'status-revoked'}` },
          device.status === 'active' ? 'Active' : 'Deactivated',
        ),
        !self && device.status === 'active' && !isDeactivated(view)
          ? h(
              'button',
              {
                type: 'button',
                class: 'danger small',
                id: `device-${idx}-deactivate-${device.deviceId}`,
                'aria-label': `Deactivate ${label}`,
                onclick: () => void this.#deactivate(d, device.deviceId, label),
              },
              'Deactivate',
            )
          : null,
      );
    });
    return h(
      'section',
      { class: 'account-devices', 'aria-labelledby': `device-${idx}-devices-title` },
      h('h3', { id: `device-${idx}-devices-title` }, 'Devices on this account'),
      h('p', { class: 'hint' }, 'As of this device’s last sync.'),
      h('ul', { class: 'device-list' }, ...items),
      d.notices.has('devices')
        ? h('p', { class: 'notice bad', role: 'alert' }, d.notices.get('devices'))
        : null,
    );
  }

  #renderLog(): void {
    const items = this.#entries.map((e) =>
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
    patch(
      this.#logEl,
      ...(items.length === 0 ? [h('li', { class: 'empty' }, 'Nothing decided yet.')] : items),
    );
  }

  // ---- the ticking parts: countdowns, the clock, playback --------------------------------------

  #tick(): void {
    for (const d of this.#devices) this.#tickPanel(d);
  }

  #tickPanel(d: DeviceSession): void {
    const panel = this.#panels.get(d.config.index);
    if (panel === undefined) return;
    const now = d.now();
    const trusted = d.trustedNow();
    let crossed = false;
    for (const el of panel.querySelectorAll<HTMLElement>('[data-until]')) {
      const until = Number(el.dataset.until);
      el.textContent = countdownWords(until - trusted);
      const key = `${el.dataset.key}@${until}`;
      if (until <= trusted && !d.crossed.has(key)) {
        d.crossed.add(key);
        crossed = true;
      }
    }
    for (const el of panel.querySelectorAll<HTMLElement>('[data-ago]'))
      el.textContent = ago(Number(el.dataset.ago), now);
    const clock = panel.querySelector<HTMLElement>('[data-clock]');
    if (clock !== null) clock.textContent = moment(now, now);
    const trustedEl = panel.querySelector<HTMLElement>('[data-trusted]');
    if (trustedEl !== null) trustedEl.textContent = moment(trusted, now);
    if (d.playing !== null) {
      const pos = d.position();
      const runtime = d.runtime(d.playing.licenseId);
      const bar = panel.querySelector<HTMLProgressElement>('[data-position]');
      if (bar !== null) bar.value = Math.min(runtime, Math.round(pos));
      const text = panel.querySelector<HTMLElement>('[data-position-text]');
      if (text !== null) text.textContent = `${position(pos)} / ${position(runtime)}`;
      if (trusted >= d.playing.expiresAt) void this.#stop(d, 'Stopped: the licence ran out during playback');
      else if (d.video.ended) void this.#stop(d, 'Finished');
    }
    if (crossed) void this.#refresh(d);
  }

  // ---- actions --------------------------------------------------------------------------------

  async #record(
    d: DeviceSession | null,
    kind: LogEntry['kind'],
    title: string,
    reason: string,
  ): Promise<void> {
    const entry: LogEntry = {
      realTime: Date.now(),
      deviceTime: d?.now() ?? Date.now(),
      device: d?.config.index ?? 0,
      kind,
      title,
      reason,
    };
    try {
      this.#entries.unshift(await this.#log.add(entry));
    } catch {
      this.#entries.unshift(entry);
    }
    this.#entries = this.#entries.slice(0, 200);
    this.#renderLog();
    this.#announce.textContent = `${title}. ${reason}`;
  }

  #titleName(titleId: string): string {
    return this.#catalogue.find((t) => t.titleId === titleId)?.name ?? titleId;
  }

  async #loadCatalogue(): Promise<void> {
    const d = this.#devices.find((x) => x.online) ?? this.#devices[0];
    if (d === undefined) return;
    const token = this.#settings.enrolmentToken ?? (await d.deviceToken());
    if (token === null) {
      this.#catalogueNote = this.#catalogue.length > 0 ? null : 'Register a device to see the catalogue.';
      return;
    }
    try {
      this.#catalogue = await fetchCatalogue(d.fetch, this.#options.baseUrl, token);
      this.#catalogueNote = null;
      localStorage.setItem(CATALOGUE_CACHE, JSON.stringify(this.#catalogue));
    } catch (error) {
      const message = error instanceof ApiError ? error.message : String(error);
      this.#catalogueNote =
        this.#catalogue.length > 0
          ? error instanceof ApiError && error.code === 'NETWORK'
            ? 'Offline: showing the catalogue as last seen.'
            : `Showing the catalogue as last seen. ${message}`
          : error instanceof ApiError && error.status === 404
            ? 'This server has no catalogue route (GET /v1/catalogue).'
            : `The catalogue could not be loaded: ${message}`;
    }
    for (const x of this.#devices) this.#render(x);
  }

  async #autoRegister(d: DeviceSession): Promise<void> {
    if (this.#settings.enrolmentToken === null || !d.online) {
      this.#render(d);
      return;
    }
    await this.#register(d, this.#settings.enrolmentToken, d.config.name);
  }

  async #register(d: DeviceSession, token: string, name: string): Promise<void> {
    d.notices.delete('register');
    if (token === '') {
      d.notices.set('register', 'An enrolment token is needed to register.');
      this.#render(d);
      return;
    }
    try {
      const reg = await d.client.register(token, { name, platform: 'web' });
      this.#settings.enrolmentToken = token;
      d.config.name = name;
      saveSettings(this.#settings);
      await this.#record(
        d,
        'info',
        `Registered as “${name}”`,
        `Device id ${reg.deviceId} on account ${reg.accountId}.`,
      );
      if (this.#catalogue.length === 0 || this.#catalogueNote !== null) await this.#loadCatalogue();
      // A first sync now: background sync that failed before registration otherwise waits for its retry.
      void d.client.sync().catch(() => undefined);
    } catch (error) {
      d.notices.set('register', `Registration failed: ${errorWords(error)}`);
      await this.#record(d, 'error', 'Registration failed', errorWords(error));
    }
    await this.#refresh(d);
  }

  /** Forgets everything this page holds: every device's database, the log, the settings; then reloads. */
  async #startOver(): Promise<void> {
    if (!confirm('Forget every device of this page, its downloads and the log?')) return;
    for (const d of this.#devices) await d.close();
    for (const config of this.#settings.devices) await deleteDatabase(config.dbName);
    await this.#log.clear();
    clearSettings();
    localStorage.removeItem(CATALOGUE_CACHE);
    location.reload();
  }

  async #addDevice(): Promise<void> {
    const index = Math.max(0, ...this.#settings.devices.map((x) => x.index)) + 1;
    const config = configFor(index);
    this.#settings.devices.push(config);
    saveSettings(this.#settings);
    const d = this.#addSession(config);
    await this.#refresh(d);
    await this.#autoRegister(d);
    document.getElementById(`device-${index}-name`)?.scrollIntoView({ block: 'start' });
  }

  async #toggleNetwork(d: DeviceSession): Promise<void> {
    d.sim.networkOff = !d.sim.networkOff;
    saveSettings(this.#settings);
    await this.#record(
      d,
      'network',
      d.sim.networkOff ? 'Network switched off' : 'Network switched on',
      d.sim.networkOff
        ? 'Every request of this device now fails as a dropped connection would.'
        : 'Syncing what waited.',
    );
    this.#render(d);
    if (!d.sim.networkOff && navigator.onLine) await this.#sync(d);
  }

  async #browserChanged(online: boolean): Promise<void> {
    this.#renderBrowser();
    await this.#record(
      null,
      'network',
      online ? 'The browser is back online' : 'The browser went offline',
      '',
    );
    for (const d of this.#devices) this.#render(d);
    if (online) {
      if (this.#catalogueNote !== null) await this.#loadCatalogue();
      for (const d of this.#devices) if (d.online && d.view?.status.registered) void this.#sync(d);
    }
  }

  async #moveClock(d: DeviceSession, ms: number): Promise<void> {
    d.sim.clockOffsetMs += ms;
    if (ms > 0) d.sim.advancedMs = (d.sim.advancedMs ?? 0) + ms;
    saveSettings(this.#settings);
    await this.#record(
      d,
      'clock',
      ms >= 0 ? `${offsetWords(ms)} pass on the device` : `Device clock set back ${offsetWords(ms)}`,
      `The device now reads ${moment(d.now(), d.now())}. ${
        ms >= 0
          ? 'Its wall clock and its own count of elapsed time both move, as if the time went by.'
          : 'Only the wall clock moves: the SDK’s secure clock keeps the time it already trusted.'
      } The server keeps real time.`,
    );
    await this.#refresh(d);
    const rollback = d.view?.licenses.find((l) => l.playback.clockRollback !== null)?.playback.clockRollback;
    if (rollback) {
      await this.#record(
        d,
        'clock',
        'Clock rollback detected',
        `The device clock is ${countdown(rollback.behindMs)} behind the time the SDK trusts (${moment(rollback.trustedNow, d.now())}); decisions use that time until the next sync brings the server’s.`,
      );
    }
  }

  async #sync(d: DeviceSession): Promise<void> {
    this.#busy.add(d);
    try {
      const result = await d.client.sync();
      const rejected = result.rejected.map((r) => `${r.code} (${r.message})`).join('; ');
      await this.#record(
        d,
        'sync',
        'Synced with the server',
        `${result.sent} event${result.sent === 1 ? '' : 's'} sent, ${result.acknowledged} acknowledged${
          rejected === '' ? '' : `, rejected: ${rejected}`
        }; snapshot version ${result.snapshotVersion}.`,
      );
    } catch (error) {
      await this.#record(d, 'error', 'Sync failed', errorWords(error));
    } finally {
      // Still busy while the failure reaches the panel: it is this call's, logged once above, not a
      // background sync's.
      await this.#refresh(d);
      this.#busy.delete(d);
    }
  }

  async #download(d: DeviceSession, title: CatalogueTitle): Promise<void> {
    d.notices.delete(title.titleId);
    this.#busy.add(d);
    let granted: LicenseView | null = null;
    try {
      const result = await d.client.requestDownload(title.titleId);
      if (result.ok) {
        granted = result.license;
        await this.#record(
          d,
          'granted',
          `Licence issued for ${title.name}`,
          `Expires ${moment(granted.expiresAt, d.now())} (${EXPIRY_BOUND[granted.expiryReason] ?? granted.expiryReason}) unless playback starts sooner.`,
        );
      } else {
        const words = refusalWords(result.refusal, d.now());
        d.notices.set(title.titleId, words);
        await this.#record(d, 'refused', `Download of ${title.name} refused (${result.refusal.code})`, words);
      }
    } catch (error) {
      const words = errorWords(error);
      d.notices.set(title.titleId, `Could not download: ${words}`);
      await this.#record(d, 'error', `Download of ${title.name} failed`, words);
    }
    await this.#refresh(d);
    this.#busy.delete(d);
    if (granted !== null) await this.#transfer(d, granted.licenseId, title.name);
  }

  /**
   * Stores the licence's media with Shaka's offline storage (the key comes from the licence proxy), then
   * records `downloadCompleted` (which works offline): the SDK's Shaka adapter does both.
   */
  async #transfer(d: DeviceSession, licenseId: string, name: string): Promise<void> {
    const license = d.view?.licenses.find((l) => l.licenseId === licenseId);
    if (license === undefined) return;
    d.transfers.set(licenseId, 0);
    this.#render(d);
    const show = (progress: number) => {
      d.transfers.set(licenseId, progress);
      const bar = document.getElementById(`device-${d.config.index}-license-${licenseId}-transfer`);
      if (bar instanceof HTMLProgressElement) bar.value = Math.round(progress * 100);
      const text = this.#panels.get(d.config.index)?.querySelector(`[data-transfer="${licenseId}"]`);
      if (text) text.textContent = `${Math.round(progress * 100)} %`;
    };
    try {
      const media = await d.downloads.fetchMedia(license, { onProgress: show });
      await this.#record(
        d,
        'info',
        `${name} downloaded`,
        `${Math.round(media.bytes / 1024)} KB stored on the device; the server hears of it at the next sync.`,
      );
    } catch (error) {
      const words = errorWords(error);
      d.notices.set(licenseId, `Could not download: ${words}`);
      await this.#record(d, 'error', `Downloading ${name} failed`, words);
    }
    d.transfers.delete(licenseId);
    await this.#refresh(d);
  }

  async #play(d: DeviceSession, license: LicenseState): Promise<void> {
    if (d.playing !== null) await this.#stop(d, 'Stopped');
    const name = this.#titleName(license.titleId);
    d.notices.delete(license.licenseId);
    const last = license.lastPositionMs ?? 0;
    const resumeAt = last >= d.runtime(license.licenseId) - 500 ? 0 : last;
    let result: PlaybackResult;
    try {
      d.playing = { licenseId: license.licenseId, expiresAt: Number.POSITIVE_INFINITY };
      this.#render(d);
      result = await d.downloads.play(license.licenseId, d.video, { positionMs: resumeAt });
      if (!result.allowed) d.playing = null;
    } catch (error) {
      d.playing = null;
      await this.#record(d, 'error', `Play ${name} failed`, errorWords(error));
      return;
    }
    d.trustedSkewMs = result.secureNow - d.now();
    if (result.clockRollback !== null) {
      await this.#record(
        d,
        'denied',
        'Clock rollback detected',
        `The device clock is ${countdown(result.clockRollback.behindMs)} behind trusted time; the decision used ${moment(result.secureNow, d.now())}.`,
      );
    }
    const wall = d.now();
    const trusted =
      Math.abs(result.secureNow - wall) > 5000
        ? ` Decided at trusted time ${moment(result.secureNow, wall)}; the device clock says ${moment(wall, wall)}.`
        : '';
    const words =
      playbackWords(
        result,
        { ...license, firstPlayedAt: license.firstPlayedAt ?? result.secureNow },
        result.secureNow,
      ) + trusted;
    if (result.allowed) {
      d.playing = { licenseId: license.licenseId, expiresAt: result.expiresAt };
      await this.#record(d, 'allowed', `Play ${name}: allowed`, words);
    } else {
      d.notices.set(license.licenseId, words);
      await this.#record(d, 'denied', `Play ${name}: refused (${result.reason})`, words);
    }
    await this.#refresh(d);
  }

  async #stop(d: DeviceSession, why: string): Promise<void> {
    const playing = d.playing;
    if (playing === null) return;
    const pos = d.position();
    d.playing = null;
    const name = this.#titleName(
      d.view?.licenses.find((l) => l.licenseId === playing.licenseId)?.titleId ?? '',
    );
    try {
      await d.downloads.stop(playing.licenseId);
      await this.#record(
        d,
        'info',
        `${why}: ${name} at ${position(pos)}`,
        'The position is kept for the next Play.',
      );
    } catch (error) {
      await this.#record(d, 'error', `Recording the stop of ${name} failed`, errorWords(error));
    }
    await this.#refresh(d);
  }

  async #delete(d: DeviceSession, license: LicenseState): Promise<void> {
    if (d.playing?.licenseId === license.licenseId) await this.#stop(d, 'Stopped');
    const name = this.#titleName(license.titleId);
    try {
      await d.downloads.remove(license.licenseId);
      await this.#record(
        d,
        'info',
        `${name} deleted`,
        'Its stored media is removed; its download slot is released at the next sync.',
      );
    } catch (error) {
      await this.#record(d, 'error', `Deleting ${name} failed`, errorWords(error));
    }
    await this.#refresh(d);
  }

  async #renew(d: DeviceSession, license: LicenseState): Promise<void> {
    const name = this.#titleName(license.titleId);
    d.notices.delete(license.licenseId);
    this.#busy.add(d);
    try {
      const result = await d.client.renew(license.licenseId);
      if (result.ok) {
        await this.#record(
          d,
          'granted',
          `${name} renewed`,
          `Now expires ${moment(result.license.expiresAt, d.now())}; a renewal counts as a download.`,
        );
      } else {
        const words = refusalWords(result.refusal, d.now());
        d.notices.set(license.licenseId, words);
        await this.#record(d, 'refused', `Renewal of ${name} refused (${result.refusal.code})`, words);
      }
    } catch (error) {
      const words = errorWords(error);
      d.notices.set(license.licenseId, `Could not renew: ${words}`);
      await this.#record(d, 'error', `Renewal of ${name} failed`, words);
    }
    await this.#refresh(d);
    this.#busy.delete(d);
  }

  async #deactivate(d: DeviceSession, deviceId: string, label: string): Promise<void> {
    d.notices.delete('devices');
    const token = this.#settings.enrolmentToken;
    if (token === null) {
      d.notices.set('devices', 'Deactivating another device needs the account’s enrolment token.');
      this.#render(d);
      return;
    }
    try {
      await deactivateDevice(d.fetch, this.#options.baseUrl, token, deviceId);
      await this.#record(
        d,
        'revoked',
        `Deactivated ${label}`,
        'The server revoked its licences and freed its slot; that device learns it at its next sync.',
      );
      await this.#sync(d);
    } catch (error) {
      const words = error instanceof ApiError ? error.message : errorWords(error);
      d.notices.set('devices', `Could not deactivate: ${words}`);
      await this.#record(d, 'error', `Deactivating ${label} failed`, words);
      this.#render(d);
    }
  }
}

const KIND_LABEL: Record<LogEntry['kind'], string> = {
  granted: 'Granted',
  refused: 'Refused',
  allowed: 'Allowed',
  denied: 'Refused',
  sync: 'Sync',
  error: 'Failed',
  info: 'Recorded',
  revoked: 'Revoked',
  ended: 'Ended',
  clock: 'Clock',
  network: 'Network',
};

/** An SDK failure in words. */
export function errorWords(error: unknown): string {
  if (isSatchelError(error)) return syncErrorWords(error.code, error.message);
  return error instanceof Error ? error.message : String(error);
}

function syncErrorWords(code: string, message: string): string {
  switch (code) {
    case 'NETWORK':
      return 'the server cannot be reached — this device is offline. It retries when the connection is back.';
    case 'TIMEOUT':
      return 'the server did not answer in time; it will retry.';
    case 'UNAUTHORIZED':
      return `the server refused this device’s credentials (${message}).`;
    case 'UPDATE_REQUIRED':
      return `this player is too old for the server: ${message}`;
    case 'DEVICE_DEACTIVATED':
      return 'this device was deactivated.';
    case 'RATE_LIMITED':
      return 'too many requests; it will retry shortly.';
    default:
      return `${message} (${code})`;
  }
}

function configFor(index: number): DeviceConfig {
  return {
    index,
    name: DEVICE_NAMES[(index - 1) % DEVICE_NAMES.length] ?? `Device ${index}`,
    dbName: `satchel-device-${index}`,
  };
}

function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = req.onerror = req.onblocked = () => resolve();
  });
}

function isDeactivated(view: PanelState): boolean {
  return view.devices.find((x) => x.deviceId === view.status.deviceId)?.status === 'deactivated';
}

/**
 * The instant the licence stops playing and the rule behind it. Once playback has started (even offline,
 * not yet synced) the playback window binds, which the SDK's decision already accounts for.
 */
function bindingExpiry(license: LicenseState): { at: number; reason: string } {
  const decision = license.playback;
  if (decision.allowed && license.firstPlayedAt !== null)
    return { at: decision.expiresAt, reason: decision.reason };
  return { at: license.expiresAt, reason: license.expiryReason };
}

/** A clock offset in words: "49 hours", "1 day", "31 days", or a countdown for odd amounts. */
function offsetWords(ms: number): string {
  const abs = Math.abs(ms);
  if (abs % (24 * HOUR) === 0) return abs === 24 * HOUR ? '1 day' : `${abs / (24 * HOUR)} days`;
  if (abs % HOUR === 0) return abs === HOUR ? '1 hour' : `${abs / HOUR} hours`;
  return countdown(abs);
}

function countdownWords(leftMs: number): string {
  return leftMs > 0 ? `${countdown(leftMs)} left` : 'time is up';
}
