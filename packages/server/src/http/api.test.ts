import { pgliteDatabase } from '../db/pglite.js';
import { apiContract } from '../testing/api-contract.js';

apiContract('PGlite', async () => {
  const db = await pgliteDatabase();
  return { db, teardown: () => db.close() };
});
