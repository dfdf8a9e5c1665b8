import { DEVELOPMENT_TOKEN_SECRET, Tokens } from '@satchel/server';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  launchChromium,
  openPlayer,
  type RunningServer,
  shakaStored,
  shot,
  startServer,
  text,
} from './harness.js';

let server: RunningServer;
let browser: Browser;

beforeAll(async () => {
  server = await startServer();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const videoTime = (page: Page, index: number) =>
  page.evaluate(
    (i) => (document.getElementById(`device-${i}-video`) as HTMLVideoElement | null)?.currentTime ?? -1,
    index,
  );

describe('the demo player with real media (Shaka offline storage, ClearKey)', () => {
  let context: BrowserContext;
  let page: Page;
  let errors: string[];
  const requests: string[] = [];

  beforeAll(async () => {
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    ({ page, errors } = await openPlayer(context, `${server.url}/#enrol=${server.enrolmentToken}`));
    page.on('request', (r) => {
      const { pathname } = new URL(r.url());
      if (pathname.startsWith('/media/') || pathname.startsWith('/v1/licenses'))
        requests.push(`${r.method()} ${pathname}`);
    });
    await page.locator('#device-1').getByRole('button', { name: 'Sync now' }).waitFor();
  });

  afterAll(async () => {
    await context?.close();
  });

  it('downloads real media with a progress bar, only once the licence is granted, and records the download', async () => {
    const device = page.locator('#device-1');
    await device.getByRole('button', { name: /^Download Night Train/ }).click();
    await device.getByRole('progressbar', { name: 'Download progress' }).waitFor();
    const license = device.locator('li.license[data-status="downloaded"]', { hasText: 'Night Train' });
    await license.waitFor({ timeout: 30_000 });
    expect(await text(license.locator('[data-test=stored]'))).toMatch(
      /^Stored on this device: \d+ KB, 0:0[5-6]$/,
    );
    const granted = requests.indexOf('POST /v1/licenses');
    const key = requests.findIndex((r) =>
      /^POST \/v1\/licenses\/[0-9a-f-]+\/drm\/org\.w3\.clearkey$/.test(r),
    );
    const firstMedia = requests.findIndex((r) => r.startsWith('GET /media/night-train/'));
    expect(granted).toBeGreaterThanOrEqual(0);
    expect(key).toBeGreaterThan(granted);
    expect(firstMedia).toBeGreaterThan(key);
    const stored = await shakaStored(page);
    expect(stored.items.map((i) => i.titleId)).toEqual(['night-train']);
    expect(stored.segments).toBeGreaterThanOrEqual(6);
    await expect
      .poll(() => text(device.locator('[data-test=pending]')), { timeout: 15_000 })
      .toBe('0 events waiting to sync');
    expect(await text(page.locator('#log-list'))).toMatch(
      /Night Train \(48 h rental\) downloaded\s*\d+ KB stored/,
    );
    await shot(page, 'media-01-downloaded');
    expect(errors).toEqual([]);
  });

  it('plays the stored media offline in a <video> (its time advances) and reports the position on Stop', async () => {
    await context.setOffline(true);
    const device = page.locator('#device-1');
    await expect.poll(() => text(page.locator('#browser-status'))).toBe('Browser offline');
    await device.getByRole('button', { name: /^Play Night Train/ }).click();
    await expect.poll(() => videoTime(page, 1), { timeout: 15_000 }).toBeGreaterThan(1.5);
    await shot(page, 'media-02-playing-offline');
    expect(await text(page.locator('#log-list'))).toMatch(/Play Night Train \(48 h rental\): allowed/);
    await device.getByRole('button', { name: /^Stop Night Train/ }).click();
    const license = device.locator('li.license', { hasText: 'Night Train' });
    await expect.poll(() => text(license)).toMatch(/Stopped at 0:0[1-6] of 0:0[5-6]/);
    expect(await text(device.locator('[data-test=pending]'))).toMatch(/^[1-9]\d* events? waiting to sync$/);
    expect(errors).toEqual([]);
  });

  it('refuses playback at +49 h: one state on the card, nothing plays, the bytes stay for a renewal', async () => {
    const device = page.locator('#device-1');
    await device.getByRole('button', { name: /move the clock forward 49 hours/ }).click();
    const license = device.locator('li.license', { hasText: 'Night Train' });
    await expect
      .poll(() => text(license.locator('[data-test=decision]')))
      .toMatch(/^Cannot play: The 48 hours to watch this title ended on .+\./);
    expect(await license.locator('[data-test=decision]').count()).toBe(1);
    const play = device.getByRole('button', { name: /^Play Night Train/ });
    expect(await play.isDisabled()).toBe(true);
    expect(await text(license.locator('[data-test=status]'))).toBe('Time is up');
    expect(await text(license.locator('[data-test=why-playback]'))).toBe(
      'Its time is up: go online and renew it to watch again.',
    );
    expect(await text(license)).not.toContain('time is up ·');
    expect(await text(license)).not.toContain('Downloaded');
    expect(await device.locator('video').count()).toBe(0);
    expect((await shakaStored(page)).items).toHaveLength(1);
    await shot(page, 'media-03-refused-49h');
    expect(errors).toEqual([]);
  });

  it('renews online and plays the same stored media again', async () => {
    await context.setOffline(false);
    const device = page.locator('#device-1');
    await device.getByRole('button', { name: 'Real time' }).click();
    await device.getByRole('button', { name: /^Renew Night Train/ }).click();
    await expect
      .poll(() => text(page.locator('#log-list')), { timeout: 15_000 })
      .toMatch(/Night Train \(48 h rental\) renewed/);
    const play = device.getByRole('button', { name: /^Play Night Train/ });
    await expect.poll(() => play.isEnabled(), { timeout: 15_000 }).toBe(true);
    await play.click();
    await expect.poll(() => videoTime(page, 1), { timeout: 15_000 }).toBeGreaterThan(1);
    await shot(page, 'media-04-renewed-playing');
    await device.getByRole('button', { name: /^Stop Night Train/ }).click();
    expect(errors).toEqual([]);
  });

  it('draws the licence’s life with the shared timeline: issued, downloaded, first play, renewed, each bound', async () => {
    const device = page.locator('#device-1');
    await device.getByRole('button', { name: 'Sync now' }).click();
    await expect
      .poll(() => text(device.locator('[data-test=pending]')), { timeout: 15_000 })
      .toBe('0 events waiting to sync');
    const license = device.locator('li.license', { hasText: 'Night Train' });
    await license.getByText('Licence timeline').click();
    const timeline = license.locator('[data-test=timeline]');
    await timeline.locator('svg').waitFor({ timeout: 15_000 });
    for (const kind of ['issued', 'downloaded', 'first-play', 'renewed']) {
      expect(await timeline.locator(`.mark-${kind}`).count(), kind).toBeGreaterThan(0);
    }
    expect(await timeline.locator('.mark-bound, .mark-expiry').count()).toBeGreaterThan(0);
    // Issued, downloaded, first play and renewed happened within seconds on a two-day axis: they are
    // stacked, not drawn on top of one another.
    const boxes = await timeline
      .locator('.mark-issued, .mark-downloaded, .mark-first-play, .mark-renewed')
      .evaluateAll((marks) =>
        marks.map((m) => {
          const b = m.getBoundingClientRect();
          return { x: b.x + b.width / 2, y: b.y + b.height / 2 };
        }),
      );
    expect(boxes.length).toBeGreaterThanOrEqual(4);
    for (const [i, a] of boxes.entries())
      for (const b of boxes.slice(i + 1)) expect(Math.hypot(a.x - b.x, a.y - b.y)).toBeGreaterThanOrEqual(9);
    await timeline.scrollIntoViewIfNeeded();
    await shot(page, 'media-05a-timeline');
    expect(errors).toEqual([]);
  });

  it('deletes a download: the licence is released and its stored bytes are gone', async () => {
    const device = page.locator('#device-1');
    await device.getByRole('button', { name: /^Delete Night Train/ }).click();
    await confirmIfAsked(page);
    await device
      .locator('li.license[data-status="released"]', { hasText: 'Night Train' })
      .waitFor({ timeout: 15_000 });
    await expect.poll(async () => (await shakaStored(page)).segments).toBe(0);
    expect((await shakaStored(page)).items).toEqual([]);
    await shot(page, 'media-05-deleted');
    expect(errors).toEqual([]);
  });

  it("removes a revoked device's media after its sync", async () => {
    await page.getByRole('button', { name: /^Add a device/ }).click();
    const second = page.locator('#device-2');
    await second.getByRole('button', { name: 'Sync now' }).waitFor({ timeout: 20_000 });
    await second.getByRole('button', { name: /^Download Paper Moon/ }).click();
    await second
      .locator('li.license[data-status="downloaded"]', { hasText: 'Paper Moon' })
      .waitFor({ timeout: 30_000 });
    const before = await shakaStored(page);
    expect(before.items.map((i) => i.titleId)).toEqual(['paper-moon']);
    const second_id = before.items[0]?.deviceId ?? '';
    // Deactivated from the first device with the account's token: the server revokes its licences.
    const first = page.locator('#device-1');
    await first.getByRole('button', { name: 'Sync now' }).click();
    await first.getByRole('button', { name: /^Deactivate Phone/ }).click({ timeout: 15_000 });
    await confirmIfAsked(page);
    await second.getByRole('button', { name: 'Sync now' }).click();
    await second
      .locator('li.license[data-status="revoked"]', { hasText: 'Paper Moon' })
      .waitFor({ timeout: 20_000 });
    await expect
      .poll(async () => (await shakaStored(page)).items.filter((i) => i.deviceId === second_id))
      .toEqual([]);
    expect((await shakaStored(page)).segments).toBe(0);
    await expect.poll(() => text(page.locator('#log-list'))).toMatch(/Stored media of Paper Moon removed/);
    await shot(page, 'media-06-revoked-removed');
    expect(errors).toEqual([]);
  });
});

describe('the licence proxy hands the ClearKey key only to a device holding a valid licence', () => {
  it('refuses the key for a released licence, a revoked one and another device’s, and gives it for a valid one', async () => {
    const call = async (path: string, token: string, body?: unknown) => {
      const res = await fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body ?? {}),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const enrol = server.enrolmentToken;
    const register = async (name: string) =>
      (await call('/v1/devices', enrol, { name })).body as { deviceId: string; token: string };
    const a = await register('Key test A');
    const b = await register('Key test B');
    const licence = async (token: string, titleId: string) =>
      ((await call('/v1/licenses', token, { titleId })).body as { license: { licenseId: string } }).license
        .licenseId;
    const key = (token: string, id: string) => call(`/v1/licenses/${id}/drm/org.w3.clearkey`, token);

    const valid = await licence(a.token, 'quiet-river');
    const granted = await key(a.token, valid);
    expect(granted.status).toBe(200);
    expect(granted.body.keys).toHaveLength(1);

    expect((await key(b.token, valid)).status).toBe(404);

    const released = await licence(a.token, 'short-film');
    await call(`/v1/licenses/${released}/release`, a.token);
    const refused = await key(a.token, released);
    expect(refused.status).toBe(403);
    expect(refused.body.keys).toBeUndefined();

    // A browser page sees the same refusal (and the player says why) — screenshot of the answer.
    const context = await browser.newContext();
    await context.route('**/favicon.ico', (route) => route.fulfill({ status: 204 }));
    const { page, errors } = await openPlayer(context, `${server.url}/healthz`);
    const inPage = await page.evaluate(
      async ([url, token]) => {
        const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
        document.body.textContent = `${res.status} ${await res.text()}`;
        return res.status;
      },
      [`${server.url}/v1/licenses/${released}/drm/org.w3.clearkey`, a.token] as const,
    );
    expect(inPage).toBe(403);
    await shot(page, 'media-07-key-refused');
    // The only console error is the refused request itself (Chromium logs every 4xx answer).
    expect(errors.filter((e) => !/status of 403/.test(e))).toEqual([]);
    await context.close();

    // Deactivating A revokes its licences: the key of the once valid one is refused too.
    await fetch(`${server.url}/v1/devices/${a.deviceId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${enrol}` },
    });
    const afterRevoke = await key(a.token, valid);
    expect([401, 403]).toContain(afterRevoke.status);
    expect(afterRevoke.body.keys).toBeUndefined();
  });
});

