import { ApiError, deactivateDevice, fetchCatalogue, fetchDevEnrolment } from '../api.js';
import type { PlayerApp } from '../app.js';
import { DeviceSession } from '../device.js';
import { h } from '../dom.js';
import { CATALOGUE_CACHE, configFor, deleteDatabase, errorWords, offsetWords } from '../helpers.js';
import { clearSettings, loadSettings, saveSettings } from '../persist.js';
import { isDeactivated } from '../state.js';
import { confirmAction } from '../views/confirm.js';
import { countdown, moment } from '../words.js';

/** Forgets the device's local state (its IndexedDB database) and registers it again as a new device. */
export async function reset(app: PlayerApp, d: DeviceSession): Promise<void> {
  await d.close();
  await deleteDatabase(d.config.dbName);
  const fresh = new DeviceSession(d.config, d.sim, app.options.baseUrl);
  app.replaceSession(d, fresh);
  await app.record(fresh, 'info', 'Device reset', 'Its local database was deleted; registering it again.');
  await app.refresh(fresh);
  await autoRegister(app, fresh);
}

export async function register(app: PlayerApp, d: DeviceSession, token: string, name: string): Promise<void> {
  d.dispatch({ type: 'notice', key: 'register', text: null });
  if (token === '') {
    d.dispatch({ type: 'notice', key: 'register', text: 'An enrolment token is needed to register.' });
    return;
  }
  try {
    const reg = await d.client.register(token, { name, platform: 'web' });
    d.config.name = name;
    app.dispatchPage({ type: 'enrolment', token });
    app.persist();
    await app.record(
      d,
      'info',
      `Registered as “${name}”`,
      `Device id ${reg.deviceId} on account ${reg.accountId}.`,
    );
    if (app.page.catalogue.length === 0 || app.page.catalogueNote !== null) await loadCatalogue(app);
    // A first sync now: background sync that failed before registration otherwise waits for its retry.
    void d.client.sync().catch(() => undefined);
  } catch (error) {
    d.dispatch({ type: 'notice', key: 'register', text: `Registration failed: ${errorWords(error)}` });
    await app.record(d, 'error', 'Registration failed', errorWords(error));
  }
  await app.refresh(d);
}

export async function autoRegister(app: PlayerApp, d: DeviceSession): Promise<void> {
  if (app.page.enrolmentToken === null && d.online && app.page.devEnrolment === undefined)
    app.dispatchPage({ type: 'dev-enrolment', token: await fetchDevEnrolment(app.options.baseUrl) });
  const token = app.page.enrolmentToken;
  if (token === null || !d.online) return;
  await register(app, d, token, d.config.name);
}

/**
 * Forgets everything this page holds — every device's database and stored media, the log, the settings —
 * after deactivating this page's devices on the server (so the account does not keep them as active
 * ghosts); keeps the enrolment token, so the fresh page enrols again without asking; then reloads.
 */
export async function startOver(app: PlayerApp): Promise<void> {
  const sure = await confirmAction(
    'Start over?',
    'This page’s devices are deactivated on the server; their downloads, stored media and the log are forgotten.',
    'Start over',
  );
  if (!sure) return;
  // The panels go first: until the page reloads, nothing on it may act for a device whose credentials
  // the server is revoking (a Sync now would be refused), nor look as if it were still enrolled.
  app.panels.clear();
  app.devicesEl.replaceChildren(
    h(
      'p',
      { role: 'status', 'data-test': 'starting-over' },
      'Starting over: deactivating this page’s devices…',
    ),
  );
  const token = app.page.enrolmentToken;
  for (const d of app.devices) {
    const deviceId = d.view?.status.registered ? d.view.status.deviceId : null;
    if (token !== null && deviceId !== null && d.view !== null && !isDeactivated(d.view)) {
      await deactivateDevice(globalThis.fetch, app.options.baseUrl, token, deviceId).catch(() => undefined);
    }
    await d.downloads.stop().catch(() => undefined);
    for (const m of await d.downloads.stored().catch(() => [])) await d.dropMedia(m.offlineUri);
  }
  for (const d of app.devices) await d.close();
  for (const config of app.settings.devices) await deleteDatabase(config.dbName);
  await app.log.clear();
  clearSettings();
  if (token !== null) saveSettings({ ...loadSettings(), enrolmentToken: token });
  localStorage.removeItem(CATALOGUE_CACHE);
  location.reload();
}

export async function addDevice(app: PlayerApp): Promise<void> {
  const index = Math.max(0, ...app.settings.devices.map((x) => x.index)) + 1;
  const config = configFor(index);
  app.settings.devices.push(config);
  const d = app.addSession(config);
  app.persist();
  await app.refresh(d);
  await autoRegister(app, d);
  document.getElementById(`device-${index}-name`)?.scrollIntoView({ block: 'start' });
}

export async function toggleNetwork(app: PlayerApp, d: DeviceSession): Promise<void> {
  d.dispatch({ type: 'network', off: !d.sim.networkOff });
  await app.record(
    d,
    'network',
    d.sim.networkOff ? 'Network switched off' : 'Network switched on',
    d.sim.networkOff
      ? 'Every request of this device now fails as a dropped connection would.'
      : 'Syncing what waited.',
  );
  if (!d.sim.networkOff && navigator.onLine) await sync(app, d);
}

