// Builds the three parts: the main process and the preload script (CommonJS for Electron's Node), and the
// renderer (an ES module for Chromium, with the SDK bundled) served under app://player/.
import { copyFileSync, mkdirSync } from 'node:fs';
import { build } from 'esbuild';

const node = { bundle: true, platform: 'node', format: 'cjs', target: 'node20', external: ['electron'] };
await build({ ...node, entryPoints: ['src/main.ts'], outfile: 'dist/main.cjs' });
await build({ ...node, entryPoints: ['src/preload.ts'], outfile: 'dist/preload.cjs' });
await build({
  entryPoints: ['src/renderer.ts'],
  outfile: 'dist/renderer/renderer.js',
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: true,
});
mkdirSync('dist/renderer', { recursive: true });
copyFileSync('src/index.html', 'dist/renderer/index.html');
