/** Severity of a {@link SatchelLogger} entry. */
export type SatchelLogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * Where the SDK tells what it does and what it swallowed. One method; the default is silent. It receives
 * every sync state transition (`debug`), every error the SDK handled without throwing it to a caller
 * (`warn`: a listener that threw, a failed notification to other tabs, a failed status write…), and every
 * failed sync (`warn`, with the error). `data` is a plain object; `data.error` holds the caught value.
 * A logger that throws is ignored.
 */
export interface SatchelLogger {
  log(level: SatchelLogLevel, message: string, data?: Record<string, unknown>): void;
}

/** The default logger: discards everything. */
export const silentLogger: SatchelLogger = { log() {} };

/** Wraps a logger so that one that throws cannot break the SDK. */
export function safeLogger(logger: SatchelLogger | undefined): SatchelLogger {
  if (logger === undefined) return silentLogger;
  return {
    log(level, message, data) {
      try {
        logger.log(level, message, data);
      } catch {
        // A throwing logger has nowhere to report to.
      }
    },
  };
}
