import cliProgress from 'cli-progress';

/** A progress display for long CLI work: a bar on a terminal, nothing otherwise. */
export interface Progress {
  update(done: number, total: number): void;
  /** Removes the bar (the line is cleared) so what follows starts on a clean line. */
  stop(): void;
}

const SILENT: Progress = { update() {}, stop() {} };

/**
 * A progress bar on `stream` (stderr by default) when it is a terminal; silent when it is not (piped,
 * redirected, CI), so the bar never mixes into captured output. `label` names the work ("accounts").
 */
export function progress(
  label: string,
  stream: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr,
): Progress {
  if (stream.isTTY !== true) return SILENT;
  const bar = new cliProgress.SingleBar(
    {
      stream: stream as NodeJS.WriteStream,
      format: `{bar} {percentage}% | {value}/{total} ${label} | {duration_formatted} elapsed, ETA {eta_formatted}`,
      clearOnComplete: true,
      hideCursor: true,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total) {
      if (!started) {
        bar.start(total, done);
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(done);
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
