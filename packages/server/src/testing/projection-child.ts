// A projection runner alone in a process, for the crash test: it runs the studio accounting on
// DATABASE_URL and prints one line per committed batch, until it is killed.
import { postgresDatabase } from '../db/postgres.js';
import { ProjectionRunner } from '../projections/runner.js';
import { studioAccounting } from '../projections/studio-accounting.js';
import { EventStore } from '../store/event-store.js';

const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL is required');
const db = postgresDatabase(url, { max: 2 });
const runner = new ProjectionRunner(db, new EventStore(db), [studioAccounting()], {
  ...(process.env.INSTANCE_ID ? { instanceId: process.env.INSTANCE_ID } : {}),
  batchSize: Number(process.env.BATCH_SIZE ?? 25),
  leaseMs: Number(process.env.LEASE_MS ?? 2000),
  idleMs: 10,
  onBatch: (_p, generation, n, position) => process.stdout.write(`batch ${generation} ${n} ${position}\n`),
  onError: (e) => process.stderr.write(`error ${String(e)}\n`),
});
runner.start();
process.stdout.write('started\n');
