import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeServer } from '../fake-server.testkit.js';
import type { createSatchel, idbStorage, SatchelClient, SatchelOptions } from '../index.js';
import { launchChromium, startSite } from './harness.testkit.js';

type PageGlobals = typeof globalThis & {
  Satchel: { createSatchel: typeof createSatchel; idbStorage: typeof idbStorage };
  client: SatchelClient;
};

let browser: Browser;
let server: FakeServer;
let site: Awaited<ReturnType<typeof startSite>>;
let context: BrowserContext;

beforeEach(() => {
  server = new FakeServer(() => Date.now());
});

beforeAll(async () => {
  site = await startSite((request) => server.fetch(request));
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
});

afterEach(async () => {
  await context?.close();
});

async function openTab(options: Partial<SatchelOptions> = {}): Promise<Page> {
  const page = await context.newPage();
  await page.goto(site.url);
  await page.waitForFunction(() => 'Satchel' in globalThis);
  await page.evaluate(
    (opts) => {
      const g = globalThis as PageGlobals;
      g.client = g.Satchel.createSatchel({ baseUrl: `${location.origin}/`, ...opts });
    },
    options as Record<string, unknown>,
  );
  return page;
}

async function registerAndDownload(page: Page): Promise<string> {
  return page.evaluate(async (enrolment) => {
    const { client } = globalThis as PageGlobals;
    await client.register(enrolment, { name: 'Chromium', platform: 'web' });
    const grant = await client.requestDownload(`film-${crypto.randomUUID()}`);
    if (!grant.ok) throw new Error(grant.refusal.message);
    await client.downloadCompleted(grant.license.licenseId);
    return grant.license.licenseId;
  }, server.enrolmentToken);
}

const pendingSeqs = (page: Page) =>
  page.evaluate(async () => {
    const storage = (globalThis as PageGlobals).Satchel.idbStorage();
    const seqs = (await storage.pending()).map((e) => e.seq);
    await storage.close();
    return seqs;
  });

