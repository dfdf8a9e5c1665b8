import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { PROTOCOL_VERSION, PROTOCOL_VERSION_HEADER } from '@satchel/protocol';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { type PreviewServer, preview } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BridgeRequest } from '../../examples/electron/src/bridge.js';
import { forwarder } from '../../examples/electron/src/forward.js';
import { freePort, launchChromium, ROOT, type RunningServer, startServer, text } from './harness.js';

// The examples under examples/ — each built as its README says and run in Chromium against the reference
// server: enrol, download, play, sync; then reloaded with the sync server unreachable (the licence the
// device holds is found and plays offline, the events wait in the outbox); then reloaded online (they go).

const EXAMPLES = join(ROOT, 'examples');
let server: RunningServer;
let browser: Browser;

/** The examples resolve @satchel/* to the packages' dist, as an installed app does: build them if missing. */
function ensurePackagesBuilt(): void {
  const built = ['sdk', 'react', 'core', 'protocol'].every((p) =>
    existsSync(join(ROOT, 'packages', p, 'dist', 'index.js')),
  );
  if (built) return;
  const { status } = spawnSync('pnpm', ['build'], { cwd: ROOT, stdio: 'inherit' });
  if (status !== 0) throw new Error('pnpm build failed');
}

beforeAll(async () => {
  ensurePackagesBuilt();
  [server, browser] = await Promise.all([startServer(), launchChromium()]);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/**
 * The demo plan lets two devices hold downloads at once: before each example, the operator deactivates
 * the devices the previous one enrolled (with the account token), which releases their licences.
 */
async function deactivateDevices(): Promise<void> {
  const headers = {
    authorization: `Bearer ${server.enrolmentToken}`,
    [PROTOCOL_VERSION_HEADER]: String(PROTOCOL_VERSION),
  };
  const listed = await fetch(`${server.url}/v1/devices`, { headers });
  expect(listed.status).toBe(200);
  const { devices } = (await listed.json()) as { devices: Array<{ deviceId: string; status: string }> };
  for (const device of devices.filter((d) => d.status === 'active')) {
    const gone = await fetch(`${server.url}/v1/devices/${encodeURIComponent(device.deviceId)}`, {
      method: 'DELETE',
      headers,
    });
    expect(gone.status).toBe(200);
  }
}

/** Collects uncaught errors (a failed request logged by the browser while offline is expected, not one). */
function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  return errors;
}

const body = async (page: Page) => text(page.locator('body'));

/**
 * Builds an example with its own `pnpm build`, as its README says — in a child process, so the build is
 * the production one and not the test runner's NODE_ENV=test.
 */
function buildExample(root: string): void {
  const { NODE_ENV: _, ...env } = process.env;
  const { status } = spawnSync('pnpm', ['build'], { cwd: root, stdio: 'inherit', env });
  if (status !== 0) throw new Error(`pnpm build failed in ${root}`);
}

/** Builds a Vite example and serves it with `vite preview`, which forwards /v1 to the reference server. */
async function previewExample(name: string): Promise<PreviewServer> {
  const root = join(EXAMPLES, name);
  buildExample(root);
  process.env.SATCHEL_SERVER = server.url;
  const port = await freePort();
  return preview({ root, logLevel: 'warn', preview: { port, strictPort: true, host: '127.0.0.1' } });
}

const unreachable = (context: BrowserContext) =>
  context.route('**/v1/**', (route) => route.abort('internetdisconnected'));

describe('examples/web', () => {
  let site: PreviewServer;
  beforeAll(async () => {
    await deactivateDevices();
    site = await previewExample('web');
  }, 120_000);
  afterAll(async () => {
    await site?.close();
  });

  it('enrols, downloads, plays and syncs; after a reload finds the licence it holds, offline and online', async () => {
    const url = site.resolvedUrls?.local[0] ?? '';
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = pageErrors(page);

    await page.goto(`${url}?enrol=${server.enrolmentToken}`);
    await expect
      .poll(() => body(page), { timeout: 20_000 })
      .toMatch(/synced: \d+ events acknowledged, 0 waiting/);
    expect(await body(page)).toContain('Downloaded');
    expect(await body(page)).toContain('Playing: 48 h left');

    // Reloaded with the sync server out of reach: no ALREADY_LICENSED, the held licence plays offline.
    await unreachable(context);
    await page.reload();
    await expect
      .poll(() => body(page), { timeout: 20_000 })
      .toContain('offline: the events stay in the outbox and go at the next sync');
    expect(await body(page)).toContain('Already downloaded on this device');
    expect(await body(page)).toMatch(/Playing: 4[78] h left/);
    expect(await body(page)).not.toContain('Refused');

    // Online again: the offline playback's events go with the next sync.
    await context.unroute('**/v1/**');
    await page.reload();
    // The background sync that starts with the page may already be sending the offline events when the
    // example calls sync(), which then joins that run: what it reports acknowledged and waiting varies.
    await expect
      .poll(() => body(page), { timeout: 20_000 })
      .toMatch(/synced: \d+ events acknowledged, \d+ waiting/);
    expect(await body(page)).toContain('Already downloaded on this device');
    expect(errors).toEqual([]);
    await context.close();
  });
});

describe('examples/react', () => {
  let site: PreviewServer;
  beforeAll(async () => {
    await deactivateDevices();
    site = await previewExample('react');
  }, 120_000);
  afterAll(async () => {
    await site?.close();
  });

  it('the same with the hooks: the buttons follow the licences, the decision and the sync status', async () => {
    const url = site.resolvedUrls?.local[0] ?? '';
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = pageErrors(page);
    const button = (name: string | RegExp) => page.getByRole('button', { name });

    await page.goto(`${url}?enrol=${server.enrolmentToken}`);
    await button('Enrol this device').click();
    await button('Download').click();
    await button(/^Play \(48 h left\)$/).click();
    await button('Stop').click();
    await button('Sync now').click();
    await expect.poll(() => body(page)).toContain('synced: ');
    await expect.poll(() => text(page.getByTestId('pending'))).toBe('0 events waiting');

    // Reloaded with the sync server out of reach: the held licence is found and plays offline.
    await unreachable(context);
    await page.reload();
    await button(/^Play \(4[78] h left\)$/).click();
    await button('Stop').click();
    await expect.poll(() => text(page.getByTestId('pending'))).toBe('2 events waiting');
    await button('Sync now').click();
    await expect
      .poll(() => body(page))
      .toContain('offline: the events stay in the outbox and go at the next sync');
    await expect.poll(() => body(page)).toContain('last sync failed (NETWORK)');

    await context.unroute('**/v1/**');
    await button('Sync now').click();
    await expect.poll(() => text(page.getByTestId('pending'))).toBe('0 events waiting');
    expect(await body(page)).not.toContain('last sync failed');
    expect(errors).toEqual([]);
    await context.close();
  });
});

describe('examples/electron (the renderer in Chromium; the main process stood in for by Node)', () => {
  let site: Server;
  let siteUrl: string;
  beforeAll(async () => {
    await deactivateDevices();
    const root = join(EXAMPLES, 'electron');
    buildExample(root);
    // Serves dist/renderer the way the main process's app:// handler does.
    const files = join(root, 'dist', 'renderer');
    const types: Record<string, string> = {
      '.html': 'text/html',
      '.js': 'text/javascript',
      '.map': 'application/json',
    };
    site = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const file = normalize(join(files, path === '/' ? 'index.html' : path));
      if (!file.startsWith(files + sep) || !existsSync(file)) {
        res.statusCode = 404;
        res.end();
        return;
      }
      res.setHeader('content-type', types[extname(file)] ?? 'application/octet-stream');
      res.end(readFileSync(file));
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}/`;
  }, 120_000);
  afterAll(async () => {
    await new Promise((resolve) => site?.close(resolve));
  });

  it('syncs through the preload bridge and the main process’s forwarder, offline and online', async () => {
    const context = await browser.newContext();
    // What the preload exposes, wired to the example's own forwarder (forward.ts) over Node's fetch in place
    // of net.fetch — the part of the main process a browser can stand in for.
    let reachable = true;
    const forward = forwarder(
      (url, init) => {
        if (!reachable) return Promise.reject(new TypeError('net::ERR_INTERNET_DISCONNECTED'));
        return fetch(url, init);
      },
      new URL(`${server.url}/`),
    );
    await context.exposeBinding('__satchelForward', (_source, request: BridgeRequest) => forward(request));
    await context.addInitScript(
      ({ serverUrl, enrolmentToken }) => {
        const w = window as unknown as Record<string, unknown>;
        w.satchelNet = {
          serverUrl,
          enrolmentToken,
          fetch: (request: unknown) => (w.__satchelForward as (r: unknown) => Promise<unknown>)(request),
          onWake: () => {},
          onQuit: (listener: () => void) => {
            w.__quit = listener;
          },
          closed: () => {
            w.__closed = true;
          },
        };
      },
      { serverUrl: `${server.url}/`, enrolmentToken: server.enrolmentToken },
    );
    const page = await context.newPage();
    const errors = pageErrors(page);

    await page.goto(`${siteUrl}index.html`);
    await expect
      .poll(() => body(page), { timeout: 20_000 })
      .toMatch(/synced: \d+ events acknowledged, 0 waiting/);
    expect(await body(page)).toContain('Playing: 48 h left');

    reachable = false;
    await page.reload();
    await expect
      .poll(() => body(page), { timeout: 20_000 })
      .toContain('offline: the events stay in the outbox and go at the next sync');
    expect(await body(page)).toContain('Already downloaded on this device');

    reachable = true;
    await page.reload();
    // The background sync that starts with the page may already be sending the offline events when the
    // example calls sync(), which then joins that run: what it reports acknowledged and waiting varies.
    await expect
      .poll(() => body(page), { timeout: 20_000 })
      .toMatch(/synced: \d+ events acknowledged, \d+ waiting/);
    // Quitting: the renderer closes its client, then tells the main process it may go.
    await page.evaluate(() => (window as unknown as { __quit: () => void }).__quit());
    await expect
      .poll(() => page.evaluate(() => (window as unknown as { __closed?: boolean }).__closed))
      .toBe(true);
    // The forwarder refuses anything but the sync server.
    await expect(
      forward({ url: 'http://127.0.0.1:1/elsewhere', method: 'GET', headers: [], body: null }),
    ).rejects.toThrow(/Not the sync server/);
    expect(errors).toEqual([]);
    await context.close();
  });
});
