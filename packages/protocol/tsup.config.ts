import { defineConfig } from 'tsup';

// One file per entry point plus shared chunks, in ESM and CJS with typings for each (`.d.ts` / `.d.cts`),
// so that a bundler takes only the entries an app imports: the default entry never loads zod.
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    schemas: 'src/entries/schemas.ts',
    openapi: 'src/entries/openapi.ts',
  },
  format: ['esm', 'cjs'],
  splitting: true,
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  tsconfig: './tsconfig.json',
});
