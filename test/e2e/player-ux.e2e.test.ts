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

/** The badge of the newest log entry whose title matches. */
const badgeOf = (page: Page, title: RegExp) =>
  text(
    page
      .locator('#log-list li')
      .filter({ has: page.locator('.entry-title', { hasText: title }) })
      .first()
      .locator('.badge'),
  );

describe('the demo player, as a new user meets it', () => {
  let context: BrowserContext;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    ({ page, errors } = await openPlayer(context, `${server.url}/`));
  });

  afterAll(async () => {
    await context?.close();
  });

  it('enrols in one click from / on a development server', async () => {
    const device = page.locator('#device-1');
    await device.getByRole('button', { name: 'Enrol in the demo account' }).click({ timeout: 20_000 });
    await device.getByRole('button', { name: 'Sync now' }).waitFor({ timeout: 20_000 });
    expect(await text(page.locator('#log-list'))).toContain('Registered as');
    await shot(page, 'ux-01-one-click-enrolment');
    expect(errors).toEqual([]);
  });

  it('labels log entries for what they are: clock steps and rollbacks as Clock, network changes as Network, a failed sync once', async () => {
    const device = page.locator('#device-1');
    await device.getByRole('button', { name: /move the clock forward 1 day/ }).click();
    // The page says plainly what keeps time after the move.
    await expect
      .poll(() => text(device.locator('[data-test=clock-explained]')))
      .toMatch(/^The server keeps real time\. The SDK’s secure clock now trusts /);
    await device.getByRole('button', { name: 'Real time' }).click();
    await expect.poll(() => badgeOf(page, /^1 day pass on the device$/)).toBe('Clock');
    await device.getByRole('button', { name: /^Network on/ }).click();
    await expect.poll(() => badgeOf(page, /^Network switched off$/)).toBe('Network');
    await device.getByRole('button', { name: 'Sync now' }).click();
    await expect.poll(() => badgeOf(page, /^Sync failed$/)).toBe('Failed');
    await page.waitForTimeout(1500);
    const log = await text(page.locator('#log-list'));
    expect(log.match(/Sync failed/g)).toHaveLength(1);
    expect(log).not.toContain('Background sync failed');
    expect(await page.locator('#log-list .badge', { hasText: 'Refused' }).count()).toBe(0);
    await device.getByRole('button', { name: /^Network off/ }).click();
    await shot(page, 'ux-02-log-labels');
    expect(errors).toEqual([]);
  });

  it('asks before deleting a download; Cancel keeps it and its bytes', async () => {
    const device = page.locator('#device-1');
    await device.getByRole('button', { name: /^Download Paper Moon/ }).click();
    await device
      .locator('li.license[data-status="downloaded"]', { hasText: 'Paper Moon' })
      .waitFor({ timeout: 30_000 });
    await device.getByRole('button', { name: /^Delete Paper Moon/ }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await text(dialog)).toContain('Delete Paper Moon?');
    await shot(page, 'ux-03-confirm-delete');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(
      await device.locator('li.license[data-status="downloaded"]', { hasText: 'Paper Moon' }).count(),
    ).toBe(1);
    expect((await shakaStored(page)).items).toHaveLength(1);
    await device.getByRole('button', { name: /^Delete Paper Moon/ }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await device
      .locator('li.license[data-status="released"]', { hasText: 'Paper Moon' })
      .waitFor({ timeout: 15_000 });
    await expect.poll(async () => (await shakaStored(page)).items).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('disables Download when the yearly allowance is spent and says when the next one frees up', async () => {
    const device = page.locator('#device-1');
    const card = device.locator('li.title-card[data-title-id="harbour-lights"]');
    for (let i = 0; i < 3; i++) {
      await card.getByRole('button', { name: /^Download Harbour Lights/ }).click();
      const license = device.locator('li.license[data-status="downloaded"]', { hasText: 'Harbour Lights' });
      await license.waitFor({ timeout: 30_000 });
      await device.getByRole('button', { name: /^Delete Harbour Lights/ }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
      await device.getByRole('button', { name: 'Sync now' }).click();
      await expect
        .poll(() =>
          device.locator('li.license[data-status="downloaded"]', { hasText: 'Harbour Lights' }).count(),
        )
        .toBe(0);
    }
    const download = card.getByRole('button', { name: /^Download Harbour Lights/ });
    await expect.poll(() => download.isDisabled(), { timeout: 15_000 }).toBe(true);
    expect(await text(card.locator('[data-test=why-download]'))).toMatch(
      /^No downloads left: the next one frees up on /,
    );
    expect(await text(card)).not.toContain('download it again');
    await shot(page, 'ux-04-allowance-spent');
    expect(errors).toEqual([]);
  });

  it('asks before Start over, deactivates this page’s devices on the server and enrols again without the token', async () => {
    const before = await devicesOnServer();
    const mine = before.filter((d) => d.status === 'active').map((d) => d.deviceId);
    expect(mine.length).toBeGreaterThan(0);
    await page.getByRole('button', { name: 'Start over' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Start over' }).click();
    await page.waitForLoadState('load');
    await page.locator('#device-1').getByRole('button', { name: 'Sync now' }).waitFor({ timeout: 30_000 });
    const after = await devicesOnServer();
    for (const id of mine) expect(after.find((d) => d.deviceId === id)?.status).toBe('deactivated');
    expect(after.filter((d) => d.status === 'active')).toHaveLength(1);
    await shot(page, 'ux-05-start-over');
    expect(errors).toEqual([]);
  });
});

async function devicesOnServer(): Promise<{ deviceId: string; status: string }[]> {
  const res = await fetch(`${server.url}/v1/devices`, {
    headers: { authorization: `Bearer ${server.enrolmentToken}` },
  });
  return ((await res.json()) as { devices: { deviceId: string; status: string }[] }).devices;
}
