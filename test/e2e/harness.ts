import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SHOTS = join(ROOT, 'test-output', 'e2e');
const CHROMIUM = '/usr/bin/chromium';

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

/** The reference server running as a child process. */
export interface RunningServer {
  url: string;
  enrolmentToken: string;
  /** Everything the server printed, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Builds the player (when its dist is missing) and starts the reference server the way `pnpm start` does,
 * on a free port with an embedded database in a temporary directory. Resolves once `/healthz` answers and
 * the demo account's enrolment token is known. With `SATCHEL_E2E_SERVER_URL` and
 * `SATCHEL_E2E_ENROLMENT_TOKEN` set, uses that (fresh) server instead.
 */
export async function startServer(): Promise<RunningServer> {
  const external = process.env.SATCHEL_E2E_SERVER_URL;
  const externalToken = process.env.SATCHEL_E2E_ENROLMENT_TOKEN;
  if (external && externalToken) {
    return {
      url: external.replace(/\/$/, ''),
      enrolmentToken: externalToken,
      output: () => '',
      stop: async () => {},
    };
  }
  ensurePlayerBuilt();
  ensureConsoleBuilt();
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'satchel-e2e-'));
  const child = spawn(
    join(ROOT, 'node_modules', '.bin', 'tsx'),
    ['--tsconfig', 'apps/sync-server/tsconfig.json', 'apps/sync-server/src/main.ts'],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        SATCHEL_DATA_DIR: dataDir,
        DATABASE_URL: '',
        LOG_LEVEL: 'warn',
        NODE_ENV: 'development',
        SATCHEL_ENV: 'development',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = () => stopChild(child).finally(() => rmSync(dataDir, { recursive: true, force: true }));
  try {
    // The banner with the token is printed once the database is open and migrated.
    const enrolmentToken = await waitFor(
      async () => enrolmentTokenFrom(output),
      90_000,
      () => `the server did not start (no enrolment token printed):\n${output}`,
    );
    await waitFor(
      async () => (await fetch(`${url}/readyz`)).ok,
      30_000,
      () => `the server is not ready:\n${output}`,
    );
    return { url, enrolmentToken, output: () => output, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The demo account's enrolment token, as the reference server prints it at start-up (the first JWT after "enrolment token"). */
export function enrolmentTokenFrom(output: string): string | null {
  const at = output.search(/enrolment token/i);
  if (at < 0) return null;
  return /\b(eyJ[\w-]+\.[\w-]+\.[\w-]+)/.exec(output.slice(at))?.[1] ?? null;
}

/** What `pnpm start` does first: (re)build the player when its dist is missing or stale. */
function ensurePlayerBuilt(): void {
  const script = join(ROOT, 'apps', 'player', 'scripts', 'ensure-built.mjs');
  const { status } = spawnSync(process.execPath, [script], { cwd: ROOT, stdio: 'inherit' });
  if (status !== 0 || !existsSync(join(ROOT, 'apps', 'player', 'dist', 'index.html'))) {
    throw new Error('Building the player failed');
  }
}

/** What `pnpm start` does too: (re)build the operator console when its dist is missing or stale. */
function ensureConsoleBuilt(): void {
  const script = join(ROOT, 'apps', 'console', 'scripts', 'build.mjs');
  const { status } = spawnSync(process.execPath, [script], { cwd: ROOT, stdio: 'inherit' });
  if (status !== 0 || !existsSync(join(ROOT, 'apps', 'console', 'dist', 'index.html'))) {
    throw new Error('Building the operator console failed');
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Polls `probe` until it returns a truthy value (errors count as "not yet"). */
export async function waitFor<T>(
  probe: () => Promise<T | null | false>,
  timeoutMs: number,
  message: () => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch {}
    if (Date.now() > deadline) throw new Error(message());
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Debian's Chromium, headless; never a downloaded browser. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A page whose console errors and uncaught exceptions are collected (a test fails on any). */
export async function openPlayer(
  context: BrowserContext,
  url: string,
): Promise<{ page: Page; errors: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
  await page.goto(url);
  return { page, errors };
}

/** Saves a full-page screenshot as test-output/e2e/<name>.png. */
/** An element's text with white space folded, as a person reads it. */
export const text = async (locator: Locator): Promise<string> =>
  ((await locator.textContent()) ?? '').replace(/\s+/g, ' ').trim();

export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/**
 * Text whose contrast with its background is below WCAG AA (4.5:1, or 3:1 for large text). The
 * background is the nearest ancestor's opaque background colour.
 */
export function contrastProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const parse = (c: string): [number, number, number, number] => {
      const m = /rgba?\(([^)]+)\)/.exec(c);
      if (!m?.[1]) return [0, 0, 0, 0];
      const parts = m[1]
        .split(/[ ,/]+/)
        .filter(Boolean)
        .map(Number);
      return [parts[0] ?? 0, parts[1] ?? 0, parts[2] ?? 0, parts[3] ?? 1];
    };
    const lum = ([r, g, b]: number[]) => {
      const f = (v: number) => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * f(r ?? 0) + 0.7152 * f(g ?? 0) + 0.0722 * f(b ?? 0);
    };
    const background = (el: Element | null): number[] => {
      for (let e = el; e !== null; e = e.parentElement) {
        const bg = parse(getComputedStyle(e).backgroundColor);
        if (bg[3] > 0.5) return bg;
      }
      return [255, 255, 255, 1];
    };
    const problems: string[] = [];
    for (const el of document.querySelectorAll('body *')) {
      const own = [...el.childNodes].some((n) => n.nodeType === 3 && (n.textContent ?? '').trim() !== '');
      if (!own || !(el instanceof HTMLElement) || el.offsetParent === null) continue;
      const style = getComputedStyle(el);
      if (el.closest('.sr-only')) continue;
      const fg = parse(style.color);
      const bg = background(el);
      const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x) as [number, number];
      const ratio = (a + 0.05) / (b + 0.05);
      const size = Number.parseFloat(style.fontSize);
      const bold = Number(style.fontWeight) >= 700;
      const large = size >= 24 || (bold && size >= 18.66);
      if (ratio < (large ? 3 : 4.5))
        problems.push(`${ratio.toFixed(2)}:1 "${(el.textContent ?? '').trim().slice(0, 40)}"`);
    }
    return problems;
  });
}

/** Buttons, inputs and links without an accessible name (text, aria-label, aria-labelledby or a <label>). */
export function unlabelledControls(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    for (const el of document.querySelectorAll<HTMLElement>(
      'button, input, select, textarea, a[href], progress',
    )) {
      const labelled =
        (el.getAttribute('aria-label') ?? '').trim() !== '' ||
        (el.getAttribute('aria-labelledby') ?? '') !== '' ||
        ((el as HTMLInputElement).labels?.length ?? 0) > 0 ||
        (el.tagName !== 'INPUT' && el.tagName !== 'PROGRESS' && (el.textContent ?? '').trim() !== '');
      if (!labelled) out.push(el.outerHTML.slice(0, 80));
    }
    return out;
  });
}

