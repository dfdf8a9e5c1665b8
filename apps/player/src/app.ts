import { isSatchelError } from '@satchel/sdk';
import { addDevice, autoRegister, browserChanged, loadCatalogue, startOver } from './actions/device.js';
import { stop } from './actions/media.js';
import type { CatalogueTitle } from './api.js';
import { DeviceSession, type PanelState } from './device.js';
import { h, patch } from './dom.js';
import {
  CATALOGUE_CACHE,
  configFor,
  countdownWords,
  errorWords,
  isDeactivated,
  syncErrorWords,
} from './helpers.js';
import {
  type DecisionLog,
  type DeviceConfig,
  type LogEntry,
  loadSettings,
  type Settings,
  saveSettings,
} from './persist.js';
import { catalogueBlock, registerBlock } from './views/catalogue.js';
import { devicesBlock } from './views/devices.js';
import { downloadsBlock } from './views/license-card.js';
import { renderLog } from './views/log.js';
import { simBlock } from './views/simulation.js';
import { deactivatedBlock, statusBlock } from './views/status.js';
import { ago, endedWords, moment, position, STATUS_LABEL } from './words.js';

/** Page options read from the URL: `?server=` (sync server), `#enrol=` (an enrolment token). */
export interface PageOptions {
  baseUrl: string;
  enrolmentToken: string | null;
  /** `?device=N`: show only device N (another tab of the same device, or a device of its own tab). */
  onlyDevice: number | null;
}

/** The demo player: device panels side by side, a decision log, and the simulation controls. */
export class PlayerApp {
  readonly options: PageOptions;
  readonly log: DecisionLog;
  readonly settings: Settings;
  readonly devices: DeviceSession[] = [];
  readonly panels = new Map<number, HTMLElement>();
  /** Devices running a call the page logs itself: a failure it stores is not a background sync's. */
  readonly busy = new Set<DeviceSession>();
  entries: LogEntry[] = [];
  catalogue: CatalogueTitle[] = [];
  catalogueNote: string | null = null;
  /** The demo account's token a development server hands out (one-click enrolment), once asked. */
  devEnrolment: string | null | undefined = undefined;
  root: HTMLElement;
  devicesEl = h('div', { class: 'devices' });
  logEl = h('ol', { class: 'log', id: 'log-list' });
  browserEl = h('p', { class: 'browser-status', id: 'browser-status' });
  announce = h('p', { class: 'sr-only', role: 'status', 'aria-live': 'polite', id: 'announce' });

  constructor(root: HTMLElement, options: PageOptions, log: DecisionLog) {
    this.root = root;
    this.options = options;
    this.log = log;
    this.settings = loadSettings();
    if (options.enrolmentToken !== null) this.settings.enrolmentToken = options.enrolmentToken;
    saveSettings(this.settings);
    try {
      const cached = localStorage.getItem(CATALOGUE_CACHE);
      if (cached !== null) this.catalogue = JSON.parse(cached) as CatalogueTitle[];
    } catch {}
  }

  async start(): Promise<void> {
    this.layout();
    this.entries = await this.log.recent();
    renderLog(this);
    const only = this.options.onlyDevice;
    if (only !== null && !this.settings.devices.some((c) => c.index === only)) {
      this.settings.devices.push(configFor(only));
      saveSettings(this.settings);
    }
    for (const config of this.settings.devices) {
      if (only === null || config.index === only) this.addSession(config);
    }
    addEventListener('online', () => browserChanged(this, true));
    addEventListener('offline', () => browserChanged(this, false));
    this.renderBrowser();
    await Promise.all(this.devices.map((d) => this.refresh(d)));
    await loadCatalogue(this);
    for (const d of this.devices) {
      if (d.view?.status.registered === false) await autoRegister(this, d);
    }
    setInterval(() => this.tick(), 500);
  }

  // ---- layout and rendering -------------------------------------------------------------------

  layout(): void {
    const addButton = h(
      'button',
      { type: 'button', id: 'add-device', class: 'secondary', onclick: () => void addDevice(this) },
      'Add a device',
    );
    const startOverButton = h(
      'button',
      { type: 'button', id: 'start-over', class: 'danger', onclick: () => void startOver(this) },
      'Start over',
    );
    const clear = h(
      'button',
      {
        type: 'button',
        id: 'clear-log',
        class: 'secondary',
        onclick: async () => {
          await this.log.clear();
          this.entries = [];
          renderLog(this);
        },
      },
      'Clear the log',
    );
    patch(
      this.root,
      h(
        'header',
        { class: 'top' },
        h(
          'div',
          {},
          h('h1', {}, 'Satchel player'),
          h('p', { class: 'tagline' }, 'Downloads that keep playing offline — and say why when they stop.'),
        ),
        h('div', { class: 'top-actions' }, this.browserEl, addButton, startOverButton),
      ),
      h('main', { id: 'main' }, h('h2', { class: 'sr-only' }, 'Devices'), this.devicesEl),
      h(
        'section',
        { class: 'log-panel', 'aria-labelledby': 'log-title' },
        h('div', { class: 'log-head' }, h('h2', { id: 'log-title' }, 'What the SDK decided, and why'), clear),
        this.logEl,
      ),
      this.announce,
    );
  }

