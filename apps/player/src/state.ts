import type { Allowance, DeviceView, HistoryResponse, Plan } from '@satchel/protocol';
import type { LicenseState, SatchelStatus } from '@satchel/sdk';
import type { StoredMedia } from '@satchel/sdk/shaka';
import type { DeviceSim } from './persist.js';

/** What the SDK says about a device, read after every change (its public API only). */
export interface PanelState {
  status: SatchelStatus;
  licenses: LicenseState[];
  plan: Plan | null;
  devices: DeviceView[];
  allowances: Allowance[];
  accountId: string | null;
  /** Server time of the snapshot the plan, devices and allowances come from (null before the first). */
  snapshotTime: number | null;
}

/** Playback in progress on a device, in its `<video>`; `expiresAt` is +∞ until the SDK decided. */
export interface Playing {
  licenseId: string;
  expiresAt: number;
}

/**
 * Everything a device panel shows, in one immutable value. The panel is drawn from it and from nothing
 * else; it changes only through {@link deviceReducer}.
 */
export interface DeviceState {
  /** The SDK's view, or null until the first read. */
  view: PanelState | null;
  /** The media stored for each licence (licence id → what Shaka holds). */
  media: Readonly<Record<string, StoredMedia>>;
  playing: Playing | null;
  /** Licence id → transfer progress (0..1) of a download in progress. */
  transfers: Readonly<Record<string, number>>;
  /** Key (title id, licence id, `register`, `devices`) → the last refusal or failure to show there. */
  notices: Readonly<Record<string, string>>;
  /** Licence id → its open timeline: the server's history once read, or why it could not be. */
  timelines: Readonly<Record<string, TimelineData>>;
  /** A call the page logs itself is running: a failure the SDK stores meanwhile is that call's. */
  busy: boolean;
  /** How far the SDK's secure clock is ahead of the device's wall clock, as last seen in a decision (ms). */
  trustedSkewMs: number;
  /** The network switch and the clock offset of the simulation. */
  sim: DeviceSim;
}

/** An open licence timeline: being read, read (the server's history of the licence), or failed. */
export type TimelineData =
  | { kind: 'loading' }
  | { kind: 'ready'; events: HistoryResponse['events'] }
  | { kind: 'failed'; message: string };

export type DeviceAction =
  | {
      type: 'read';
      view: PanelState;
      media: readonly StoredMedia[];
      /** The device's wall clock when the view was read (ms). */
      wallNow: number;
    }
  | { type: 'notice'; key: string; text: string | null }
  | { type: 'transfer'; licenseId: string; progress: number | null }
  | { type: 'playing'; playing: Playing | null }
  | { type: 'decided'; secureNow: number; wallNow: number }
  /** A timeline opened or read (`data`), or closed (`null`). */
  | { type: 'timeline'; licenseId: string; data: TimelineData | null }
  | { type: 'busy'; busy: boolean }
  | { type: 'network'; off: boolean }
  | { type: 'clock'; ms: number };

/** A device's state before anything was read. */
export function initialDeviceState(sim: DeviceSim): DeviceState {
  return {
    view: null,
    media: {},
    playing: null,
    transfers: {},
    notices: {},
    timelines: {},
    busy: false,
    trustedSkewMs: 0,
    sim,
  };
}

const without = <T>(record: Readonly<Record<string, T>>, key: string): Record<string, T> => {
  const { [key]: _, ...rest } = record;
  return rest;
};

/** The device's next state. Pure: the same state and action always give the same new state. */
export function deviceReducer(state: DeviceState, action: DeviceAction): DeviceState {
  switch (action.type) {
    case 'read': {
      const media = Object.fromEntries(action.media.map((m) => [m.licenseId, m]));
      // Notices of licences that ended by the server's doing (revoked, deleted) no longer apply.
      let notices = state.notices;
      for (const license of action.view.licenses) {
        if ((license.status === 'revoked' || license.status === 'released') && license.licenseId in notices)
          notices = without(notices, license.licenseId);
      }
      const reading = action.view.licenses[0]?.playback.secureNow;
      return {
        ...state,
        view: action.view,
        media,
        notices,
        trustedSkewMs: reading === undefined ? state.trustedSkewMs : reading - action.wallNow,
      };
    }
    case 'notice':
      return {
        ...state,
        notices:
          action.text === null
            ? without(state.notices, action.key)
            : { ...state.notices, [action.key]: action.text },
      };
    case 'transfer':
      return {
        ...state,
        transfers:
          action.progress === null
            ? without(state.transfers, action.licenseId)
            : { ...state.transfers, [action.licenseId]: Math.min(1, Math.max(0, action.progress)) },
      };
    case 'playing':
      return { ...state, playing: action.playing };
    case 'decided':
      return { ...state, trustedSkewMs: action.secureNow - action.wallNow };
    case 'timeline':
      return {
        ...state,
        timelines:
          action.data === null
            ? without(state.timelines, action.licenseId)
            : { ...state.timelines, [action.licenseId]: action.data },
      };
    case 'busy':
      return { ...state, busy: action.busy };
    case 'network':
      return { ...state, sim: { ...state.sim, networkOff: action.off } };
    case 'clock': {
      // A step forward is time going by (the monotonic count moves too); a step back only sets the wall
      // clock back.
      const advancedMs = (state.sim.advancedMs ?? 0) + Math.max(0, action.ms);
      return {
        ...state,
        sim: { ...state.sim, clockOffsetMs: state.sim.clockOffsetMs + action.ms, advancedMs },
      };
    }
  }
}

/** Whether the device itself was deactivated (as its last snapshot says). */
export function isDeactivated(view: PanelState): boolean {
  return view.devices.find((x) => x.deviceId === view.status.deviceId)?.status === 'deactivated';
}

/**
 * The allowances to show for an account: those of the newest snapshot any of its devices on this page
 * holds. A yearly allowance is the account's, not a device's; each device's snapshot is a copy as of
 * its last sync, so showing each device's own copy would make two cards of one account disagree until
 * both synced. Returns `[]` for an account no device has a snapshot of.
 */
export function accountAllowances(
  views: ReadonlyArray<PanelState | null>,
  accountId: string | null,
): Allowance[] {
  let newest: PanelState | null = null;
  for (const view of views) {
    if (view === null || accountId === null || view.accountId !== accountId || view.snapshotTime === null)
      continue;
    if (newest === null || (newest.snapshotTime ?? 0) < view.snapshotTime) newest = view;
  }
  return newest?.allowances ?? [];
}
