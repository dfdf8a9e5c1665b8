import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { DEVELOPMENT_TOKEN_SECRET, Tokens } from '@satchel/server';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  callApi,
  launchChromium,
  ROOT,
  type RunningServer,
  shot,
  startServer,
  text,
  uuidv7,
} from './harness.js';

let server: RunningServer;
let browser: Browser;
const tokens = new Tokens(DEVELOPMENT_TOKEN_SECRET);
let adminToken: string;
let supportToken: string;

const call = (method: string, path: string, token: string, body?: unknown) =>
  callApi(server.url, method, path, token, body);

const member = {
  accountId: 'support-case',
  deviceId: '',
  licenseId: '',
  playedAt: 0,
  observedAt: 0,
};

beforeAll(async () => {
  server = await startServer();
  browser = await launchChromium();
  adminToken = (await tokens.mint({ kind: 'operator', operatorId: 'admin@example.com', role: 'admin' }))
    .token;
  supportToken = (
    await tokens.mint({ kind: 'operator', operatorId: 'helpdesk@example.com', role: 'support' })
  ).token;

  // The member's story: a title with a 2-second viewing window, downloaded, played, and seen to expire offline.
  await call('PUT', '/v1/admin/catalogue/quick-rental', adminToken, {
    name: 'Quick Rental',
    policy: { playbackDurationSec: 2 },
  });
  await call('POST', '/v1/admin/accounts', adminToken, { accountId: member.accountId, name: 'The Parkers' });
  const accountToken = (await tokens.mint({ kind: 'account', accountId: member.accountId })).token;
  const device = await call('POST', '/v1/devices', accountToken, { name: 'Tablet' });
  member.deviceId = device.deviceId;
  const granted = await call('POST', '/v1/licenses', device.token, { titleId: 'quick-rental' });
  member.licenseId = granted.license.licenseId;
  const envelope = (seq: number, type: string, data: Record<string, unknown>, at: number) => ({
    eventId: uuidv7(),
    seq,
    type,
    v: 1,
    occurredAt: at,
    trustedAt: at,
    data: { licenseId: member.licenseId, deviceId: member.deviceId, at, ...data },
  });
  const sync = (events: unknown[]) =>
    call('POST', '/v1/sync', device.token, {
      protocolVersion: 1,
      deviceId: member.deviceId,
      snapshotVersion: null,
      events,
    });
  member.playedAt = Date.now();
  await sync([
    envelope(1, 'DownloadCompleted', {}, member.playedAt),
    envelope(2, 'PlaybackStarted', { positionMs: 0 }, member.playedAt),
  ]);
  await new Promise((r) => setTimeout(r, 2500));
  member.observedAt = Date.now();
  await sync([envelope(3, 'LicenseExpiryObserved', { reason: 'PLAYBACK_WINDOW' }, member.observedAt)]);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

async function signIn(context: BrowserContext, token: string): Promise<{ page: Page; errors: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}/console`);
  await page.locator('#token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('header .who').waitFor();
  return { page, errors };
}

describe('the operator console', () => {
  it('refuses a device token at sign-in', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${server.url}/console`);
    await shot(page, 'console-sign-in');
    await page.locator('#token').fill(server.enrolmentToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect
      .poll(() => text(page.locator('#sign-in .error')))
      .toMatch(/Not signed in: The admin API needs an operator token/);
    await context.close();
  });

  it('support scenario: a title stopped playing offline — the console and `satchel state --json` name the rule and the event', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    const { page, errors } = await signIn(context, supportToken);
    await page.locator('#account-search').fill('parkers');
    await page.getByRole('button', { name: 'Find' }).click();
    await page.getByRole('link', { name: member.accountId }).click();
    await page.locator('#timeline svg').waitFor();

    // Scrub to the instant the member played: the licence plays, bound by its playback window.
    await page.locator('#instant').fill(new Date(member.playedAt + 1000).toISOString().slice(0, 19));
    await page.locator('#instant').dispatchEvent('change');
    const licence = page.locator(`#state li.licence[data-license-id="${member.licenseId}"]`);
    await expect.poll(() => text(licence)).toMatch(/downloaded/);
    expect(await text(licence)).toMatch(/· playable/);

    // Scrub to the end (when the member called): it stopped, and the console says which rule and which event.
    await page.locator('.satchel-timeline-host').focus();
    await page.keyboard.press('End');
    await expect.poll(() => text(licence.locator('.status'))).toBe('expired (PLAYBACK_WINDOW)');
    expect(await text(licence.locator('.rule'))).toMatch(
      /bound by PLAYBACK_WINDOW: playback window: 2 s after the first playback/,
    );
    const playRef = licence.locator('.because .ref', { hasText: 'PlaybackStarted' });
    const consoleEventId = await playRef.getAttribute('data-event-id');
    expect(consoleEventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await text(licence.locator('.because'))).toMatch(/LicenseExpiryObserved/);
    expect(await page.locator('.mark-first-play').count()).toBe(1);
    expect(await page.locator('.mark-observed').count()).toBe(1);
    expect(await page.locator('#plan-form').count()).toBe(0);
    await shot(page, 'console-support-scenario');

    // Scrub to the start: before the licence existed.
    await page.keyboard.press('Home');
    await expect
      .poll(() => page.locator(`#state li.licence[data-license-id="${member.licenseId}"]`).count())
      .toBe(0);

    // The same answer from the CLI, over the running server's admin API.
    const at = new Date(member.observedAt + 500).toISOString();
    const cli = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(
        join(ROOT, 'node_modules', '.bin', 'tsx'),
        [
          '--tsconfig',
          'apps/sync-server/tsconfig.json',
          'apps/sync-server/src/cli.ts',
          'state',
          member.accountId,
          '--at',
          at,
          '--json',
          '--server',
          server.url,
        ],
        {
          cwd: ROOT,
          env: { ...process.env, SATCHEL_OPERATOR_TOKEN: supportToken },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
    expect(cli.code).toBe(0);
    expect(cli.stderr).toContain(`via server ${server.url}`);
    const state = JSON.parse(cli.stdout);
    const explained = state.licenses.find((l: { licenseId: string }) => l.licenseId === member.licenseId);
    expect(explained).toMatchObject({
      status: 'expired',
      statusReason: 'PLAYBACK_WINDOW',
      bound: 'PLAYBACK_WINDOW',
      playable: false,
    });
    expect(explained.rule).toMatch(
      /playback window: 2 s after the first playback \(policy.playbackDurationSec\)/,
    );
    const play = explained.setBy.find((r: { type: string }) => r.type === 'PlaybackStarted');
    expect(play.eventId).toBe(consoleEventId);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('lets an admin change a policy and a plan, each after a confirmation', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const { page, errors } = await signIn(context, adminToken);
    await page.getByRole('link', { name: 'Catalogue' }).click();
    await page.locator('#policy-form').waitFor();
    await page.locator('#policy-title').selectOption('quick-rental');
    await page.locator('#policy-field').selectOption('playbackDurationSec');
    await page.locator('#policy-value').fill('3600');
    await page.getByRole('button', { name: 'Change policy…' }).click();
    const dialog = page.locator('dialog.confirm');
    await dialog.waitFor();
    expect(await text(dialog)).toMatch(/Change playbackDurationSec of quick-rental\?/);
    await shot(page, 'console-policy-confirmation');
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    const row = page.locator('table.titles tr', { hasText: 'quick-rental' });
    await expect.poll(() => text(row)).toMatch(/Quick Rental2\d{4}-.*Z2592000259200036002592000/);
    await page.locator('#versions-title').selectOption('quick-rental');
    await page.getByRole('button', { name: 'Show versions' }).click();
    await expect.poll(() => page.locator('table.versions tbody tr').count()).toBe(2);
    expect(await text(page.locator('table.versions tbody tr').nth(1))).toMatch(
      /^2\d{4}-.*Zadmin@example.com/,
    );

    await page.locator('#withdraw-title').selectOption('paper-moon');
    await page.locator('#withdraw-at').fill('2030-01-01T00:00:00');
    await page.getByRole('button', { name: 'Withdraw…' }).click();
    expect(await text(page.locator('dialog.confirm'))).toMatch(
      /paper-moon leaves the catalogue at 2030-01-01T00:00:00Z/,
    );
    await page.locator('dialog.confirm').getByRole('button', { name: 'Confirm' }).click();
    await expect
      .poll(() => text(page.locator('#withdraw-form + .status-line')))
      .toMatch(/paper-moon leaves the catalogue at 2030-01-01T00:00:00Z: \d+ accounts, 0 licences revoked/);
    await shot(page, 'console-catalogue');

    await page.getByRole('link', { name: 'Accounts' }).click();
    await page.locator('#create-account input[name="accountId"]').fill('console-made');
    await page.locator('#create-account input[name="name"]').fill('Made in the console');
    await page.getByRole('button', { name: 'Create' }).click();
    await expect
      .poll(() => text(page.locator('section.account h1')))
      .toBe('Made in the console console-made');

    await page.goto(`${server.url}/console#/accounts/${member.accountId}`);
    await page.locator('#plan-form').waitFor();
    await page.locator('#plan-form input[name="planId"]').fill('solo');
    await page.locator('#plan-form input[name="devices"]').fill('1');
    await page.getByRole('button', { name: 'Change plan…' }).click();
    await page.locator('dialog.confirm').getByRole('button', { name: 'Cancel' }).click();
    expect(await text(page.locator('section.account > p').first())).toMatch(/Plan standard/);
    await page.getByRole('button', { name: 'Change plan…' }).click();
    await page.locator('dialog.confirm').getByRole('button', { name: 'Confirm' }).click();
    await expect
      .poll(() => text(page.locator('section.account > p').first()))
      .toMatch(/Plan solo: 1 download devices/);

    // The history, filtered by type; then deactivating the device, after a confirmation.
    await page.locator('#history-type').selectOption('PlaybackStarted');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => page.locator('table.history tbody tr').count()).toBe(1);
    expect(await text(page.locator('table.history tbody tr'))).toContain(`"licenseId":"${member.licenseId}"`);
    await page.locator(`button[data-device-id="${member.deviceId}"]`).click();
    await page.locator('dialog.confirm').getByRole('button', { name: 'Confirm' }).click();
    await expect
      .poll(() => text(page.locator('table.devices tbody tr').first()))
      .toMatch(/Tabletdeactivated/);
    await shot(page, 'console-account-admin');
    expect(errors).toEqual([]);
    await context.close();
  });

  it('lets an admin mint an operator token with a role and lifetime, shown once; a support token cannot', async () => {
    const supportContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const support = await signIn(supportContext, supportToken);
    await support.page.getByRole('link', { name: 'Operators' }).click();
    await expect
      .poll(() => text(support.page.locator('#mint-refused')))
      .toBe('Only an admin can mint operator tokens.');
    expect(await support.page.locator('#mint-form').count()).toBe(0);
    expect(support.errors).toEqual([]);
    await supportContext.close();

    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    const { page, errors } = await signIn(context, adminToken);
    await page.getByRole('link', { name: 'Operators' }).click();
    await page.locator('#mint-form input[name="operatorId"]').fill('night-shift@example.com');
    await page.locator('#mint-role').selectOption('support');
    await page.locator('#mint-ttl').selectOption(String(86_400));
    await page.getByRole('button', { name: 'Mint token…' }).click();
    await page.locator('dialog.confirm').getByRole('button', { name: 'Cancel' }).click();
    expect(await page.locator('#minted-token-value').count()).toBe(0);
    const before = Date.now();
    await page.getByRole('button', { name: 'Mint token…' }).click();
    expect(await text(page.locator('dialog.confirm'))).toMatch(
      /Mint a support token for night-shift@example.com\?It is valid for 1 day\./,
    );
    await page.locator('dialog.confirm').getByRole('button', { name: 'Confirm' }).click();
    await page.locator('#minted-token-value').waitFor();
    const minted = await page.locator('#minted-token-value').inputValue();
    const status = await text(page.locator('#mint-form + .status-line'));
    expect(status).toMatch(/^Minted a support token for night-shift@example.com, valid until (\S+)Z\./);
    const until = Date.parse(/valid until (\S+Z)/.exec(status)?.[1] ?? '');
    expect(until - before).toBeGreaterThan(86_400_000 - 60_000);
    expect(until - before).toBeLessThan(86_400_000 + 60_000);
    await page.getByRole('button', { name: 'Copy' }).click();
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(minted);
    await shot(page, 'console-mint-token');
    expect(errors).toEqual([]);
    await context.close();

    // The minted token signs in, with the chosen role.
    const mintedContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const signedIn = await signIn(mintedContext, minted);
    expect(await text(signedIn.page.locator('header .who'))).toMatch(/^night-shift@example.com \(support\)/);
    await signedIn.page.getByRole('link', { name: 'Catalogue' }).click();
    await signedIn.page.locator('table.titles').waitFor();
    expect(await signedIn.page.locator('#policy-form').count()).toBe(0);
    expect(signedIn.errors).toEqual([]);
    await mintedContext.close();
  });
});
