import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, openPlayer, type RunningServer, shot, startServer, text } from './harness.js';

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

const DATE = /\d{1,2} [A-Z][a-z]+( \d{4})?/.source;

describe('the demo player, several devices of one account', () => {
  let context: BrowserContext;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    ({ page, errors } = await openPlayer(
      context,
      `${server.url}/?transferMs=300#enrol=${server.enrolmentToken}`,
    ));
    await page.locator('#device-1').getByRole('button', { name: 'Sync now' }).waitFor();
  });

  afterAll(async () => {
    await context?.close();
  });

  const downloaded = (device: Locator, title: string) =>
    device.locator('li.license[data-status="downloaded"]', { hasText: title }).waitFor({ timeout: 45_000 });

  it('counts a renewal as a download and says how many are left this year', async () => {
    const device = page.locator('#device-1');
    await device.getByRole('button', { name: /^Download Harbour Lights/ }).click();
    await downloaded(device, 'Harbour Lights');
    await device.getByRole('button', { name: /^Renew Harbour Lights/ }).click();
    await expect.poll(() => text(page.locator('#log-list'))).toMatch(/Harbour Lights .*renewed/);
    const card = device.locator('li.title-card[data-title-id="harbour-lights"]');
    await expect
      .poll(() => text(card.locator('.allowance')))
      .toMatch(new RegExp(`^You can download this title 1 more time before ${DATE}$`));
    await shot(page, '09-allowance-after-renewal');
    expect(errors).toEqual([]);
  });

  it('registers a second device that takes the last download of the year; both devices show the same allowance at once and the first cannot renew', async () => {
    await page.getByRole('button', { name: 'Add a device' }).click();
    const second = page.locator('#device-2');
    await second.getByRole('button', { name: 'Sync now' }).waitFor({ timeout: 15_000 });
    await second.getByRole('button', { name: /^Download Harbour Lights/ }).click();
    await downloaded(second, 'Harbour Lights');

    // The first device has not synced since: its card still shows the account's allowance as the
    // second device's answer has it — one source for both.
    const first = page.locator('#device-1');
    const spent = new RegExp(`^No downloads of this title left until ${DATE}$`);
    const allowanceOf = (device: Locator) =>
      text(device.locator('li.title-card[data-title-id="harbour-lights"] .allowance'));
    await expect.poll(() => allowanceOf(second)).toMatch(spent);
    await expect.poll(() => allowanceOf(first)).toMatch(spent);
    expect(await allowanceOf(first)).toBe(await allowanceOf(second));

    // Renewing could only be refused: the button says why instead, and advises nothing it cannot do.
    const card = first.locator('li.license', { hasText: 'Harbour Lights' });
    const renew = first.getByRole('button', { name: /^Renew Harbour Lights/ });
    await expect.poll(() => renew.isDisabled()).toBe(true);
    const why = await text(card.locator('[data-test=why-renew]'));
    expect(why).toMatch(
      new RegExp(
        `^No downloads of this title are left this year \\(a renewal counts as one\\); the next frees up on ${DATE}\\.$`,
      ),
    );
    expect(await text(card)).not.toMatch(/download (it|the title) again|renew it/i);
    await shot(page, '10-second-device-took-the-last-download');
    expect(errors).toEqual([]);
  });

  it('does not advise renewing or downloading again when a licence runs out with the year’s downloads spent', async () => {
    const first = page.locator('#device-1');
    const card = first.locator('li.license', { hasText: 'Harbour Lights' });
    await first.getByRole('button', { name: /^Play Harbour Lights/ }).click();
    await first.getByRole('button', { name: /^Stop Harbour Lights/ }).click({ timeout: 15_000 });
    await first.getByRole('button', { name: /^Play Harbour Lights/ }).waitFor({ timeout: 15_000 });
    // Stopped as soon as it started: the stop is recorded, and nothing is logged as failed.
    await expect.poll(() => text(page.locator('#log-list'))).toMatch(/Stopped: Harbour Lights .* at 0:0\d/);
    expect(await text(page.locator('#log-list'))).not.toMatch(/Play Harbour Lights .* failed/);
    // 49 hours offline (online, the next sync would set the secure clock back to the server's time).
    await first.getByRole('button', { name: /^Network on/ }).click();
    await first.getByRole('button', { name: /move the clock forward 49 hours/ }).click();
    await expect.poll(() => text(card.locator('[data-test=status]'))).toBe('Time is up');
    const spent = `no downloads of this title are left this year \\(a renewal counts as one\\); the next frees up on ${DATE}\\.`;
    expect(await text(card.locator('[data-test=decision]'))).toMatch(
      new RegExp(`^Cannot play: The 48 hours to watch this title ended on .+\\. N${spent.slice(1)}$`),
    );
    expect(await text(card.locator('[data-test=why-playback]'))).toMatch(
      new RegExp(`^Its time is up: ${spent}$`),
    );
    const renew = first.getByRole('button', { name: /^Renew Harbour Lights/ });
    expect(await renew.isDisabled()).toBe(true);
    // Not for being offline: for the spent allowance, which going online does not change.
    expect(await text(card.locator('[data-test=why-renew]'))).toMatch(new RegExp(`^N${spent.slice(1)}$`));
    expect(await first.getByRole('button', { name: /^Delete Harbour Lights/ }).isEnabled()).toBe(true);
    expect(await text(card)).not.toMatch(/renew it|download (it|the title) again/i);
    await shot(page, '10b-time-up-with-the-allowance-spent');
    // Back to real time and the server's clock, for the tests that follow.
    await first.getByRole('button', { name: 'Real time' }).click();
    await first.getByRole('button', { name: /^Network off/ }).click();
    await first.getByRole('button', { name: 'Sync now' }).click();
    await expect
      .poll(() => text(card.locator('[data-test=status]')), { timeout: 15_000 })
      .toBe('Ready to play');
    expect(errors).toEqual([]);
  });

  it('refuses a third device while two devices hold downloads, in the plan’s words', async () => {
    await page.getByRole('button', { name: 'Add a device' }).click();
    const third = page.locator('#device-3');
    await third.getByRole('button', { name: 'Sync now' }).waitFor({ timeout: 15_000 });
    await third.getByRole('button', { name: /^Download Quiet River/ }).click();
    const refusal = third.locator('li.title-card[data-title-id="quiet-river"] [data-test=refusal]');
    await refusal.waitFor();
    expect(await text(refusal)).toBe(
      'Your plan allows downloads on 2 devices at once. Delete the downloads on another device to download here.',
    );
    expect(await text(page.locator('#log-list'))).toContain('Download of Quiet River refused (DEVICE_LIMIT)');
    await third.scrollIntoViewIfNeeded();
    await shot(page, '11-device-limit');
    expect(errors).toEqual([]);
  });

  it('shows the licences of a device deactivated from another device as revoked after its next sync', async () => {
    const second = page.locator('#device-2');
    await second.getByRole('button', { name: 'Sync now' }).click();
    await second
      .getByRole('button', { name: /^Deactivate Living-room laptop \(device 1 in this page\)/ })
      .click();
    await page.getByRole('dialog').getByRole('button', { name: 'Deactivate' }).click();
    await expect.poll(() => text(page.locator('#log-list'))).toContain('Deactivated Living-room laptop');

    const first = page.locator('#device-1');
    await first.getByRole('button', { name: 'Sync now' }).click();
    const license = first.locator('li.license', { hasText: 'Harbour Lights' });
    await expect.poll(() => text(license.locator('[data-test=status]')), { timeout: 15_000 }).toBe('Revoked');
    expect(await text(license)).toContain('Revoked: this device was deactivated.');
    expect(await first.getByRole('button', { name: /^Play Harbour Lights/ }).count()).toBe(0);
    expect(await text(first.locator('.chips'))).toContain('Deactivated');
    await expect
      .poll(() => text(page.locator('#log-list')))
      .toMatch(/Harbour Lights \(3 downloads a year\): revoked/);
    await shot(page, '12-revoked-after-deactivation');

    // The slot it held is free again: the third device may now download.
    const third = page.locator('#device-3');
    await third.getByRole('button', { name: /^Download Quiet River/ }).click();
    await downloaded(third, 'Quiet River');
    expect(errors).toEqual([]);
  });

  it('deletes a download: the licence is released and the title can be downloaded again', async () => {
    const third = page.locator('#device-3');
    await third.getByRole('button', { name: /^Delete Quiet River/ }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    const license = third.locator('li.license', { hasText: 'Quiet River' });
    await expect.poll(() => text(license.locator('[data-test=status]'))).toBe('Deleted');
    await third.getByRole('button', { name: 'Sync now' }).click();
    await expect.poll(() => text(third.locator('[data-test=pending]'))).toBe('0 events waiting to sync');
    expect(await text(license)).toContain('Deleted from this device; its download slot is free again.');
    await third.getByRole('button', { name: /^Download Quiet River/ }).waitFor();
    await shot(page, '12b-deleted-download-again');
    expect(errors).toEqual([]);
  });

  it('fails to sync while a device’s own network is switched off, and catches up when it is back', async () => {
    const second = page.locator('#device-2');
    await second.getByRole('button', { name: 'Network on' }).click();
    await expect
      .poll(() => text(second.locator('[data-test=network]')))
      .toBe('Offline (network switched off)');
    await second.getByRole('button', { name: /^Download Paper Moon/ }).click();
    await expect
      .poll(() => text(second.locator('li.title-card[data-title-id="paper-moon"] [data-test=refusal]')))
      .toMatch(/^Could not download: the server cannot be reached/);
    await second.getByRole('button', { name: 'Sync now' }).click();
    await expect
      .poll(() => text(page.locator('#log-list')))
      .toMatch(/Sync failed\s*the server cannot be reached/);
    await shot(page, '14-device-network-off');
    await second.getByRole('button', { name: 'Network off' }).click();
    await expect.poll(() => text(second.locator('[data-test=network]'))).toBe('Online');
    await expect.poll(() => text(page.locator('#log-list .entry').first())).toMatch(/Synced with the server/);
    await expect.poll(() => second.locator('[data-test=sync-error]').count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('opens one device in a tab of its own (?device=2), sharing its IndexedDB with the first tab', async () => {
    const tab = await openPlayer(context, `${server.url}/?device=2`);
    const second = tab.page.locator('#device-2');
    await second.locator('li.license[data-status="downloaded"]', { hasText: 'Harbour Lights' }).waitFor();
    expect(await tab.page.locator('#device-1').count()).toBe(0);
    expect(await text(second.locator('.device-name'))).toBe('· Phone');
    await shot(tab.page, '15-device-in-its-own-tab');
    await tab.page.close();
    expect(tab.errors).toEqual([]);
    expect(errors).toEqual([]);
  });
});
