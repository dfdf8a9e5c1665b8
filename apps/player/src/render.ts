import { isHeldStatus } from '@satchel/sdk';
import { stop } from './actions/media.js';
import type { PlayerApp } from './app.js';
import type { DeviceSession } from './device.js';
import { h, patch } from './dom.js';
import { bindingExpiry, countdownWords } from './helpers.js';
import { isDeactivated } from './state.js';
import { catalogueBlock } from './views/catalogue.js';
import { deactivatedBlock } from './views/deactivated.js';
import { devicesBlock } from './views/devices.js';
import { downloadsBlock } from './views/license-card.js';
import { registerBlock } from './views/register.js';
import { simBlock } from './views/simulation.js';
import { statusBlock } from './views/status.js';
import { ago, moment, position } from './words.js';

/** Draws a device's panel from its state (and the page's). */
export function renderPanel(app: PlayerApp, d: DeviceSession): void {
  const panel = app.panels.get(d.config.index);
  if (panel === undefined) return;
  const view = d.view;
  const idx = d.config.index;
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
  const tab = h(
    'a',
    { href: `?device=${idx}`, target: '_blank', rel: 'noopener', class: 'tab-link' },
    'Open in a new tab',
    h('span', { class: 'sr-only' }, ` (device ${idx})`),
  );
  const registered = view.status.registered;
  patch(
    panel,
    h(
      'header',
      { class: 'device-head' },
      h('div', { class: 'device-title' }, name, tab),
      statusBlock(app, d, view),
    ),
    isDeactivated(view) ? deactivatedBlock(app, d) : null,
    simBlock(app, d),
    registered ? null : registerBlock(app, d),
    registered ? catalogueBlock(app, d, view) : null,
    registered ? downloadsBlock(app, d, view) : null,
    registered ? devicesBlock(app, d, view) : null,
  );
  tickPanel(app, d);
}

/**
 * The ticking parts of a panel: countdowns, the clocks, the playback position. Asks for a fresh read
 * when a licence's binding bound passed since the last one (its decision is then stale), and stops
 * playback when the licence runs out.
 */
export function tickPanel(app: PlayerApp, d: DeviceSession): void {
  const panel = app.panels.get(d.config.index);
  if (panel === undefined) return;
  const now = d.now();
  const trusted = d.trustedNow();
  for (const el of panel.querySelectorAll<HTMLElement>('[data-until]'))
    el.textContent = countdownWords(Number(el.dataset.until) - trusted);
  for (const el of panel.querySelectorAll<HTMLElement>('[data-ago]'))
    el.textContent = ago(Number(el.dataset.ago), now);
  const clock = panel.querySelector<HTMLElement>('[data-clock]');
  if (clock !== null) clock.textContent = moment(now, now);
  const trustedEl = panel.querySelector<HTMLElement>('[data-trusted]');
  if (trustedEl !== null) trustedEl.textContent = moment(trusted, now);
  const { playing, view } = d.state;
  if (playing !== null) {
    const pos = d.position();
    const runtime = d.runtime(playing.licenseId);
    const bar = panel.querySelector<HTMLProgressElement>('[data-position]');
    if (bar !== null) bar.value = Math.min(runtime, Math.round(pos));
    const text = panel.querySelector<HTMLElement>('[data-position-text]');
    if (text !== null) text.textContent = `${position(pos)} / ${position(runtime)}`;
    if (trusted >= playing.expiresAt) void stop(app, d, 'Stopped: the licence ran out during playback');
    else if (d.video.ended) void stop(app, d, 'Finished');
  }
  const readAt = view?.licenses[0]?.playback.secureNow;
  if (view !== null && readAt !== undefined) {
    const crossed = view.licenses.some((l) => {
      if (!isHeldStatus(l.status)) return false;
      const at = bindingExpiry(l).at;
      return at > readAt && at <= trusted;
    });
    if (crossed) void app.refresh(d);
  }
}