  renderBrowser(): void {
    const online = navigator.onLine;
    patch(
      this.browserEl,
      h('span', { class: `dot ${online ? 'on' : 'off'}`, 'aria-hidden': 'true' }),
      online ? 'Browser online' : 'Browser offline',
    );
  }

  addSession(config: DeviceConfig): DeviceSession {
    const sim = this.settings.sim[String(config.index)] ?? { networkOff: false, clockOffsetMs: 0 };
    this.settings.sim[String(config.index)] = sim;
    const d = new DeviceSession(config, sim, this.options.baseUrl);
    this.devices.push(d);
    const panel = h('article', {
      class: 'device',
      id: `device-${config.index}`,
      'aria-labelledby': `device-${config.index}-name`,
    });
    this.panels.set(config.index, panel);
    this.devicesEl.append(panel);
    d.client.subscribe(() => void this.refresh(d));
    // Stored bytes go when a licence is released, revoked or expired (e.g. a sync brings a revocation).
    d.downloads.watch((removed) => {
      for (const m of removed) {
        const status = d.view?.licenses.find((l) => l.licenseId === m.licenseId)?.status ?? 'released';
        void this.record(
          d,
          'info',
          `Stored media of ${this.titleName(m.titleId)} removed`,
          `${Math.round(m.bytes / 1024)} KB freed: the licence is ${STATUS_LABEL[status].toLowerCase()}.`,
        );
      }
      void this.refresh(d);
    });
    return d;
  }

  /** Re-reads and re-renders a device; calls while one runs coalesce into one more run after it. */
  refresh(d: DeviceSession): Promise<void> {
    if (d.refreshing !== null) {
      d.dirty = true;
      return d.refreshing;
    }
    d.refreshing = (async () => {
      do {
        d.dirty = false;
        await this.refreshOnce(d);
      } while (d.dirty);
    })().finally(() => {
      d.refreshing = null;
    });
    return d.refreshing;
  }

  async refreshOnce(d: DeviceSession): Promise<void> {
    const before = d.view;
    try {
      const view = await d.read();
      this.noticeChanges(d, before, view);
    } catch (error) {
      if (isSatchelError(error, 'CLOSED') || isSatchelError(error, 'STORAGE_CLOSED')) return;
      await this.record(d, 'error', 'Reading the device state failed', errorWords(error));
    }
    this.render(d);
  }

  /** Logs what the server changed behind the device's back (revocations, expiries, a failing background sync). */
  noticeChanges(d: DeviceSession, before: PanelState | null, after: PanelState): void {
    if (before === null) return;
    const was = new Map(before.licenses.map((l) => [l.licenseId, l]));
    for (const license of after.licenses) {
      const old = was.get(license.licenseId);
      if (old === undefined || old.status === license.status) continue;
      if (license.status === 'revoked' || license.status === 'released') d.notices.delete(license.licenseId);
      if (license.status === 'revoked' || license.status === 'expired') {
        const kind = license.status === 'revoked' ? 'revoked' : 'ended';
        void this.record(
          d,
          kind,
          `${this.titleName(license.titleId)}: ${STATUS_LABEL[license.status].toLowerCase()}`,
          endedWords(license) ?? '',
        );
      }
    }
    const err = after.status.lastError;
    const previous = before.status.lastError;
    if (err !== null && (previous === null || previous.code !== err.code) && !this.busy.has(d)) {
      void this.record(d, 'error', 'Background sync failed', syncErrorWords(err.code, err.message));
    }
    if (
      before.status.registered &&
      after.devices.find((x) => x.deviceId === after.status.deviceId)?.status === 'deactivated'
    ) {
      const wasActive =
        before.devices.find((x) => x.deviceId === before.status.deviceId)?.status === 'active';
      if (wasActive)
        void this.record(
          d,
          'revoked',
          'This device was deactivated',
          'Another device of the account deactivated it; its downloads are revoked.',
        );
    }
  }

  render(d: DeviceSession): void {
    const panel = this.panels.get(d.config.index);
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
        statusBlock(this, d, view),
      ),
      isDeactivated(view) ? deactivatedBlock(this, d) : null,
      simBlock(this, d),
      view.status.registered ? null : registerBlock(this, d),
      view.status.registered ? catalogueBlock(this, d, view) : null,
      view.status.registered ? downloadsBlock(this, d, view) : null,
      view.status.registered ? devicesBlock(this, d, view) : null,
    );
    this.tickPanel(d);
  }

  // ---- the ticking parts: countdowns, the clock, playback --------------------------------------

  tick(): void {
    for (const d of this.devices) this.tickPanel(d);
  }

  tickPanel(d: DeviceSession): void {
    const panel = this.panels.get(d.config.index);
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
      if (trusted >= d.playing.expiresAt) void stop(this, d, 'Stopped: the licence ran out during playback');
      else if (d.video.ended) void stop(this, d, 'Finished');
    }
    if (crossed) void this.refresh(d);
  }

  // ---- actions --------------------------------------------------------------------------------

  async record(
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
      this.entries.unshift(await this.log.add(entry));
    } catch {
      this.entries.unshift(entry);
    }
    this.entries = this.entries.slice(0, 200);
    renderLog(this);
    this.announce.textContent = `${title}. ${reason}`;
  }

  titleName(titleId: string): string {
    return this.catalogue.find((t) => t.titleId === titleId)?.name ?? titleId;
  }
}
