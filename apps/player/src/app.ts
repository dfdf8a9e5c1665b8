import { addDevice, autoRegister, browserChanged, loadCatalogue, startOver } from './actions/device.js';
import type { CatalogueTitle } from './api.js';
import { DeviceSession } from './device.js';
import { h, patch } from './dom.js';
import { CATALOGUE_CACHE, configFor } from './helpers.js';
import { initialPageState, type PageAction, type PageState, pageReducer } from './page-state.js';
import {
  type DecisionLog,
  type DeviceConfig,
  type LogEntry,
  loadSettings,
  type Settings,
  saveSettings,
} from './persist.js';
import { refresh, watchStoredMedia } from './refresh.js';
import { renderPanel, tickPanel } from './render.js';
import { renderLog } from './views/log.js';

/** Page options read from the URL: `?server=` (sync server), `#enrol=` (an enrolment token). */
export interface PageOptions {
  baseUrl: string;
  enrolmentToken: string | null;
  /** `?device=N`: show only device N (another tab of the same device, or a device of its own tab). */
  onlyDevice: number | null;
}

/**
 * The demo player: device panels side by side, a decision log, and the simulation controls. Each device
 * keeps its state in its own reducer ({@link DeviceSession.dispatch}); the page's own (catalogue, log,
 * enrolment) in {@link pageReducer}. Panels are drawn from those states after every change.
 */
export class PlayerApp {
  readonly options: PageOptions;
  readonly log: DecisionLog;
  /** What is remembered across reloads (the devices of the page, their simulation, the enrolment token). */
  readonly settings: Settings;
  readonly devices: DeviceSession[] = [];
  readonly panels = new Map<number, HTMLElement>();
  readonly root: HTMLElement;
  readonly devicesEl = h('div', { class: 'devices' });
  readonly logEl = h('ol', { class: 'log', id: 'log-list' });
  readonly browserEl = h('p', { class: 'browser-status', id: 'browser-status' });
  readonly announce = h('p', { class: 'sr-only', role: 'status', 'aria-live': 'polite', id: 'announce' });
  #page: PageState;
  readonly #toDraw = new Set<DeviceSession>();

  constructor(root: HTMLElement, options: PageOptions, log: DecisionLog) {
    this.root = root;
    this.options = options;
    this.log = log;
    this.settings = loadSettings();
    let cached: CatalogueTitle[] = [];
    try {
      const raw = localStorage.getItem(CATALOGUE_CACHE);
      if (raw !== null) cached = JSON.parse(raw) as CatalogueTitle[];
    } catch {}
    this.#page = initialPageState(options.enrolmentToken ?? this.settings.enrolmentToken, cached);
    this.persist();
  }

  /** The page's state (catalogue, log, enrolment). */
  get page(): PageState {
    return this.#page;
  }

  /** Runs the page's reducer and redraws what depends on the part that changed. */
  dispatchPage(action: PageAction): void {
    const before = this.#page;
    this.#page = pageReducer(before, action);
    if (this.#page.entries !== before.entries) renderLog(this);
    if (this.#page.enrolmentToken !== before.enrolmentToken) this.persist();
    if (
      this.#page.catalogue !== before.catalogue ||
      this.#page.catalogueNote !== before.catalogueNote ||
      this.#page.devEnrolment !== before.devEnrolment
    ) {
      for (const d of this.devices) this.render(d);
    }
  }

  async start(): Promise<void> {
    this.layout();
    this.dispatchPage({ type: 'log-loaded', entries: await this.log.recent() });
    const only = this.options.onlyDevice;
    if (only !== null && !this.settings.devices.some((c) => c.index === only)) {
      this.settings.devices.push(configFor(only));
      this.persist();
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

  layout(): void {
    const button = (id: string, cls: string, label: string, onclick: () => void) =>
      h('button', { type: 'button', id, class: cls, onclick }, label);
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
        h(
          'div',
          { class: 'top-actions' },
          this.browserEl,
          button('add-device', 'secondary', 'Add a device', () => void addDevice(this)),
          button('start-over', 'danger', 'Start over', () => void startOver(this)),
        ),
      ),
      h('main', { id: 'main' }, h('h2', { class: 'sr-only' }, 'Devices'), this.devicesEl),
      h(
        'section',
        { class: 'log-panel', 'aria-labelledby': 'log-title' },
        h(
          'div',
          { class: 'log-head' },
          h('h2', { id: 'log-title' }, 'What the SDK decided, and why'),
          button('clear-log', 'secondary', 'Clear the log', async () => {
            await this.log.clear();
            this.dispatchPage({ type: 'log-cleared' });
          }),
        ),
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

  /** Opens a device of the page: its panel, and the wiring that redraws it after every change. */
  addSession(config: DeviceConfig): DeviceSession {
    const sim = this.settings.sim[String(config.index)] ?? { networkOff: false, clockOffsetMs: 0 };
    const d = new DeviceSession(config, sim, this.options.baseUrl);
    this.devices.push(d);
    const panel = h('article', {
      class: 'device',
      id: `device-${config.index}`,
      'aria-labelledby': `device-${config.index}-name`,
    });
    this.panels.set(config.index, panel);
    this.devicesEl.append(panel);
    this.wire(d);
    return d;
  }

  /** Replaces a device's session (a reset) in place, wired like a new one. */
  replaceSession(old: DeviceSession, fresh: DeviceSession): void {
    this.devices.splice(this.devices.indexOf(old), 1, fresh);
    this.wire(fresh);
  }

  wire(d: DeviceSession): void {
    d.onChange((_, action) => {
      if (action.type === 'network' || action.type === 'clock') this.persist();
      this.render(d);
      // The allowances shown come from the newest snapshot of the account: a read of one device can
      // change what its siblings show.
      if (action.type === 'read') for (const x of this.devices) if (x !== d) this.render(x);
    });
    d.client.subscribe(() => void this.refresh(d));
    watchStoredMedia(this, d);
  }

  refresh(d: DeviceSession): Promise<void> {
    return refresh(this, d);
  }

  /** Draws a device's panel from its state, once per task however many changes came in. */
  render(d: DeviceSession): void {
    if (this.#toDraw.has(d)) return;
    this.#toDraw.add(d);
    queueMicrotask(() => {
      this.#toDraw.delete(d);
      if (this.devices.includes(d)) renderPanel(this, d);
    });
  }

  tick(): void {
    for (const d of this.devices) tickPanel(this, d);
  }

  /** Adds a line to the decision log (kept in IndexedDB) and announces it to screen readers. */
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
    let stored = entry;
    try {
      stored = await this.log.add(entry);
    } catch {}
    this.dispatchPage({ type: 'logged', entry: stored });
    this.announce.textContent = `${title}. ${reason}`;
  }

  titleName(titleId: string): string {
    return this.#page.catalogue.find((t) => t.titleId === titleId)?.name ?? titleId;
  }

  /** Saves the page's devices, their simulation and the enrolment token (localStorage). */
  persist(): void {
    for (const d of this.devices) this.settings.sim[String(d.config.index)] = d.sim;
    this.settings.enrolmentToken = this.#page.enrolmentToken;
    saveSettings(this.settings);
  }
}
