import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storageContract } from '../testing/storage-contract.js';
import { bundleEntry, launchChromium, startSite } from './harness.testkit.js';
import type { ContractOutcome } from './storage-contract.page.js';

// The storage contract of `@satchel/sdk/testing`, for both adapters, in Chromium's own IndexedDB (the
// unit tier runs it under fake-indexeddb): one test per adapter and case.
const ADAPTERS = ['idb', 'dexie'] as const;
const CASES = storageContract({
  fresh: () => Promise.reject(new Error('names only')),
}).map((c) => c.name);

let browser: Browser | undefined;
let site: Awaited<ReturnType<typeof startSite>> | undefined;
let outcomes: ContractOutcome[] = [];

beforeAll(async () => {
  const script = await bundleEntry('packages/sdk/src/browser/storage-contract.page.ts');
  site = await startSite(() => Promise.resolve(new Response('not here', { status: 404 })), script);
  browser = await launchChromium();
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(site.url);
  await page.waitForFunction(() => '__contract' in globalThis, null, {
    timeout: 90_000,
  });
  outcomes = await page.evaluate(
    () => (globalThis as unknown as { __contract: ContractOutcome[] }).__contract,
  );
  expect(errors).toEqual([]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
});

describe.each(ADAPTERS)('storage contract in Chromium: %s', (adapter) => {
  it('ran every case', () => {
    expect(outcomes.filter((o) => o.adapter === adapter).map((o) => o.name)).toEqual(CASES);
  });

  it.each(CASES)('%s', (name) => {
    const outcome = outcomes.find((o) => o.adapter === adapter && o.name === name);
    expect(outcome?.error ?? null).toBeNull();
    expect(outcome?.ok).toBe(true);
  });
});
