import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cp, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** How to start the embedded server. */
export interface EmbeddedServerOptions {
  /** PGlite data directory (kept across restarts). Ignored with `databaseUrl`. */
  dataDir: string;
  databaseUrl?: string | undefined;
  secret: string;
  start: number;
  /** How long to wait for `READY` (default 120 s: the first PGlite start runs initdb). */
  startTimeoutMs?: number;
}

const TEMPLATE = join(tmpdir(), 'satchel-sim-pglite-template');
const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));
const ROOT_TSCONFIG = fileURLToPath(new URL('../../../../tsconfig.json', import.meta.url));

/**
 * The sync server as a child process (the real `@satchel/server` over HTTP), which the simulation can
 * kill with SIGKILL and restart on the same data and port.
 */
export class EmbeddedServer {
  #child: ChildProcess | null = null;
  #port = 0;
  #stderr = '';
  #cpuOfEarlierProcesses = 0;
  restarts = 0;

  constructor(private readonly options: EmbeddedServerOptions) {}

  get url(): string {
    return `http://127.0.0.1:${this.#port}/`;
  }

  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  /**
   * Starts the process and resolves once it accepts connections. Throws with its stderr if it dies first.
   * A fresh PGlite directory is first filled from a cached, migrated template: initdb takes seconds.
   */
  async start(): Promise<void> {
    if (this.options.databaseUrl || this.restarts > 0 || this.#port !== 0) return this.#spawn();
    const seeded = await this.#seedDataDir();
    try {
      await this.#spawn();
    } catch (error) {
      if (!seeded) throw error;
      // A template from another PGlite version: start from an empty directory instead.
      await rm(TEMPLATE, { recursive: true, force: true });
      await rm(this.options.dataDir, { recursive: true, force: true });
      await this.#spawn();
    }
  }

  async #seedDataDir(): Promise<boolean> {
    const empty = await readdir(this.options.dataDir).then(
      (entries) => entries.length === 0,
      () => true,
    );
    if (!empty) return false;
    const template = TEMPLATE;
    const ready = await readdir(template).then(
      (entries) => entries.length > 0,
      () => false,
    );
    if (!ready) {
      const fresh = await mkdtemp(join(tmpdir(), 'satchel-sim-template-'));
      const builder = new EmbeddedServer({ ...this.options, dataDir: fresh });
      await builder.#spawn();
      await builder.stop();
      await rename(fresh, template).catch(() => rm(fresh, { recursive: true, force: true }));
    }
    await cp(template, this.options.dataDir, { recursive: true });
    return true;
  }

  async #spawn(): Promise<void> {
    const loader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      LOG_LEVEL: 'silent',
      TSX_TSCONFIG_PATH: ROOT_TSCONFIG,
      SATCHEL_SIM_PORT: String(this.#port),
      SATCHEL_SIM_SECRET: this.options.secret,
      SATCHEL_SIM_START: String(this.options.start),
      SATCHEL_SIM_DATA_DIR: this.options.dataDir,
      SATCHEL_SIM_EXIT_WITH_PARENT: '1',
    };
    if (this.options.databaseUrl) env.DATABASE_URL = this.options.databaseUrl;
    else delete env.DATABASE_URL;
    const child = spawn(process.execPath, ['--import', loader, CHILD], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.#child = child;
    this.#stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-4000);
    });
    this.#port = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`The embedded server did not start in time:\n${this.#stderr}`));
      }, this.options.startTimeoutMs ?? 120_000);
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const m = /READY (\d+)/.exec(out);
        if (m?.[1] !== undefined) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(
          new Error(`The embedded server exited (${code ?? signal}) before it was ready:\n${this.#stderr}`),
        );
      });
    });
    child.removeAllListeners('exit');
  }

  /**
   * CPU seconds the server processes used so far (user + system, over restarts), read from
   * `/proc`; null where that is not available.
   */
  cpuSeconds(): number | null {
    const pid = this.#child?.pid;
    if (pid === undefined) return this.#cpuOfEarlierProcesses;
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      const ticks = Number(fields[11]) + Number(fields[12]);
      return Number.isFinite(ticks) ? this.#cpuOfEarlierProcesses + ticks / 100 : null;
    } catch {
      return null;
    }
  }

  /** SIGKILLs the process (requests in flight fail) and resolves once it is gone. */
  async kill(): Promise<void> {
    this.#cpuOfEarlierProcesses = this.cpuSeconds() ?? this.#cpuOfEarlierProcesses;
    const child = this.#child;
    this.#child = null;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  /** Kills and starts again on the same data and port. */
  async restart(): Promise<void> {
    await this.kill();
    await this.#spawn();
    this.restarts += 1;
  }

  /** Stops the process gracefully (SIGTERM, then SIGKILL after 5 s). */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = null;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
}
