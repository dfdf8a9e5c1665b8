import { type ChildProcess, fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSX = createRequire(`${ROOT}package.json`).resolve('tsx');

export interface ServerStats {
  maxRssBytes: number;
}

/** A reading of the server process: CPU used, its monotonic clock, and what it asked of the database. */
export interface ServerReading {
  cpuUs: number;
  monotonicUs: number;
  /** `POST /v1/sync` answered 200 so far. */
  syncs: number;
  transactions: number;
  statements: number;
  /** Round trips to the database (pipelined statements of one transaction count once; BEGIN and COMMIT count). */
  roundTrips: number;
  transactionMs: number;
  /** Time connections were held: whole transactions, and single statements outside one. */
  connectionMs: number;
  /** Garbage-collection pauses in the server: how many, their total and the longest, ms. */
  gcCount: number;
  gcMs: number;
  gcMaxMs: number;
}

export interface ServerProcess {
  readonly port: number;
  readonly pid: number;
  readonly baseUrl: string;
  reading(): Promise<ServerReading>;
  /** Each statement's duration and the longest GC pause (ms) since the last call. */
  window(): Promise<{ ms: number[]; gcMaxMs: number }>;
  /** Stops the server (the CPU profile, if any, is written on exit). */
  stop(): Promise<ServerStats>;
}

/** Starts `server-child.ts` (the real server wiring) on `databaseUrl` in its own Node.js process. */
export function startServerProcess(options: {
  databaseUrl: string;
  tokenSecret: string;
  poolSize: number;
  cpuProfileDir?: string | undefined;
}): Promise<ServerProcess> {
  const execArgv = ['--import', TSX];
  if (options.cpuProfileDir) execArgv.unshift('--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`);
  const child: ChildProcess = fork(fileURLToPath(new URL('./server-child.ts', import.meta.url)), [], {
    cwd: ROOT,
    execArgv,
    env: {
      ...process.env,
      BENCH_DATABASE_URL: options.databaseUrl,
      BENCH_TOKEN_SECRET: options.tokenSecret,
      BENCH_POOL_SIZE: String(options.poolSize),
      LOG_LEVEL: process.env.BENCH_SERVER_LOG_LEVEL ?? 'warn',
    },
    // The server logs to stdout: send it to stderr, where the benchmark's progress goes, so that stdout
    // keeps only the table and the JSON line.
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  child.stdout?.pipe(process.stderr);
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) =>
      reject(new Error(`the server process exited early (code ${code})`));
    child.once('exit', onExit);
    child.once('error', reject);
    child.once('message', (m: { type: string; port: number }) => {
      if (m.type !== 'listening') return reject(new Error(`unexpected message from the server: ${m.type}`));
      child.off('exit', onExit);
      const ask = <T>(type: string, answer: string) =>
        new Promise<T>((res, rej) => {
          const onExit = (code: number | null) => rej(new Error(`the server process exited (code ${code})`));
          const onMessage = (r: { type: string } & T) => {
            if (r.type !== answer) return;
            child.off('message', onMessage);
            child.off('exit', onExit);
            res(r);
          };
          child.on('message', onMessage);
          child.once('exit', onExit);
          child.send({ type });
        });
      resolve({
        port: m.port,
        pid: child.pid ?? -1,
        baseUrl: `http://127.0.0.1:${m.port}`,
        reading: () => ask<ServerReading>('stats', 'stats'),
        window: () => ask<{ ms: number[]; gcMaxMs: number }>('statements', 'statements'),
        async stop() {
          const stats = await ask<ServerStats>('stop', 'stopped');
          if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
          return stats;
        },
      });
    });
  });
}
