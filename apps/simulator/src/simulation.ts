import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AccountState,
  DAY_MS,
  HOUR_MS,
  isHeldStatus,
  MINUTE_MS,
  type Plan,
  type RecordedEvent,
} from '@satchel/core';
import type { LicenseSnapshot } from '@satchel/protocol';
import type { PlaybackResult } from '@satchel/sdk';
import { BEHAVIOURS, DEFAULT_MIX, type ProfileName, TITLES, WITHDRAWALS } from './behaviours.js';
import { SimDevice } from './device.js';
import { installDeviceRealms } from './environment.js';
import { emptyFaultStats, type FaultRates, type FaultStats, NO_FAULTS } from './faults.js';
import { expiryOf, limitBreaches } from './oracle.js';
import { deriveSeed, Random } from './random.js';
import { Recorder } from './record.js';
import { EmbeddedServer } from './server/embedded.js';
import type { AccountAudit } from './server/harness.js';
import { Operator } from './server/operator.js';

/** Options of {@link runSimulation}. */
export interface SimulationOptions {
  devices: number;
  accounts: number;
  days: number;
  seed: number;
  /** A running server with the simulation harness (virtual clock and operator routes); default: embedded. */
  server?: string | undefined;
  /** The harness secret of `server` (default `satchel-simulation`). */
  harnessSecret?: string | undefined;
  /** PostgreSQL for the embedded server (default: PGlite in a temporary directory). */
  databaseUrl?: string | undefined;
  /** PGlite data directory for the embedded server (default: a fresh temporary one, removed afterwards). */
  dataDir?: string | undefined;
  faults?: FaultRates;
  /** Weights of the individual profiles. */
  mix?: Partial<Record<Exclude<ProfileName, 'household'>, number>>;
  /** Share of accounts that are households racing for one download slot (default 0.15). */
  householdShare?: number;
  /**
   * Longest stretch of virtual time accounts run independently before they wait for each other (default
   * 6 h); audits, withdrawals and restarts also end one.
   */
  epochMs?: number;
  /** Accounts simulated side by side (default 16; each account's devices act one after another). */
  concurrency?: number;
  /** Virtual time between reads of the server's state for the limit invariant (default: 1/15 of the run, 12 h to 2 d). */
  auditEveryMs?: number;
  /** Devices whose licence timeline the report draws (default 8). */
  timelineSample?: number;
  /** Called after every step with where the run is. */
  onProgress?: (progress: Progress) => void;
  /** Diagnostic lines (server starts, restarts, withdrawals). */
  log?: (line: string) => void;
  /** Test hook: wraps every playback decision the SDK takes. */
  wrapPlayback?: (decide: () => Promise<PlaybackResult>) => Promise<PlaybackResult>;
}

/** Where a run is, for the progress line. */
export interface Progress {
  readonly simulatedMs: number;
  readonly totalMs: number;
  readonly devices: number;
  readonly events: number;
  readonly violations: number;
  readonly phase: 'setup' | 'running' | 'settling' | 'checking';
}

/** The one-object summary a run prints with `--json`. */
export interface Summary {
  devices: number;
  accounts: number;
  simulatedDays: number;
  seed: number;
  database: 'pglite' | 'postgres' | 'external';
  eventsRecorded: number;
  eventsAcknowledged: number;
  eventsPending: number;
  eventsLost: number;
  duplicatesApplied: number;
  invariantViolations: number;
  violationsByCheck: Record<string, number>;
  playbacksAllowed: number;
  playbacksRefused: Record<string, number>;
  clockRollbacksDetected: number;
  licencesGranted: number;
  licencesRefused: Record<string, number>;
  syncs: number;
  syncFailures: Record<string, number>;
  syncLatencyMs: { p50: number; p95: number; p99: number; max: number };
  requestErrors: Record<string, number>;
  storageErrors: Record<string, number>;
  faults: FaultStats;
  profiles: Record<string, number>;
  wallSeconds: number;
  /** CPU seconds used by the simulator (devices, SDK) and by the embedded server (null with `--server`). */
  cpuSeconds: { simulator: number; server: number | null };
  /** The machine's one-minute load average at the end: wall time means little on a busy machine. */
  loadAverage: number;
}

