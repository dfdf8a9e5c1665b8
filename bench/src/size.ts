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

interface SizeFigure {
  entry: string;
  minifiedBytes: number;
  gzipBytes: number;
  budgetBytes: number;
}

/**
 * Runs the workspace's `pnpm size -- --json` (scripts/size.ts: the installed tarballs, bundled) and reads
 * the default entry's figures from its last line.
 */
export async function benchSize({ log }: { log: (line: string) => void }): Promise<SizeResult> {
  let stdout = '';
  try {
    ({ stdout } = await promisify(execFile)('pnpm', ['size', '--json'], { cwd: ROOT, maxBuffer: 1 << 22 }));
  } catch (e) {
    // `pnpm size` exits 1 when a budget is exceeded: that is a missed target, not a broken benchmark.
    const out = (e as { stdout?: string }).stdout ?? '';
    if (!/"size":/.test(out)) throw e;
    stdout = out;
  }
  const lines = stdout.trimEnd().split('\n');
  const last = lines.pop() ?? '';
  log(
    lines
      .filter((l) => l.startsWith('|'))
      .join('\n')
      .replace(/^/gm, '  '),
  );
  const figures = (JSON.parse(last) as { size: SizeFigure[] }).size;
  const sdk = figures.find((f) => f.entry === '@satchel/sdk');
  if (sdk === undefined) throw new Error(`\`pnpm size\` measured no @satchel/sdk line:\n${stdout}`);
  return {
    sdkGzipBytes: sdk.gzipBytes,
    sdkMinifiedBytes: sdk.minifiedBytes,
    budgetBytes: sdk.budgetBytes,
    output: lines.join('\n').trim(),
  };
}
