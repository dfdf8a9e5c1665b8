import { isHeldStatus, type LicenseState } from '@satchel/sdk';

/**
 * The one state a licence card shows, derived from the SDK's licence (its status and the playback
 * decision core's `evaluatePlayback` took at the secure clock) and what the page knows about the bytes.
 * Every label, badge and button of the card follows from this value, so they cannot disagree.
 */
export type CardState =
  | { kind: 'downloading'; progress: number }
  | { kind: 'interrupted' }
  | { kind: 'key-refused' }
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
  /** The licence proxy refused this licence's content key (the licence is no longer valid on the server). */
  keyRefused: boolean;
}

/** Derives the card's state. Pure. */
export function cardState(license: LicenseState, facts: CardFacts): CardState {
  if (!isHeldStatus(license.status)) {
    return { kind: 'ended', status: license.status };
  }
  if (license.status === 'issued') {
    return facts.transfer === undefined
      ? facts.keyRefused
        ? { kind: 'key-refused' }
        : { kind: 'interrupted' }
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
  'key-refused': 'Key refused',
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

/** What else decides whether a card's actions can succeed: the network and what the rules leave. */
export interface CardContext {
  /** Whether requests can reach the server from this device. */
  online: boolean;
  /** Renewals left for this licence (null: no limit). */
  renewalsLeft: number | null;
  /** Downloads of the title left to the account this year — a renewal counts as one (null: no limit). */
  downloadsLeft: number | null;
  /** When the next download of the title frees up, if the allowance says (text, e.g. "3 March"). */
  nextDownloadOn: string | null;
  /** False once the title has left the catalogue (withdrawn or past its availability). */
  titleAvailable: boolean;
}

/**
 * Why neither a renewal nor a new download of the title can succeed by the rules, or null when one can.
 * The same reason is shown wherever the card would otherwise advise renewing or downloading again.
 */
export function spentWords(context: Omit<CardContext, 'online'>): string | null {
  if (!context.titleAvailable)
    return 'The title has left the catalogue, so it can be neither renewed nor downloaded again.';
  if (context.downloadsLeft === 0)
    return `No downloads of this title are left this year (a renewal counts as one)${
      context.nextDownloadOn === null ? '' : `; the next frees up on ${context.nextDownloadOn}`
    }.`;
  return null;
}

/**
 * The advice for a licence whose time is up, consistent with what the rules still allow: renew it; or,
 * with no renewals left, delete it and download the title again; or, with neither possible, why not.
 */
export function nextStepWords(context: Omit<CardContext, 'online'> & { online?: boolean }): string {
  const spent = spentWords(context);
  if (spent !== null) return spent;
  const online = context.online ?? true;
  if (context.renewalsLeft === 0)
    return `It cannot be renewed again, so delete it and download the title again${online ? '' : ' once online'}.`;
  return online ? 'Renew it to watch again.' : 'Go online and renew it to watch again.';
}

/**
 * Which actions can succeed in a state. Renewing and deleting need the licence to be active; renewing
 * and resuming a download need the network; renewal also needs a renewal and a yearly download left
 * and the title in the catalogue.
 */
export function actions(
  state: CardState,
  context: CardContext,
): { play: Availability; renew: Availability; remove: Availability; resume: Availability } {
  const ended = state.kind === 'ended';
  const spent = spentWords(context);
  const refused = 'The server refused this licence’s key: a sync tells why.';
  const renew = ended
    ? no(
        spent === null
          ? 'This licence has ended: download the title again from the catalogue.'
          : `This licence has ended. ${spent}`,
      )
    : state.kind === 'key-refused'
      ? no(refused)
      : spent !== null
        ? no(spent)
        : context.renewalsLeft === 0
          ? no('No renewals are left for this licence.')
          : !context.online
            ? no('This device is offline: renewing needs the server.')
            : yes;
  const play =
    state.kind === 'ready' || state.kind === 'playing'
      ? yes
      : state.kind === 'time-up'
        ? no(`Its time is up: ${lowerFirst(nextStepWords(context))}`)
        : state.kind === 'sync-needed'
          ? no('Go online and sync: this device has not checked in for too long.')
          : state.kind === 'no-media'
            ? no(
                spent === null
                  ? 'The media is not stored on this device: delete it and download it again.'
                  : `The media is not stored on this device. ${spent}`,
              )
            : no('Not downloaded yet.');
  return {
    play,
    renew,
    remove: ended ? no('Already ended.') : state.kind === 'downloading' ? no('Downloading…') : yes,
    resume:
      state.kind === 'key-refused'
        ? no(refused)
        : state.kind !== 'interrupted'
          ? no('Not needed.')
          : context.online
            ? yes
            : no('This device is offline: the media downloads from the server.'),
  };
}

const lowerFirst = (text: string): string => text.charAt(0).toLowerCase() + text.slice(1);
