import type { Policy } from '@satchel/core';
import { createSatchel, type SatchelClient, type SatchelOptions } from './client.js';
import { FakeServer, VirtualClock } from './fake-server.testkit.js';
import { idbStorage } from './storage/idb.js';
import { T0 } from './testkit.js';

let counter = 0;

/**
 * A fake server on a virtual clock and a client factory over one fresh IndexedDB database (named
 * `<prefix>-<n>`, also the tab group). Every client made is pushed to `clients`, for the test's
 * afterEach to close; `client` is the first one.
 */
export function clientFixture(
  prefix: string,
  clients: SatchelClient[],
  catalogue: Map<string, Policy>,
  overrides: Partial<SatchelOptions> = {},
) {
  const clock = new VirtualClock(T0);
  const server = new FakeServer(clock.now, 'account-1', undefined, catalogue);
  const name = `${prefix}-${++counter}`;
  const make = (extra: Partial<SatchelOptions> = {}) => {
    const client = createSatchel({
      baseUrl: 'https://sync.test/',
      fetch: server.fetch,
      clock,
      storage: idbStorage({ name }),
      autoSync: false,
      tabGroup: name,
      locks: null,
      ...overrides,
      ...extra,
    });
    clients.push(client);
    return client;
  };
  return { clock, server, client: make(), make, name };
}
