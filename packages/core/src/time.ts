/** Milliseconds in a second, minute, hour and day: every instant in Satchel is epoch milliseconds. */
export const SECOND_MS = 1000;
export const MINUTE_MS = 60 * SECOND_MS;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

/** The rolling window of the per-title yearly limit. */
export const YEAR_WINDOW_MS = 365 * DAY_MS;
/** The rolling window of a plan's monthly limit (30 days; see docs/domain.md). */
export const MONTH_WINDOW_MS = 30 * DAY_MS;
