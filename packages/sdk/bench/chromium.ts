// Measures the SDK in real Chromium: the time to record one event (durable when the promise resolves)
// over 2,000 records, and the time to drain 10,000 queued events to a sync server.
//
//   pnpm exec tsx packages/sdk/bench/chromium.ts                 # against the in-memory protocol stand-in
//   SATCHEL_SERVER_URL=http://127.0.0.1:8787 SATCHEL_ENROLMENT_TOKEN=... \
//     pnpm exec tsx packages/sdk/bench/chromium.ts               # against a running sync server
//
// The page is served by a local static server that also forwards /v1/* to the sync server, so the SDK
// talks to it same-origin, over real HTTP.

import { launchChromium, startSite } from '../src/browser/harness.testkit.js';
import { FakeServer } from '../src/fake-server.testkit.js';
import type { createSatchel, idbStorage, SatchelClient } from '../src/index.js';

type PageGlobals = typeof globalThis & {
  Satchel: { createSatchel: typeof createSatchel; idbStorage: typeof idbStorage };
  client: SatchelClient;
};

const RECORDS = Number(process.env.RECORDS ?? 2000);
const DRAIN = Number(process.env.DRAIN ?? 10_000);
const target = process.env.SATCHEL_SERVER_URL;
const fake = new FakeServer(() => Date.now(), 'bench-account', {
  planId: 'bench',
  maxDownloadDevices: 100,
  maxDownloadsPerDevice: 100,
  maxDownloadsPerMonth: null,
});
const enrolment = process.env.SATCHEL_ENROLMENT_TOKEN ?? fake.enrolmentToken;

const site = await startSite(async (request) => {
  if (target === undefined) return fake.fetch(request);
  const url = new URL(request.url);
  const body = request.method === 'GET' ? undefined : await request.arrayBuffer();
  return fetch(new URL(url.pathname + url.search, target), {
    method: request.method,
    headers: request.headers,
    ...(body === undefined ? {} : { body }),
  });
});
const browser = await launchChromium();

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

async function recordRun(durability: 'strict' | 'relaxed') {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(site.url);
  await page.waitForFunction(() => 'Satchel' in globalThis);
  const timings = await page.evaluate(
    async ({ enrolment, records, durability }) => {
      const g = globalThis as PageGlobals;
      g.client = g.Satchel.createSatchel({
        baseUrl: `${location.origin}/`,
        autoSync: false,
        storage: g.Satchel.idbStorage({ name: `bench-${durability}`, durability }),
      });
      await g.client.register(enrolment, { name: `bench ${durability}`, platform: 'web' });
      const grant = await g.client.requestDownload('quiet-river');
      if (!grant.ok) throw new Error(grant.refusal.message);
      await g.client.downloadCompleted(grant.license.licenseId);
      const out: number[] = [];
      for (let i = 0; i < records; i++) {
        const t = performance.now();
        await g.client.stopPlayback(grant.license.licenseId, i);
        out.push(performance.now() - t);
      }
      return out;
    },
    { enrolment, records: RECORDS, durability },
  );
  const sorted = [...timings].sort((a, b) => a - b);
  console.log(
    `record (${durability} durability), ${RECORDS} events: median ${percentile(sorted, 50).toFixed(2)} ms, p95 ${percentile(sorted, 95).toFixed(2)} ms, max ${(sorted.at(-1) ?? 0).toFixed(2)} ms`,
  );
  return { context, page };
}

async function drainRun() {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(site.url);
  await page.waitForFunction(() => 'Satchel' in globalThis);
  const result = await page.evaluate(
    async ({ enrolment, count }) => {
      const g = globalThis as PageGlobals;
      g.client = g.Satchel.createSatchel({ baseUrl: `${location.origin}/`, autoSync: false });
      await g.client.register(enrolment, { name: 'bench drain', platform: 'web' });
      const grant = await g.client.requestDownload('quiet-river');
      if (!grant.ok) throw new Error(grant.refusal.message);
      await g.client.downloadCompleted(grant.license.licenseId);
      await g.client.sync();
      const queueStart = performance.now();
      for (let i = 0; i < count; i += 100) {
        await Promise.all(
          Array.from({ length: Math.min(100, count - i) }, (_, j) =>
            g.client.stopPlayback(grant.license.licenseId, i + j),
          ),
        );
      }
      const queuedMs = performance.now() - queueStart;
      const pending = (await g.client.status()).pendingEvents;
      const t = performance.now();
      const sync = await g.client.sync();
      return { queuedMs, pending, drainMs: performance.now() - t, sync };
    },
    { enrolment, count: DRAIN },
  );
  console.log(
    `drain: ${result.pending} queued events (queued in ${(result.queuedMs / 1000).toFixed(1)} s) sent to ${target ?? 'the in-memory protocol stand-in'} in ${(result.drainMs / 1000).toFixed(2)} s (${Math.round(result.pending / (result.drainMs / 1000))} events/s; acknowledged ${result.sync.acknowledged}, rejected ${result.sync.rejected.length}, left ${result.sync.pending})`,
  );
  await context.close();
}

try {
  console.log(
    `Chromium ${browser.version()}, ${target === undefined ? 'in-memory protocol stand-in' : target}`,
  );
  for (const durability of ['strict', 'relaxed'] as const) {
    const { context } = await recordRun(durability);
    await context.close();
  }
  await drainRun();
} finally {
  await browser.close();
  await site.close();
}
