import { describe, expect, it } from 'vitest';
import { freshPostgresDatabase, requirePostgres } from '../testing/databases.js';
import { uuid } from '../testing/ids.js';
import { EventStore } from './event-store.js';
import { LOAD_DEVICE_BATCH_SQL } from './load-device-batch.js';
import { migrate } from './migrations.js';

const available = await requirePostgres('plans.pg.test.ts');

type PlanNode = { 'Node Type': string; 'Relation Name'?: string; 'Index Cond'?: string; Plans?: PlanNode[] };
const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];

describe.skipIf(!available)('query plans', () => {
  it('reads a device batch with one receipt probe per batch event, even in the generic plan', async () => {
    const fresh = await freshPostgresDatabase();
    const db = fresh.open();
    try {
      await migrate(db);
      const store = new EventStore(db);
      // One device with 3,000 receipts (no ANALYZE, as on a young database): a plan that walks them shows up as an index scan without a
      // per-event condition.
      for (let k = 0; k < 6; k++) {
        const events = Array.from({ length: 500 }, () => ({
          eventId: uuid(),
          type: 'Probe',
          schemaVersion: 1,
          data: {},
        }));
        await store.write(db, 'acc', {
          expectedVersion: k * 500,
          events,
          receipts: events.map((e, i) => ({
            deviceId: 'd1',
            seq: k * 500 + i + 1,
            eventId: e.eventId,
            status: 'accepted' as const,
            code: null,
            message: null,
          })),
          cursor: { deviceId: 'd1', lastSeq: (k + 1) * 500, at: 0 },
        });
      }
      const seqs = Array.from({ length: 500 }, (_, i) => 3_001 + i);
      const ids = seqs.map(() => uuid());
      const plan = await db.transaction(async (tx) => {
        await tx.query('SET LOCAL plan_cache_mode = force_generic_plan');
        await tx.query(
          `PREPARE load_device_batch(text, int, text, bigint[], uuid[]) AS ${LOAD_DEVICE_BATCH_SQL}`,
        );
        const rows = await tx.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
          `EXPLAIN (FORMAT JSON) EXECUTE load_device_batch('acc', 1, 'd1', '{${seqs.join(',')}}', '{${ids.join(',')}}')`,
        );
        await tx.query('DEALLOCATE load_device_batch');
        return rows[0]?.['QUERY PLAN'][0].Plan;
      });
      if (!plan) throw new Error('no plan');
      const receipts = nodes(plan).filter((n) => n['Relation Name'] === 'device_receipts');
      expect(receipts.length).toBeGreaterThan(0);
      for (const n of receipts) {
        expect(n['Node Type']).toBe('Index Scan');
        expect(n['Index Cond']).toMatch(/batch(_\d+)?\.(seq|event_id)/);
      }
    } finally {
      await db.close();
      await fresh.drop();
    }
  });
});
