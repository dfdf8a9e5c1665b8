import type { WhatIfAccountResponse, WhatIfResponse } from '@satchel/protocol';
import { DEVELOPMENT_TOKEN_SECRET, Tokens } from '@satchel/server';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  callApi,
  launchChromium,
  type RunningServer,
  shot,
  startServer,
  text,
  unlabelledControls,
  uuidv7,
} from './harness.js';

let server: RunningServer;
let browser: Browser;
const tokens = new Tokens(DEVELOPMENT_TOKEN_SECRET);
let adminToken: string;

const call = (method: string, path: string, token: string, body?: unknown) =>
  callApi(server.url, method, path, token, body);

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

/**
 * Lane names and details of the what-if drawings that reach into the drawing: past the label column's
 * rule, or over a mark or a span; and drawings wider than their column (read only by scrolling sideways).
 */
function labelsOverDrawings(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    const meets = (a: DOMRect, b: DOMRect) =>
      a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
    for (const svg of document.querySelectorAll<SVGSVGElement>('.what-if-account svg')) {
      const id = svg.closest('.timeline')?.id;
      const box = svg.getBoundingClientRect();
      const host = svg.parentElement as HTMLElement;
      if (host.scrollWidth > host.clientWidth + 1 || box.right > document.documentElement.clientWidth) {
        problems.push(`${id}: ${Math.round(box.width)} px drawn in a ${host.clientWidth} px column`);
      }
      const scale = box.width / Number(svg.getAttribute('width'));
      const rule = box.left + (Number(svg.dataset.x0) - 8) * scale;
      const drawing = [
        ...svg.querySelectorAll('g.mark, g.mark-group, g.lane > rect:not(:first-of-type)'),
      ].map((e) => e.getBoundingClientRect());
      const labels = svg.querySelectorAll('g.lane > text');
      if (labels.length === 0) problems.push(`${id}: no lane labels`);
      for (const label of labels) {
        const r = label.getBoundingClientRect();
        const name = `${id}: "${label.textContent}"`;
        if (r.right > rule + 0.5) problems.push(`${name} ends at ${r.right}, the label column at ${rule}`);
        if (drawing.some((d) => meets(r, d))) problems.push(`${name} is drawn over a mark`);
      }
    }
    return problems;
  });
}

