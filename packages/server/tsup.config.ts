import { defineConfig } from 'tsup';

// ESM and CJS with typings for each (`.d.ts` / `.d.cts`); dependencies stay external.
export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  splitting: true,
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  tsconfig: './tsconfig.json',
});
