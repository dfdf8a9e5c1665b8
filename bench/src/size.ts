import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ROOT } from './server-process.js';

export interface SizeResult {
  /** The SDK's default entry bundled with its dependencies, minified and gzipped, in bytes. */
  sdkGzipBytes: number;
  sdkMinifiedBytes: number;
  budgetBytes: number;
  /** What `pnpm size` printed. */
  output: string;
}

/** Runs the workspace's `pnpm size` (scripts/size.mjs) and reads the default entry's figures from it. */
export async function benchSize({ log }: { log: (line: string) => void }): Promise<SizeResult> {
  let stdout = '';
  try {
    ({ stdout } = await promisify(execFile)('pnpm', ['--silent', 'size'], { cwd: ROOT, maxBuffer: 1 << 22 }));
  } catch (e) {
    // `pnpm size` exits 1 when a budget is exceeded: that is a missed target, not a broken benchmark.
    const out = (e as { stdout?: string }).stdout ?? '';
    if (!/gzipped/.test(out)) throw e;
    stdout = out;
  }
  log(stdout.trimEnd().replace(/^/gm, '  '));
  const m = /([\d.]+) KB minified, ([\d.]+) KB gzipped \((?:(\d+) B; )?budget ([\d.]+) KB\)/.exec(stdout);
  if (!m) throw new Error(`could not read the default entry's size from \`pnpm size\`:\n${stdout}`);
  return {
    sdkGzipBytes: m[3] === undefined ? Math.round(Number(m[2]) * 1024) : Number(m[3]),
    sdkMinifiedBytes: Math.round(Number(m[1]) * 1024),
    budgetBytes: Math.round(Number(m[4]) * 1024),
    output: stdout.trim(),
  };
}
