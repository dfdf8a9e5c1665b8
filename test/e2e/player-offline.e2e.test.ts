import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  contrastProblems,
  launchChromium,
  openPlayer,
  type RunningServer,
  shot,
  startServer,
  text,
  unlabelledControls,
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

describe('the demo player, offline', () => {
  let context: BrowserContext;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    ({ page, errors } = await openPlayer(
      context,
      `${server.url}/?transferMs=2500#enrol=${server.enrolmentToken}`,
    ));
  });

  afterAll(async () => {
    await context?.close();
  });

  it('registers the device with the enrolment token and shows the catalogue with each policy in words', async () => {
    const device = page.locator('#device-1');
    await device.getByRole('button', { name: 'Sync now' }).waitFor();
    const nightTrain = device.locator('li.title-card[data-title-id="night-train"]');
    await nightTrain.waitFor();
    expect(await text(nightTrain)).toContain('48 hours once you start watching');
    expect(await text(device.locator('li.title-card[data-title-id="harbour-lights"]'))).toContain(
      '3 downloads a year',
    );
    expect(await text(device.locator('li.title-card[data-title-id="last-summer"]'))).toMatch(
      /Leaves the catalogue on \d{1,2} [A-Z][a-z]+/,
    );
    expect(await text(page.locator('#log-list'))).toContain('Registered as');
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
    await shot(page, '01-registered-catalogue');
    expect(errors).toEqual([]);
  });

  it('downloads a title online: a licence, a visible transfer, then the download is recorded and synced', async () => {
    const device = page.locator('#device-1');
    await device.getByRole('button', { name: /^Download Night Train/ }).click();
    const progress = device.getByRole('progressbar', { name: 'Download progress' });
    await progress.waitFor();
    await page.waitForTimeout(900);
    await shot(page, '02-downloading');
    await progress.waitFor({ state: 'detached', timeout: 10_000 });
    const license = device.locator('li.license[data-status="downloaded"]', { hasText: 'Night Train' });
    await license.waitFor();
    expect(await text(license)).toMatch(/Expires .+ \(time to start watching\) · \d+ d \d+ h \d+ min left/);
    expect(await text(license)).toContain(
      'Offline decision: Ready to play. Start now and you can watch until',
    );
    await expect
      .poll(() => text(device.locator('[data-test=pending]')), { timeout: 15_000 })
      .toBe('0 events waiting to sync');
    const log = await text(page.locator('#log-list'));
    expect(log).toContain('Licence issued for Night Train');
    expect(log).toContain('Night Train (48 h rental) downloaded');
    await shot(page, '03-downloaded');
    expect(errors).toEqual([]);
  });

  it('plays offline (the browser has no network) and records the playback for later', async () => {
    await context.setOffline(true);
    const device = page.locator('#device-1');
    await expect.poll(() => text(page.locator('#browser-status'))).toBe('Browser offline');
    await expect.poll(() => text(device.locator('[data-test=network]'))).toBe('Offline (browser offline)');
    await device.getByRole('button', { name: /^Play Night Train/ }).click();
    await device.getByRole('progressbar', { name: 'Playing' }).waitFor();
    await page.waitForTimeout(1500);
    expect(await text(page.locator('#log-list'))).toMatch(
      /Play Night Train \(48 h rental\): allowed\s*Can play until/,
    );
    await shot(page, '04-offline-playing');
    await device.getByRole('button', { name: /^Stop Night Train/ }).click();
    await device.getByRole('button', { name: /^Play Night Train/ }).waitFor();
    expect(await text(device.locator('[data-test=pending]'))).toMatch(/^[1-9]\d* events? waiting to sync$/);
    // The sample media runs 6 s; 1.5 s of it played.
    expect(await text(device.locator('li.license', { hasText: 'Night Train' }))).toMatch(
      /Stopped at 0:0[1-6] of 0:06/,
    );
    expect(errors).toEqual([]);
  });

  it('refuses playback once the device clock passes the 48-hour window, and says why', async () => {
    const device = page.locator('#device-1');
    await device.getByRole('button', { name: /move the clock forward 49 hours/ }).click();
    const license = device.locator('li.license', { hasText: 'Night Train' });
    await expect
      .poll(() => text(license.locator('[data-test=decision]')))
      .toMatch(
        /^Cannot play: The 48 hours to watch this title ended on .+\. Go online and renew it to watch again\.$/,
      );
    // One state: the badge, the decision and the buttons agree; Play cannot be pressed into a refusal.
    expect(await text(license.locator('[data-test=status]'))).toBe('Time is up');
    expect(await device.getByRole('button', { name: /^Play Night Train/ }).isDisabled()).toBe(true);
    expect(await text(license.locator('[data-test=why-playback]'))).toBe(
      'Its time is up: go online and renew it to watch again.',
    );
    expect(await license.locator('[data-test=decision]').count()).toBe(1);
    expect(await text(page.locator('#log-list'))).not.toContain('refused (EXPIRED_PLAYBACK_WINDOW)');
    await shot(page, '05-offline-refused-after-48h');
    expect(errors).toEqual([]);
  });

  it('reloads offline with the downloads, the pending events and the decisions still there', async () => {
    const device = page.locator('#device-1');
    const pendingBefore = await text(device.locator('[data-test=pending]'));
    expect(pendingBefore).toMatch(/^[1-9]\d* events? waiting to sync$/);
    await page.reload();
    const license = device.locator('li.license', { hasText: 'Night Train' });
    await license.waitFor();
    expect(await text(page.locator('#browser-status'))).toBe('Browser offline');
    expect(await text(device.locator('[data-test=pending]'))).toBe(pendingBefore);
    expect(await text(license.locator('[data-test=status]'))).toBe('Time is up');
    expect(await text(license)).toContain('Cannot play: The 48 hours to watch this title ended');
    const log = await text(page.locator('#log-list'));
    expect(log).toContain('Licence issued for Night Train');
    expect(await text(device.locator('li.title-card[data-title-id="harbour-lights"]'))).toContain(
      '3 downloads a year',
    );
    await shot(page, '06-offline-reload');
    expect(errors).toEqual([]);
  });

  it('syncs what waited as soon as the browser is back online', async () => {
    const device = page.locator('#device-1');
    await context.setOffline(false);
    await expect
      .poll(() => text(device.locator('[data-test=pending]')), { timeout: 20_000 })
      .toBe('0 events waiting to sync');
    await expect
      .poll(() => text(page.locator('#log-list')))
      .toMatch(/Synced with the server\s*[1-9]\d* events? sent/);
    expect(await text(device.locator('[data-test=network]'))).toBe('Online');
    expect(await device.locator('[data-test=sync-error]').count()).toBe(0);
    await shot(page, '07-back-online-synced');
    expect(errors).toEqual([]);
  });

  it('does not let a clock set back revive the licence: the rollback is detected and the decision says so', async () => {
    const device = page.locator('#device-1');
    await device.getByRole('button', { name: 'Real time' }).click();
    await expect
      .poll(() => text(page.locator('#log-list')))
      .toMatch(
        /Clock rollback detected\s*The device clock was set back .+ against the SDK’s own count of time; decisions use the time it trusts/,
      );
    // Whatever the secure clock now trusts, the card shows one state: badge, decision and Play agree.
    const nightTrain = device.locator('li.license', { hasText: 'Night Train' });
    const decision = await text(nightTrain.locator('[data-test=decision]'));
    const badge = await text(nightTrain.locator('[data-test=status]'));
    const playable = await device.getByRole('button', { name: /^Play Night Train/ }).isEnabled();
    expect(
      decision.startsWith('Cannot play')
        ? [badge, playable]
        : decision.startsWith('Offline decision') && [badge, playable],
    ).toEqual(decision.startsWith('Cannot play') ? ['Time is up', false] : ['Ready to play', true]);
    await device.getByRole('button', { name: /^Download Quiet River/ }).click();
    await device.getByRole('button', { name: /^Play Quiet River/ }).click({ timeout: 15_000 });
    await expect.poll(() => text(page.locator('#log-list'))).toMatch(/Play Quiet River: allowed/);
    expect(await text(page.locator('#log-list'))).toMatch(/Play Quiet River: allowed\s*Can play until /);
    await shot(page, '08-clock-rollback');
    await device.getByRole('button', { name: /^Stop Quiet River/ }).click();
    expect(errors).toEqual([]);
  });

  it('labels every control and keeps text contrast at WCAG AA', async () => {
    expect(await unlabelledControls(page)).toEqual([]);
    expect(await contrastProblems(page)).toEqual([]);
    await shot(page, '08b-labels-and-contrast');
    expect(errors).toEqual([]);
  });
});

