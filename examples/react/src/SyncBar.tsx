import { useSatchel, useSyncStatus } from '@satchel/react';
import { isSatchelError } from '@satchel/sdk';
import { useState } from 'react';

/** What waits in the outbox, how the last sync went, and a button to sync now. */
export function SyncBar() {
  const satchel = useSatchel();
  const { data: status } = useSyncStatus();
  const [note, setNote] = useState<string | null>(null);
  if (status === null) return null;

  const sync = async () => {
    try {
      const result = await satchel.sync();
      setNote(`synced: ${result.acknowledged} events acknowledged`);
    } catch (error) {
      if (!isSatchelError(error, 'NETWORK') && !isSatchelError(error, 'TIMEOUT')) throw error;
      setNote('offline: the events stay in the outbox and go at the next sync');
    }
  };

  return (
    <p>
      <span data-testid="pending">{status.pendingEvents} events waiting</span>
      {status.syncing && ' · syncing…'}
      {status.lastError !== null && ` · last sync failed (${status.lastError.code})`}{' '}
      <button type="button" onClick={sync} disabled={status.syncing}>
        Sync now
      </button>
      {note !== null && <span role="status"> {note}</span>}
    </p>
  );
}
