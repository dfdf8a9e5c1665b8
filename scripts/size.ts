// `pnpm size`: the size of the SDK as a player ships it. Packs the built public packages, installs them
// with plain `npm install` into a scratch app outside the workspace (their dependencies come from the
// registry, as a player gets them), bundles each public entry from there — every export, with every
// dependency, minified, for the browser — and checks the gzipped size against its budget and that the
// bundle holds nothing it must not (zod; dexie and react, which are the player's). Run `pnpm build` first.
// `--verbose` lists the largest inputs of each bundle; `--json` ends with one JSON line of the figures.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { packPublic } from './packages.js';

interface Line {
  /** What is bundled: `export * from '<entry>'`. */
  readonly entry: string;
  /** What the line covers, in words. */
  readonly what: string;
  /** Budget in bytes, minified and gzipped. */
  readonly budget: number;
  /** Left to the player's own bundle (its peer dependencies). */
  readonly external: readonly string[];
  /** Packages that must not be in the bundle. */
  readonly forbidden: readonly string[];
}

const LINES: readonly Line[] = [
  {
    entry: '@satchel/sdk',
    what: 'default entry (idb storage) with core, protocol and every dependency',
    budget: 20 * 1024,
    external: [],
    // The SDK reads the server's answers with lean validators (packages/sdk/src/sync/validate.ts).
    forbidden: ['zod'],
  },
  {
    entry: '@satchel/sdk/dexie',
    what: 'the Dexie adapter; dexie is the player’s',
    budget: 4 * 1024,
    external: ['dexie'],
    forbidden: ['zod', 'dexie'],
  },
  {
    entry: '@satchel/react',
    what: 'the hooks; react and @satchel/sdk are the player’s',
    budget: 2 * 1024,
    external: ['react', 'react-dom', '@satchel/sdk'],
    forbidden: ['zod', 'react', 'react-dom', 'dexie'],
  },
];

const root = fileURLToPath(new URL('..', import.meta.url));
const verbose = process.argv.includes('--verbose');
const json = process.argv.includes('--json');
const scratch = mkdtempSync(join(tmpdir(), 'satchel-size-'));

/** The package an esbuild input path belongs to (`node_modules/<name>/...`), or null for the stdin. */
function packageOf(input: string): string | null {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(input);
  return match?.[1] ?? null;
}

try {
  const tarballs = packPublic(root, join(scratch, 'tarballs'));
  const devDeps = (dir: string) =>
    (
      JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as {
        devDependencies?: Record<string, string>;
      }
    ).devDependencies ?? {};
  const app = {
    name: 'satchel-size-app',
    private: true,
    type: 'module',
    dependencies: {
      ...Object.fromEntries([...tarballs].map(([name, path]) => [name, `file:${path}`])),
      // The peer dependencies a player brings; bundled by no line, installed so that types resolve.
      dexie: devDeps('packages/sdk').dexie ?? 'latest',
    },
  };
  writeFileSync(join(scratch, 'package.json'), `${JSON.stringify(app, null, 2)}\n`);
  execFileSync(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', '--loglevel=error'],
    { cwd: scratch, stdio: ['ignore', 'ignore', 'inherit'] },
  );

  let failed = false;
  const rows: string[][] = [];
  const figures: Array<{
    entry: string;
    minifiedBytes: number;
    gzipBytes: number;
    budgetBytes: number;
    ok: boolean;
    bytesByPackage: Record<string, number>;
  }> = [];
  for (const line of LINES) {
    const name = line.entry.split('/').slice(0, 2).join('/');
    if (!tarballs.has(name)) continue;
    const result = await build({
      stdin: { contents: `export * from '${line.entry}';`, resolveDir: scratch, sourcefile: 'app.js' },
      absWorkingDir: scratch,
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      metafile: true,
      external: [...line.external],
      logLevel: 'error',
    });
    const code = result.outputFiles[0]?.contents ?? new Uint8Array();
    const gz = gzipSync(code, { level: 9 }).length;
    const output = Object.values(result.metafile.outputs)[0];
    const inputs = Object.entries(output?.inputs ?? {}).filter(([, { bytesInOutput }]) => bytesInOutput > 0);
    const byPackage = new Map<string, number>();
    for (const [input, { bytesInOutput }] of inputs) {
      const pkg = packageOf(input) ?? '(app)';
      byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + bytesInOutput);
    }
    const leaked = [...byPackage.keys()].filter((pkg) => line.forbidden.includes(pkg));
    const ok = gz <= line.budget && leaked.length === 0;
    failed ||= !ok;
    figures.push({
      entry: line.entry,
      minifiedBytes: code.length,
      gzipBytes: gz,
      budgetBytes: line.budget,
      ok,
      bytesByPackage: Object.fromEntries(byPackage),
    });
    rows.push([
      ok ? 'ok' : 'FAIL',
      line.entry,
      `${(code.length / 1024).toFixed(1)} KB`,
      `${gz.toLocaleString('en')} B`,
      `${(line.budget / 1024).toFixed(0)} KB`,
      [...byPackage]
        .sort((a, b) => b[1] - a[1])
        .map(([pkg, bytes]) => `${pkg} ${(bytes / 1024).toFixed(1)}`)
        .join(', '),
    ]);
    if (leaked.length > 0)
      rows.push(['', `  bundles what it must not: ${leaked.join(', ')}`, '', '', '', '']);
    if (verbose) {
      for (const [input, { bytesInOutput }] of inputs
        .sort((a, b) => b[1].bytesInOutput - a[1].bytesInOutput)
        .slice(0, 20)) {
        rows.push([
          '',
          `  ${String(bytesInOutput).padStart(7)}  ${input.replace(/^.*node_modules\//, '')}`,
          '',
          '',
          '',
          '',
        ]);
      }
    }
  }
  const header = [
    '',
    'entry (installed from the packed tarballs)',
    'minified',
    'min+gz',
    'budget',
    'minified KB by package',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const print = (r: readonly string[]) =>
    console.log(
      `| ${r.map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join(' | ')} |`,
    );
  print(header);
  console.log(
    `|${widths.map((w, i) => (i >= 2 && i <= 4 ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`,
  );
  for (const row of rows) print(row);
  if (json) console.log(JSON.stringify({ size: figures }));
  process.exitCode = failed ? 1 : 0;
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
