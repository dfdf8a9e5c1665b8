// Builds the operator console into dist/ (index.html, console.js, console.css) with esbuild, resolving the
// workspace packages to their sources (the root tsconfig's paths). Skips the build when dist is newer than
// every source; `--force` rebuilds.
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const app = fileURLToPath(new URL('..', import.meta.url));
const root = join(app, '..', '..');
const dist = join(app, 'dist');
const sources = [
  join(app, 'src'),
  join(app, 'index.html'),
  ...['protocol', 'core', 'timeline'].map((p) => join(root, 'packages', p, 'src')),
];

function newest(path) {
  if (!existsSync(path)) return 0;
  const stats = statSync(path);
  if (!stats.isDirectory()) return stats.mtimeMs;
  let max = 0;
  for (const entry of readdirSync(path))
    if (!entry.endsWith('.test.ts')) max = Math.max(max, newest(join(path, entry)));
  return max;
}

const built = join(dist, 'console.js');
if (
  !process.argv.includes('--force') &&
  existsSync(built) &&
  statSync(built).mtimeMs >= Math.max(...sources.map(newest))
) {
  process.exit(0);
}
mkdirSync(dist, { recursive: true });
await build({
  entryPoints: { console: join(app, 'src', 'main.ts') },
  bundle: true,
  format: 'esm',
  // The chart library is a chunk of its own, loaded by the Reports page only.
  splitting: true,
  chunkNames: 'chunk-[hash]',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  outdir: dist,
  tsconfig: join(root, 'tsconfig.json'),
  logLevel: 'warning',
});
copyFileSync(join(app, 'index.html'), join(dist, 'index.html'));
console.log(`Built the operator console in ${dist}`);
