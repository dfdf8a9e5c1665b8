#!/usr/bin/env node
import { fileURLToPath } from 'node:url';
// Bundles each public SDK entry with its dependencies, as a web player would ship it, and checks the
// minified + gzipped size against its budget.
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

const entries = [
  {
    name: '@satchel/sdk (default entry, idb storage; with core, protocol, ky, idb)',
    entry: 'packages/sdk/src/index.ts',
    budget: 20 * 1024,
    external: [],
    // The client validates answers with lean validators (packages/sdk/src/sync/validate.ts), not zod.
    forbidden: ['/zod/'],
  },
  {
    name: '@satchel/sdk/dexie (adapter only; dexie is the player’s)',
    entry: 'packages/sdk/src/entries/dexie.ts',
    budget: 4 * 1024,
    external: ['dexie'],
    forbidden: ['/zod/', '/dexie/'],
  },
];

let failed = false;
for (const { name, entry, budget, external, forbidden } of entries) {
  const result = await build({
    absWorkingDir: root,
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    metafile: true,
    external,
    alias: {
      '@satchel/core': './packages/core/src/index.ts',
      '@satchel/protocol': './packages/protocol/src/index.ts',
    },
    logLevel: 'error',
  });
  const code = result.outputFiles[0].contents;
  const gz = gzipSync(code, { level: 9 }).length;
  const inputs = Object.entries(result.metafile.outputs)[0][1].inputs;
  const leaked = Object.keys(inputs).filter(
    (file) => forbidden.some((f) => file.includes(f)) && inputs[file].bytesInOutput > 0,
  );
  const ok = gz <= budget && leaked.length === 0;
  if (leaked.length > 0) console.log(`     bundles what it must not: ${leaked.join(', ')}`);
  failed ||= !ok;
  console.log(
    `${ok ? 'ok  ' : 'FAIL'} ${name}\n     ${(code.length / 1024).toFixed(1)} KB minified, ${(gz / 1024).toFixed(2)} KB gzipped (${gz} B; budget ${(budget / 1024).toFixed(0)} KB)`,
  );
  if (process.argv.includes('--verbose')) {
    const rows = Object.entries(inputs)
      .map(([file, { bytesInOutput }]) => [file, bytesInOutput])
      .sort((a, b) => b[1] - a[1])
      .slice(0, 25);
    for (const [file, bytes] of rows) console.log(`       ${String(bytes).padStart(7)}  ${file}`);
  }
}
process.exit(failed ? 1 : 0);
