import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const src = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** The player builds the workspace packages from their sources (no package build needed first). */
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@satchel\/protocol$/, replacement: src('../../packages/protocol/src/index.ts') },
      { find: /^@satchel\/protocol\/(.*)$/, replacement: src('../../packages/protocol/src/entries/$1.ts') },
      { find: /^@satchel\/core$/, replacement: src('../../packages/core/src/index.ts') },
      { find: /^@satchel\/core\/(.*)$/, replacement: src('../../packages/core/src/entries/$1.ts') },
      { find: /^@satchel\/timeline$/, replacement: src('../../packages/timeline/src/index.ts') },
      { find: /^@satchel\/sdk$/, replacement: src('../../packages/sdk/src/index.ts') },
      { find: /^@satchel\/sdk\/(.*)$/, replacement: src('../../packages/sdk/src/entries/$1.ts') },
    ],
  },
  server: {
    port: 5173,
    proxy: {
      '/v1': process.env.SATCHEL_SERVER ?? 'http://localhost:8787',
      '/healthz': process.env.SATCHEL_SERVER ?? 'http://localhost:8787',
      '/media': process.env.SATCHEL_SERVER ?? 'http://localhost:8787',
    },
  },
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
  },
});
