import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { round } from './stats.js';

/** Busy CPU time of the whole machine so far, in seconds (all CPUs; idle and iowait excluded). */
function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / 100;
  } catch {
    return Number.NaN;
  }
}

/** What the rest of the machine did while a window was measured. */
export interface WindowLoad {
  /** Cores busy on the whole machine (1 = one CPU fully busy), from /proc/stat. */
  machineCores: number;
  /** Cores used by the benchmark's own processes (bench, server, the bench database's backends). */
  ownCores: number;
  /** `machineCores − ownCores`: other processes (other users, PostgreSQL's background writers, …). */
  foreignCores: number;
  /** os.loadavg() at the end of the window (1, 5, 15 minutes). */
  loadavg: number[];
}

/** Cores of foreign CPU above which a window counts as taken under foreign load. */
export const FOREIGN_LOAD_CORES = 0.25;

/**
 * Starts measuring a window: call the returned function at its end with the CPU seconds the
 * benchmark's own processes used during it.
 */
export function measureWindow(): (ownCpuSeconds: number) => WindowLoad {
  const busy0 = machineBusySeconds();
  const t0 = performance.now();
  return (ownCpuSeconds) => {
    const seconds = (performance.now() - t0) / 1000;
    const machineCores = (machineBusySeconds() - busy0) / seconds;
    const ownCores = ownCpuSeconds / seconds;
    return {
      machineCores: round(machineCores, 2),
      ownCores: round(ownCores, 2),
      foreignCores: round(Math.max(0, machineCores - ownCores), 2),
      loadavg: loadavg().map((l) => round(l, 2)),
    };
  };
}

/** CPU seconds used so far by this process. */
export function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}