export async function browserChanged(app: PlayerApp, online: boolean): Promise<void> {
  app.renderBrowser();
  await app.record(null, 'network', online ? 'The browser is back online' : 'The browser went offline', '');
  for (const d of app.devices) app.render(d);
  if (online) {
    if (app.page.catalogueNote !== null) await loadCatalogue(app);
    for (const d of app.devices) if (d.online && d.view?.status.registered) void sync(app, d);
  }
}

export async function moveClock(app: PlayerApp, d: DeviceSession, ms: number): Promise<void> {
  d.dispatch({ type: 'clock', ms });
  await app.record(
    d,
    'clock',
    ms >= 0 ? `${offsetWords(ms)} pass on the device` : `Device clock set back ${offsetWords(ms)}`,
    `The device now reads ${moment(d.now(), d.now())}. ${
      ms >= 0
        ? 'Its wall clock and its own count of elapsed time both move, as if the time went by.'
        : 'Only the wall clock moves: the SDK’s secure clock keeps the time it already trusted.'
    } The server keeps real time.`,
  );
  await app.refresh(d);
  const rollback = d.view?.licenses.find((l) => l.playback.clockRollback !== null)?.playback.clockRollback;
  if (rollback) {
    await app.record(
      d,
      'clock',
      'Clock rollback detected',
      `The device clock was set back ${countdown(rollback.behindMs)} against the SDK’s own count of time; decisions use the time it trusts (${moment(rollback.trustedNow, d.now())}) until the next sync brings the server’s.`,
    );
  }
}

export async function sync(app: PlayerApp, d: DeviceSession): Promise<void> {
  d.dispatch({ type: 'busy', busy: true });
  try {
    const result = await d.client.sync();
    const rejected = result.rejected.map((r) => `${r.code} (${r.message})`).join('; ');
    await app.record(
      d,
      'sync',
      'Synced with the server',
      `${result.sent} event${result.sent === 1 ? '' : 's'} sent, ${result.acknowledged} acknowledged${
        rejected === '' ? '' : `, rejected: ${rejected}`
      }; snapshot version ${result.snapshotVersion}.`,
    );
  } catch (error) {
    await app.record(d, 'error', 'Sync failed', errorWords(error));
  } finally {
    // Still busy while the failure reaches the panel: it is this call's, logged once above, not a
    // background sync's.
    await app.refresh(d);
    d.dispatch({ type: 'busy', busy: false });
  }
}

export async function deactivate(
  app: PlayerApp,
  d: DeviceSession,
  deviceId: string,
  label: string,
): Promise<void> {
  d.dispatch({ type: 'notice', key: 'devices', text: null });
  const sure = await confirmAction(
    `Deactivate ${label}?`,
    'The server revokes its licences now; that device removes its stored media at its next sync and needs enrolling again to download.',
    'Deactivate',
  );
  if (!sure) return;
  const token = app.page.enrolmentToken;
  if (token === null) {
    const text = 'Deactivating another device needs the account’s enrolment token.';
    d.dispatch({ type: 'notice', key: 'devices', text });
    return;
  }
  try {
    await deactivateDevice(d.fetch, app.options.baseUrl, token, deviceId);
    await app.record(
      d,
      'revoked',
      `Deactivated ${label}`,
      'The server revoked its licences and freed its slot; that device learns it at its next sync.',
    );
    await sync(app, d);
  } catch (error) {
    const words = error instanceof ApiError ? error.message : errorWords(error);
    d.dispatch({ type: 'notice', key: 'devices', text: `Could not deactivate: ${words}` });
    await app.record(d, 'error', `Deactivating ${label} failed`, words);
  }
}

export async function loadCatalogue(app: PlayerApp): Promise<void> {
  const d = app.devices.find((x) => x.online) ?? app.devices[0];
  if (d === undefined) return;
  const token = app.page.enrolmentToken ?? (await d.deviceToken());
  const shown = app.page.catalogue;
  if (token === null) {
    const note = shown.length > 0 ? null : 'Register a device to see the catalogue.';
    app.dispatchPage({ type: 'catalogue-note', note });
    return;
  }
  try {
    const titles = await fetchCatalogue(d.fetch, app.options.baseUrl, token);
    localStorage.setItem(CATALOGUE_CACHE, JSON.stringify(titles));
    app.dispatchPage({ type: 'catalogue', titles, note: null });
  } catch (error) {
    const message = error instanceof ApiError ? error.message : String(error);
    const note =
      shown.length > 0
        ? error instanceof ApiError && error.code === 'NETWORK'
          ? 'Offline: showing the catalogue as last seen.'
          : `Showing the catalogue as last seen. ${message}`
        : error instanceof ApiError && error.status === 404
          ? 'This server has no catalogue route (GET /v1/catalogue).'
          : `The catalogue could not be loaded: ${message}`;
    app.dispatchPage({ type: 'catalogue-note', note });
  }
}