/** The outcome of a run: the summary, and everything the report draws. */
export interface SimulationResult {
  readonly summary: Summary;
  readonly recorder: Recorder;
  readonly options: Readonly<Required<Pick<SimulationOptions, 'devices' | 'accounts' | 'days' | 'seed'>>>;
  readonly start: number;
  readonly end: number;
  /** The sampled devices: name, profile and the final licences the server holds for them. */
  readonly sampled: ReadonlyArray<{
    name: string;
    profile: ProfileName;
    accountId: string;
    deviceId: string;
    /** The device's account's stream, drawn with @satchel/timeline. */
    history: readonly RecordedEvent[];
    licences: ReadonlyArray<{
      licenseId: string;
      titleId: string;
      issuedAt: number;
      endedAt: number | null;
      expiresAt: number;
      status: string;
      statusReason: string | null;
    }>;
  }>;
}

/** Virtual time at which every run starts (a Monday, midnight UTC). */
export const SIMULATION_START = Date.UTC(2026, 0, 5);

async function mapLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++];
      if (item !== undefined) await fn(item);
    }
  });
  await Promise.all(workers);
}

const percentile = (values: readonly number[], p: number): number => {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0);
};

const canonical = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
};

/** The first path at which two JSON values differ, with both sides. */
function firstDifference(
  a: unknown,
  b: unknown,
  path = '$',
): { path: string; device: unknown; server: unknown } | null {
  if (JSON.stringify(canonical(a)) === JSON.stringify(canonical(b))) return null;
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const key of [...keys].sort()) {
      const d = firstDifference(
        (a as Record<string, unknown>)[key],
        (b as Record<string, unknown>)[key],
        `${path}.${key}`,
      );
      if (d !== null) return d;
    }
  }
  return { path, device: a, server: b };
}

interface SimAccount {
  readonly accountId: string;
  readonly plan: Plan;
  readonly household: boolean;
  readonly devices: SimDevice[];
  readonly serverClock: { at: number };
}

/**
 * Runs one simulation: starts (or reaches) the server, opens the accounts, registers every device with
 * the real SDK, drives their behaviours on the virtual clock with the faults on, then lets every device
 * sync with the faults off and checks the invariants. Never throws for a violated invariant (they are
 * in the result); throws when the server cannot be started or reached.
 */
