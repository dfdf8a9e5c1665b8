// `pnpm start`: the reference server and, when its build is missing or stale, the demo player's build,
// side by side — liveness never waits for the player, which the server serves as soon as it is built.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const build = spawn(process.execPath, ['apps/player/scripts/ensure-built.mjs'], {
  cwd: root,
  stdio: 'inherit',
});
build.on('exit', (code) => {
  if (code !== 0) console.error('The demo player did not build; the API still runs (see the output above).');
});

// The operator console builds in about a second; the server serves it once built.
const consoleBuild = spawn(process.execPath, ['apps/console/scripts/build.mjs'], {
  cwd: root,
  stdio: 'inherit',
});
consoleBuild.on('exit', (code) => {
  if (code !== 0)
    console.error('The operator console did not build; the API still runs (see the output above).');
});

const server = spawn(
  'tsx',
  ['--tsconfig', 'apps/sync-server/tsconfig.json', 'apps/sync-server/src/main.ts', ...process.argv.slice(2)],
  {
    cwd: root,
    stdio: 'inherit',
    shell: process.platform === 'win32',
    // `pnpm start` is the development command; production sets SATCHEL_ENV=production itself.
    env: { ...process.env, SATCHEL_ENV: process.env.SATCHEL_ENV ?? 'development' },
  },
);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    build.kill(signal);
    server.kill(signal);
  });
}
// A process manager that signals `pnpm start` reaches pnpm, not this script: pnpm exits and this process is
// handed to init. Treat losing the parent as SIGTERM, so the server shuts down gracefully instead of
// keeping the port and the data directory.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) {
    build.kill('SIGTERM');
    server.kill('SIGTERM');
  }
}, 1000).unref();
server.on('exit', (code, signal) => {
  build.kill('SIGTERM');
  process.exit(code ?? (signal ? 1 : 0));
});
