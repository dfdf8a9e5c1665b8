import { CHECKS, type Violation } from './record.js';
import type { Progress, Summary } from './simulation.js';

const DAY = 86_400_000;

/** A one-line progress bar, redrawn in place on a terminal. */
export function progressLine(p: Progress, width = 28): string {
  const fraction = p.totalMs === 0 ? 1 : p.simulatedMs / p.totalMs;
  const filled = Math.round(fraction * width);
  const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
  const day = `day ${(p.simulatedMs / DAY).toFixed(1)}/${(p.totalMs / DAY).toFixed(0)}`;
  return `${bar} ${day}  ${p.phase}  devices ${p.devices}  events ${p.events}  violations ${p.violations}`;
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
const detail = (r: Record<string, number>) =>
  Object.entries(r)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || '-';

/** The summary as an aligned two-column table. */
export function summaryTable(s: Summary): string {
  const rows: Array<[string, string]> = [
    ['devices / accounts', `${s.devices} / ${s.accounts}  (${detail(s.profiles)})`],
    ['simulated days', `${s.simulatedDays}  (seed ${s.seed}, ${s.database})`],
    ['events recorded', String(s.eventsRecorded)],
    ['  acknowledged', String(s.eventsAcknowledged)],
    ['  still pending', String(s.eventsPending)],
    ['  lost', String(s.eventsLost)],
    ['duplicates applied', String(s.duplicatesApplied)],
    ['playbacks allowed', String(s.playbacksAllowed)],
    ['playbacks refused', `${sum(s.playbacksRefused)}  (${detail(s.playbacksRefused)})`],
    ['clock rollbacks detected', String(s.clockRollbacksDetected)],
    ['licences granted', String(s.licencesGranted)],
    ['licences refused', `${sum(s.licencesRefused)}  (${detail(s.licencesRefused)})`],
    ['syncs', `${s.syncs}  (failed: ${detail(s.syncFailures)})`],
    [
      'sync latency (ms)',
      `p50 ${s.syncLatencyMs.p50}, p95 ${s.syncLatencyMs.p95}, p99 ${s.syncLatencyMs.p99}`,
    ],
    [
      'faults injected',
      `dropped ${s.faults.requestsDropped}+${s.faults.responsesDropped} answers, dup ${s.faults.duplicated}, reordered ${s.faults.reordered}, quota ${s.faults.quotaErrors}, crashes ${s.faults.crashes}, restarts ${s.faults.serverRestarts}`,
    ],
    [
      'invariant violations',
      `${s.invariantViolations}${s.invariantViolations ? `  (${detail(s.violationsByCheck as Record<string, number>)})` : ''}`,
    ],
    [
      'wall time',
      `${s.wallSeconds} s  (CPU: simulator ${s.cpuSeconds.simulator} s, server ${s.cpuSeconds.server ?? '-'} s; load average ${s.loadAverage})`,
    ],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

/** Each check by name, passed or failed, with its first counter-example. */
export function checksReport(
  counts: Partial<Record<string, number>>,
  violations: readonly Violation[],
): string {
  const lines: string[] = [];
  for (const check of CHECKS) {
    const n = counts[check] ?? 0;
    lines.push(
      `${n === 0 ? 'PASS' : 'FAIL'}  ${check}${n === 0 ? '' : `  (${n} violation${n === 1 ? '' : 's'})`}`,
    );
    const first = violations.find((v) => v.check === check);
    if (first !== undefined) {
      lines.push(`      first counter-example at ${first.at}: ${first.message}`);
      lines.push(
        `      device ${first.device ?? '-'}, account ${first.accountId}, licence ${first.licenseId ?? '-'}`,
      );
      for (const e of first.events.slice(0, 14)) lines.push(`        ${JSON.stringify(e)}`);
    }
  }
  return lines.join('\n');
}
