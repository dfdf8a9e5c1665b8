/** Where a command writes: JSON (`--json`) or text for people. Nothing is cut; everything is flushed before exit. */
export interface Output {
  readonly json: boolean;
  /** Writes `value` as indented JSON (with `--json`) or calls `text` to write it for people. */
  result(value: unknown, text: () => void): void;
  line(text?: string): void;
  table(rows: readonly (readonly string[])[]): void;
  /** A note for people on stderr (never mixed with the JSON on stdout). */
  note(text: string): void;
}

export const iso = (ms: number | null | undefined): string =>
  ms === null || ms === undefined ? '-' : new Date(ms).toISOString();

export function createOutput(
  json: boolean,
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Output {
  const line = (text = '') => {
    out.write(`${text}\n`);
  };
  return {
    json,
    result(value, text) {
      if (json) line(JSON.stringify(value, null, 2));
      else text();
    },
    line,
    table(rows) {
      if (rows.length <= 1) {
        line('  (none)');
        return;
      }
      const widths = (rows[0] ?? []).map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
      for (const r of rows)
        line(
          r
            .map((cell, c) => cell.padEnd(widths[c] ?? 0))
            .join('  ')
            .trimEnd(),
        );
    },
    note(text) {
      err.write(`${text}\n`);
    },
  };
}

/** Resolves once everything written to `stream` so far has been handed to the operating system. */
export const flushed = (stream: NodeJS.WritableStream): Promise<void> =>
  new Promise((resolve) => {
    if (!stream.write('', () => resolve())) stream.once('drain', () => resolve());
  });
