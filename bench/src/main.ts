/**
 * `pnpm bench`: the server merge against the minimal sync transaction and a prepared raw INSERT (closed
 * loop for capacity, open-loop Poisson arrivals for latency, the machine's load read in every window),
 * Satchel's event store against Emmett's,
 * account load against history length, the device side in real Chromium against raw IndexedDB and
 * Replicache, and the SDK's bundle size. Every figure sits beside a baseline measured in the same run.
 *
 *   pnpm bench [-- --quick] [--json] [--only=server,scaling,store,load,client,size] [--profile]
 *
 * Exit code 1 when a benchmark breaks; a missed target is reported, not an error.
 */
import { benchClient, type ClientResult } from './client.js';
import { benchLoad, type LoadResult } from './load.js';
import { benchMerge, type MergeResult } from './merge.js';
import { dropAll, postgresReachable, postgresVersion } from './pg.js';
import {
  benchProjectionScale,
  benchProjections,
  type ProjectionsResult,
  type ScaleResult,
} from './projections.js';
import { benchScaling, type ScalingResult } from './scaling.js';
import { benchSize, type SizeResult } from './size.js';
import { machine, round } from './stats.js';
import { benchStore, type StoreResult } from './store.js';

const SECTIONS = ['server', 'scaling', 'projections', 'store', 'load', 'client', 'size', 'scale'] as const;
/** `scale` (1,000,000 events, 10,000 accounts; minutes) runs only when asked for with `--only=scale`. */
const DEFAULT_SECTIONS = SECTIONS.filter((s) => s !== 'scale');
type Section = (typeof SECTIONS)[number];

const args = process.argv.slice(2).filter((a) => a !== '--');
const flag = (name: string) => args.includes(`--${name}`);
const quick = flag('quick');
const json = flag('json');
const only = new Set(
  (
    args
      .find((a) => a.startsWith('--only='))
      ?.slice('--only='.length)
      .split(',') ?? [...DEFAULT_SECTIONS]
  ).map((s) => s.trim()),
);
for (const s of only) {
  if (!(SECTIONS as readonly string[]).includes(s)) {
    console.error(`unknown section "${s}" (sections: ${SECTIONS.join(', ')})`);
    process.exit(2);
  }
}
const wants = (s: Section) => only.has(s);

/** Progress goes to stderr so that `--json` keeps stdout for the table and the JSON line. */
const log = (line: string) => process.stderr.write(`${line}\n`);

const config = quick
  ? {
      merge: {
        accounts: 300,
        concurrency: 32,
        batch: 50,
        warmupSec: 2,
        durationSec: 6,
        openLoopSec: 4,
        poolSize: 10,
      },
      scaling: { sizes: [1_000, 10_000], concurrency: 32, batch: 50, warmupSec: 1, seconds: 4, poolSize: 10 },
      store: { accounts: 300, concurrency: 32, batch: 50, warmupSec: 1, durationSec: 4, rounds: 1 },
      client: { records: 300, drainEvents: 10_000, decisions: 100 },
      projections: { lanes: 8, seconds: 6, stallSeconds: 2 },
      scale: { accounts: Number(process.env.SATCHEL_SCALE_ACCOUNTS ?? 10_000), eventsPerAccount: 100 },
    }
  : {
      merge: {
        accounts: 2000,
        concurrency: 32,
        batch: 50,
        warmupSec: 5,
        durationSec: 30,
        openLoopSec: 20,
        poolSize: 10,
      },
      scaling: {
        sizes: [1_000, 100_000],
        concurrency: 32,
        batch: 50,
        warmupSec: 3,
        seconds: 15,
        poolSize: 10,
      },
      store: { accounts: 2000, concurrency: 32, batch: 50, warmupSec: 2, durationSec: 15, rounds: 2 },
      client: { records: 2000, drainEvents: 10_000, decisions: 500 },
      projections: { lanes: 16, seconds: 20, stallSeconds: 5 },
      scale: { accounts: Number(process.env.SATCHEL_SCALE_ACCOUNTS ?? 10_000), eventsPerAccount: 100 },
    };