export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  const wallStart = performance.now();
  installDeviceRealms();
  const faults = options.faults ?? NO_FAULTS;
  const epoch = options.epochMs ?? 6 * HOUR_MS;
  const concurrency = options.concurrency ?? 16;
  const start = SIMULATION_START;
  const end = start + options.days * DAY_MS;
  const log = options.log ?? (() => undefined);
  const recorder = new Recorder();
  const faultStats = emptyFaultStats();
  const world = new Random(deriveSeed(options.seed, 'world'));
  let faultsOn = false;

  const secret = options.server
    ? (options.harnessSecret ?? 'satchel-simulation')
    : randomBytes(16).toString('hex');
  let embedded: EmbeddedServer | null = null;
  let tempDir: string | null = null;
  let removeOnExit: (() => void) | null = null;
  let baseUrl = options.server ?? '';
  const operator = new Operator(() => baseUrl, secret);

  const progress = (phase: Progress['phase'], at: number) =>
    options.onProgress?.({
      simulatedMs: Math.max(0, Math.min(at, end) - start),
      totalMs: end - start,
      devices: options.devices,
      events: recorder.eventsRecorded,
      violations: recorder.violationCount,
      phase,
    });

  try {
    if (!options.server) {
      if (options.dataDir === undefined && !options.databaseUrl) {
        const dir = await mkdtemp(join(tmpdir(), 'satchel-sim-'));
        tempDir = dir;
        // Also on an interrupted run (the CLI exits on SIGINT): PGlite directories are tens of MB.
        removeOnExit = () => rmSync(dir, { recursive: true, force: true });
        process.once('exit', removeOnExit);
      }
      const dataDir = options.dataDir ?? tempDir ?? '';
      embedded = new EmbeddedServer({ dataDir, databaseUrl: options.databaseUrl, secret, start });
      log(
        `starting the embedded sync server on ${options.databaseUrl ? 'PostgreSQL' : `PGlite (${dataDir})`}`,
      );
      await embedded.start();
      baseUrl = embedded.url;
      log(
        `sync server ready at ${baseUrl} (pid ${embedded.pid}) after ${((performance.now() - wallStart) / 1000).toFixed(1)} s`,
      );
    }
    const health = await operator.health();
    progress('setup', start);
    await operator.putTitles(TITLES, start);

    // Accounts: a share are households (one download slot, three or four devices racing for it).
    const householdCount = Math.min(
      Math.round(options.accounts * (options.householdShare ?? 0.15)),
      Math.floor(Math.max(0, options.devices - options.accounts) / 2),
    );
    const accounts: SimAccount[] = [];
    for (let i = 0; i < options.accounts; i++) {
      const household = i < householdCount;
      const plan: Plan = household
        ? { planId: 'single', maxDownloadDevices: 1, maxDownloadsPerDevice: 100, maxDownloadsPerMonth: null }
        : {
            planId: 'standard',
            maxDownloadDevices: world.pick([1, 2, 2, 4, 6]),
            maxDownloadsPerDevice: world.pick([3, 100]),
            maxDownloadsPerMonth: world.chance(0.3) ? 15 : null,
          };
      accounts.push({
        accountId: `acct-${String(i + 1).padStart(4, '0')}`,
        plan,
        household,
        devices: [],
        serverClock: { at: start },
      });
    }
    const mix = { ...DEFAULT_MIX, ...options.mix };
    const profiles: Record<string, number> = {};
    let armed = false;
    let killing: Promise<void> | null = null;
    const killNow = () => {
      armed = false;
      killing = embedded?.kill() ?? null;
      return killing;
    };
    const context = {
      onSend: () => {
        // A few milliseconds after the request left: the server is in the middle of it.
        if (armed) setTimeout(killNow, 3);
        armed = false;
      },
      baseUrl: () => baseUrl,
      rates: faults,
      faultStats,
      faultsEnabled: () => faultsOn,
      recorder,
      wrapPlayback: options.wrapPlayback,
    };
    const devices: SimDevice[] = [];
    const perAccount = accounts.map((a, i) => (a.household ? 3 + (i % 2) : 1));
    let extra = options.devices - perAccount.reduce((a, b) => a + b, 0);
    while (extra < 0) {
      const i = perAccount.findIndex((n, j) => n > 1 && accounts[j]?.household);
      if (i < 0) break;
      perAccount[i] = (perAccount[i] ?? 1) - 1;
      extra += 1;
    }
    const others = accounts.map((a, i) => (a.household ? -1 : i)).filter((i) => i >= 0);
    for (; extra > 0; extra--) {
      const i = others.length > 0 ? world.pick(others) : world.int(0, accounts.length - 1);
      perAccount[i] = (perAccount[i] ?? 0) + 1;
    }
    accounts.forEach((account, i) => {
      for (let k = 0; k < (perAccount[i] ?? 0) && devices.length < options.devices; k++) {
        const n = devices.length + 1;
        const profile: ProfileName = account.household ? 'household' : world.weighted(mix);
        profiles[profile] = (profiles[profile] ?? 0) + 1;
        const name = `d${String(n).padStart(4, '0')}`;
        const device = new SimDevice(
          name,
          account.accountId,
          BEHAVIOURS[profile],
          deriveSeed(options.seed, `device:${name}`),
          deriveSeed(options.seed, `faults:${name}`),
          start,
          account.serverClock,
          context,
        );
        device.nextAt = start + world.int(0, 6 * 60) * MINUTE_MS;
        account.devices.push(device);
        devices.push(device);
      }
    });
    const active = accounts.filter((a) => a.devices.length > 0);
    const profileOf = new Map(devices.map((d) => [d.name, d.behaviour.name]));

    const tokens = await operator.openAccounts(
      active.map((a) => ({ accountId: a.accountId, name: `Account ${a.accountId}`, plan: a.plan })),
      start,
    );
    await mapLimit(active, concurrency, async (account) => {
      for (const device of account.devices) {
        const token = tokens[account.accountId];
        if (token === undefined) throw new Error(`no enrolment token for ${account.accountId}`);
        await device.register(token);
      }
    });
    const elapsed = () => `${((performance.now() - wallStart) / 1000).toFixed(1)} s`;
    log(`${active.length} accounts, ${devices.length} devices registered (${health.db}) after ${elapsed()}`);

    // The run: step by step on the virtual clock, accounts side by side, each account's devices in turn.
    faultsOn = true;
    const restartEvery = embedded !== null && faults.serverRestartMs > 0 ? faults.serverRestartMs : 0;
    let nextRestart = restartEvery > 0 ? start + restartEvery : Infinity;
    const auditEvery =
      options.auditEveryMs ?? Math.min(2 * DAY_MS, Math.max(12 * HOUR_MS, (end - start) / 15));
    let nextAudit = start + auditEvery;
    const withdrawals = WITHDRAWALS.map((w) => ({
      ...w,
      at: start + Math.round(w.atFraction * (end - start)),
      done: false,
    }));
    let stepErrors = 0;
    const tiebreak = new Map<SimDevice, number>();

    const audit = async (at: number) => {
      const states = await operator.states(
        active.map((a) => a.accountId),
        at,
      );
      sampleStates(recorder, states, at);
      for (const state of states) checkLimits(recorder, state, at);
    };

    // A restart is armed at its instant and fires as the next device request goes out, so requests are
    // in flight (some already processed) when the process dies; it stays down for `downtime`.
    const downtime = Math.min(15 * MINUTE_MS, restartEvery / 2);
    let upAt = Infinity;
    const bringUp = async () => {
      if (embedded === null || upAt === Infinity) return;
      if (armed) await killNow();
      await killing;
      killing = null;
      await embedded.start();
      upAt = Infinity;
    };
    recorder.samples.push({ at: start, counts: {} });
    let t = start;
    while (t < end) {
      if (upAt <= t) await bringUp();
      if (embedded !== null && t >= nextRestart && upAt === Infinity) {
        nextRestart += restartEvery;
        armed = true;
        faultStats.serverRestarts += 1;
        upAt = t + downtime;
        log(`sync server killed at ${new Date(t).toISOString()}`);
      }
      for (const w of withdrawals) {
        if (w.done || w.at > t) continue;
        w.done = true;
        const at = Math.max(t, ...accounts.map((a) => a.serverClock.at));
        for (const a of accounts) a.serverClock.at = at;
        await bringUp();
        const revoked = await operator.withdrawTitle(w.titleId, at + w.noticeMs, at);
        log(`operator withdrew ${w.titleId} at ${new Date(at).toISOString()} (${revoked} licences revoked)`);
      }
      // Accounts are independent between two global events (an audit, a withdrawal, a restart): each
      // runs ahead on its own up to the next one.
      const epochEnd = Math.min(
        end,
        t + epoch,
        nextAudit,
        upAt,
        nextRestart,
        ...withdrawals.filter((w) => !w.done).map((w) => w.at),
      );
      await mapLimit(active, concurrency, async (account) => {
        for (let guard = 0; guard < 10_000; guard++) {
          let due: SimDevice | null = null;
          for (const d of account.devices) {
            if (d.nextAt >= epochEnd) continue;
            if (
              due === null ||
              d.nextAt < due.nextAt ||
              (d.nextAt === due.nextAt && (tiebreak.get(d) ?? 0) < (tiebreak.get(due) ?? 0))
            ) {
              due = d;
            }
          }
          if (due === null) break;
          due.now = Math.max(due.now, due.nextAt);
          let delay = 15 * MINUTE_MS;
          try {
            delay = await due.behaviour.step(due);
          } catch (error) {
            stepErrors += 1;
            recorder.requestError('STEP_FAILED');
            if (stepErrors <= 5)
              log(`${due.name}: step failed: ${error instanceof Error ? error.stack : String(error)}`);
          }
          due.nextAt = due.now + Math.max(MINUTE_MS, delay);
          tiebreak.set(due, due.random.next());
        }
      });
      if (epochEnd >= nextAudit || epochEnd >= end) {
        nextAudit += auditEvery;
        await bringUp();
        await audit(Math.max(epochEnd, ...accounts.map((a) => a.serverClock.at)));
      }
      progress('running', epochEnd);
      t = epochEnd;
    }
    await bringUp();

    // Settle: faults off, every device online and synced twice at one instant, then compare.
    log(`simulated ${options.days} days after ${elapsed()}; settling`);
    faultsOn = false;
    progress('settling', end);
    const settleAt =
      Math.max(end, ...accounts.map((a) => a.serverClock.at), ...devices.map((d) => d.now)) + MINUTE_MS;
    for (const a of accounts) a.serverClock.at = settleAt;
    for (let round = 0; round < 2; round++) {
      await mapLimit(active, concurrency, async (account) => {
        for (const d of account.devices) {
          await d.network.flush();
          d.now = settleAt;
          d.setOnline(true);
          for (let attempt = 0; attempt < 3 && !(await d.sync()); attempt++);
        }
      });
    }

    progress('checking', end);
    log(`settled after ${elapsed()}; checking`);
    let eventsAcknowledged = 0;
    let eventsPending = 0;
    let eventsLost = 0;
    let duplicatesApplied = 0;
    const serverLicences = new Map<string, AccountState['licenses']>();
    const histories = new Map<string, RecordedEvent[]>();
    await mapLimit(active, concurrency, async (account) => {
      const audit = await operator.audit(account.accountId, settleAt);
      serverLicences.set(account.accountId, audit.state.licenses);
      histories.set(account.accountId, audit.history);
      checkLimits(recorder, audit.state, settleAt);
      const counts = await checkAccountAtEnd(recorder, operator, audit, account.devices, settleAt);
      eventsAcknowledged += counts.acknowledged;
      eventsPending += counts.pending;
      eventsLost += counts.lost;
      duplicatesApplied += counts.duplicates;
    });

    log(`checked after ${elapsed()}`);
    for (const d of devices) await d.close();
    const latencies = recorder.syncLatencyMs;
    const summary: Summary = {
      devices: devices.length,
      accounts: active.length,
      simulatedDays: options.days,
      seed: options.seed,
      database: options.server ? 'external' : options.databaseUrl ? 'postgres' : 'pglite',
      eventsRecorded: recorder.eventsRecorded,
      eventsAcknowledged,
      eventsPending,
      eventsLost,
      duplicatesApplied,
      invariantViolations: recorder.violationCount,
      violationsByCheck: { ...recorder.violationCounts },
      playbacksAllowed: recorder.playbacksAllowed,
      playbacksRefused: { ...recorder.playbacksRefused },
      clockRollbacksDetected: recorder.clockRollbacksDetected,
      licencesGranted: recorder.licencesGranted,
      licencesRefused: { ...recorder.licencesRefused },
      syncs: recorder.syncs,
      syncFailures: { ...recorder.syncFailures },
      syncLatencyMs: {
        p50: percentile(latencies, 50),
        p95: percentile(latencies, 95),
        p99: percentile(latencies, 99),
        max: percentile(latencies, 100),
      },
      requestErrors: { ...recorder.requestErrors },
      storageErrors: { ...recorder.storageErrors },
      faults: { ...faultStats },
      profiles,
      wallSeconds: Math.round((performance.now() - wallStart) / 100) / 10,
      cpuSeconds: {
        simulator: Math.round((process.cpuUsage().user + process.cpuUsage().system) / 1e5) / 10,
        server: embedded === null ? null : Math.round((embedded.cpuSeconds() ?? Number.NaN) * 10) / 10,
      },
      loadAverage: Math.round(loadavg()[0] ?? 0),
    };
    // The report draws, for each profile, the device that did the most (then more, busiest first).
    const activity = (d: SimDevice) =>
      (recorder.timelines.get(d.name) ?? []).filter((e) => e.kind !== 'synced' && e.kind !== 'sync-failed')
        .length;
    const busiest = [...devices].sort((a, b) => activity(b) - activity(a) || (a.name < b.name ? -1 : 1));
    const sample = new Set<string>();
    for (const profile of Object.keys(profiles).sort()) {
      const best = busiest.find((d) => d.behaviour.name === profile);
      if (best) sample.add(best.name);
    }
    for (const d of busiest) if (sample.size < (options.timelineSample ?? 8)) sample.add(d.name);
    const sampled = [...sample].map((name) => {
      const device = devices.find((d) => d.name === name);
      const licences = Object.values(serverLicences.get(device?.accountId ?? '') ?? {})
        .filter((l) => l.deviceId === device?.deviceId)
        .sort((a, b) => a.firstIssuedAt - b.firstIssuedAt)
        .map((l) => ({
          licenseId: l.licenseId,
          titleId: l.titleId,
          issuedAt: l.firstIssuedAt,
          endedAt: l.endedAt,
          expiresAt: expiryOf(l),
          status: l.status,
          statusReason: l.statusReason,
        }));
      return {
        name,
        profile: profileOf.get(name) ?? 'commuter',
        licences,
        accountId: device?.accountId ?? '',
        deviceId: device?.deviceId ?? '',
        history: histories.get(device?.accountId ?? '') ?? [],
      };
    });
    return {
      summary,
      recorder,
      options: {
        devices: options.devices,
        accounts: options.accounts,
        days: options.days,
        seed: options.seed,
      },
      start,
      end,
      sampled,
    };
  } finally {
    if (embedded !== null) await embedded.stop();
    if (tempDir !== null) await rm(tempDir, { recursive: true, force: true });
    if (removeOnExit !== null) process.off('exit', removeOnExit);
  }
}

