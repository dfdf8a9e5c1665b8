// The PGlite data directory is held by one server process at a time, with a lock the kernel frees when
// that process ends (apps/sync-server/src/data-dir-lock.ts): a SIGKILL leaves nothing behind that could
// block the next start (a pid file's pid may by then belong to another process), and a second live
// server on the directory refuses to start, saying which one holds it.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataDirOwner } from '../../apps/sync-server/src/data-dir-lock.js';
import { freePort } from './lib/pg.js';
import { bundle as bundleEntry, ServerProcess } from './lib/server-process.js';

let bundle: string;
const dataDir = mkdtempSync(join(tmpdir(), 'satchel-lock-'));
const running: ServerProcess[] = [];

beforeAll(async () => {
  // A bundle of its own: security.test.ts may be writing the shared one in another worker meanwhile.
  bundle = await bundleEntry(
    fileURLToPath(new URL('../../apps/sync-server/src/main.ts', import.meta.url)),
    'sync-server-lock.mjs',
  );
}, 60_000);

afterAll(async () => {
  await Promise.all(running.map((s) => s.kill('SIGKILL')));
  rmSync(dataDir, { recursive: true, force: true });
});

async function server(): Promise<ServerProcess> {
  const s = new ServerProcess({
    bundle,
    port: await freePort(),
    env: { SATCHEL_DATA_DIR: dataDir, DATABASE_URL: '' },
  });
  running.push(s);
  return s;
}

describe('the PGlite data directory lock', () => {
  it('starts again after a SIGKILL, though a server.pid there names a live process (a reused pid)', async () => {
    const first = await server();
    await first.start(60_000);
    expect((await dataDirOwner(dataDir))?.url).toBe(first.url);
    await first.kill('SIGKILL');
    expect(await dataDirOwner(dataDir)).toBeNull();
    // What a pid file would leave: the killed server's pid, reused since by a live process (this one).
    writeFileSync(join(dataDir, 'server.pid'), String(process.pid));
    const next = await server();
    await next.start(60_000);
    const ready = await fetch(`${next.url}/readyz`);
    expect(ready.status).toBe(200);
  }, 180_000);

  it('refuses a second live server on the same directory with a message naming the first', async () => {
    const holder = running.find((s) => s.running) ?? (await server());
    if (!holder.running) await holder.start(60_000);
    const owner = await dataDirOwner(dataDir);
    expect(owner?.url).toBe(holder.url);
    const second = await server();
    const refused = await second.start(60_000).then(
      () => 'started',
      (e: Error) => e.message,
    );
    expect(refused).toContain(
      `another server (pid ${owner?.pid}, ${holder.url}) is using the PGlite data directory ${dataDir}`,
    );
    // The first one goes on serving.
    expect((await fetch(`${holder.url}/readyz`)).status).toBe(200);
    // Once it stops, the directory is free again.
    await holder.kill('SIGTERM');
    expect(await dataDirOwner(dataDir)).toBeNull();
  }, 180_000);
});
