// `@satchel/sdk/testing`: the storage contract suite, for a player who stores Satchel's data in a
// database of its own (`dexieStorage` over its Dexie database, or an adapter it wrote). Framework-free:
// each case is a name and an async check, for any test runner.
export { AssertionError } from '../testing/assert.js';
export {
  type StorageContractCase,
  type StorageFixture,
  storageContract,
} from '../testing/storage-contract.js';