/** What Shaka's offline storage holds in the page's origin: each stored manifest's app metadata, and the segment count. */
export function shakaStored(
  page: Page,
): Promise<{ items: { titleId: string; licenseId: string; deviceId: string }[]; segments: number }> {
  return page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open('shaka_offline_db');
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    const all = (store: string) =>
      new Promise<unknown[]>((resolve, reject) => {
        const req = db.transaction(store).objectStore(store).getAll();
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
    const stores = [...db.objectStoreNames];
    const items: { titleId: string; licenseId: string; deviceId: string }[] = [];
    let segments = 0;
    for (const store of stores) {
      if (store.startsWith('manifest')) {
        for (const m of (await all(store)) as { appMetadata?: Record<string, string> }[]) {
          const a = m.appMetadata ?? {};
          items.push({
            titleId: a.titleId ?? '',
            licenseId: a.satchelLicenseId ?? '',
            deviceId: a.satchelDeviceId ?? '',
          });
        }
      } else if (store.startsWith('segment')) segments += (await all(store)).length;
    }
    db.close();
    return { items, segments };
  });
}

/** A UUIDv7 for a device event (what the SDK assigns). */
export function uuidv7(): string {
  const b = randomBytes(16);
  const ms = BigInt(Date.now());
  for (let i = 0; i < 6; i++) b[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x70;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Calls the server's API with `token` and an optional JSON body; resolves its JSON answer, throws on a non-2xx. */
export async function callApi(baseUrl: string, method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: the tests read answers loosely
  const json: any = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}
