// Builds the demo player when its dist is missing or older than its sources (or the SDK's), so that
// `pnpm start` always serves a current player at `/`. Does nothing when the build is up to date.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const player = fileURLToPath(new URL('..', import.meta.url));
const root = join(player, '..', '..');
const built = join(player, 'dist', 'index.html');
const sources = [
  join(player, 'index.html'),
  join(player, 'vite.config.ts'),
  join(player, 'src'),
  join(player, 'public'),
  ...['protocol', 'core', 'sdk', 'timeline'].map((name) => join(root, 'packages', name, 'src')),
];

function newest(path) {
  if (!existsSync(path)) return 0;
  const stats = statSync(path);
  if (!stats.isDirectory()) return stats.mtimeMs;
  let max = 0;
  for (const entry of readdirSync(path)) {
    if (entry === 'node_modules' || entry.endsWith('.test.ts')) continue;
    max = Math.max(max, newest(join(path, entry)));
  }
  return max;
}

const builtAt = existsSync(built) ? statSync(built).mtimeMs : 0;
const sourcesAt = Math.max(...sources.map(newest));
if (builtAt === 0 || sourcesAt > builtAt) {
  console.log(
    builtAt === 0 ? 'Building the demo player (first start)…' : 'The demo player changed: rebuilding it…',
  );
  const { status } = spawnSync('pnpm', ['--filter', '@satchel/player', 'build'], {
    cwd: root,
    stdio: 'inherit',
    // A production build even when started from a test runner (which sets NODE_ENV=test).
    env: { ...process.env, NODE_ENV: 'production' },
  });
  if (status !== 0) {
    console.error('Building the demo player failed; the server starts without it.');
  }
}
