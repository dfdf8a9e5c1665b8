import { describe, expect, it } from 'vitest';
import { freshPostgresDatabase, requirePostgres } from '../testing/databases.js';
import { storeContract } from '../testing/store-contract.js';

const available = await requirePostgres('store.pg.test.ts');

if (available) {
  storeContract('PostgreSQL', async () => {
    const fresh = await freshPostgresDatabase();
    return { db: fresh.open(), second: fresh.open(), teardown: () => fresh.drop() };
  });
} else {
  describe('event store contract (PostgreSQL)', () => {
    it('needs DATABASE_URL to point at a reachable PostgreSQL', () => {
      expect(available).toBe(false);
    });
  });
}
