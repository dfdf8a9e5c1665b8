import { buildTimeline, type TimelineMark, type TimelineMarkKind, timelineSvg } from '@satchel/timeline';
import { CHECKS } from './record.js';
import type { SimulationResult } from './simulation.js';

const DAY = 86_400_000;
const esc = (s: unknown): string =>
  String(s).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

const STATE_COLOURS: Record<string, string> = {
  issued: '#9ecae1',
  downloaded: '#3182bd',
  released: '#a1d99b',
  revoked: '#e6550d',
  expired: '#969696',
};

function axisDays(x0: number, width: number, start: number, end: number, y: number): string {
  const days = Math.max(1, Math.round((end - start) / DAY));
  const every = Math.max(1, Math.ceil(days / 10));
  let out = '';
  for (let d = 0; d <= days; d += every) {
    const x = x0 + (d / days) * width;
    out += `<line x1="${x}" y1="${y}" x2="${x}" y2="${y + 4}" stroke="#555"/><text x="${x}" y="${y + 16}" font-size="10" text-anchor="middle">day ${d}</text>`;
  }
  return out;
}

/** Licences per state over time: one line per state. */
function statesChart(result: SimulationResult): string {
  const { samples } = result.recorder;
  const w = 720;
  const h = 220;
  const x0 = 50;
  const y0 = 10;
  const pw = w - x0 - 120;
  const ph = h - 40;
  if (samples.length === 0) return '<p>No samples.</p>';
  const max = Math.max(1, ...samples.flatMap((s) => Object.values(s.counts)));
  const x = (t: number) => x0 + ((t - result.start) / Math.max(1, result.end - result.start)) * pw;
  const y = (v: number) => y0 + ph - (v / max) * ph;
  let lines = '';
  let legend = '';
  Object.entries(STATE_COLOURS).forEach(([state, colour], i) => {
    const points = samples
      .map((s) => `${x(s.at).toFixed(1)},${y(s.counts[state] ?? 0).toFixed(1)}`)
      .join(' ');
    lines += `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${points}"/>`;
    legend += `<rect x="${x0 + pw + 15}" y="${y0 + i * 18}" width="12" height="12" fill="${colour}"/><text x="${x0 + pw + 32}" y="${y0 + i * 18 + 10}" font-size="11">${state}</text>`;
  });
  const ticks = [0, 0.5, 1]
    .map(
      (f) =>
        `<text x="${x0 - 6}" y="${y(f * max) + 4}" font-size="10" text-anchor="end">${Math.round(f * max)}</text>`,
    )
    .join('');
  return `<svg viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="Licences per state over time">
<line x1="${x0}" y1="${y0 + ph}" x2="${x0 + pw}" y2="${y0 + ph}" stroke="#555"/><line x1="${x0}" y1="${y0}" x2="${x0}" y2="${y0 + ph}" stroke="#555"/>
${ticks}${axisDays(x0, pw, result.start, result.end, y0 + ph)}${lines}${legend}</svg>`;
}

/** Horizontal bars, one per key. */
function bars(title: string, counts: Readonly<Record<string, number>>, colour: string): string {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) return `<p>${esc(title)}: none.</p>`;
  const w = 720;
  const row = 20;
  const label = 210;
  const max = Math.max(1, ...entries.map(([, v]) => v));
  const h = entries.length * row + 24;
  const body = entries
    .map(([k, v], i) => {
      const bw = (v / max) * (w - label - 70);
      return `<text x="${label - 6}" y="${20 + i * row + 12}" font-size="11" text-anchor="end">${esc(k)}</text><rect x="${label}" y="${20 + i * row}" width="${bw.toFixed(1)}" height="${row - 6}" fill="${colour}"/><text x="${label + bw + 5}" y="${20 + i * row + 12}" font-size="11">${v}</text>`;
    })
    .join('');
  return `<svg viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="${esc(title)}"><text x="0" y="12" font-size="12" font-weight="bold">${esc(title)}</text>${body}</svg>`;
}

/** Sync latency histogram, in buckets that double. */
function latencyHistogram(latencies: readonly number[]): string {
  if (latencies.length === 0) return '<p>No syncs.</p>';
  const edges = [0, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, Infinity];
  const counts = edges.slice(0, -1).map(() => 0);
  for (const l of latencies) {
    const i = edges.findIndex((e, j) => l >= e && l < (edges[j + 1] ?? Infinity));
    counts[Math.max(0, i)] = (counts[Math.max(0, i)] ?? 0) + 1;
  }
  const w = 720;
  const h = 200;
  const x0 = 40;
  const ph = 150;
  const bw = (w - x0) / counts.length;
  const max = Math.max(1, ...counts);
  const body = counts
    .map((c, i) => {
      const bh = (c / max) * ph;
      const lo = edges[i] ?? 0;
      const hi = edges[i + 1] ?? Infinity;
      const label = hi === Infinity ? `≥${lo}` : `${lo}–${hi}`;
      return `<rect x="${x0 + i * bw + 2}" y="${10 + ph - bh}" width="${bw - 4}" height="${bh}" fill="#756bb1"><title>${c} syncs in ${label} ms</title></rect><text x="${x0 + i * bw + bw / 2}" y="${10 + ph + 14}" font-size="10" text-anchor="middle">${label}</text><text x="${x0 + i * bw + bw / 2}" y="${10 + ph - bh - 3}" font-size="10" text-anchor="middle">${c || ''}</text>`;
    })
    .join('');
  return `<svg viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="Sync latency histogram">${body}<text x="${w / 2}" y="${h - 4}" font-size="11" text-anchor="middle">sync latency (ms, wall clock, client side)</text></svg>`;
}

