import { pgliteDatabase } from '../db/pglite.js';
import { apiContract } from '../testing/api-contract.js';

apiContract('PGlite', async () => {
  const db = await pgliteDatabase();
  return { db, teardown: () => db.close() };
});

// The same contract over a real HTTP listener: POST /v1/sync answered by the lean Node handler.
apiContract(
  'PGlite over HTTP',
  async () => {
    const db = await pgliteDatabase();
    return { db, teardown: () => db.close() };
  },
  { http: true },
);
