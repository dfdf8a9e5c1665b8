import { EventStore, type Queryable } from '@satchel/server';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BenchDatabase, freshDatabase, postgresReachable } from './pg.js';
import { seedScalingDatabase } from './scaling.js';

if (!(await postgresReachable())) throw new Error('PostgreSQL does not answer (set DATABASE_URL)');

type PlanNode = { 'Node Type': string; 'Relation Name'?: string; Plans?: PlanNode[] };
const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];

/** The text of the sync's read statement, as the server sends it (caught by a Queryable that answers nothing). */
async function syncReadStatement(): Promise<string> {
  let text = '';
  const catcher: Queryable = {
    async query<R>(sql: string): Promise<R[]> {
      text = sql;
      return [];
    },
  };
  await new EventStore(undefined as never).loadDeviceBatch(
    catcher,
    'bench-1',
    { foldVersion: 1, initial: () => null, apply: (s) => s },
    'dev-1',
    [],
  );
  return text;
}

describe('the scaling section’s seeded database', () => {
  let db: BenchDatabase;
  let sql: postgres.Sql;

  beforeAll(async () => {
    db = await freshDatabase('scaling_test');
    await seedScalingDatabase(db.url, 200, Date.now());
    sql = postgres(db.url, { max: 1, onnotice: () => {} });
  });

  afterAll(async () => {
    await sql?.end({ timeout: 2 });
    await db?.drop();
  });

  it('has the accounts, their devices and their first events', async () => {
    const [row] = await sql<{ accounts: number; credentials: number; events: number }[]>`
      SELECT (SELECT count(*)::int FROM accounts) AS accounts,
             (SELECT count(*)::int FROM device_credentials) AS credentials,
             (SELECT count(*)::int FROM events) AS events`;
    expect(row?.accounts).toBe(200);
    expect(row?.credentials).toBe(200);
    expect(row?.events).toBeGreaterThanOrEqual(600);
  });

  // Analyzed while empty, the tables the sync fills are taken for empty for good (autovacuum may be off):
  // the generic plan made on a connection before they have a page scans every row they later hold.
  it('leaves the tables the sync fills unanalyzed, so the generic plan of its read probes their indexes', async () => {
    const read = await syncReadStatement();
    expect(read).toMatch(/device_receipts/);
    const explained = await sql.begin(async (tx) => {
      await tx.unsafe('SET LOCAL plan_cache_mode = force_generic_plan');
      await tx.unsafe(`PREPARE sync_read(text, int, text, bigint[], uuid[]) AS ${read}`);
      const rows = await tx.unsafe<{ 'QUERY PLAN': [{ Plan: PlanNode }] }[]>(
        `EXPLAIN (FORMAT JSON) EXECUTE sync_read('bench-1', 1, 'dev-1', '{1,2}',
          '{00000000-0000-7000-8000-000000000001,00000000-0000-7000-8000-000000000002}')`,
      );
      await tx.unsafe('DEALLOCATE sync_read');
      return rows[0]?.['QUERY PLAN'][0].Plan;
    });
    if (!explained) throw new Error('no plan');
    const scanned = nodes(explained).filter((n) =>
      ['device_receipts', 'device_cursors', 'snapshots'].includes(n['Relation Name'] ?? ''),
    );
    expect(new Set(scanned.map((n) => n['Relation Name']))).toEqual(
      new Set(['device_receipts', 'device_cursors', 'snapshots']),
    );
    // An index scan, or a bitmap heap scan over one: never a sequential scan of the table.
    for (const n of scanned) expect(n['Node Type'], n['Relation Name']).toMatch(/^(Index|Bitmap Heap) Scan$/);
  });
});
