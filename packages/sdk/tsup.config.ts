import { defineConfig } from 'tsup';

// One file per entry point plus shared chunks, in ESM and CJS with typings for each (`.d.ts` / `.d.cts`).
// `dexie` and `shaka-player` stay the player's: `/dexie` and `/shaka` import them and never bundle them.
// `/testing` is the storage contract suite (framework-free).
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    dexie: 'src/entries/dexie.ts',
    shaka: 'src/entries/shaka.ts',
    testing: 'src/entries/testing.ts',
  },
  format: ['esm', 'cjs'],
  splitting: true,
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  tsconfig: './tsconfig.json',
  external: ['dexie', 'shaka-player'],
});
