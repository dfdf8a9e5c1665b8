import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileSummary {
  file: string;
  /** Non-idle CPU time sampled in the window, ms. */
  sampledMs: number;
  /** True when only the samples of the measured window were kept (else the whole process life). */
  windowed: boolean;
  /** Share of non-idle samples per area (server, core, protocol, a dependency, node internals, GC…). */
  areas: { area: string; percent: number }[];
  /** The functions with the most self time. */
  top: { fn: string; where: string; percent: number }[];
}

const ROOT_MARKERS: [RegExp, (m: RegExpExecArray) => string][] = [
  [/\/packages\/(server|core|protocol|sdk)\/src\//, (m) => `@satchel/${m[1]}`],
  [/\/node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)\//, (m) => m[1] ?? 'dependency'],
  [/\/node_modules\/((?:@[^/]+\/)?[^/]+)\//, (m) => m[1] ?? 'dependency'],
  [/^node:/, () => 'node internals'],
];

function areaOf(node: CpuProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (url === '') {
    if (functionName === '(garbage collector)') return 'garbage collector';
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(program)') return 'program (native)';
    return functionName ? `native: ${functionName}` : 'native';
  }
  for (const [re, name] of ROOT_MARKERS) {
    const m = re.exec(url);
    if (m) return name(m);
  }
  if (url.includes('/bench/src/')) return 'bench harness';
  return 'other';
}

/**
 * Reads the main thread's `.cpuprofile` in `dir` and attributes self time (idle excluded), keeping only
 * samples inside `window` (monotonic µs, the clock V8 stamps samples with) when given.
 */
export function summarizeProfile(
  dir: string,
  window?: { fromUs: number; toUs: number },
  topN = 15,
): ProfileSummary | null {
  // One profile per thread (the module loader runs in a worker): the main thread's is the largest.
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => ({ f, size: statSync(join(dir, f)).size }))
    .sort((a, b) => b.size - a.size);
  const file = files[0]?.f;
  if (!file) return null;
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const inWindow = (from: number, to: number) => {
    self.clear();
    let ts = profile.startTime;
    for (let i = 0; i < samples.length; i++) {
      ts += deltas[i] ?? 0;
      if (ts < from || ts > to) continue;
      const id = samples[i] ?? -1;
      const dt = deltas[i + 1] ?? deltas[i] ?? 0;
      self.set(id, (self.get(id) ?? 0) + Math.max(0, dt));
    }
    return self.size > 0;
  };
  const windowed = window !== undefined && inWindow(window.fromUs, window.toUs);
  if (!windowed) inWindow(Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY);
  let total = 0;
  const areas = new Map<string, number>();
  const fns = new Map<string, { fn: string; where: string; t: number }>();
  for (const [id, t] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const area = areaOf(node);
    if (area === 'idle') continue;
    total += t;
    areas.set(area, (areas.get(area) ?? 0) + t);
    const where = `${node.callFrame.url.replace(/^.*\/(node_modules\/\.pnpm\/[^/]+\/node_modules\/|packages\/)/, '')}:${node.callFrame.lineNumber + 1}`;
    const key = `${node.callFrame.functionName}@${where}`;
    const entry = fns.get(key) ?? { fn: node.callFrame.functionName || '(anonymous)', where, t: 0 };
    entry.t += t;
    fns.set(key, entry);
  }
  const pct = (t: number) => Math.round((1000 * t) / Math.max(1, total)) / 10;
  return {
    file: join(dir, file),
    sampledMs: Math.round(total / 1000),
    windowed,
    areas: [...areas.entries()].sort((a, b) => b[1] - a[1]).map(([area, t]) => ({ area, percent: pct(t) })),
    top: [...fns.values()]
      .sort((a, b) => b.t - a.t)
      .slice(0, topN)
      .map((f) => ({ fn: f.fn, where: f.where, percent: pct(f.t) })),
  };
}
