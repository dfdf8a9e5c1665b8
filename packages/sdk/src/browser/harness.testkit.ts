import { existsSync, readdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { type Browser, chromium } from 'playwright-core';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

/**
 * esbuild aliases that resolve every workspace package, and each entry point of it
 * (`@satchel/<package>/<entry>` is `packages/<package>/src/entries/<entry>.ts`), to its sources.
 */
export function workspaceAlias(): Record<string, string> {
  const alias: Record<string, string> = {};
  for (const name of readdirSync(`${root}packages`)) {
    if (!existsSync(`${root}packages/${name}/src/index.ts`)) continue;
    alias[`@satchel/${name}`] = `./packages/${name}/src/index.ts`;
    const entries = `${root}packages/${name}/src/entries`;
    if (!existsSync(entries)) continue;
    for (const file of readdirSync(entries)) {
      if (file.endsWith('.ts'))
        alias[`@satchel/${name}/${file.slice(0, -3)}`] = `./packages/${name}/src/entries/${file}`;
    }
  }
  return alias;
}

/** Bundles a module written against `@satchel/sdk` for the browser (the SDK from its sources). */
export async function bundleModule(source: string): Promise<string> {
  const result = await build({
    absWorkingDir: root,
    stdin: { contents: source, loader: 'ts', resolveDir: root, sourcefile: 'example.ts' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    alias: workspaceAlias(),
    logLevel: 'error',
  });
  return result.outputFiles[0]?.text ?? '';
}

/** Bundles a page script of the workspace (path from the root) for the browser, packages from their sources. */
export async function bundleEntry(path: string): Promise<string> {
  const result = await build({
    absWorkingDir: root,
    entryPoints: [path],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    alias: workspaceAlias(),
    logLevel: 'error',
  });
  return result.outputFiles[0]?.text ?? '';
}

/** Bundles the SDK for the test page (once per process). */
let bundle: Promise<string> | null = null;
export function sdkBundle(): Promise<string> {
  bundle ??= build({
    absWorkingDir: root,
    entryPoints: ['packages/sdk/src/browser/page.ts'],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    alias: workspaceAlias(),
    logLevel: 'error',
  }).then((r) => r.outputFiles[0]?.text ?? '');
  return bundle;
}

const PAGE =
  '<!doctype html><meta charset="utf-8"><title>satchel</title><script type="module" src="/sdk.js"></script>';

/** A fetch-style handler for the sync API (`/v1/...`). */
export type ApiHandler = (request: Request) => Promise<Response>;

/**
 * Serves the test page, the SDK bundle and, under `/v1/`, the sync API through `api` — one origin, so
 * IndexedDB, BroadcastChannel and Web Locks are shared by every tab of a browser context.
 */
export async function startSite(
  api: ApiHandler,
  script?: string,
  options: { crossOriginIsolated?: boolean } = {},
): Promise<{ url: string; server: Server; close: () => Promise<void> }> {
  const js = script ?? (await sdkBundle());
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    // Cross-origin isolated, a page's performance.now() has 5 µs steps instead of 100 µs: benchmarks of
    // sub-millisecond work need it.
    if (options.crossOriginIsolated) {
      res.setHeader('cross-origin-opener-policy', 'same-origin');
      res.setHeader('cross-origin-embedder-policy', 'require-corp');
    }
    void handle(req, res).catch((error: unknown) => {
      res.statusCode = 500;
      res.end(String(error));
    });
  });
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/') {
      res.setHeader('content-type', 'text/html');
      res.end(PAGE);
      return;
    }
    if (url.pathname === '/sdk.js') {
      res.setHeader('content-type', 'text/javascript');
      res.end(js);
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
    const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
    const response = await api(
      new Request(`http://localhost${req.url ?? '/'}`, {
        method: req.method ?? 'GET',
        headers,
        ...(body === undefined || req.method === 'GET' ? {} : { body }),
      }),
    );
    res.statusCode = response.status;
    response.headers.forEach((value, key) => {
      res.setHeader(key, value);
    });
    // Streamed as the handler produces it: the headers go at once, each chunk when it comes (a handler
    // may send part of a body and stall).
    res.flushHeaders();
    if (response.body !== null) {
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        res.write(Buffer.from(value));
      }
    }
    res.end();
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
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
