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

/** One row per licence of each sampled device, with its plays and refusals. */
function timelines(result: SimulationResult): string {
  const w = 720;
  const x0 = 150;
  const pw = w - x0 - 10;
  const x = (t: number) =>
    x0 +
    ((Math.min(Math.max(t, result.start), result.end) - result.start) /
      Math.max(1, result.end - result.start)) *
      pw;
  let y = 10;
  let body = '';
  for (const device of result.sampled) {
    const entries = result.recorder.timelines.get(device.name) ?? [];
    body += `<text x="0" y="${y + 12}" font-size="12" font-weight="bold">${esc(device.name)} · ${esc(device.profile)}</text>`;
    y += 18;
    for (const e of entries.filter((e) => e.kind === 'clock-set')) {
      body += `<line x1="${x(e.at)}" y1="${y - 16}" x2="${x(e.at)}" y2="${y + Math.max(1, device.licences.length) * 16}" stroke="#d62728" stroke-dasharray="3,2"><title>clock set ${esc(e.detail ?? '')} at ${new Date(e.at).toISOString()}</title></line>`;
    }
    if (device.licences.length === 0) {
      body += `<text x="${x0}" y="${y + 10}" font-size="10" fill="#777">no licence held</text>`;
      y += 16;
    }
    for (const l of device.licences) {
      const until = l.endedAt ?? Math.min(l.expiresAt, result.end);
      const colour = STATE_COLOURS[l.status] ?? '#999';
      body += `<text x="${x0 - 6}" y="${y + 10}" font-size="10" text-anchor="end">${esc(l.titleId)}</text>`;
      body += `<rect x="${x(l.issuedAt)}" y="${y + 2}" width="${Math.max(2, x(until) - x(l.issuedAt))}" height="10" fill="${colour}" opacity="0.75"><title>${esc(l.licenseId)}: ${esc(l.status)}${l.statusReason ? ` (${esc(l.statusReason)})` : ''}, ${new Date(l.issuedAt).toISOString()} → ${new Date(until).toISOString()}</title></rect>`;
      for (const e of entries.filter((e) => e.licenseId === l.licenseId)) {
        if (e.kind === 'play')
          body += `<circle cx="${x(e.at)}" cy="${y + 7}" r="3" fill="#2ca02c"><title>played at ${new Date(e.at).toISOString()}</title></circle>`;
        if (e.kind === 'play-refused')
          body += `<path d="M${x(e.at) - 3},${y + 4} l6,6 m0,-6 l-6,6" stroke="#d62728" stroke-width="1.5"><title>refused (${esc(e.detail ?? '')}) at ${new Date(e.at).toISOString()}</title></path>`;
        if (e.kind === 'deleted')
          body += `<rect x="${x(e.at) - 2}" y="${y + 3}" width="4" height="8" fill="#000"><title>deleted at ${new Date(e.at).toISOString()}</title></rect>`;
      }
      y += 16;
    }
    for (const e of entries.filter((e) => e.kind === 'synced')) {
      body += `<line x1="${x(e.at)}" y1="${y}" x2="${x(e.at)}" y2="${y + 5}" stroke="#3182bd"><title>synced at ${new Date(e.at).toISOString()}</title></line>`;
    }
    y += 14;
  }
  const h = y + 24;
  return `<svg viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="Licence timelines">${body}${axisDays(x0, pw, result.start, result.end, y)}</svg>
<p class="legend">Bars: a licence from issue to its end (colour: final state on the server). <span style="color:#2ca02c">●</span> playback allowed, <span style="color:#d62728">✕</span> playback refused, ■ download deleted, blue ticks: syncs, red dashes: the device clock set.</p>`;
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
<h2>Licence timelines (sampled devices)</h2>${timelines(result)}
<h2>Sync latency</h2>${latencyHistogram(recorder.syncLatencyMs)}
<h2>Summary</h2><table>${rows}</table>
</body></html>
`;
}
