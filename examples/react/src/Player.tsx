import { usePlaybackDecision, useSatchel } from '@satchel/react';
import { useState } from 'react';

/**
 * The play button, live: usePlaybackDecision is re-evaluated when the licence changes and at the instant
 * it expires, so the button turns into the reason on time, offline too.
 */
export function Player({ licenseId }: { licenseId: string }) {
  const satchel = useSatchel();
  const { data: decision } = usePlaybackDecision(licenseId);
  const [playing, setPlaying] = useState(false);
  if (decision === null) return null;
  if (!decision.allowed)
    return (
      <p>
        Cannot play: {decision.message} ({decision.reason})
      </p>
    );

  const play = async () => {
    // Decided offline; records PlaybackStarted when allowed.
    const started = await satchel.startPlayback(licenseId);
    setPlaying(started.allowed);
  };
  const stop = async () => {
    await satchel.stopPlayback(licenseId, 42_000);
    setPlaying(false);
  };
  return playing ? (
    <button type="button" onClick={stop}>
      Stop
    </button>
  ) : (
    <button type="button" onClick={play}>
      Play ({Math.round(decision.timeLeftMs / 3_600_000)} h left)
    </button>
  );
}
