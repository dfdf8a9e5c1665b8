import { pgliteDatabase } from '../db/pglite.js';
import { storeContract } from '../testing/store-contract.js';

storeContract('PGlite', async () => {
  const db = await pgliteDatabase();
  return { db, teardown: () => db.close() };
});
