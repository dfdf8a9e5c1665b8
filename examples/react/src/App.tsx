import { useSyncStatus } from '@satchel/react';
import { Enrol } from './Enrol.js';
import { SyncBar } from './SyncBar.js';
import { Title } from './Title.js';

export function App() {
  const { data: status, error } = useSyncStatus();
  if (error !== null) return <p role="alert">Storage failed: {error.message}</p>;
  if (status === null) return <p>Loading…</p>;
  if (!status.registered) return <Enrol />;
  return (
    <main>
      <SyncBar />
      <Title titleId="quiet-river" />
    </main>
  );
}
