import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'satchel-sync-server-'));

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

function run(script: string, env: Record<string, string>, args: string[] = []): ChildProcess {
  const clean = { ...process.env };
  delete clean.DATABASE_URL;
  delete clean.NODE_ENV;
  delete clean.SATCHEL_TOKEN_SECRET;
  delete clean.SATCHEL_ENV;
  // Node with tsx as a loader, not the tsx CLI: a signal reaches the server itself. (The CLI relays it
  // and, when the child does not acknowledge within 30 ms — a loaded machine — kills it: exit 143.)
  return spawn(process.execPath, ['--import', 'tsx', `apps/sync-server/src/${script}`, ...args], {
    cwd: root,
    env: { ...clean, LOG_LEVEL: 'warn', TSX_TSCONFIG_PATH: 'apps/sync-server/tsconfig.json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

const exited = (child: ChildProcess) =>
  new Promise<{ code: number | null; out: string }>((resolve) => {
    let out = '';
    child.stdout?.on('data', (d) => (out += d));
    child.stderr?.on('data', (d) => (out += d));
    child.on('exit', (code) => resolve({ code, out }));
  });

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

type Readiness = {
  status: string;
  details?: {
    runner?: { instanceId: string; running: boolean };
    projections:
      | { projection: string; position: number; eventsBehind: number; leaseOwner: string | null }[]
      | null;
  };
};

/** Polls `/readyz` until `until` holds for its answer; resolves with that answer, throws after `ms`. */
async function readyzUntil(port: number, until: (r: Readiness) => boolean, ms = 80_000): Promise<Readiness> {
  const deadline = Date.now() + ms;
  let last: Readiness | null = null;
  while (Date.now() < deadline) {
    last = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      async (r) => (r.ok ? ((await r.json()) as Readiness) : null),
      () => null,
    );
    if (last && until(last)) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`/readyz never satisfied the condition; last answer ${JSON.stringify(last)}`);
}

// The sample media is not needed here: a media directory that cannot be created leaves the API running without it.
const NO_MEDIA = '/dev/null/no-media';

/**
 * A development server on a fresh data directory and a free port, without sample media. `output()` is
 * what it printed so far; `done` resolves when it exits; `remove()` deletes its directory.
 */
async function devServer(prefix: string, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const port = await freePort();
  const child = run('main.ts', {
    SATCHEL_ENV: 'development',
    PORT: String(port),
    SATCHEL_DATA_DIR: dir,
    SATCHEL_MEDIA_DIR: NO_MEDIA,
    ...env,
  });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  return {
    dir,
    port,
    child,
    done: exited(child),
    output: () => out,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The one JSON object a CLI run printed (between its first `{` and its last `}`). */
const printedJson = (out: string) => JSON.parse(out.slice(out.indexOf('{'), out.lastIndexOf('}') + 1));

describe('the reference sync server process', { timeout: 90_000 }, () => {
  it('serves /healthz within 20 s on a fresh PGlite directory, becomes ready, and stops on SIGTERM', async () => {
    const port = await freePort();
    const started = Date.now();
    const child = run('main.ts', {
      SATCHEL_ENV: 'development',
      PORT: String(port),
      SATCHEL_DATA_DIR: dataDir,
    });
    const done = exited(child);
    let healthyAfter = Number.POSITIVE_INFINITY;
    while (Date.now() - started < 20_000) {
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) {
        healthyAfter = Date.now() - started;
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    let ready = false;
    while (!ready && Date.now() - started < 80_000) {
      ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (!ready) await new Promise((r) => setTimeout(r, 250));
    }
    child.kill('SIGTERM');
    const { code, out } = await done;
    expect(healthyAfter).toBeLessThan(20_000);
    expect(ready).toBe(true);
    expect(out).toContain("Demo account 'demo' enrolment token");
    expect(code).toBe(0);
  });

  it('applies SATCHEL_BODY_TIMEOUT_MS: a sync whose body stalls is answered 408 after it, not after the 10 s default', async () => {
    const server = await devServer('satchel-body-timeout-', {
      SATCHEL_PROJECTIONS: 'off',
      SATCHEL_BODY_TIMEOUT_MS: '1000',
    });
    const { port } = server;
    try {
      await readyzUntil(port, (r) => r.status === 'ready', 60_000);
      const enrolment = /enrolment token[^\n]*\n\s+(\S+)/.exec(server.output())?.[1] ?? '';
      const registered = await fetch(`http://127.0.0.1:${port}/v1/devices`, {
        method: 'POST',
        headers: { authorization: `Bearer ${enrolment}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'stalls' }),
      });
      expect(registered.status).toBe(201);
      const { token } = (await registered.json()) as { token: string };
      // 5 of the 100 declared bytes, then nothing.
      const started = Date.now();
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.write(
            `POST /v1/sync HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${token}\r\n` +
              'content-type: application/json\r\ncontent-length: 100\r\n\r\n{"pro',
          );
        });
        let text = '';
        socket.on('data', (d) => {
          text += d;
          if (text.includes('\r\n\r\n')) {
            socket.destroy();
            resolve(text);
          }
        });
        socket.on('error', reject);
      });
      const elapsed = Date.now() - started;
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
      expect(elapsed).toBeGreaterThanOrEqual(900);
      expect(elapsed).toBeLessThan(8_000);
    } finally {
      server.child.kill('SIGTERM');
      await server.done;
      server.remove();
    }
  });

  it('answers the CLI from the same data directory once the server stopped', async () => {
    const { code, out } = await exited(run('cli.ts', { SATCHEL_DATA_DIR: dataDir }, ['history', 'demo']));
    expect(code).toBe(0);
    expect(out).toContain('AccountOpened');
    const withdrawn = await exited(
      run('cli.ts', { SATCHEL_DATA_DIR: dataDir }, [
        'withdraw',
        'paper-moon',
        '--at',
        '2030-01-01T00:00:00Z',
      ]),
    );
    expect(withdrawn.code).toBe(0);
    expect(withdrawn.out).toContain(
      'paper-moon leaves the catalogue at 2030-01-01T00:00:00.000Z: 1 accounts',
    );
    const history = await exited(run('cli.ts', { SATCHEL_DATA_DIR: dataDir }, ['history', 'demo']));
    expect(history.out).toContain('TitleWithdrawn');
  });

  it('runs the projection runner: /readyz shows the studio accounting caught up under this instance, and SIGTERM gives the lease up', async () => {
    const { dir, port, child, done, remove } = await devServer('satchel-runner-');
    try {
      const r = await readyzUntil(port, (r) => {
        const p = r.details?.projections?.find((p) => p.projection === 'studio-accounting');
        return p !== undefined && p.position > 0 && p.eventsBehind === 0 && p.leaseOwner !== null;
      });
      expect(r.details?.runner?.running).toBe(true);
      expect(r.details?.projections?.[0]?.leaseOwner).toBe(r.details?.runner?.instanceId);
      child.kill('SIGTERM');
      expect((await done).code).toBe(0);
      // Stopped cleanly: the lease is given up at once (not left to lapse), so another instance can take it.
      const lag = await exited(run('cli.ts', { SATCHEL_DATA_DIR: dir }, ['projections', '--json']));
      expect(lag.code).toBe(0);
      const after = printedJson(lag.out).projections;
      expect(after).toMatchObject([{ projection: 'studio-accounting', leaseOwner: null, eventsBehind: 0 }]);
    } finally {
      remove();
    }
  });

  it('with SATCHEL_PROJECTIONS=off runs no consumer: /readyz shows the studio accounting behind and unleased', async () => {
    const { dir, port, child, done, remove } = await devServer('satchel-runner-off-', {
      SATCHEL_PROJECTIONS: 'off',
    });
    try {
      const first = await readyzUntil(port, (r) => r.status === 'ready');
      // A pause of several idle polls: a running consumer would have caught up by then.
      await new Promise((r) => setTimeout(r, 2_000));
      const r = await readyzUntil(port, (r) => r.status === 'ready');
      child.kill('SIGTERM');
      expect((await done).code).toBe(0);
      expect(first.details?.runner?.running).toBe(false);
      expect(r.details?.projections).toMatchObject([
        { projection: 'studio-accounting', position: 0, leaseOwner: null },
      ]);
      expect(r.details?.projections?.[0]?.eventsBehind).toBeGreaterThan(0);
      // With no server running, `satchel report` catches the projection up in its own process first, and
      // gives the lease up when it ends.
      const report = await exited(run('cli.ts', { SATCHEL_DATA_DIR: dir }, ['report', '--json']));
      expect(report.code).toBe(0);
      expect(report.out).toMatch(/caught the projections up in this process \(\d+ events\)/);
      const lag = printedJson(report.out).lag;
      expect(lag).toMatchObject([{ projection: 'studio-accounting', eventsBehind: 0 }]);
      expect(lag[0].position).toBeGreaterThan(0);
      const after = await exited(run('cli.ts', { SATCHEL_DATA_DIR: dir }, ['projections', '--json']));
      const projections = printedJson(after.out).projections;
      expect(projections).toMatchObject([{ position: lag[0].position, leaseOwner: null }]);
    } finally {
      remove();
    }
  });

  it('refuses SATCHEL_PROJECTIONS other than on or off', async () => {
    const { code, out } = await exited(
      run('main.ts', {
        SATCHEL_ENV: 'development',
        PORT: '0',
        SATCHEL_DATA_DIR: dataDir,
        SATCHEL_PROJECTIONS: 'maybe',
      }),
    );
    expect(code).toBe(1);
    expect(out).toContain("SATCHEL_PROJECTIONS must be 'on' or 'off'");
  });

  it('refuses to start in production with the development signing secret', async () => {
    const { code, out } = await exited(
      run('main.ts', { SATCHEL_ENV: 'production', PORT: '0', SATCHEL_DATA_DIR: dataDir }),
    );
    expect(code).toBe(1);
    expect(out).toContain('SATCHEL_TOKEN_SECRET');
  });
});