interface Target {
  name: string;
  target: string;
  value: number | null;
  met: boolean | null;
}

const TARGETS = {
  mergeRatio: 0.8,
  openLoopP99At50Ms: 25,
  openLoopP99At70Ms: 50,
  scalingRatio: 0.8,
  storeRatio: 1.5,
  loadRatio: 2,
  recordP50Ms: 1,
  recordRatio: 1.5,
  drainMs: 3000,
  sdkGzipBytes: 20 * 1024,
  /** The runner catches up at least as fast as the merge writes. */
  projectionCatchUpRatio: 1,
};

interface Report {
  benchmark: 'satchel';
  version: 1;
  mode: 'quick' | 'full';
  date: string;
  command: string;
  machine: ReturnType<typeof machine> & { node: string; postgres: string };
  server?: MergeResult | undefined;
  scaling?: ScalingResult | undefined;
  projections?: ProjectionsResult | undefined;
  scale?: ScaleResult | undefined;
  store?: StoreResult | undefined;
  load?: LoadResult | undefined;
  client?: ClientResult | undefined;
  size?: SizeResult | undefined;
  targets: Target[];
  errors: { section: Section; message: string }[];
}

async function main(): Promise<number> {
  const started = performance.now();
  if (!(await postgresReachable())) {
    console.error('PostgreSQL does not answer (set DATABASE_URL); the benchmarks need it.');
    return 1;
  }
  const report: Report = {
    benchmark: 'satchel',
    version: 1,
    mode: quick ? 'quick' : 'full',
    date: new Date().toISOString(),
    command: `pnpm bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`,
    machine: { ...machine(), node: process.version, postgres: await postgresVersion() },
    targets: [],
    errors: [],
  };
  const section = async <T>(name: Section, title: string, run: () => Promise<T>): Promise<T | undefined> => {
    if (!wants(name)) return undefined;
    log(`\n[${name}] ${title}`);
    const t0 = performance.now();
    try {
      const result = await run();
      log(`[${name}] done in ${round((performance.now() - t0) / 1000, 1)} s`);
      return result;
    } catch (e) {
      const message = e instanceof Error ? (e.stack ?? e.message) : String(e);
      log(`[${name}] FAILED: ${message}`);
      report.errors.push({ section: name, message: e instanceof Error ? e.message : String(e) });
      return undefined;
    }
  };

  report.server = await section('server', 'merge over HTTP vs the minimal sync transaction', async () => {
    const r = await benchMerge({ ...config.merge, profile: flag('profile'), log });
    if (!quick && !flag('profile') && r.ratioToMinimalTx < TARGETS.mergeRatio) {
      log('  merge below target: a shorter profiled run (node --cpu-prof) to see what dominates');
      const p = await benchMerge({
        ...config.merge,
        warmupSec: 2,
        durationSec: 10,
        openLoopSec: 2,
        profile: true,
        log,
      });
      r.profile = p.profile;
    }
    return r;
  });
  report.scaling = await section('scaling', 'merge rate against the number of accounts', () =>
    benchScaling({ ...config.scaling, log }),
  );
  report.projections = await section(
    'projections',
    'projection runner vs the merge, lag, stall, catch-up',
    () => benchProjections({ ...config.projections, log }),
  );
  report.scale = await section('scale', '1,000,000 events: rebuild and what-if over 10,000 accounts', () =>
    benchProjectionScale({ ...config.scale, log }),
  );
  report.store = await section('store', 'Satchel event store vs Emmett (PostgreSQL)', () =>
    benchStore({ ...config.store, log }),
  );
  report.load = await section('load', 'account load vs history length', () => benchLoad({ quick, log }));
  report.client = await section('client', 'device side in Chromium', () =>
    benchClient({ ...config.client, quick, log }),
  );
  report.size = await section('size', 'SDK bundle size', () => benchSize({ log }));

  report.targets = targets(report);
  printTable(report);
  log(`\ntotal ${round((performance.now() - started) / 1000, 1)} s`);
  if (json) process.stdout.write(`${JSON.stringify(report)}\n`);
  return report.errors.length > 0 ? 1 : 0;
}