const YEARLY_LIMITS: ReadonlyMap<string, number | null> = new Map(
  TITLES.map((t) => [t.titleId, t.policy.maxDownloadsPerYear]),
);

function checkLimits(recorder: Recorder, state: AccountState, at: number): void {
  for (const breach of limitBreaches(state, at, YEARLY_LIMITS)) {
    recorder.violation({
      check: 'server-within-limits',
      device: breach.deviceId ?? null,
      accountId: state.accountId,
      licenseId: breach.licenseIds[0] ?? null,
      at,
      message: `${breach.limit} is ${breach.allowed} but the server holds ${breach.actual}${breach.titleId ? ` for ${breach.titleId}` : ''}`,
      events: breach.licenseIds.map((id) => state.licenses[id] ?? { licenseId: id }),
    });
  }
}

function sampleStates(recorder: Recorder, states: readonly AccountState[], at: number): void {
  const counts: Record<string, number> = { issued: 0, downloaded: 0, released: 0, revoked: 0, expired: 0 };
  for (const state of states) {
    for (const l of Object.values(state.licenses)) {
      const active = isHeldStatus(l.status);
      const status = active && expiryOf(l) <= at ? 'expired' : l.status;
      counts[status] = (counts[status] ?? 0) + 1;
    }
  }
  recorder.samples.push({ at, counts });
}

