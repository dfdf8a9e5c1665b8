// Sync throughput: events/s through POST /v1/sync over HTTP, several devices in parallel.
// Usage: pnpm bench:sync [--pglite] [--devices 8] [--batches 20] [--batch-size 50]
import { CURRENT_EVENT_VERSIONS } from '@satchel/core';
import { pino } from 'pino';
import { uuidv7 } from 'uuidv7';
import { demoCatalogue } from '../src/catalogue.js';
import { createSatchelServer } from '../src/server.js';
import { benchDatabase, median } from './common.js';

const args = process.argv.slice(2);
const argValue = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i < 0 ? fallback : Number(args[i + 1]);
};
const devices = argValue('--devices', 8);
const batches = argValue('--batches', 20);
const batchSize = argValue('--batch-size', 50);

const bench = await benchDatabase(args);
try {
  const server = await createSatchelServer({
    db: bench.db,
    tokenSecret: 'bench-secret-0123456789',
    logger: pino({ level: 'silent' }),
    rateLimit: { burst: 1e9, perSecond: 1e9 },
  });
  await server.service.catalogue.put(demoCatalogue(Date.now()));
  const listener = await server.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${listener.port}`;
  const post = async (path: string, token: string, body: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<Record<string, unknown>>;
  };

  const clients = [];
  for (let d = 0; d < devices; d++) {
    const accountId = `bench-${d}`;
    await server.service.createAccount(accountId, 'Bench household');
    const { token: accountToken } = await server.tokens.mint({ kind: 'account', accountId });
    const reg = (await post('/v1/devices', accountToken, { name: `Device ${d}` })) as {
      deviceId: string;
      token: string;
    };
    const lic = (await post('/v1/licenses', reg.token, { titleId: 'quiet-river' })) as {
      license: { licenseId: string };
    };
    clients.push({ deviceId: reg.deviceId, token: reg.token, licenseId: lic.license.licenseId, seq: 0 });
  }

  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    clients.map(async (c) => {
      for (let b = 0; b < batches; b++) {
        const now = Date.now();
        const events = Array.from({ length: batchSize }, () => {
          c.seq += 1;
          const type = c.seq === 1 ? 'DownloadCompleted' : 'PlaybackStopped';
          return {
            eventId: uuidv7(),
            seq: c.seq,
            type,
            v: CURRENT_EVENT_VERSIONS[type],
            occurredAt: now,
            trustedAt: now,
            data: { licenseId: c.licenseId, deviceId: c.deviceId, at: now, positionMs: c.seq * 1000 },
          };
        });
        const s = performance.now();
        const res = await post('/v1/sync', c.token, {
          protocolVersion: 1,
          deviceId: c.deviceId,
          snapshotVersion: null,
          events,
        });
        latencies.push(performance.now() - s);
        if (res.ackSeq !== c.seq) throw new Error(`ackSeq ${String(res.ackSeq)}, expected ${c.seq}`);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const total = devices * batches * batchSize;
  const sorted = [...latencies].sort((a, b) => a - b);
  console.log(`Sync throughput on ${bench.label}, one server process, HTTP on loopback`);
  console.log(
    `${devices} devices in parallel x ${batches} batches x ${batchSize} events = ${total} events in ${seconds.toFixed(1)} s: ` +
      `${Math.round(total / seconds)} events/s (${Math.round((devices * batches) / seconds)} syncs/s)`,
  );
  console.log(
    `sync latency: median ${median(latencies).toFixed(0)} ms, p95 ${(sorted[Math.floor(sorted.length * 0.95)] ?? 0).toFixed(0)} ms`,
  );
  await listener.close();
} finally {
  await bench.drop();
}
