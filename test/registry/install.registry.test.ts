import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, startSite } from '../../packages/sdk/src/browser/harness.testkit.js';
import { packPublic, publicPackages } from '../../scripts/packages.js';
import { freePort, ROOT, type RunningServer, startServer, waitFor } from '../e2e/harness.js';

// The packages as a player gets them. Packs every public package (run `pnpm build` first), publishes the
// tarballs to a throwaway verdaccio on a loopback port (which proxies everything else to npmjs), runs
// docs/sdk.md's install commands with plain `npm install` in a scratch app outside the workspace,
// bundles docs/sdk.md's web example from what npm installed, and runs it in Chromium against the
// reference server.

const run = promisify(execFile);
const VERDACCIO = join(ROOT, 'test', 'node_modules', '.bin', 'verdaccio');
const docs = readFileSync(join(ROOT, 'docs', 'sdk.md'), 'utf8');

/** The install commands at the top of docs/sdk.md, as written (comments dropped). */
function installCommands(): string[][] {
  const block = /```sh\n([\s\S]*?)```/.exec(docs)?.[1] ?? '';
  return block
    .split('\n')
    .map((line) => line.replace(/#.*$/, '').trim())
    .filter((line) => line.startsWith('npm install '))
    .map((line) => line.split(/\s+/));
}

/** docs/sdk.md's complete web player (examples/web/src/main.ts, which a test keeps equal to the block). */
function webExample(): string {
  const at = docs.indexOf('<!-- example: examples/web/src/main.ts -->');
  const block = /```ts\n([\s\S]*?)```/.exec(docs.slice(at))?.[1];
  if (at < 0 || block === undefined) throw new Error('docs/sdk.md has no web-player example');
  return block;
}

let work = '';
let registry: ChildProcess | undefined;
let registryLog = '';
let server: RunningServer | undefined;
let browser: Browser | undefined;
let site: Awaited<ReturnType<typeof startSite>> | undefined;
const app = () => join(work, 'app');

async function npm(args: readonly string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd,
      env: {
        ...process.env,
        npm_config_userconfig: join(work, '.npmrc'),
        npm_config_cache: join(work, 'cache'),
      },
      maxBuffer: 1 << 24,
    });
    return stdout;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    throw new Error(
      `npm ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}\nregistry:\n${registryLog}`,
    );
  }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'satchel-registry-'));
  const tarballs = packPublic(ROOT, join(work, 'tarballs'));

  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  writeFileSync(
    join(work, 'verdaccio.yaml'),
    [
      `storage: ${join(work, 'storage')}`,
      'auth:',
      '  htpasswd:',
      `    file: ${join(work, 'htpasswd')}`,
      'uplinks:',
      '  npmjs:',
      '    url: https://registry.npmjs.org/',
      '    timeout: 60s',
      'packages:',
      "  '@satchel/*':",
      '    access: $all',
      '    publish: $authenticated',
      "  '**':",
      '    access: $all',
      '    proxy: npmjs',
      'log: { type: stdout, format: pretty, level: warn }',
      '',
    ].join('\n'),
  );
  registry = spawn(VERDACCIO, ['--config', join(work, 'verdaccio.yaml'), '--listen', `127.0.0.1:${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  registry.stdout?.on('data', (d: Buffer) => (registryLog += d.toString()));
  registry.stderr?.on('data', (d: Buffer) => (registryLog += d.toString()));
  await waitFor(
    async () => (await fetch(`${url}-/ping`)).ok,
    60_000,
    () => `verdaccio did not start:\n${registryLog}`,
  );
  const user = await fetch(`${url}-/user/org.couchdb.user:satchel`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'satchel', password: 'satchel-registry-test' }),
  });
  const { token } = (await user.json()) as { token: string };
  writeFileSync(join(work, '.npmrc'), `registry=${url}\n//127.0.0.1:${port}/:_authToken=${token}\n`);
  for (const pkg of publicPackages(ROOT)) {
    await npm(['publish', tarballs.get(pkg.name) ?? '', '--access', 'public'], work);
  }

  // A player's app, outside the workspace, installing as docs/sdk.md says.
  mkdirSync(join(app(), 'src'), { recursive: true });
  writeFileSync(
    join(app(), 'package.json'),
    `${JSON.stringify({ name: 'a-player', version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`,
  );
  for (const command of installCommands()) {
    const extra = command.includes('@satchel/react') ? ['react', 'react-dom'] : [];
    await npm([...command.slice(1), ...extra], app());
  }
  writeFileSync(join(app(), 'src', 'main.ts'), webExample());

  [server, browser] = await Promise.all([startServer(), launchChromium()]);
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
  await server?.stop();
  registry?.kill('SIGTERM');
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

describe('installed from a registry with npm install', () => {
  it('docs/sdk.md installs @satchel/sdk first, and @satchel/react', () => {
    const commands = installCommands().map((c) => c.join(' '));
    expect(commands[0]).toBe('npm install @satchel/sdk');
    expect(commands).toContain('npm install @satchel/react');
  });

  it('puts the published packages in the app, from the registry, not from the workspace', () => {
    const pkg = JSON.parse(readFileSync(join(app(), 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(Object.keys(pkg.dependencies)).toEqual(expect.arrayContaining(['@satchel/sdk', '@satchel/react']));
    for (const name of ['@satchel/sdk', '@satchel/core', '@satchel/protocol', '@satchel/react', 'idb']) {
      const dir = join(app(), 'node_modules', name);
      expect(existsSync(join(dir, 'package.json')), name).toBe(true);
      expect(realpathSync(dir).startsWith(realpathSync(app())), name).toBe(true);
    }
    const lock = JSON.parse(readFileSync(join(app(), 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { resolved?: string }>;
    };
    expect(lock.packages['node_modules/@satchel/sdk']?.resolved).toMatch(
      /^http:\/\/127\.0\.0\.1:\d+\/@satchel\/sdk\//,
    );
    expect(existsSync(join(app(), 'node_modules', '@satchel', 'sdk', 'src'))).toBe(false);
  });

  it("bundles docs/sdk.md's web example from the installed package and runs it in Chromium against the reference server", async () => {
    const bundled = await build({
      absWorkingDir: app(),
      entryPoints: ['src/main.ts'],
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      metafile: true,
      logLevel: 'error',
    });
    const inputs = Object.keys(bundled.metafile.inputs);
    expect(inputs.some((i) => i.startsWith('node_modules/@satchel/sdk/dist/'))).toBe(true);
    expect(inputs.filter((i) => !i.startsWith('node_modules/') && i !== 'src/main.ts')).toEqual([]);
    expect(inputs.filter((i) => i.includes('node_modules/zod/'))).toEqual([]);

    const upstream = server?.url ?? '';
    site = await startSite((request) => {
      const { pathname, search } = new URL(request.url);
      return fetch(`${upstream}${pathname}${search}`, {
        method: request.method,
        headers: request.headers,
        ...(request.method === 'GET' || request.method === 'HEAD'
          ? {}
          : { body: request.body, duplex: 'half' }),
      } as RequestInit);
    }, bundled.outputFiles[0]?.text ?? '');
    const context = await (browser as Browser).newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${site.url}?enrol=${server?.enrolmentToken ?? ''}`);
    await expect.poll(() => page.textContent('body'), { timeout: 30_000 }).toContain('synced:');
    const text = (await page.textContent('body')) ?? '';
    expect(errors).toEqual([]);
    expect(text).toMatch(/Playing: \d+ h left/);
    expect(text).toMatch(/synced: \d+ events acknowledged/);
    await context.close();
  });

  it('bundles @satchel/react from the installed packages', async () => {
    const bundled = await build({
      absWorkingDir: app(),
      stdin: { contents: "export * from '@satchel/react';", resolveDir: app() },
      bundle: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      metafile: true,
      logLevel: 'error',
    });
    const inputs = Object.keys(bundled.metafile.inputs);
    expect(inputs.some((i) => i.startsWith('node_modules/@satchel/react/dist/'))).toBe(true);
    expect(inputs.some((i) => i.startsWith('node_modules/react/'))).toBe(true);
  });
});
