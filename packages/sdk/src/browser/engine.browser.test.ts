import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeServer } from '../fake-server.testkit.js';
import type { createSatchel, SatchelClient, SatchelOptions } from '../index.js';
import { launchChromium, startSite } from './harness.testkit.js';

// Cases 3 and 5 of the sync engine's promise ("nothing stuck") in real Chromium: tabs of one origin
// sharing IndexedDB, Web Locks and a BroadcastChannel, and a real HTTP exchange whose body stalls.

type PageGlobals = typeof globalThis & {
  Satchel: { createSatchel: typeof createSatchel };
  client: SatchelClient;
};

let browser: Browser;
let server: FakeServer;
let site: Awaited<ReturnType<typeof startSite>>;
let context: BrowserContext;
/** How the site answers `/v1/sync` (the other paths always go to the fake server). */
let syncAnswer: (request: Request) => Promise<Response>;
/** Called when a page says (a request to `/hung`) that its main thread is about to block. */
let onHung: () => void = () => {};

beforeEach(() => {
  server = new FakeServer(() => Date.now());
  syncAnswer = (request) => server.fetch(request);
});

beforeAll(async () => {
  site = await startSite(async (request) => {
    const path = new URL(request.url).pathname;
    if (path === '/hung') {
      onHung();
      return new Response('ok');
    }
    return path === '/v1/sync' ? syncAnswer(request) : server.fetch(request);
  });
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
    await client.sync();
    return grant.license.licenseId;
  }, server.enrolmentToken);
}

const status = (page: Page) =>
  page.evaluate(async () => {
    const s = await (globalThis as PageGlobals).client.status();
    return { leader: s.leader, pendingEvents: s.pendingEvents, syncState: s.syncState };
  });

/** Runs `fn` in the page and reports how it settled and after how many ms (measured in the page). */
function settle(page: Page, call: 'sync' | 'close'): Promise<{ outcome: string; ms: number }> {
  return page.evaluate(async (what) => {
    const { client } = globalThis as PageGlobals;
    const started = performance.now();
    const outcome = await (what === 'sync' ? client.sync() : client.close()).then(
      () => 'resolved',
      (e: { code?: string }) => `rejected ${e.code ?? String(e)}`,
    );
    return { outcome, ms: Math.round(performance.now() - started) };
  }, call);
}

/** A `/v1/sync` answer held until `release()`; `arrived` resolves when the request came in. */
function holdNextSync() {
  let release: () => void = () => {};
  let arrived: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const came = new Promise<void>((resolve) => {
    arrived = resolve;
  });
  const normal = syncAnswer;
  let held = false;
  syncAnswer = async (request) => {
    if (held) return normal(request);
    held = true;
    arrived();
    await gate;
    return normal(request);
  };
  return { arrived: came, release: () => release() };
}

describe('in Chromium, the sync engine never gets stuck', () => {
  it("case 3 — a hung leader tab: the follower's sync() is bounded and its events are synced", async () => {
    context = await browser.newContext();
    const options = { pushDelayMs: 50, lockTimeoutMs: 1000, syncIntervalMs: 600_000 };
    const leader = await openTab(options);
    const licenseId = await registerAndDownload(leader);
    await expect.poll(async () => (await status(leader)).leader).toBe(true);
    const follower = await openTab(options);
    expect((await status(follower)).leader).toBe(false);

    // The leader is in the middle of a sync (it holds the leader and the sync locks) when its main thread
    // stops answering: a long task blocks it for 40 s (it ends on its own).
    const held = holdNextSync();
    void leader
      .evaluate(() => (globalThis as PageGlobals).client.sync().catch(() => undefined))
      .catch(() => undefined);
    await held.arrived;
    const hung = new Promise<void>((resolve) => {
      onHung = resolve;
    });
    void leader
      .evaluate(() => {
        // Says so (synchronously: the page is already blocked when the request arrives), then spins.
        const xhr = new XMLHttpRequest();
        xhr.open('POST', '/hung', false);
        xhr.send();
        const end = performance.now() + 40_000;
        while (performance.now() < end) {
          // a hung tab
        }
      })
      .catch(() => undefined);
    await hung;
    // The answer to its sync arrives now, but the blocked tab cannot read it: it keeps both locks.
    held.release();

    await follower.evaluate((id) => (globalThis as PageGlobals).client.stopPlayback(id, 1234), licenseId);
    const explicit = await settle(follower, 'sync');
    expect(explicit.outcome).toBe('resolved');
    expect(explicit.ms).toBeLessThan(15_000);
    expect(server.state.licenses[licenseId]?.lastPositionMs).toBe(1234);

    // Background sync moved to the follower: what it records next goes without a sync() call.
    await expect.poll(async () => (await status(follower)).leader, { timeout: 15_000 }).toBe(true);
    await follower.evaluate((id) => (globalThis as PageGlobals).client.stopPlayback(id, 5678), licenseId);
    await expect.poll(() => server.state.licenses[licenseId]?.lastPositionMs, { timeout: 15_000 }).toBe(5678);
    expect((await status(follower)).pendingEvents).toBe(0);
  });

  it('case 5 — a stalled body: sync() times out, a later sync() settles too, close() returns, another tab is not stuck', async () => {
    context = await browser.newContext();
    const options = { autoSync: false, requestTimeoutMs: 1000, lockTimeoutMs: 30_000 };
    const first = await openTab(options);
    const licenseId = await registerAndDownload(first);
    const second = await openTab(options);
    await first.evaluate((id) => (globalThis as PageGlobals).client.stopPlayback(id, 777), licenseId);

    // 200, the headers and part of the JSON, then nothing more on that connection.
    let stalled = 0;
    syncAnswer = async () => {
      stalled++;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"protocolVersion":1,"results":[{"seq":'));
        },
      });
      return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
    };
    const firstRun = settle(first, 'sync');
    await expect.poll(() => stalled).toBe(1);
    // The other tab asks meanwhile: it waits for the sync lock the stalled run holds.
    const otherTab = settle(second, 'sync');
    const one = await firstRun;
    expect(one.outcome).toBe('rejected TIMEOUT');
    expect(one.ms).toBeLessThan(10_000);
    // A later sync() starts its own run instead of joining a stuck one.
    const again = await settle(first, 'sync');
    expect(again.outcome).toBe('rejected TIMEOUT');
    expect(again.ms).toBeLessThan(10_000);

    // The other tab got the lock once the first run gave up, and its own exchange stalled too: it settles
    // with a TIMEOUT of its own rather than waiting on the lock forever.
    const other = await otherTab;
    expect(other.outcome).toMatch(/^(resolved|rejected TIMEOUT)$/);
    expect(other.ms).toBeLessThan(20_000);

    syncAnswer = (request) => server.fetch(request);
    const healed = await settle(second, 'sync');
    expect(healed.outcome).toBe('resolved');
    expect(healed.ms).toBeLessThan(10_000);
    expect(server.state.licenses[licenseId]?.lastPositionMs).toBe(777);

    syncAnswer = async () => {
      stalled++;
      return new Response(
        new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('{"protocolVersion":1,'));
          },
        }),
        { status: 200, headers: { 'content-type': 'application/json' } },
      );
    };
    void first
      .evaluate(() => (globalThis as PageGlobals).client.sync().catch(() => undefined))
      .catch(() => undefined);
    await expect.poll(() => stalled).toBeGreaterThanOrEqual(3);
    const closed = await settle(first, 'close');
    expect(closed.outcome).toBe('resolved');
    expect(closed.ms).toBeLessThan(10_000);
  });
});