/** Each sampled device on the shared licence timeline (@satchel/timeline): its account, itself and its licences. */
function timelines(result: SimulationResult): string {
  return result.sampled
    .map((device) => {
      const entries = result.recorder.timelines.get(device.name) ?? [];
      const mark = (kind: TimelineMarkKind, at: number, label: string): TimelineMark => ({
        at,
        kind,
        label,
        eventId: null,
      });
      const extraMarks: Record<string, TimelineMark[]> = { [device.deviceId]: [] };
      for (const e of entries) {
        if (e.kind === 'clock-set')
          extraMarks[device.deviceId]?.push(mark('clock-set', e.at, `clock set ${e.detail ?? ''}`));
        if (e.licenseId === undefined || (e.kind !== 'play' && e.kind !== 'play-refused')) continue;
        const marks = extraMarks[e.licenseId] ?? [];
        marks.push(
          mark(
            e.kind,
            e.at,
            e.kind === 'play' ? 'played (offline decision)' : `playback refused (${e.detail ?? ''})`,
          ),
        );
        extraMarks[e.licenseId] = marks;
      }
      const model = buildTimeline(device.accountId, device.history, {
        from: result.start,
        to: result.end,
        checkIns: { [device.deviceId]: entries.filter((e) => e.kind === 'synced').map((e) => e.at) },
        extraMarks,
      });
      const lanes = model.lanes.filter((l) => l.kind === 'account' || l.deviceId === device.deviceId);
      return `<h3>${esc(device.name)} · ${esc(device.profile)}</h3>${timelineSvg({ ...model, lanes }, { width: 960, laneHeight: 28 })}`;
    })
    .join('');
}

/** A self-contained HTML report of a run: summary, checks with counter-examples, and charts. */
export function htmlReport(result: SimulationResult): string {
  const { summary, recorder } = result;
  const rows = Object.entries(summary)
    .map(
      ([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(typeof v === 'object' ? JSON.stringify(v) : v)}</td></tr>`,
    )
    .join('');
  const checks = CHECKS.map((check) => {
    const n = recorder.violationCounts[check] ?? 0;
    const first = recorder.violations.find((v) => v.check === check);
    return `<tr class="${n === 0 ? 'pass' : 'fail'}"><td>${n === 0 ? 'PASS' : 'FAIL'}</td><td>${esc(check)}</td><td>${n}</td><td>${
      first
        ? `<details><summary>${esc(first.at)} · ${esc(first.device ?? '-')} · ${esc(first.message)}</summary><pre>${esc(JSON.stringify(first, null, 2))}</pre></details>`
        : ''
    }</td></tr>`;
  }).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Satchel simulation · seed ${summary.seed}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:960px;color:#222}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left;vertical-align:top;border-bottom:1px solid #eee}
th{font-weight:600}tr.pass td:first-child{color:#2ca02c;font-weight:bold}tr.fail td:first-child{color:#d62728;font-weight:bold}
pre{background:#f6f6f6;padding:.5rem;overflow:auto;max-height:24rem;font-size:12px}.legend{font-size:12px;color:#555}
</style></head><body>
<h1>Satchel simulation: ${summary.devices} devices, ${summary.accounts} accounts, ${summary.simulatedDays} days, seed ${summary.seed}</h1>
<p>${summary.invariantViolations === 0 ? '<strong style="color:#2ca02c">Every invariant held.</strong>' : `<strong style="color:#d62728">${summary.invariantViolations} invariant violations.</strong>`} Virtual time ${esc(new Date(result.start).toISOString())} → ${esc(new Date(result.end).toISOString())}; ${summary.wallSeconds} s of wall time on ${esc(summary.database)}.</p>
<h2>Invariants</h2><table><tr><th></th><th>check</th><th>violations</th><th>first counter-example</th></tr>${checks}</table>
<h2>Licences per state over time (server)</h2>${statesChart(result)}
<p class="legend">Sampled from the server's state; a licence past its expiry counts as expired even before the server records it.</p>
<h2>Refusals by reason</h2>${bars('Playback refused (offline decision on the device)', summary.playbacksRefused, '#d62728')}${bars('Licence requests refused (server rules)', summary.licencesRefused, '#e6550d')}
<h2>Licence timelines (sampled devices)</h2>
<p class="legend">The operator console's timeline: per licence, issued, downloaded, first play, every expiry bound (the binding one in red), the end; the device's syncs (green ticks), clock set back (red diamonds), and what it decided offline: played (green ticks) and refused (orange crosses). Hover a mark for its instant and event.</p>${timelines(result)}
<h2>Sync latency</h2>${latencyHistogram(recorder.syncLatencyMs)}
<h2>Summary</h2><table>${rows}</table>
</body></html>
`;
}
