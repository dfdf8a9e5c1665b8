// `pnpm soak`: the simulator (apps/simulator) with every fault on, for a long run (500 devices, 90 days);
// `pnpm soak -- --short` is the CI size. Other options (--seed, --devices, --days, --accounts,
// --database-url, …) are passed to the simulator and win over the defaults. Prints the simulator's
// output, then as the last line `soak: … lost=0 duplicated=0 violations=0`; exits 1 when anything was
// lost, applied twice, or an invariant was violated (or the simulator failed).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const args = process.argv.slice(2).filter((a) => a !== '--');
const short = args.includes('--short');
const passed = args.filter((a) => a !== '--short');

// Every fault the simulator knows; the server process is killed and restarted every `server-restart` of
// virtual time (each restart costs real seconds, hence a day rather than minutes).
const faultList = (restart: string) =>
  `drop=0.1,dup=0.05,reorder=0.05,delay=2s,server-restart=${restart},quota=0.01,crash=0.01`;
const defaults: Record<string, string> = short
  ? { '--devices': '40', '--accounts': '15', '--days': '14', '--seed': '7', '--faults': faultList('2d') }
  : { '--devices': '500', '--accounts': '200', '--days': '90', '--seed': '1', '--faults': faultList('1d') };
for (let i = 0; i < passed.length; i++) {
  const a = passed[i] ?? '';
  if (a in defaults) delete defaults[a];
}
const argv = [
  '--tsconfig',
  'tsconfig.json',
  'apps/simulator/src/cli.ts',
  ...Object.entries(defaults).flat(),
  ...passed.filter((a) => a !== '--json'),
  '--json',
];

const started = performance.now();
const child = spawn(fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url)), argv, {
  cwd: root,
  stdio: ['ignore', 'pipe', 'inherit'],
});
let out = '';
child.stdout.on('data', (chunk: Buffer) => {
  out += chunk.toString();
  process.stdout.write(chunk);
});
const code: number = await new Promise((resolve) => child.on('close', (c) => resolve(c ?? 1)));
const last = out.trim().split('\n').at(-1) ?? '';
let summary: Record<string, unknown> | null = null;
try {
  summary = JSON.parse(last) as Record<string, unknown>;
} catch {}
if (summary === null) {
  process.stdout.write(`\nsoak: the simulator ended (exit ${code}) without a JSON summary\n`);
  process.exit(1);
}
const n = (k: string) => Number(summary?.[k] ?? Number.NaN);
const faults = (summary.faults ?? {}) as Record<string, number>;
const line = [
  `soak: ${short ? 'short' : 'run'}`,
  `devices=${n('devices')}`,
  `accounts=${n('accounts')}`,
  `days=${n('simulatedDays')}`,
  `seed=${n('seed')}`,
  `events=${n('eventsRecorded')}`,
  `acked=${n('eventsAcknowledged')}`,
  `pending=${n('eventsPending')}`,
  `syncs=${n('syncs')}`,
  `restarts=${faults.serverRestarts ?? 0}`,
  `crashes=${faults.crashes ?? 0}`,
  `lost=${n('eventsLost')}`,
  `duplicated=${n('duplicatesApplied')}`,
  `violations=${n('invariantViolations')}`,
  `wall=${Math.round((performance.now() - started) / 1000)}s`,
].join(' ');
process.stdout.write(`\n${line}\n`);
const bad =
  code !== 0 || n('eventsLost') !== 0 || n('duplicatesApplied') !== 0 || n('invariantViolations') !== 0;
process.exit(bad ? 1 : 0);
