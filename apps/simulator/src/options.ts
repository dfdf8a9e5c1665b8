import { parseArgs } from 'node:util';
import { type FaultRates, NO_FAULTS } from './faults.js';

/** The command line, parsed. */
export interface CliOptions {
  devices: number;
  accounts: number;
  days: number;
  seed: number;
  server: string | undefined;
  harnessSecret: string | undefined;
  databaseUrl: string | undefined;
  dataDir: string | undefined;
  faults: FaultRates;
  json: boolean;
  report: string | undefined;
  concurrency: number;
  epochHours: number;
  help: boolean;
}

/** A malformed command line. */
export class UsageError extends Error {
  readonly code = 'USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** True for a {@link UsageError}, from any realm. */
export const isUsageError = (error: unknown): error is UsageError =>
  typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'UsageError';

export const USAGE = `Usage: pnpm simulate -- [options]

  --devices N          simulated devices (default 50)
  --accounts M         accounts they belong to (default 20)
  --days D             simulated days (default 14)
  --seed S             seed of every random choice (default 1): same seed, same run
  --faults LIST        e.g. drop=0.1,dup=0.05,reorder=0.05,delay=2s,server-restart=30m,quota=0.01,crash=0.01
  --server URL         a running server with the simulation harness (default: an embedded one)
  --harness-secret S   the harness secret of --server (default satchel-simulation)
  --database-url URL   PostgreSQL for the embedded server (default: PGlite in a temporary directory)
  --data-dir DIR       PGlite directory for the embedded server (kept afterwards)
  --concurrency N      accounts simulated side by side (default 16)
  --epoch HOURS        virtual hours accounts run apart between barriers (default 6)
  --json               print one JSON summary as the last line of stdout
  --report FILE        write a self-contained HTML report
  --help               this text

Exits 1 when an invariant is violated, 2 on a usage error, 3 when the run itself failed.`;

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `2s`, `30m`, `1.5h`, `2d` or a bare number of milliseconds. */
export function parseDuration(text: string): number {
  const m = DURATION.exec(text.trim());
  if (m?.[1] === undefined) throw new UsageError(`not a duration: '${text}' (use e.g. 2s, 30m, 6h, 2d)`);
  return Math.round(Number(m[1]) * (UNIT_MS[m[2] ?? 'ms'] ?? 1));
}

const probability = (name: string, text: string): number => {
  const p = Number(text);
  if (!Number.isFinite(p) || p < 0 || p > 1)
    throw new UsageError(`--faults ${name} must be a probability in [0, 1]`);
  return p;
};

/** Parses `--faults drop=0.1,dup=0.05,reorder=0.05,delay=2s,server-restart=30m,quota=0.01,crash=0.01`. */
export function parseFaults(text: string): FaultRates {
  const rates: { -readonly [K in keyof FaultRates]: FaultRates[K] } = { ...NO_FAULTS };
  for (const part of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [key, value] = part.split('=');
    if (key === undefined || value === undefined)
      throw new UsageError(`--faults: expected name=value, got '${part}'`);
    switch (key) {
      case 'drop':
      case 'dup':
      case 'reorder':
      case 'quota':
      case 'crash':
        rates[key] = probability(key, value);
        break;
      case 'delay':
        rates.delayMs = parseDuration(value);
        break;
      case 'server-restart':
        rates.serverRestartMs = parseDuration(value);
        break;
      default:
        throw new UsageError(
          `--faults: unknown fault '${key}' (drop, dup, reorder, delay, server-restart, quota, crash)`,
        );
    }
  }
  return rates;
}

const positiveInt = (name: string, text: string | undefined, fallback: number): number => {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer`);
  return n;
};

/** Parses the command line. @throws {UsageError} */
export function parseCli(argv: readonly string[]): CliOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv.filter((a) => a !== '--'),
      options: {
        devices: { type: 'string' },
        accounts: { type: 'string' },
        days: { type: 'string' },
        seed: { type: 'string' },
        faults: { type: 'string' },
        server: { type: 'string' },
        'harness-secret': { type: 'string' },
        'database-url': { type: 'string' },
        'data-dir': { type: 'string' },
        concurrency: { type: 'string' },
        epoch: { type: 'string' },
        json: { type: 'boolean' },
        report: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const seedText = str('seed');
  const seed = seedText === undefined ? 1 : Number(seedText);
  if (!Number.isInteger(seed)) throw new UsageError('--seed must be an integer');
  const devices = positiveInt('devices', str('devices'), 50);
  const accounts = positiveInt('accounts', str('accounts'), Math.min(20, devices));
  if (accounts > devices)
    throw new UsageError('--accounts cannot exceed --devices (every account has a device)');
  if (str('server') !== undefined && str('database-url') !== undefined) {
    throw new UsageError('--database-url configures the embedded server; a --server brings its own database');
  }
  return {
    devices,
    accounts,
    days: positiveInt('days', str('days'), 14),
    seed,
    server: str('server'),
    harnessSecret: str('harness-secret'),
    databaseUrl: str('database-url'),
    dataDir: str('data-dir'),
    faults: str('faults') === undefined ? NO_FAULTS : parseFaults(str('faults') ?? ''),
    json: values.json === true,
    report: str('report'),
    concurrency: positiveInt('concurrency', str('concurrency'), 16),
    epochHours: positiveInt('epoch', str('epoch'), 6),
    help: values.help === true,
  };
}
