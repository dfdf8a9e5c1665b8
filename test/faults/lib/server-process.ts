import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));

// Inside packages/server so that the bundle's bare imports (hono, postgres, jose, pglite…) resolve from
// the server package's own node_modules, exactly as they do for `pnpm start`.
const OUT_DIR = root('packages/server/node_modules/.satchel-faults');

/**
 * Bundles the reference server (apps/sync-server/src/main.ts, with the workspace sources as they are now)
 * into one file that starts in well under a second: a `tsx` start costs several seconds per restart.
 */
export function buildSyncServer(): Promise<string> {
  return bundle(root('apps/sync-server/src/main.ts'), 'sync-server.mjs');
}

/** Bundles `entry` (TypeScript, workspace packages from sources) next to the server package's dependencies. */
export async function bundle(entry: string, name: string): Promise<string> {
  const outfile = `${OUT_DIR}/${name}`;
  mkdirSync(dirname(outfile), { recursive: true });
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    tsconfig: root('apps/sync-server/tsconfig.json'),
    logLevel: 'error',
  });
  return outfile;
}

export interface ServerProcessOptions {
  bundle: string;
  port: number;
  env: Record<string, string>;
}

/** The reference server as a child process that a test starts, kills and restarts on one port. */
export class ServerProcess {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private hookListeners = new Set<(line: string) => void>();
  readonly output: string[] = [];
  starts = 0;

  constructor(private readonly options: ServerProcessOptions) {}

  get url(): string {
    return `http://127.0.0.1:${this.options.port}`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** The running server's process id (undefined when it is not running). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Spawns the server and resolves once `/readyz` answers 200 (rejects after `timeoutMs`). */
  async start(timeoutMs = 30_000): Promise<void> {
    if (this.child) throw new Error('already running');
    const child = spawn(process.execPath, [this.options.bundle], {
      env: {
        ...process.env,
        NODE_ENV: 'test',
        SATCHEL_ENV: 'development',
        HOST: '127.0.0.1',
        PORT: String(this.options.port),
        LOG_LEVEL: 'warn',
        // Fault tests drive heavy traffic on purpose: limits that never refuse it (the limits are tested
        // on their own), still counted on every request.
        SATCHEL_RATE_DEVICE: '1000000000/60',
        SATCHEL_RATE_ACCOUNT: '1000000000/60',
        SATCHEL_EVENT_QUOTA: '1000000000/60',
        ...this.options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.starts++;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('exit', () => {
      if (this.child === child) this.child = null;
    });
    const keep = (line: string) => {
      this.output.push(line);
      if (this.output.length > 400) this.output.splice(0, 100);
    };
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      keep(line);
      if (line.startsWith('HOOK ')) for (const l of this.hookListeners) l(line);
    });
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', keep);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child !== child)
        throw new Error(`server exited during start:\n${this.output.slice(-20).join('\n')}`);
      try {
        const res = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        if (res.status === 200) return;
      } catch {}
      await sleep(50);
    }
    throw new Error(`server not ready after ${timeoutMs} ms:\n${this.output.slice(-20).join('\n')}`);
  }

  /** Resolves on the next `HOOK …` line (the server holds a committed sync's answer), or null after `timeoutMs`. */
  nextHook(timeoutMs: number): Promise<string | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.hookListeners.delete(listener);
        resolve(null);
      }, timeoutMs);
      const listener = (line: string) => {
        clearTimeout(timer);
        this.hookListeners.delete(listener);
        resolve(line);
      };
      this.hookListeners.add(listener);
    });
  }

  /** Sends `signal` and waits for the process to be gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill(signal);
    await this.exited;
    this.child = null;
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
