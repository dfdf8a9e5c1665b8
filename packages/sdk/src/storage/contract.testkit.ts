import { describe, it } from 'vitest';
import { type StorageFixture, storageContract } from '../testing/storage-contract.js';

/** The storage contract (`@satchel/sdk/testing`) as a vitest suite, one test per case. */
export function describeStorageContract(name: string, fixture: StorageFixture): void {
  describe(`storage contract: ${name}`, () => {
    for (const { name: behaviour, run } of storageContract(fixture)) it(behaviour, run);
  });
}
