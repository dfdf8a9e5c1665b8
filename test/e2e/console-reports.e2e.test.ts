import { randomBytes } from 'node:crypto';
import { DEVELOPMENT_TOKEN_SECRET, Tokens } from '@satchel/server';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type RunningServer, shot, startServer, text } from './harness.js';

let server: RunningServer;
let browser: Browser;
const tokens = new Tokens(DEVELOPMENT_TOKEN_SECRET);
let adminToken: string;

function uuidv7(): string {
  const b = randomBytes(16);
  const ms = BigInt(Date.now());
  for (let i = 0; i < 6; i++) b[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x70;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

async function call(method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: the test reads answers loosely
  const json: any = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

// Two households each download the demo catalogue's "Quiet River" (Riverbank Studio, a 48 h playback
// window) and play it; one also downloads it on a second device and never plays that copy.
const households = ['the-okafors', 'the-lindqvists'];

beforeAll(async () => {
  server = await startServer();
  browser = await launchChromium();
  adminToken = (await tokens.mint({ kind: 'operator', operatorId: 'admin@example.com', role: 'admin' }))
    .token;
  for (const [n, accountId] of households.entries()) {
    await call('POST', '/v1/admin/accounts', adminToken, { accountId, name: accountId });
    const accountToken = (await tokens.mint({ kind: 'account', accountId })).token;
    const devices = n === 0 ? ['Tablet', 'Phone'] : ['Laptop'];
    for (const [d, name] of devices.entries()) {
      const device = await call('POST', '/v1/devices', accountToken, { name });
      const granted = await call('POST', '/v1/licenses', device.token, { titleId: 'quiet-river' });
      if (d > 0) continue;
      // Played just after the grant (a device event is never dated before its licence's issue).
      const at = Date.now();
      const event = (seq: number, type: string, data: Record<string, unknown>) => ({
        eventId: uuidv7(),
        seq,
        type,
        v: 1,
        occurredAt: at,
        trustedAt: at,
        data: { licenseId: granted.license.licenseId, deviceId: device.deviceId, at, ...data },
      });
      await call('POST', '/v1/sync', device.token, {
        protocolVersion: 1,
        deviceId: device.deviceId,
        snapshotVersion: null,
        events: [event(1, 'DownloadCompleted', {}), event(2, 'PlaybackStarted', { positionMs: 0 })],
      });
    }
  }
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

async function signIn(context: BrowserContext): Promise<{ page: Page; errors: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`${r.status()} ${r.request().method()} ${r.url()}`);
  });
  await page.goto(`${server.url}/console`);
  await page.locator('#token').fill(adminToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('header .who').waitFor();
  return { page, errors };
}

describe('the operator console: reports and what-if', () => {
  it('Reports: the studio accounting the server keeps, drawn per month, with the projection lag', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const { page, errors } = await signIn(context);
    const month = new Date().toISOString().slice(0, 7);
    const row = page.locator('#report-table tbody tr', { hasText: 'quiet-river' });
    // The server's runner catches up in the background: reload the page until the row is there.
    await expect
      .poll(
        async () => {
          await page.goto(`${server.url}/console#/reports`);
          await page.locator('section.reports').waitFor();
          return row.count();
        },
        { timeout: 60_000, interval: 1000 },
      )
      .toBe(1);
    const cells = await row.locator('td').allInnerTexts();
    // Studio, title, month, issued 3 (three devices), renewed, released, revoked, expired, refused, accounts 2, devices 3.
    expect(cells.slice(0, 4)).toEqual(['Riverbank Studio', 'quiet-river', month, '3']);
    expect(cells.slice(9, 11)).toEqual(['2', '3']);
    await page.locator('#studio-chart canvas').waitFor();
    await expect
      .poll(() => text(page.locator('#report-lag')))
      .toMatch(/studio-accounting \(generation 1, live\): 0 events/);
    // The chart's legend names every measure.
    expect(await text(page.locator('#studio-chart'))).toMatch(
      /Issued.*Renewed.*Released.*Expired.*Active at month end/s,
    );
    await shot(page, 'console-reports');
    expect(errors).toEqual([]);
    await context.close();
  });

  it("What if: a 24 h playback window shows the progress and the totals, and one account's two timelines side by side", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    const { page, errors } = await signIn(context);
    await page.getByRole('link', { name: 'What if' }).click();
    await page.locator('#what-if-form').waitFor();
    await page.locator('#what-if-title').selectOption('quiet-river');
    await page.locator('#what-if-fields').fill('playbackDurationSec=86400');
    await page.getByRole('button', { name: 'Run' }).click();
    await page.locator('#what-if-totals').waitFor({ timeout: 60_000 });
    expect(await text(page.locator('#what-if-status'))).toMatch(/Done: 2 accounts replayed/);
    expect(
      await page.locator('#what-if-progress').evaluate((p: HTMLProgressElement) => [p.value, p.max]),
    ).toEqual([2, 2]);
    const earlier = page.locator('#what-if-totals tr', { hasText: 'Licences expiring earlier' });
    // The two played licences end 24 h after their first playback instead of 48 h; the unplayed one is untouched.
    expect(await earlier.locator('td').allInnerTexts()).toEqual([
      'Licences expiring earlier',
      '2',
      '2 (48.0 h in all, at most 24.0 h)',
    ]);
    expect(await page.locator('#what-if-accounts tbody tr').count()).toBe(2);
    await shot(page, 'console-what-if');

    await page
      .locator('#what-if-accounts tbody tr', { hasText: 'the-okafors' })
      .getByRole('link', { name: 'Compare timelines' })
      .click();
    await page.locator('#timeline-actual svg').waitFor();
    await page.locator('#timeline-proposed svg').waitFor();
    expect(await text(page.locator('#what-if-differences'))).toMatch(
      /Licence of Quiet River would expire earlier by 24\.0 h/,
    );
    // Side by side: the two drawings share a row.
    const [a, p] = await Promise.all([
      page.locator('#timeline-actual').boundingBox(),
      page.locator('#timeline-proposed').boundingBox(),
    ]);
    expect(a && p && Math.abs(a.y - p.y) < 2 && p.x > a.x + (a.width ?? 0) - 2).toBe(true);
    await shot(page, 'console-what-if-account');
    expect(errors).toEqual([]);
    await context.close();
  });
});