function targets(r: Report): Target[] {
  const t = (
    name: string,
    target: string,
    value: number | null | undefined,
    ok: (v: number) => boolean,
  ): Target => ({
    name,
    target,
    value: value ?? null,
    met: value === undefined || value === null || Number.isNaN(value) ? null : ok(value),
  });
  const out: Target[] = [];
  if (r.server) {
    out.push(
      t(
        'merge / minimal sync transaction',
        `>= ${TARGETS.mergeRatio}`,
        r.server.ratioToMinimalTx,
        (v) => v >= TARGETS.mergeRatio,
      ),
    );
    out.push(
      t(
        'open-loop p99 at 50% (ms)',
        `<= ${TARGETS.openLoopP99At50Ms}`,
        r.server.openLoop.p99At50Ms,
        (v) => v <= TARGETS.openLoopP99At50Ms,
      ),
    );
    out.push(
      t(
        'open-loop p99 at 70% (ms)',
        `<= ${TARGETS.openLoopP99At70Ms}`,
        r.server.openLoop.p99At70Ms,
        (v) => v <= TARGETS.openLoopP99At70Ms,
      ),
    );
  }
  if (r.scaling)
    out.push(
      t(
        'merge rate, most / fewest accounts',
        `>= ${TARGETS.scalingRatio}`,
        r.scaling.rateRatio,
        (v) => v >= TARGETS.scalingRatio,
      ),
    );
  if (r.projections)
    out.push(
      t(
        'projection catch-up / merge',
        `>= ${TARGETS.projectionCatchUpRatio}`,
        r.projections.catchUpToMerge,
        (v) => v >= TARGETS.projectionCatchUpRatio,
      ),
    );
  if (r.store)
    out.push(
      t('Satchel / Emmett append', `>= ${TARGETS.storeRatio}`, r.store.ratio, (v) => v >= TARGETS.storeRatio),
    );
  if (r.load)
    out.push(
      t(
        'load 100k / 100 events',
        `<= ${TARGETS.loadRatio}`,
        r.load.ratio100kTo100,
        (v) => v <= TARGETS.loadRatio,
      ),
    );
  if (r.client) {
    out.push(
      t(
        'record p50 (ms)',
        `<= ${TARGETS.recordP50Ms}`,
        r.client.recordP50Ms,
        (v) => v <= TARGETS.recordP50Ms,
      ),
    );
    out.push(
      t(
        'record / raw IDB put',
        `<= ${TARGETS.recordRatio}`,
        r.client.recordRatioToRawIdb,
        (v) => v <= TARGETS.recordRatio,
      ),
    );
    out.push(
      t('drain 10k events (ms)', `<= ${TARGETS.drainMs}`, r.client.drain10kMs, (v) => v <= TARGETS.drainMs),
    );
  }
  if (r.size)
    out.push(
      t(
        'SDK gzip (bytes)',
        `<= ${TARGETS.sdkGzipBytes}`,
        r.size.sdkGzipBytes,
        (v) => v <= TARGETS.sdkGzipBytes,
      ),
    );
  return out;
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r, n) => {
      const line = r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
      return n === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}

const fmt = (v: number | null | undefined, unit = '') =>
  v === null || v === undefined || Number.isNaN(v) ? 'n/a' : `${v.toLocaleString('en-US')}${unit}`;