describe('the player is refused the ClearKey key once its licence is no longer valid, and says so', () => {
  it('asks the licence proxy for the key of a licence revoked meanwhile: refused, nothing stored, nothing plays', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const { page, errors } = await openPlayer(context, `${server.url}/#enrol=${server.enrolmentToken}`);
    const device = page.locator('#device-1');
    await device.getByRole('button', { name: 'Sync now' }).waitFor({ timeout: 20_000 });
    // Hold the player's key request until the server has revoked the licence.
    let asked = (_url: string) => {};
    const keyAsked = new Promise<string>((resolve) => {
      asked = resolve;
    });
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const failed: string[] = [];
    page.on('response', (r) => {
      if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
    });
    await page.route('**/drm/org.w3.clearkey', async (route) => {
      asked(route.request().url());
      await gate;
      await route.continue();
    });
    await device.getByRole('button', { name: /^Download Last Summer/ }).click();
    const keyUrl = await keyAsked;
    // The studio withdraws the title: the server revokes every licence of it, this one included.
    const admin = (
      await new Tokens(DEVELOPMENT_TOKEN_SECRET).mint({
        kind: 'operator',
        operatorId: 'admin@example.com',
        role: 'admin',
      })
    ).token;
    const withdrawn = await fetch(`${server.url}/v1/admin/catalogue/last-summer/withdraw`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(withdrawn.status).toBe(200);
    expect(((await withdrawn.json()) as { revoked: number }).revoked).toBeGreaterThanOrEqual(1);
    release();

    const card = device.locator('li.license', { hasText: 'Last Summer' });
    await expect
      .poll(() => text(card.locator('[data-test=refusal]')), { timeout: 15_000 })
      .toMatch(/^Could not download: the server refused the content key: this device holds no valid licence/);
    expect(failed).toEqual([`403 ${keyUrl}`]);
    expect(await text(page.locator('#log-list'))).toMatch(/Downloading Last Summer .*failed/);
    expect((await shakaStored(page)).items.filter((i) => i.titleId === 'last-summer')).toEqual([]);
    expect(await device.locator('video').count()).toBe(0);
    expect(await device.getByRole('button', { name: /^Play Last Summer/ }).count()).toBe(0);
    await shot(page, 'media-08-key-refused-in-the-player');

    // Its next sync brings the revocation: the card ends, with the reason.
    await device.getByRole('button', { name: 'Sync now' }).click();
    await card.and(page.locator('[data-status="revoked"]')).waitFor({ timeout: 15_000 });
    expect(await text(card)).toContain('Revoked: the studio withdrew the title.');
    await shot(page, 'media-09-key-refused-then-revoked');
    // The only console error is Chromium's line for the refused key request itself (the one failed
    // answer the page got, checked above).
    expect(failed).toEqual([`403 ${keyUrl}`]);
    expect(errors).toEqual([
      'console: Failed to load resource: the server responded with a status of 403 (Forbidden)',
    ]);
    await context.close();
  });
});

/** Accepts the page's confirmation step when there is one (a dialog with a confirm button). */
async function confirmIfAsked(page: Page): Promise<void> {
  const confirm = page.getByRole('dialog').getByRole('button', { name: /^(Delete|Deactivate|Confirm)/ });
  if (await confirm.count()) await confirm.first().click();
}
