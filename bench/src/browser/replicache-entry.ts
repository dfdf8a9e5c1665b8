// Bundled into the benchmark page next to the SDK: Replicache as a peer, with `persist()` reachable.
import { TEST_LICENSE_KEY } from 'replicache';
import { ReplicacheImpl } from 'replicache/impl';

Object.assign(globalThis, { BenchReplicache: { ReplicacheImpl, TEST_LICENSE_KEY } });
