import { describe, expect, it } from 'vitest';
import {
  type SyncInput,
  type SyncInputType,
  type SyncState,
  type SyncStateKind,
  timerAt,
  transition,
} from './machine.js';

// The transition table of docs/protocol.md, one row per (state, input) pair. Its type lists every pair:
// a state or an input added to the machine without a row here does not compile.

const NOW = 10_000;
const BOUNDS = { minRunGapMs: 1000 };
const base = { background: true, failures: 2, notBefore: 0 };

const STATES: { [K in SyncStateKind]: Extract<SyncState, { kind: K }> } = {
  idle: { kind: 'idle', ...base, background: false },
  scheduled: { kind: 'scheduled', at: NOW + 5000, ...base },
  syncing: { kind: 'syncing', again: false, ...base },
  backoff: { kind: 'backoff', at: NOW + 60_000, ...base },
  stopped: { kind: 'stopped', reason: 'update-required', ...base },
  closed: { kind: 'closed', ...base, background: false },
};

const INPUTS: { [K in SyncInputType]: Extract<SyncInput, { type: K }> } = {
  start: { type: 'start', now: NOW },
  resign: { type: 'resign' },
  record: { type: 'record', now: NOW, delayMs: 2000 },
  online: { type: 'online', now: NOW },
  timer: { type: 'timer', now: NOW + 60_000 },
  request: { type: 'request', now: NOW },
  succeeded: { type: 'succeeded', now: NOW, nextInMs: 300_000 },
  failed: { type: 'failed', now: NOW, retryInMs: 4000 },
  close: { type: 'close' },
};

/** What the row expects: the next kind, and the timer (`at`) if the state arms one. */
type Row = { to: SyncStateKind; at?: number | null; failures?: number; background?: boolean };

const TABLE: { [S in SyncStateKind]: { [I in SyncInputType]: Row } } = {
  idle: {
    start: { to: 'scheduled', at: NOW, background: true },
    resign: { to: 'idle' },
    record: { to: 'idle' },
    online: { to: 'idle' },
    timer: { to: 'idle' },
    request: { to: 'syncing' },
    succeeded: { to: 'idle' },
    failed: { to: 'idle' },
    close: { to: 'closed' },
  },
  scheduled: {
    start: { to: 'scheduled', at: NOW + 5000 },
    resign: { to: 'idle', at: null, background: false },
    record: { to: 'scheduled', at: NOW + 2000 },
    online: { to: 'scheduled', at: NOW },
    timer: { to: 'syncing', at: null },
    request: { to: 'syncing', at: null },
    succeeded: { to: 'scheduled', at: NOW + 5000 },
    failed: { to: 'scheduled', at: NOW + 5000 },
    close: { to: 'closed', at: null },
  },
  syncing: {
    start: { to: 'syncing' },
    resign: { to: 'syncing', background: false },
    record: { to: 'syncing' },
    online: { to: 'syncing' },
    timer: { to: 'syncing' },
    request: { to: 'syncing' },
    succeeded: { to: 'scheduled', at: NOW + 300_000, failures: 0 },
    failed: { to: 'backoff', at: NOW + 4000, failures: 3 },
    close: { to: 'closed' },
  },
  backoff: {
    start: { to: 'backoff', at: NOW + 60_000 },
    resign: { to: 'idle', at: null, background: false },
    // New events never cut a backoff short: that is how a storm starts.
    record: { to: 'backoff', at: NOW + 60_000 },
    online: { to: 'scheduled', at: NOW },
    timer: { to: 'syncing', at: null },
    request: { to: 'syncing', at: null },
    succeeded: { to: 'backoff', at: NOW + 60_000 },
    failed: { to: 'backoff', at: NOW + 60_000 },
    close: { to: 'closed', at: null },
  },
  stopped: {
    start: { to: 'stopped' },
    resign: { to: 'stopped', background: false },
    record: { to: 'stopped' },
    online: { to: 'stopped' },
    timer: { to: 'stopped' },
    request: { to: 'syncing' },
    succeeded: { to: 'stopped' },
    failed: { to: 'stopped' },
    close: { to: 'closed' },
  },
  closed: {
    start: { to: 'closed' },
    resign: { to: 'closed' },
    record: { to: 'closed' },
    online: { to: 'closed' },
    timer: { to: 'closed' },
    request: { to: 'closed' },
    succeeded: { to: 'closed' },
    failed: { to: 'closed' },
    close: { to: 'closed' },
  },
};

describe('sync state machine (docs/protocol.md, "The device\'s sync state machine")', () => {
  for (const [from, row] of Object.entries(TABLE) as Array<[SyncStateKind, Record<SyncInputType, Row>]>) {
    for (const [input, expected] of Object.entries(row) as Array<[SyncInputType, Row]>) {
      it(`${from} --${input}--> ${expected.to}`, () => {
        const next = transition(STATES[from], INPUTS[input], BOUNDS);
        expect(next.kind).toBe(expected.to);
        if (expected.at !== undefined) expect(timerAt(next)).toBe(expected.at);
        if (expected.failures !== undefined) expect(next.failures).toBe(expected.failures);
        if (expected.background !== undefined) expect(next.background).toBe(expected.background);
      });
    }
  }

  it('a failure stops background sync for good when the server says so', () => {
    const next = transition(
      STATES.syncing,
      { type: 'failed', now: NOW, retryInMs: 1, stop: 'forbidden' },
      BOUNDS,
    );
    expect(next).toMatchObject({ kind: 'stopped', reason: 'forbidden' });
  });

  it('a background run never starts within minRunGapMs of the previous start, whatever the inputs', () => {
    let s = transition(STATES.scheduled, { type: 'timer', now: NOW + 5000 }, BOUNDS);
    s = transition(s, { type: 'succeeded', now: NOW + 5001, nextInMs: 0 }, BOUNDS);
    expect(timerAt(s)).toBe(NOW + 5000 + BOUNDS.minRunGapMs);
    s = transition(s, { type: 'online', now: NOW + 5002 }, BOUNDS);
    expect(timerAt(s)).toBe(NOW + 5000 + BOUNDS.minRunGapMs);
    expect(transition(s, { type: 'timer', now: NOW + 5500 }, BOUNDS).kind).toBe('scheduled');
  });

  it('something recorded during a run schedules the next one right after it', () => {
    let s = transition(STATES.syncing, INPUTS.record, BOUNDS);
    s = transition(s, { type: 'succeeded', now: NOW, nextInMs: 300_000 }, BOUNDS);
    expect(s.kind).toBe('scheduled');
    expect(timerAt(s)).toBe(NOW);
  });
});
