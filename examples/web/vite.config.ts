import { defineConfig } from 'vite';

// The page calls the sync server on its own origin: `vite` and `vite preview` forward /v1 to it.
const server = process.env.SATCHEL_SERVER ?? 'http://localhost:8787';

export default defineConfig({
  build: { target: 'es2022' },
  server: { proxy: { '/v1': server } },
  preview: { proxy: { '/v1': server } },
});
