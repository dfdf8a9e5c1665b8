import type { LicenseState } from '@satchel/sdk';

/**
 * The one state a licence card shows, derived from the SDK's licence (its status and the playback
 * decision core's `evaluatePlayback` took at the secure clock) and what the page knows about the bytes.
 * Every label, badge and button of the card follows from this value, so they cannot disagree.
 */
export type CardState =
  | { kind: 'downloading'; progress: number }
  | { kind: 'interrupted' }
  | { kind: 'playing' }
  | { kind: 'ready' }
  | { kind: 'no-media' }
  | { kind: 'time-up'; reason: string }
  | { kind: 'sync-needed' }
  | { kind: 'ended'; status: 'released' | 'revoked' | 'expired' };

/** What the page knows beside the SDK: a transfer in progress, the stored bytes, the playing licence. */
export interface CardFacts {
  transfer: number | undefined;
  stored: boolean;
  playing: boolean;
}

/** Derives the card's state. Pure. */
export function cardState(license: LicenseState, facts: CardFacts): CardState {
  if (license.status === 'released' || license.status === 'revoked' || license.status === 'expired') {
    return { kind: 'ended', status: license.status };
  }
  if (license.status === 'issued') {
    return facts.transfer === undefined
      ? { kind: 'interrupted' }
      : { kind: 'downloading', progress: facts.transfer };
  }
  if (facts.playing) return { kind: 'playing' };
  const decision = license.playback;
  if (decision.allowed) return facts.stored ? { kind: 'ready' } : { kind: 'no-media' };
  if (decision.reason === 'CHECK_IN_REQUIRED') return { kind: 'sync-needed' };
  return { kind: 'time-up', reason: decision.reason };
}

/** The badge of each state. */
export const STATE_LABEL: Record<CardState['kind'] | 'released' | 'revoked' | 'expired', string> = {
  downloading: 'Downloading',
  interrupted: 'Download interrupted',
  playing: 'Playing',
  ready: 'Ready to play',
  'no-media': 'Media missing',
  'time-up': 'Time is up',
  'sync-needed': 'Sync needed',
  ended: 'Ended',
  released: 'Deleted',
  revoked: 'Revoked',
  expired: 'Expired',
};

/** The badge text of a state. */
export function stateLabel(state: CardState): string {
  return state.kind === 'ended' ? STATE_LABEL[state.status] : STATE_LABEL[state.kind];
}

/** An action on a card: whether it can succeed now, and if not, why (shown next to the disabled button). */
export interface Availability {
  enabled: boolean;
  why: string | null;
}

const yes: Availability = { enabled: true, why: null };
const no = (why: string): Availability => ({ enabled: false, why });

/**
 * Which actions can succeed in a state. Renewing and deleting need the licence to be active; renewing
 * and resuming a download need the network (`online`); renewal also needs an allowance left.
 */
export function actions(
  state: CardState,
  context: { online: boolean; renewalsLeft: number | null; downloadsLeft: number | null },
): { play: Availability; renew: Availability; remove: Availability; resume: Availability } {
  const ended = state.kind === 'ended';
  const offline = 'This device is offline: renewing needs the server.';
  const renew = ended
    ? no('This licence has ended: download the title again from the catalogue.')
    : !context.online
      ? no(offline)
      : context.renewalsLeft === 0
        ? no('No renewals are left for this licence.')
        : context.downloadsLeft === 0
          ? no('No downloads of this title are left this year (a renewal counts as one).')
          : yes;
  const play =
    state.kind === 'ready'
      ? yes
      : state.kind === 'time-up'
        ? no('Its time is up: renew it to watch again.')
        : state.kind === 'sync-needed'
          ? no('Go online and sync: this device has not checked in for too long.')
          : state.kind === 'no-media'
            ? no('The media is not stored on this device: delete it and download it again.')
            : state.kind === 'playing'
              ? yes
              : no('Not downloaded yet.');
  return {
    play,
    renew,
    remove: ended ? no('Already ended.') : state.kind === 'downloading' ? no('Downloading…') : yes,
    resume:
      state.kind !== 'interrupted'
        ? no('Not needed.')
        : context.online
          ? yes
          : no('This device is offline: the media downloads from the server.'),
  };
}