describe('the demo player at phone width, with the keyboard only', () => {
  let context: BrowserContext;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    context = await browser.newContext({
      viewport: { width: 360, height: 780 },
      isMobile: true,
      hasTouch: true,
    });
    ({ page, errors } = await openPlayer(
      context,
      `${server.url}/?transferMs=300#enrol=${server.enrolmentToken}`,
    ));
    await page.locator('#device-1').getByRole('button', { name: 'Sync now' }).waitFor();
  });

  afterAll(async () => {
    await context?.close();
  });

  it('fits 360 px without sideways scrolling and downloads a title from the keyboard', async () => {
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    let focused = '';
    for (let i = 0; i < 80 && !focused.startsWith('Download Paper Moon'); i++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? '');
    }
    expect(focused).toBe('Download Paper Moon');
    await page.keyboard.press('Enter');
    await page
      .locator('#device-1 li.license[data-status="downloaded"]', { hasText: 'Paper Moon' })
      .waitFor({ timeout: 15_000 });
    expect(await text(page.locator('#log-list'))).toContain('Licence issued for Paper Moon');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    expect(await unlabelledControls(page)).toEqual([]);
    expect(await contrastProblems(page)).toEqual([]);
    await page.locator('#device-1 li.license', { hasText: 'Paper Moon' }).scrollIntoViewIfNeeded();
    await shot(page, '13-phone-360');
    expect(errors).toEqual([]);
  });
});