function printTable(r: Report): void {
  const out: string[] = [];
  const m = r.machine;
  out.push(
    `\nSatchel benchmarks (${r.mode}) — ${r.date} — ${m.nproc} CPU ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}, PostgreSQL ${m.postgres}\n`,
  );
  const rows: string[][] = [['benchmark', 'Satchel', 'baseline / peer', 'ratio', 'target', '']];
  const status = (name: string) => {
    const t = r.targets.find((x) => x.name === name);
    return t?.met === true ? 'ok' : t?.met === false ? 'MISSED' : '';
  };
  if (r.server) {
    const s = r.server;
    const o = s.openLoop;
    rows.push([
      `merge: POST /v1/sync, ${s.concurrency} devices × ${s.batch} events`,
      fmt(s.eventsPerSec, ' ev/s'),
      `minimal sync tx ${fmt(s.minimalTxEventsPerSec, ' ev/s')}`,
      fmt(s.ratioToMinimalTx),
      `>= ${TARGETS.mergeRatio}`,
      status('merge / minimal sync transaction'),
    ]);
    rows.push([
      'merge vs minimal sync tx, in CPU per sync',
      fmt(s.cpuMsPerSync, ' ms'),
      `minimal sync tx ${fmt(s.minimalTxCpuMsPerSync, ' ms')}`,
      fmt(s.cpuRatioToMinimalTx),
      '',
      '',
    ]);
    rows.push([
      'merge vs prepared raw INSERT',
      '',
      `raw INSERT ${fmt(s.rawInsertRowsPerSec, ' rows/s')}`,
      fmt(s.ratioToRawInsert),
      '',
      '',
    ]);
    rows.push([
      `open loop at 50% (${fmt(o.offeredAt50)} syncs/s): p50 / p99`,
      `${fmt(o.p50At50Ms)} / ${fmt(o.p99At50Ms)} ms`,
      '',
      '',
      `p99 <= ${TARGETS.openLoopP99At50Ms} ms`,
      status('open-loop p99 at 50% (ms)'),
    ]);
    rows.push([
      `open loop at 70% (${fmt(o.offeredAt70)} syncs/s): p50 / p99`,
      `${fmt(o.p50At70Ms)} / ${fmt(o.p99At70Ms)} ms`,
      '',
      '',
      `p99 <= ${TARGETS.openLoopP99At70Ms} ms`,
      status('open-loop p99 at 70% (ms)'),
    ]);
    rows.push([
      'closed loop p50 / p99 (information)',
      `${fmt(s.closedLoop.p50Ms)} / ${fmt(s.closedLoop.p99Ms)} ms`,
      `one device: ${fmt(s.singleP50Ms)} / ${fmt(s.singleP99Ms)} ms`,
      '',
      '',
      '',
    ]);
    rows.push([
      'per sync: round trips, statements',
      `${fmt(s.roundTripsPerSync)}, ${fmt(s.statementsPerSync)}`,
      'minimal sync tx: 5, 3',
      '',
      '',
      '',
    ]);
    rows.push([
      'per sync: server CPU, PostgreSQL CPU',
      `${fmt(s.serverCpuMsPerSync)} ms, ${fmt(s.postgresCpuMsPerSync)} ms`,
      `minimal sync tx: PostgreSQL ${fmt(s.minimalTxPostgresCpuMsPerSync)} ms`,
      '',
      '',
      '',
    ]);
    rows.push([
      'per sync: WAL',
      fmt(s.walBytesPerSync, ' B'),
      `minimal sync tx ${fmt(s.minimalTxWalBytesPerSync, ' B')}`,
      '',
      '',
      '',
    ]);
    rows.push(['merge: server peak RSS', fmt(s.peakRssMiB, ' MiB'), '', '', '', '']);
  }
  if (r.scaling) {
    const sc = r.scaling;
    for (const p of sc.points) {
      rows.push([
        `merge rate, ${fmt(p.accounts)} accounts (seeded in SQL)`,
        fmt(p.eventsPerSec, ' ev/s'),
        `CPU ${fmt(p.cpuMsPerSync, ' ms')} per sync; foreign load ${fmt(p.load.foreignCores)} cores`,
        '',
        '',
        '',
      ]);
    }
    rows.push([
      'merge rate, most / fewest accounts',
      '',
      `CPU per sync, fewest / most: ${fmt(sc.cpuRatio)}`,
      fmt(sc.rateRatio),
      `>= ${TARGETS.scalingRatio}`,
      status('merge rate, most / fewest accounts'),
    ]);
  }
  if (r.projections) {
    const p = r.projections;
    rows.push([
      'projection catch-up (studio accounting, from 0)',
      fmt(p.catchUpEventsPerSec, ' ev/s'),
      `merge (service, ${p.lanes} lanes) ${fmt(p.mergeEventsPerSec, ' ev/s')}`,
      fmt(p.catchUpToMerge),
      `>= ${TARGETS.projectionCatchUpRatio}`,
      status('projection catch-up / merge'),
    ]);
    if (r.server) {
      rows.push([
        'projection catch-up vs the HTTP merge above',
        fmt(p.catchUpEventsPerSec, ' ev/s'),
        `merge ${fmt(r.server.eventsPerSec, ' ev/s')}`,
        fmt(round(p.catchUpEventsPerSec / r.server.eventsPerSec, 2)),
        '',
        '',
      ]);
    }
    rows.push([
      'projection live beside the merge: processed, lag at end',
      fmt(p.liveEventsPerSec, ' ev/s'),
      `lag ${fmt(p.lagAtEndEvents)} ev, ${fmt(p.lagAfter2sEvents)} ev 2 s later`,
      '',
      '',
      '',
    ]);
    rows.push([
      'projection visibility delay p50 / p99 / max',
      `${fmt(p.visibilityP50Ms)} / ${fmt(p.visibilityP99Ms)} / ${fmt(p.visibilityMaxMs)} ms`,
      '',
      '',
      '',
      '',
    ]);
    rows.push([
      `projection stall: a transaction open ${p.stallHoldSeconds} s`,
      `lag up to ${fmt(p.stallMaxSecondsBehind)} s`,
      `visibility max ${fmt(p.stallVisibilityMaxMs)} ms`,
      '',
      '',
      '',
    ]);
  }
  if (r.scale) {
    const c = r.scale;
    rows.push([
      `rebuild ${fmt(c.events)} events (${fmt(c.accounts)} accounts)`,
      `${fmt(c.rebuildSeconds)} s, ${fmt(c.rebuildEventsPerSec, ' ev/s')}`,
      `peak RSS ${fmt(c.rebuildPeakRssMiB, ' MiB')}`,
      '',
      '',
      '',
    ]);
    rows.push([
      `what-if over ${fmt(c.whatIfAccounts)} accounts`,
      `${fmt(c.whatIfSeconds)} s, ${fmt(c.whatIfAccountsPerSec, ' accounts/s')}`,
      `peak RSS ${fmt(c.whatIfPeakRssMiB, ' MiB')}`,
      '',
      '',
      '',
    ]);
  }
  if (r.store) {
    const s = r.store;
    rows.push([
      `event store append, ${s.concurrency} lanes × ${s.batch} events`,
      fmt(s.satchelEventsPerSec, ' ev/s'),
      `Emmett ${fmt(s.emmettEventsPerSec, ' ev/s')}`,
      fmt(s.ratio),
      `>= ${TARGETS.storeRatio}`,
      status('Satchel / Emmett append'),
    ]);
  }
  if (r.load) {
    const l = r.load;
    for (const row of l.rows) {
      rows.push([
        `account load, ${fmt(row.events)} events, snapshot + ${row.tailEvents}-event tail`,
        fmt(row.snapshotMs, ' ms'),
        `full replay ${fmt(row.fullReplayMs, ' ms')}`,
        fmt(round(row.snapshotMs / row.fullReplayMs, 3)),
        '',
        '',
      ]);
    }
    rows.push([
      'account load 100k / 100 events',
      '',
      '',
      fmt(l.ratio100kTo100),
      `<= ${TARGETS.loadRatio}`,
      status('load 100k / 100 events'),
    ]);
  }
  if (r.client) {
    const c = r.client;
    rows.push([
      'record one event (durable), p50',
      fmt(c.recordP50Ms, ' ms'),
      `raw IDB put ${fmt(c.rawIdbP50Ms, ' ms')}`,
      fmt(c.recordRatioToRawIdb),
      `<= ${TARGETS.recordP50Ms} ms, <= ${TARGETS.recordRatio}×`,
      [status('record p50 (ms)'), status('record / raw IDB put')].includes('MISSED') ? 'MISSED' : 'ok',
    ]);
    rows.push([
      'record one event (durable), p95',
      fmt(c.recordP95Ms, ' ms'),
      `raw IDB put ${fmt(c.rawIdbP95Ms, ' ms')}`,
      '',
      '',
      '',
    ]);
    rows.push([
      'record p50, relaxed durability',
      fmt(c.recordRelaxedP50Ms, ' ms'),
      `raw IDB put ${fmt(c.rawIdbRelaxedP50Ms, ' ms')}; read tx + write tx ${fmt(c.rawIdbTwoTxP50Ms, ' ms')}`,
      '',
      '',
      '',
    ]);
    rows.push([
      'peer: Replicache mutate + persist, p50',
      '',
      `${fmt(c.replicacheP50Ms, ' ms')} (mutate only ${fmt(c.replicacheMutateOnlyP50Ms, ' ms')})`,
      fmt(c.recordRatioToReplicache),
      '',
      '',
    ]);
    rows.push([
      `drain ${fmt(c.drainEvents)} queued events`,
      fmt(c.drain10kMs, ' ms'),
      `server held a connection ${fmt(c.drainServerHoldMs, ' ms')} (${c.drainRequests} syncs)`,
      '',
      `<= ${TARGETS.drainMs} ms`,
      status('drain 10k events (ms)'),
    ]);
    rows.push(['offline decision (100 licences), p50', fmt(c.decisionP50Ms, ' ms'), '', '', '', '']);
  }
  if (r.size) {
    rows.push([
      'SDK default entry, min+gzip',
      fmt(r.size.sdkGzipBytes, ' B'),
      '',
      '',
      `<= ${TARGETS.sdkGzipBytes} B`,
      status('SDK gzip (bytes)'),
    ]);
  }
  out.push(table(rows));
  if (r.server) {
    const w = r.server.load.windows;
    out.push(
      `\nmachine load (cores busy outside the benchmark's processes, per window): ${Object.entries(w)
        .map(([k, v]) => `${k} ${v.foreignCores}`)
        .join(', ')}; loadavg ${w.closedLoop?.loadavg.join(' ') ?? 'n/a'}${
        r.server.load.foreignLoad
          ? ' — TAKEN UNDER FOREIGN LOAD: ratios hold better than absolutes; rerun on a quiet machine'
          : ' — quiet'
      }`,
    );
  }
  const missed = r.targets.filter((t) => t.met === false);
  out.push(
    `\ntargets: ${r.targets.filter((t) => t.met === true).length} met, ${missed.length} missed${missed.length > 0 ? ` (${missed.map((t) => `${t.name} = ${t.value}, target ${t.target}`).join('; ')})` : ''}`,
  );
  if (r.server?.profile) {
    out.push(
      `\nserver CPU profile (self time, idle excluded): ${r.server.profile.areas
        .slice(0, 8)
        .map((a) => `${a.area} ${a.percent}%`)
        .join(', ')}`,
    );
  }
  for (const e of r.errors) out.push(`BROKEN: ${e.section}: ${e.message}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`\n${signal}: dropping the benchmark databases`);
    void dropAll().finally(() => process.exit(130));
  });
}

let exitCode = 1;
try {
  exitCode = await main();
} finally {
  await dropAll();
}
// Exit once stdout has taken everything (piped to a slow reader, an immediate exit would cut it).
await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
process.exit(exitCode);