/**
 * The end-of-run checks of one account: every event its devices recorded is pending or acknowledged
 * exactly once (`events-exactly-once`), and every device's snapshot equals the server's
 * (`snapshots-converge`).
 */
async function checkAccountAtEnd(
  recorder: Recorder,
  operator: Operator,
  audit: AccountAudit,
  devices: readonly SimDevice[],
  settleAt: number,
): Promise<{ acknowledged: number; pending: number; lost: number; duplicates: number }> {
  const counts = { acknowledged: 0, pending: 0, lost: 0, duplicates: 0 };
  const receipts = new Map(audit.receipts.map((r) => [`${r.deviceId}#${r.seq}`, r]));
  const applied = new Map(audit.applied.map((r) => [`${r.deviceId}#${r.seq}`, r]));
  for (const d of devices) {
    const pending = new Set((await d.pending()).map((e) => e.seq));
    for (const rec of d.recorded.values()) {
      const key = `${d.deviceId}#${rec.seq}`;
      const receipt = receipts.get(key);
      const times = applied.get(key)?.count ?? 0;
      if (times > 1) {
        counts.duplicates += times - 1;
        recorder.violation({
          check: 'events-exactly-once',
          device: d.label,
          accountId: audit.accountId,
          licenseId: rec.licenseId,
          at: settleAt,
          message: `event seq ${rec.seq} (${rec.type}, ${rec.eventId}) was applied ${times} times`,
          events: [rec, receipt ?? null],
        });
      }
      if (pending.has(rec.seq)) {
        counts.pending += 1;
      } else if (receipt !== undefined && receipt.eventId === rec.eventId) {
        counts.acknowledged += 1;
      } else {
        counts.lost += 1;
        recorder.violation({
          check: 'events-exactly-once',
          device: d.label,
          accountId: audit.accountId,
          licenseId: rec.licenseId,
          at: settleAt,
          message:
            receipt === undefined
              ? `event seq ${rec.seq} (${rec.type}) left the outbox but the server has no receipt for it`
              : `event seq ${rec.seq} (${rec.type}) left the outbox but the server's receipt names event ${receipt.eventId}`,
          events: [rec, receipt ?? null],
        });
      }
    }
    for (const r of audit.receipts) {
      if (r.deviceId === d.deviceId && !d.recorded.has(r.seq)) {
        recorder.violation({
          check: 'events-exactly-once',
          device: d.label,
          accountId: audit.accountId,
          licenseId: null,
          at: settleAt,
          message: `the server holds a receipt for seq ${r.seq}, which the device never recorded`,
          events: [r],
        });
      }
    }
    const mine = await d.run(() => d.storage.readMeta());
    const theirs: LicenseSnapshot = await operator.snapshot(audit.accountId, d.deviceId, settleAt);
    const difference = firstDifference(mine.snapshot, theirs);
    if (difference !== null) {
      recorder.violation({
        check: 'snapshots-converge',
        device: d.label,
        accountId: audit.accountId,
        licenseId: null,
        at: settleAt,
        message: `after the final sync the device's snapshot differs from the server's at ${difference.path}`,
        events: [difference],
      });
    }
  }
  return counts;
}
