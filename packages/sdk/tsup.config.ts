import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'entries/dexie': 'src/entries/dexie.ts',
    'entries/shaka': 'src/entries/shaka.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  tsconfig: './tsconfig.json',
  external: ['dexie', 'shaka-player'],
});
