import { ApiError, deactivateDevice, fetchCatalogue } from '../api.js';
import type { PlayerApp } from '../app.js';
import { DeviceSession } from '../device.js';
import { h } from '../dom.js';
import {
  CATALOGUE_CACHE,
  configFor,
  deleteDatabase,
  errorWords,
  isDeactivated,
  offsetWords,
} from '../helpers.js';
import { clearSettings, loadSettings, saveSettings } from '../persist.js';
import { confirmAction } from '../views/confirm.js';
import { countdown, moment } from '../words.js';

/** Forgets the device's local state (its IndexedDB database) and registers it again as a new device. */
export async function reset(app: PlayerApp, d: DeviceSession): Promise<void> {
  const at = app.devices.indexOf(d);
  await d.close();
  await deleteDatabase(d.config.dbName);
  const fresh = new DeviceSession(d.config, d.sim, app.options.baseUrl);
  app.devices.splice(at, 1, fresh);
  fresh.client.subscribe(() => void app.refresh(fresh));
  await app.record(fresh, 'info', 'Device reset', 'Its local database was deleted; registering it again.');
  await app.refresh(fresh);
  await autoRegister(app, fresh);
}

export async function register(app: PlayerApp, d: DeviceSession, token: string, name: string): Promise<void> {
  d.notices.delete('register');
  if (token === '') {
    d.notices.set('register', 'An enrolment token is needed to register.');
    app.render(d);
    return;
  }
  try {
    const reg = await d.client.register(token, { name, platform: 'web' });
    app.settings.enrolmentToken = token;
    d.config.name = name;
    saveSettings(app.settings);
    await app.record(
      d,
      'info',
      `Registered as “${name}”`,
      `Device id ${reg.deviceId} on account ${reg.accountId}.`,
    );
    if (app.catalogue.length === 0 || app.catalogueNote !== null) await loadCatalogue(app);
    // A first sync now: background sync that failed before registration otherwise waits for its retry.
    void d.client.sync().catch(() => undefined);
  } catch (error) {
    d.notices.set('register', `Registration failed: ${errorWords(error)}`);
    await app.record(d, 'error', 'Registration failed', errorWords(error));
  }
  await app.refresh(d);
}

export async function autoRegister(app: PlayerApp, d: DeviceSession): Promise<void> {
  if (app.settings.enrolmentToken === null && d.online) app.devEnrolment ??= await devEnrolment(app);
  if (app.settings.enrolmentToken === null || !d.online) {
    app.render(d);
    return;
  }
  await register(app, d, app.settings.enrolmentToken, d.config.name);
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
  const token = app.settings.enrolmentToken;
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
  saveSettings(app.settings);
  const d = app.addSession(config);
  await app.refresh(d);
  await autoRegister(app, d);
  document.getElementById(`device-${index}-name`)?.scrollIntoView({ block: 'start' });
}

export async function toggleNetwork(app: PlayerApp, d: DeviceSession): Promise<void> {
  d.sim.networkOff = !d.sim.networkOff;
  saveSettings(app.settings);
  await app.record(
    d,
    'network',
    d.sim.networkOff ? 'Network switched off' : 'Network switched on',
    d.sim.networkOff
      ? 'Every request of this device now fails as a dropped connection would.'
      : 'Syncing what waited.',
  );
  app.render(d);
  if (!d.sim.networkOff && navigator.onLine) await sync(app, d);
}

export async function browserChanged(app: PlayerApp, online: boolean): Promise<void> {
  app.renderBrowser();
  await app.record(null, 'network', online ? 'The browser is back online' : 'The browser went offline', '');
  for (const d of app.devices) app.render(d);
  if (online) {
    if (app.catalogueNote !== null) await loadCatalogue(app);
    for (const d of app.devices) if (d.online && d.view?.status.registered) void sync(app, d);
  }
}

export async function moveClock(app: PlayerApp, d: DeviceSession, ms: number): Promise<void> {
  d.sim.clockOffsetMs += ms;
  if (ms > 0) d.sim.advancedMs = (d.sim.advancedMs ?? 0) + ms;
  saveSettings(app.settings);
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
      `The device clock is ${countdown(rollback.behindMs)} behind the time the SDK trusts (${moment(rollback.trustedNow, d.now())}); decisions use that time until the next sync brings the server’s.`,
    );
  }
}

export async function sync(app: PlayerApp, d: DeviceSession): Promise<void> {
  app.busy.add(d);
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
    app.busy.delete(d);
  }
}

export async function deactivate(
  app: PlayerApp,
  d: DeviceSession,
  deviceId: string,
  label: string,
): Promise<void> {
  d.notices.delete('devices');
  const sure = await confirmAction(
    `Deactivate ${label}?`,
    'The server revokes its licences now; that device removes its stored media at its next sync and needs enrolling again to download.',
    'Deactivate',
  );
  if (!sure) return;
  const token = app.settings.enrolmentToken;
  if (token === null) {
    d.notices.set('devices', 'Deactivating another device needs the account’s enrolment token.');
    app.render(d);
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
    d.notices.set('devices', `Could not deactivate: ${words}`);
    await app.record(d, 'error', `Deactivating ${label} failed`, words);
    app.render(d);
  }
}

export async function loadCatalogue(app: PlayerApp): Promise<void> {
  const d = app.devices.find((x) => x.online) ?? app.devices[0];
  if (d === undefined) return;
  const token = app.settings.enrolmentToken ?? (await d.deviceToken());
  if (token === null) {
    app.catalogueNote = app.catalogue.length > 0 ? null : 'Register a device to see the catalogue.';
    return;
  }
  try {
    app.catalogue = await fetchCatalogue(d.fetch, app.options.baseUrl, token);
    app.catalogueNote = null;
    localStorage.setItem(CATALOGUE_CACHE, JSON.stringify(app.catalogue));
  } catch (error) {
    const message = error instanceof ApiError ? error.message : String(error);
    app.catalogueNote =
      app.catalogue.length > 0
        ? error instanceof ApiError && error.code === 'NETWORK'
          ? 'Offline: showing the catalogue as last seen.'
          : `Showing the catalogue as last seen. ${message}`
        : error instanceof ApiError && error.status === 404
          ? 'This server has no catalogue route (GET /v1/catalogue).'
          : `The catalogue could not be loaded: ${message}`;
  }
  for (const x of app.devices) app.render(x);
}

/**
 * The demo account's enrolment token, when the server is a development server that hands it out
 * (`GET /dev/enrolment`); null elsewhere. Lets the page at `/` enrol in one click.
 */
export async function devEnrolment(app: PlayerApp): Promise<string | null> {
  try {
    const res = await globalThis.fetch(new URL('dev/enrolment', app.options.baseUrl).href);
    if (!res.ok) return null;
    const body = (await res.json()) as { token?: unknown };
    return typeof body.token === 'string' ? body.token : null;
  } catch {
    return null;
  }
}
