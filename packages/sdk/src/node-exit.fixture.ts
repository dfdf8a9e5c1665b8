// Run by engine.test.ts in a child process: creates a client with background sync on and either leaves
// it idle or closes it. The process must then exit on its own.
import 'fake-indexeddb/auto';
import { createSatchel } from './client.js';
import { idbStorage } from './storage/idb.js';

const client = createSatchel({
  baseUrl: 'http://127.0.0.1:9/',
  storage: idbStorage({ name: `node-exit-${process.pid}` }),
  fetch: async () => {
    throw new TypeError('offline');
  },
});
await client.status();
if (process.argv[2] === 'closed') await client.close();