/** Waits for the frames in which a drawing takes its column's width. */
const settled = (page: Page) =>
  page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));

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
    await settled(page);
    expect(await labelsOverDrawings(page)).toEqual([]);
    await shot(page, 'console-what-if-account');
    expect(errors).toEqual([]);
    await context.close();
  });

  it('What if, compared on a 540 px wide screen: the two timelines one above the other, no lane label over the drawing', async () => {
    const context = await browser.newContext({ viewport: { width: 540, height: 1000 } });
    const { page, errors } = await signIn(context);
    const change = { titles: { 'quiet-river': { playbackDurationSec: 86_400 } } };
    await page.goto(
      `${server.url}/console#/what-if/the-okafors?change=${encodeURIComponent(JSON.stringify(change))}`,
    );
    await page.locator('#timeline-actual svg').waitFor();
    await page.locator('#timeline-proposed svg').waitFor();
    await settled(page);
    // The account, its two devices (named, with their ids) and their two licences, in each drawing.
    expect(await page.locator('#timeline-actual g.lane').count()).toBe(5);
    expect(await labelsOverDrawings(page)).toEqual([]);
    const [a, p] = await Promise.all([
      page.locator('#timeline-actual').boundingBox(),
      page.locator('#timeline-proposed').boundingBox(),
    ]);
    expect(a && p && p.y >= a.y + a.height).toBe(true);
    await shot(page, 'console-what-if-account-540');
    expect(errors).toEqual([]);
    await context.close();
  });

  it("What if by plan: one download device, run from the console, answers as the admin API does, totals and one account's drill-down", async () => {
    const change = { plans: { standard: { maxDownloadDevices: 1 } } };
    const report: WhatIfResponse = await call('POST', '/v1/admin/what-if', adminToken, change);
    // The Okafors' second device could not have taken its copy of Quiet River; the Lindqvists have one device.
    expect(report.totals.accountsAffected).toBe(1);
    expect(report.totals.refusedGrants).toEqual({ total: 1, byCode: { DEVICE_LIMIT: 1 } });

    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    const { page, errors } = await signIn(context);
    await page.getByRole('link', { name: 'What if' }).click();
    await page.locator('#what-if-form').waitFor();
    await page.locator('#what-if-kind').selectOption('plan');
    expect(await page.locator('#what-if-title').isHidden()).toBe(true);
    await page.getByRole('textbox', { name: 'Plan id' }).fill('standard');
    await page.locator('#what-if-fields').fill('maxDownloadDevices=1');
    expect(await unlabelledControls(page)).toEqual([]);
    await page.getByRole('button', { name: 'Run' }).click();
    await page.locator('#what-if-totals').waitFor({ timeout: 60_000 });
    const t = report.totals;
    expect(await text(page.locator('#what-if-status'))).toBe(
      `Done: ${t.accountsScanned} accounts replayed. Nothing was written.`,
    );
    expect(await text(page.locator('#what-if-results h2').first())).toBe(
      'plan standard: maxDownloadDevices=1',
    );
    const rows = await page
      .locator('#what-if-totals tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(rows.map((r) => r.slice(0, 2))).toEqual([
      ['Accounts scanned', String(t.accountsScanned)],
      ['Accounts affected', String(t.accountsAffected)],
      ['Grants that would be refused', String(t.refusedGrants.total)],
      ['Renewals that would be refused', String(t.refusedRenewals.total)],
      ['Refused requests that would be granted', String(t.newGrants)],
      ['Licences expiring earlier', String(t.expiresEarlier.licences)],
      ['Licences expiring later', String(t.expiresLater.licences)],
    ]);
    expect(rows[2]?.[2]).toBe('DEVICE_LIMIT 1');
    const accounts = await page
      .locator('#what-if-accounts tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(accounts.map((r) => r.slice(0, 6))).toEqual(
      report.accounts.map((x) =>
        [x.accountId, x.refusedGrants, x.refusedRenewals, x.newGrants, x.expiresEarlier, x.expiresLater].map(
          String,
        ),
      ),
    );
    await shot(page, 'console-what-if-plan');

    await page
      .locator('#what-if-accounts tbody tr', { hasText: 'the-okafors' })
      .getByRole('link', { name: 'Compare timelines' })
      .click();
    await page.locator('#timeline-proposed svg').waitFor();
    const detail: WhatIfAccountResponse = await call(
      'POST',
      '/v1/admin/what-if/accounts/the-okafors',
      adminToken,
      change,
    );
    expect(detail.refusedGrants).toHaveLength(1);
    const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
    expect(await page.locator('#what-if-differences li').allInnerTexts()).toEqual(
      detail.refusedGrants.map(
        (g) => `Grant of Quiet River on ${g.deviceId} at ${iso(g.at)} would be refused: ${g.code}`,
      ),
    );
    // One licence lane per licence each history holds: the refused one is in the recorded history only.
    const issued = (events: WhatIfAccountResponse['actualEvents'] = []) =>
      events.filter((e) => e.type === 'LicenseIssued').length;
    expect(await page.locator('#timeline-actual g.lane-license').count()).toBe(issued(detail.actualEvents));
    expect(await page.locator('#timeline-proposed g.lane-license').count()).toBe(
      issued(detail.proposedEvents),
    );
    expect(issued(detail.proposedEvents)).toBe(issued(detail.actualEvents) - 1);
    await settled(page);
    expect(await labelsOverDrawings(page)).toEqual([]);
    await shot(page, 'console-what-if-plan-account');
    expect(errors).toEqual([]);
    await context.close();
  });
});
