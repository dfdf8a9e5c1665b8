import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, startSite, workspaceAlias } from '../../packages/sdk/src/browser/harness.testkit.js';

// @satchel/react in real Chromium: the hooks over the real SDK (IndexedDB, BroadcastChannel, Web Locks),
// with the protocol stand-in running inside the page (test/react/page.tsx).

const root = fileURLToPath(new URL('../../', import.meta.url));

async function bundlePage(): Promise<string> {
  const result = await build({
    absWorkingDir: root,
    entryPoints: ['test/react/page.tsx'],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    jsx: 'automatic',
    write: false,
    define: { 'process.env.NODE_ENV': '"development"' },
    alias: workspaceAlias(),
    logLevel: 'error',
  });
  return result.outputFiles[0]?.text ?? '';
}

interface PageApi {
  T: {
    client: import('@satchel/sdk').SatchelClient;
    server: { enrolmentToken: string };
    reads: { licenses: number; status: number };
    renders: { licenses: number; decision: number; status: number };
    watch(licenseId: string): void;
    unmount(): void;
  };
}

let site: Awaited<ReturnType<typeof startSite>>;
let browser: Browser;

beforeAll(async () => {
  site = await startSite(async () => new Response(null, { status: 204 }), await bundlePage());
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
});

async function open(context: BrowserContext): Promise<{ page: Page; errors: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(site.url);
  await page.waitForFunction(() => 'T' in globalThis);
  return { page, errors };
}

const text = async (page: Page, id: string) => ((await page.textContent(`#${id}`)) ?? '').trim();

/** Registers the device and takes a licence for `titleId`; returns its id. */
function enrolAndDownload(page: Page, titleId: string): Promise<string> {
  return page.evaluate(async (titleId) => {
    const { T } = globalThis as unknown as PageApi;
    await T.client.register(T.server.enrolmentToken, { name: 'hooks test' });
    const grant = await T.client.requestDownload(titleId);
    if (!grant.ok) throw new Error(grant.refusal.code);
    T.watch(grant.license.licenseId);
    return grant.license.licenseId;
  }, titleId);
}

describe('@satchel/react in Chromium', () => {
  it('useLicenses, usePlaybackDecision and useSyncStatus follow every change of the client', async () => {
    const context = await browser.newContext();
    const { page, errors } = await open(context);
    await expect.poll(() => text(page, 'status')).toBe('registered=false pending=0 online=true');
    expect(await page.getAttribute('#status', 'data-same-client')).toBe('true');
    expect(await text(page, 'licenses')).toBe('[]');
    expect(await text(page, 'decision')).toBe('none');

    const licenseId = await enrolAndDownload(page, 'quiet-river');
    await expect
      .poll(() => text(page, 'licenses'))
      .toBe('[{"titleId":"quiet-river","status":"issued","allowed":false}]');
    expect(await text(page, 'decision')).toBe('refused NOT_DOWNLOADED');

    await page.evaluate((id) => (globalThis as unknown as PageApi).T.client.downloadCompleted(id), licenseId);
    await expect.poll(() => text(page, 'decision')).toMatch(/^allowed until \d+$/);
    await expect.poll(() => text(page, 'status')).toBe('registered=true pending=1 online=true');
    expect(await text(page, 'licenses')).toBe(
      '[{"titleId":"quiet-river","status":"downloaded","allowed":true}]',
    );

    await page.evaluate(() => (globalThis as unknown as PageApi).T.client.sync());
    await expect.poll(() => text(page, 'status')).toBe('registered=true pending=0 online=true');

    await context.setOffline(true);
    await expect.poll(() => text(page, 'status')).toBe('registered=true pending=0 online=false');
    await context.setOffline(false);
    await expect.poll(() => text(page, 'status')).toBe('registered=true pending=0 online=true');
    expect(errors).toEqual([]);
    await context.close();
  });

  it('a playback decision flips at the instant the licence expires, with no read before it', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.clock.install({ time: Date.parse('2026-06-01T12:00:00Z') });
    await page.goto(site.url);
    await page.waitForFunction(() => 'T' in globalThis);
    // short-film: one minute of playback window once the first playback starts.
    const licenseId = await enrolAndDownload(page, 'short-film');
    await page.evaluate(async (id) => {
      const { T } = globalThis as unknown as PageApi;
      await T.client.downloadCompleted(id);
      const started = await T.client.startPlayback(id);
      if (!started.allowed) throw new Error(started.reason);
    }, licenseId);
    await expect.poll(() => text(page, 'decision')).toMatch(/^allowed until \d+$/);
    const until = Number((await text(page, 'decision')).replace('allowed until ', ''));
    const now = await page.evaluate(() => Date.now());
    expect(until - now).toBeGreaterThan(55_000);
    expect(until - now).toBeLessThanOrEqual(60_000);

    const reads = () => page.evaluate(() => (globalThis as unknown as PageApi).T.reads.licenses);
    const before = await reads();
    // Fifty seconds pass: nothing changes, and nothing is read (no polling, no per-frame re-evaluation).
    await page.clock.runFor(50_000);
    expect(await reads()).toBe(before);
    expect(await text(page, 'decision')).toBe(`allowed until ${until}`);
    // Past the instant: one read, and the decision says why it stopped.
    await page.clock.runFor(until - (await page.evaluate(() => Date.now())) + 1_000);
    await expect.poll(() => text(page, 'decision')).toBe('refused EXPIRED_PLAYBACK_WINDOW');
    expect(await reads()).toBe(before + 1);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('a change recorded in another tab reaches the hooks', async () => {
    const context = await browser.newContext();
    const a = await open(context);
    const licenseId = await enrolAndDownload(a.page, 'quiet-river');
    await expect.poll(() => text(a.page, 'decision')).toBe('refused NOT_DOWNLOADED');
    const b = await open(context);
    await b.page.evaluate(
      (id) => (globalThis as unknown as PageApi).T.client.downloadCompleted(id),
      licenseId,
    );
    await expect.poll(() => text(a.page, 'decision')).toMatch(/^allowed until \d+$/);
    await expect.poll(() => text(a.page, 'status')).toBe('registered=true pending=1 online=true');
    expect([...a.errors, ...b.errors]).toEqual([]);
    await context.close();
  });

  it('once the components unmount, changes are no longer read', async () => {
    const context = await browser.newContext();
    const { page, errors } = await open(context);
    const licenseId = await enrolAndDownload(page, 'quiet-river');
    await expect.poll(() => text(page, 'decision')).toBe('refused NOT_DOWNLOADED');
    const after = await page.evaluate(async (id) => {
      const { T } = globalThis as unknown as PageApi;
      T.unmount();
      const before = { ...T.reads };
      await T.client.downloadCompleted(id);
      await new Promise((resolve) => setTimeout(resolve, 100));
      return { before, after: { ...T.reads } };
    }, licenseId);
    expect(after.after).toEqual(after.before);
    expect(errors).toEqual([]);
    await context.close();
  });
});