describe('in Chromium', () => {
  it('keeps the outbox in real IndexedDB across a page reload', async () => {
    context = await browser.newContext();
    const page = await openTab({ autoSync: false });
    const licenseId = await registerAndDownload(page);
    await context.setOffline(true);
    await page.evaluate(async (id) => {
      const { client } = globalThis as PageGlobals;
      const decision = await client.startPlayback(id);
      if (!decision.allowed) throw new Error(decision.reason);
      for (let i = 1; i <= 5; i++) await client.stopPlayback(id, i * 1000);
    }, licenseId);
    await context.setOffline(false);
    await page.reload();
    await page.waitForFunction(() => 'Satchel' in globalThis);
    const after = await page.evaluate(async () => {
      const g = globalThis as PageGlobals;
      g.client = g.Satchel.createSatchel({ baseUrl: `${location.origin}/`, autoSync: false });
      const status = await g.client.status();
      const [license] = await g.client.licenses();
      return {
        pending: status.pendingEvents,
        registered: status.registered,
        firstPlayedAt: license?.firstPlayedAt ?? null,
      };
    });
    expect(after).toMatchObject({ pending: 7, registered: true });
    expect(after.firstPlayedAt).not.toBeNull();
    expect(await pendingSeqs(page)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const result = await page.evaluate(() => (globalThis as PageGlobals).client.sync());
    expect(result).toMatchObject({ sent: 7, acknowledged: 7, pending: 0 });
  });

  it('gives two tabs recording at once consecutive seqs, none duplicated or skipped', async () => {
    context = await browser.newContext();
    const first = await openTab({ autoSync: false });
    const licenseId = await registerAndDownload(first);
    const second = await openTab({ autoSync: false });
    const burst = (page: Page) =>
      page.evaluate(async (id) => {
        const { client } = globalThis as PageGlobals;
        await Promise.all(Array.from({ length: 100 }, (_, i) => client.stopPlayback(id, i)));
      }, licenseId);
    await Promise.all([burst(first), burst(second)]);
    expect(await pendingSeqs(second)).toEqual(Array.from({ length: 201 }, (_, i) => i + 1));
    const result = await second.evaluate(() => (globalThis as PageGlobals).client.sync());
    expect(result).toMatchObject({ acknowledged: 201, rejected: [], pending: 0 });
  });

  it('lets one tab lead background sync and hands over when it closes', async () => {
    context = await browser.newContext();
    const first = await openTab({ autoSync: false });
    await registerAndDownload(first);
    await first.evaluate(async () => {
      const g = globalThis as PageGlobals;
      await g.client.close();
      g.client = g.Satchel.createSatchel({ baseUrl: `${location.origin}/` });
    });
    const second = await openTab();
    const leader = (page: Page) =>
      page.evaluate(async () => (await (globalThis as PageGlobals).client.status()).leader);
    await expect.poll(() => leader(first)).toBe(true);
    expect(await leader(second)).toBe(false);
    await first.close();
    await expect.poll(() => leader(second), { timeout: 5000 }).toBe(true);
  });

  it('tells the other tabs what changed', async () => {
    context = await browser.newContext();
    const first = await openTab({ autoSync: false });
    await registerAndDownload(first);
    const second = await openTab({ autoSync: false });
    await second.evaluate(() => {
      const g = globalThis as PageGlobals & { seen: string[] };
      g.seen = [];
      g.client.subscribe((c) => g.seen.push(`${c.source}:${c.type}`));
    });
    await first.evaluate(async () => {
      const { client } = globalThis as PageGlobals;
      const [license] = await client.licenses();
      if (license) await client.stopPlayback(license.licenseId, 1);
    });
    await expect
      .poll(() => second.evaluate(() => (globalThis as PageGlobals & { seen: string[] }).seen))
      .toContain('remote:outbox');
  });

  it('works through the browser offline mode and syncs when the browser comes back online', async () => {
    context = await browser.newContext();
    const page = await openTab({ autoSync: false });
    const licenseId = await registerAndDownload(page);
    await page.evaluate(async () => {
      const g = globalThis as PageGlobals;
      await g.client.close();
      g.client = g.Satchel.createSatchel({
        baseUrl: `${location.origin}/`,
        syncIntervalMs: 600_000,
        pushDelayMs: 600_000,
      });
    });
    await expect
      .poll(() =>
        page.evaluate(async () => (await (globalThis as PageGlobals).client.status()).pendingEvents),
      )
      .toBe(0);
    await context.setOffline(true);
    const offline = await page.evaluate(async (id) => {
      const { client } = globalThis as PageGlobals;
      const decision = await client.startPlayback(id);
      await client.stopPlayback(id, 5000);
      const error = await client.sync().then(
        () => null,
        (e: { code?: string }) => e.code ?? 'unknown',
      );
      const status = await client.status();
      return { allowed: decision.allowed, error, online: status.online, pending: status.pendingEvents };
    }, licenseId);
    expect(offline).toEqual({ allowed: true, error: 'NETWORK', online: false, pending: 2 });
    await context.setOffline(false);
    await expect
      .poll(
        () => page.evaluate(async () => (await (globalThis as PageGlobals).client.status()).pendingEvents),
        { timeout: 10_000 },
      )
      .toBe(0);
  });

  it('closes its connection for a newer schema opened in another tab, then reports STORAGE_VERSION_TOO_NEW', async () => {
    context = await browser.newContext();
    const first = await openTab({ autoSync: false });
    await registerAndDownload(first);
    const second = await context.newPage();
    await second.goto(site.url);
    const upgraded = await second.evaluate(
      () =>
        new Promise<string>((resolve) => {
          const request = indexedDB.open('satchel', 99);
          request.onblocked = () => resolve('blocked');
          request.onsuccess = () => {
            request.result.close();
            resolve('upgraded');
          };
          request.onerror = () => resolve(`error ${request.error?.name}`);
        }),
    );
    expect(upgraded).toBe('upgraded');
    const code = await first.evaluate(() =>
      (globalThis as PageGlobals).client.status().then(
        () => 'resolved',
        (e: { code?: string }) => e.code ?? 'unknown',
      ),
    );
    expect(code).toBe('STORAGE_VERSION_TOO_NEW');
  });
});
