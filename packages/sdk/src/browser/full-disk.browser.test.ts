import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeServer } from '../fake-server.testkit.js';
import type { createSatchel, SatchelClient } from '../index.js';
import { startSite } from './harness.testkit.js';

// A real full disk under Chromium: its profile directory is a small tmpfs (mounted in a private mount
// namespace by a wrapper around /usr/bin/chromium), filled up. Chromium then reports IndexedDB failures
// as internal I/O errors ("Internal error opening backing store", a LevelDB "IO error … NO_SPACE"), not
// as QuotaExceededError; the SDK must still say STORAGE_QUOTA_EXCEEDED, as the docs promise.

type PageGlobals = typeof globalThis & {
  Satchel: { createSatchel: typeof createSatchel };
  client: SatchelClient;
};

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const WRAPPER = `#!/bin/sh
dir=""
for a in "$@"; do case "$a" in --user-data-dir=*) dir="\${a#--user-data-dir=}";; esac; done
[ -n "$dir" ] || { echo "no --user-data-dir" >&2; exit 97; }
exec unshare -rm sh -c '
  mount -t tmpfs -o size="$SATCHEL_DISK_SIZE" tmpfs "$0" || exit 98
  head -c "$SATCHEL_DISK_FILL" /dev/zero > "$0/filler" 2>/dev/null
  exec "$SATCHEL_CHROMIUM" "$@"' "$dir" "$@"
`;

let work: string;
let wrapper: string;
let server: FakeServer;
let site: Awaited<ReturnType<typeof startSite>>;
let context: BrowserContext | null = null;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'satchel-full-disk-'));
  wrapper = join(work, 'chromium-on-a-small-disk.sh');
  writeFileSync(wrapper, WRAPPER);
  chmodSync(wrapper, 0o755);
  server = new FakeServer(() => Date.now());
  site = await startSite((request) => server.fetch(request));
});

afterEach(async () => {
  await context?.close();
  context = null;
});

afterAll(async () => {
  await site?.close();
  rmSync(work, { recursive: true, force: true });
});

/** Chromium whose profile lives on a tmpfs of `size` with `fill` of it already taken. */
async function onSmallDisk(size: string, fill: string): Promise<Page> {
  context = await chromium.launchPersistentContext(mkdtempSync(join(work, 'profile-')), {
    executablePath: wrapper,
    env: { ...process.env, SATCHEL_DISK_SIZE: size, SATCHEL_DISK_FILL: fill, SATCHEL_CHROMIUM: CHROMIUM },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(site.url);
  await page.waitForFunction(() => 'Satchel' in globalThis);
  return page;
}

describe('a full disk in Chromium', () => {
  it('fills up while the device records: the record rejects with STORAGE_QUOTA_EXCEEDED and nothing is half-written', async () => {
    const page = await onSmallDisk('64m', '58m');
    const { licenseId, before } = await page.evaluate(async (enrolment) => {
      const g = globalThis as PageGlobals;
      g.client = g.Satchel.createSatchel({ baseUrl: `${location.origin}/`, autoSync: false });
      await g.client.register(enrolment, { name: 'Chromium', platform: 'web' });
      const grant = await g.client.requestDownload('film');
      if (!grant.ok) throw new Error(grant.refusal.message);
      await g.client.downloadCompleted(grant.license.licenseId);
      return { licenseId: grant.license.licenseId, before: (await g.client.status()).pendingEvents };
    }, server.enrolmentToken);
    // Something else on the device takes the rest of the disk (here: random values in another database,
    // written until the disk refuses). Each loop is bounded in time too, so a browser that behaves
    // otherwise fails an assertion here instead of the test's timeout.
    const filled = await page.evaluate(async () => {
      const until = Date.now() + 15_000;
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const open = indexedDB.open('filler', 1);
        open.onupgradeneeded = () => open.result.createObjectStore('blobs');
        open.onsuccess = () => resolve(open.result);
        open.onerror = () => reject(open.error);
      });
      let bytes = 0;
      for (let i = 0; i < 5000 && Date.now() < until; i++) {
        const random = new Uint8Array(4096);
        crypto.getRandomValues(random);
        const value = Array.from(random, (x) => x.toString(36)).join('');
        const ok = await new Promise<boolean>((resolve) => {
          const tx = db.transaction('blobs', 'readwrite');
          tx.objectStore('blobs').put(value, `small-${i}`);
          tx.oncomplete = () => resolve(true);
          tx.onabort = () => resolve(false);
        });
        if (!ok) break;
        bytes += value.length;
      }
      db.close();
      return bytes;
    });
    expect(filled).toBeGreaterThan(0);
    // Then the device records (its first write may be the one that reopens the connection the browser
    // closed when the disk filled): the first record that fails must say STORAGE_QUOTA_EXCEEDED.
    const outcome = await page.evaluate(async (id) => {
      const { client } = globalThis as PageGlobals;
      const until = Date.now() + 15_000;
      let i = 0;
      for (; i < 3000 && Date.now() < until; i++) {
        try {
          await client.stopPlayback(id, i);
        } catch (error) {
          const after = await client.status().then(
            (s) => s.pendingEvents,
            () => null,
          );
          return { code: (error as { code?: string }).code ?? String(error), recorded: i, after };
        }
      }
      return { code: 'none', recorded: i, after: null };
    }, licenseId);
    expect(outcome.code).toBe('STORAGE_QUOTA_EXCEEDED');
    // Every record that resolved is in the outbox, the one that failed is not (when it can still be read).
    if (outcome.after !== null) expect(outcome.after).toBe(before + outcome.recorded);
  });

  it('is already full when the database opens: STORAGE_QUOTA_EXCEEDED, not STORAGE_UNAVAILABLE', async () => {
    const page = await onSmallDisk('32m', '1G');
    const code = await page.evaluate(async () => {
      const g = globalThis as PageGlobals;
      g.client = g.Satchel.createSatchel({ baseUrl: `${location.origin}/`, autoSync: false });
      return g.client.status().then(
        () => 'resolved',
        (error: { code?: string; message?: string }) => error.code ?? String(error),
      );
    });
    expect(code).toBe('STORAGE_QUOTA_EXCEEDED');
  });
});
