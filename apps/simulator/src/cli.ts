import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { HOUR_MS } from '@satchel/core';
import { isUsageError, parseCli, USAGE } from './options.js';
import { checksReport, progressLine, summaryTable } from './output.js';
import { htmlReport } from './report.js';
import { runSimulation } from './simulation.js';

async function main(): Promise<number> {
  let options: ReturnType<typeof parseCli>;
  try {
    options = parseCli(process.argv.slice(2));
  } catch (error) {
    if (isUsageError(error)) {
      process.stderr.write(`${error.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw error;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const tty = process.stderr.isTTY === true;
  let lastDraw = 0;
  const result = await runSimulation({
    devices: options.devices,
    accounts: options.accounts,
    days: options.days,
    seed: options.seed,
    server: options.server,
    harnessSecret: options.harnessSecret,
    databaseUrl: options.databaseUrl,
    dataDir: options.dataDir,
    faults: options.faults,
    concurrency: options.concurrency,
    epochMs: options.epochHours * HOUR_MS,
    log: (line) => {
      if (tty) process.stderr.write('\r\x1b[2K');
      process.stderr.write(`${line}\n`);
    },
    onProgress: (p) => {
      if (!tty) return;
      const now = performance.now();
      if (now - lastDraw < 100 && p.simulatedMs < p.totalMs) return;
      lastDraw = now;
      process.stderr.write(
        `\r\x1b[2K${progressLine(p, Math.max(10, Math.min(28, (process.stderr.columns ?? 80) - 70)))}`,
      );
    },
  });
  if (tty) process.stderr.write('\r\x1b[2K');
  const { summary, recorder } = result;
  process.stdout.write(
    `${summaryTable(summary)}\n\n${checksReport(recorder.violationCounts, recorder.violations)}\n`,
  );
  if (options.report !== undefined) {
    await mkdir(dirname(options.report), { recursive: true });
    await writeFile(options.report, htmlReport(result));
    process.stdout.write(`\nreport written to ${options.report}\n`);
  }
  if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  return summary.invariantViolations > 0 ? 1 : 0;
}

// Exiting runs the cleanup of the run (its temporary PGlite directory); the server child sees its
// stdin close and exits too.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\ninterrupted (${signal})\n`);
    process.exit(130);
  });
}

// Exits once stdout has taken everything (a pipe to a slow reader holds only 64 KiB; the rest would be
// lost to an immediate exit).
main().then(
  (code) => process.stdout.write('', () => process.exit(code)),
  (error: unknown) => {
    process.stderr.write(
      `simulation failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(3);
  },
);
