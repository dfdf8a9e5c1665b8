import { useLicenses, useSatchel } from '@satchel/react';
import { heldLicense } from '@satchel/sdk';
import { useState } from 'react';
import { Player } from './Player.js';

/**
 * One title: download it, or play the licence this device already holds for it. After a reload the
 * licence is found among useLicenses() (offline too); the server would refuse a second one (ALREADY_LICENSED).
 */
export function Title({ titleId }: { titleId: string }) {
  const satchel = useSatchel();
  const { data: licenses, isLoading } = useLicenses();
  const [note, setNote] = useState<string | null>(null);
  if (isLoading) return null;
  const held = heldLicense(licenses, titleId);

  const download = async () => {
    try {
      const grant = await satchel.requestDownload(titleId);
      if (!grant.ok) return setNote(`Refused: ${grant.refusal.message} (${grant.refusal.code})`);
      // ...fetch and store the media, then:
      await satchel.downloadCompleted(grant.license.licenseId);
      setNote(null);
    } catch (error) {
      setNote(`Download failed: ${(error as Error).message}`);
    }
  };

  return (
    <section>
      <h2>{titleId}</h2>
      {held === null ? (
        <button type="button" onClick={download}>
          Download
        </button>
      ) : held.status === 'issued' ? (
        <button type="button" onClick={() => satchel.downloadCompleted(held.licenseId)}>
          Finish the download
        </button>
      ) : (
        <Player licenseId={held.licenseId} />
      )}
      {note !== null && <p role="status">{note}</p>}
    </section>
  );
}
