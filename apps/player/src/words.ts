import type { Allowance, LicenseView, Policy, Refusal } from '@satchel/protocol';
import type { PlaybackResult } from '@satchel/sdk';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Formatting context: the locale's time zone unless one is given (tests pin UTC). */
export interface WordsOptions {
  timeZone?: string;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** "48 hours", "30 days", "90 minutes": the largest whole unit that reads naturally. */
export function duration(seconds: number): string {
  const ms = seconds * 1000;
  if (ms >= 3 * DAY && ms % DAY === 0) return plural(ms / DAY, 'day');
  if (ms >= HOUR && ms % HOUR === 0) return plural(ms / HOUR, 'hour');
  if (ms >= MINUTE && ms % MINUTE === 0) return plural(ms / MINUTE, 'minute');
  return plural(Math.round(seconds), 'second');
}

/** "3 December" (with the year when it is not the year of `now`). */
export function day(at: number, now: number, options: WordsOptions = {}): string {
  const sameYear = year(at, options) === year(now, options);
  return new Intl.DateTimeFormat('en-GB', {
    day: 'numeric',
    month: 'long',
    ...(sameYear ? {} : { year: 'numeric' }),
    ...zone(options),
  }).format(at);
}

/** "3 December, 14:05". */
export function moment(at: number, now: number, options: WordsOptions = {}): string {
  const time = new Intl.DateTimeFormat('en-GB', {
    hour: '2-digit',
    minute: '2-digit',
    hour12: false,
    ...zone(options),
  }).format(at);
  return `${day(at, now, options)}, ${time}`;
}

/** A countdown: "29 d 3 h 4 min", "47 h 59 min 12 s" (hours below 3 days), "4 min 2 s"; "0 s" once passed. */
export function countdown(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const d = total >= 3 * 86_400 ? Math.floor(total / 86_400) : 0;
  const h = Math.floor((total - d * 86_400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (d > 0) return `${d} d ${h} h ${m} min`;
  if (h > 0) return `${h} h ${m} min ${s} s`;
  if (m > 0) return `${m} min ${s} s`;
  return `${s} s`;
}

/** "5 s ago", "3 min ago", "2 h ago", "4 days ago" (or "in …" for an instant ahead). */
export function ago(at: number, now: number): string {
  const diff = now - at;
  const abs = Math.abs(diff);
  const text =
    abs < MINUTE
      ? plural(Math.floor(abs / 1000), 'second')
      : abs < HOUR
        ? plural(Math.floor(abs / MINUTE), 'minute')
        : abs < DAY
          ? plural(Math.floor(abs / HOUR), 'hour')
          : plural(Math.floor(abs / DAY), 'day');
  return diff >= 0 ? `${text} ago` : `in ${text}`;
}

/** A title's policy as a short list of plain sentences, most important first. */
export function policyWords(policy: Policy, now: number, options: WordsOptions = {}): string[] {
  const lines: string[] = [];
  lines.push(
    policy.playbackDurationSec > 0
      ? `${capitalise(duration(policy.playbackDurationSec))} once you start watching`
      : 'Watch as often as you like once you start',
  );
  if (policy.maxDownloadsPerYear !== null)
    lines.push(`${plural(policy.maxDownloadsPerYear, 'download')} a year`);
  if (policy.availableUntil !== null) {
    lines.push(
      policy.availableUntil > now
        ? `Leaves the catalogue on ${day(policy.availableUntil, now, options)}`
        : `Left the catalogue on ${day(policy.availableUntil, now, options)}`,
    );
  }
  if (policy.rentalDurationSec > 0 && policy.rentalDurationSec < policy.licenseDurationSec) {
    lines.push(`Start watching within ${duration(policy.rentalDurationSec)} of downloading`);
  }
  lines.push(`Keep the download up to ${duration(policy.licenseDurationSec)}`);
  if (policy.maxRenewals !== null) {
    lines.push(
      policy.maxRenewals === 0 ? 'Cannot be renewed' : `Renew up to ${plural(policy.maxRenewals, 'time')}`,
    );
  }
  if (policy.offlineCheckInSec > 0)
    lines.push(`Go online at least every ${duration(policy.offlineCheckInSec)}`);
  return lines;
}

/** The yearly allowance of a title: "You can download this title 1 more time before 3 March". */
export function allowanceWords(
  allowance: Allowance | undefined,
  now: number,
  options: WordsOptions = {},
): string | null {
  if (allowance === undefined || allowance.limit === null || allowance.remaining === null) return null;
  const { remaining, nextAvailableAt } = allowance;
  if (remaining === 0) {
    return nextAvailableAt === null
      ? `You have used all ${plural(allowance.limit, 'download')} of this title`
      : `No downloads of this title left until ${day(nextAvailableAt, now, options)}`;
  }
  const times = plural(remaining, 'more time', 'more times');
  return nextAvailableAt === null
    ? `You can download this title ${times} this year`
    : `You can download this title ${times} before ${day(nextAvailableAt, now, options)}`;
}

/** A refused download or renewal, as a person would want to read it. */
export function refusalWords(
  refusal: Refusal,
  now: number,
  options: WordsOptions = {},
  /** What else the rules leave, so that the advice never points at an action that can only be refused. */
  left: { downloadsLeft: number | null } = { downloadsLeft: null },
): string {
  const when = refusal.nextAvailableAt ?? refusal.retryAt;
  const again = when === undefined ? '' : ` You can download it again on ${day(when, now, options)}.`;
  switch (refusal.code) {
    case 'YEARLY_LIMIT':
      return refusal.limit === undefined
        ? `You have used every download of this title for this year.${again}`
        : `You have used all ${plural(refusal.limit, 'download')} of this title for this year.${again}`;
    case 'MONTHLY_LIMIT':
      return `Your plan allows ${plural(refusal.limit ?? 0, 'download')} every 30 days.${
        when === undefined ? '' : ` Your next download is possible on ${day(when, now, options)}.`
      }`;
    case 'DEVICE_LIMIT':
      return `Your plan allows downloads on ${plural(refusal.limit ?? 0, 'device')} at once. Delete the downloads on another device to download here.`;
    case 'DEVICE_LICENSE_LIMIT':
      return `This device already holds ${plural(refusal.limit ?? 0, 'download')}, the most it may. Delete one to make room.`;
    case 'RENEWAL_LIMIT':
      return `This download was already renewed ${plural(refusal.limit ?? 0, 'time')}, the most its studio allows. ${
        left.downloadsLeft === 0
          ? 'No downloads of this title are left this year either, so it cannot be downloaded again for now.'
          : 'Delete it and download the title again.'
      }`;
    case 'TITLE_UNAVAILABLE':
      return 'This title has left the catalogue and can no longer be downloaded.';
    case 'ALREADY_LICENSED':
      return 'This title is already downloaded on this device.';
    case 'DEVICE_DEACTIVATED':
      return 'This device was deactivated. Register it again to download.';
    case 'LICENSE_NOT_ACTIVE':
      return 'This download has ended. Download the title again.';
    case 'LICENSE_NOT_FOUND':
      return 'The server does not know this download.';
    default:
      return refusal.message;
  }
}

const REVOCATION: Record<string, string> = {
  DEVICE_DEACTIVATED: 'this device was deactivated',
  TITLE_WITHDRAWN: 'the studio withdrew the title',
  LIMIT_CONFLICT: 'another device took the last download slot while this one was offline',
  ADMIN: 'the service revoked it',
};

/** Why a licence ended, from its `status` and `statusReason`. */
export function endedWords(license: Pick<LicenseView, 'status' | 'statusReason'>): string | null {
  const reason = license.statusReason;
  switch (license.status) {
    case 'revoked':
      return `Revoked: ${REVOCATION[reason ?? ''] ?? reason ?? 'no reason given'}.`;
    case 'released':
      return 'Deleted from this device; its download slot is free again.';
    case 'expired':
      return `Expired: ${EXPIRY[reason ?? ''] ?? 'its time ran out'}.`;
    default:
      return null;
  }
}

const EXPIRY: Record<string, string> = {
  RENTAL: 'the time to start watching ran out',
  PLAYBACK_WINDOW: 'the viewing window closed',
  LICENSE_DURATION: 'the licence reached its end',
  CHECK_IN: 'the device did not check in in time',
  AVAILABILITY: 'the title left the catalogue',
};

/** What bounds a licence's expiry, for "Expires 3 December, 14:05 (viewing window)". */
export const EXPIRY_BOUND: Record<string, string> = {
  RENTAL: 'time to start watching',
  PLAYBACK_WINDOW: 'viewing window',
  LICENSE_DURATION: 'end of licence',
  CHECK_IN: 'next check-in needed',
  AVAILABILITY: 'leaves the catalogue',
};

/** A playback decision in plain words: why it may play (until when) or why not. */
export function playbackWords(
  result: PlaybackResult,
  license: Pick<LicenseView, 'status' | 'statusReason' | 'policy' | 'firstPlayedAt'> | undefined,
  now: number,
  options: WordsOptions = {},
): string {
  if (result.allowed) {
    const until = moment(result.expiresAt, now, options);
    const bound = EXPIRY_BOUND[result.reason] ?? result.reason;
    return license !== undefined && license.firstPlayedAt === null && result.reason === 'PLAYBACK_WINDOW'
      ? `Ready to play. Start now and you can watch until ${until} (${bound}).`
      : `Can play until ${until} (${bound}).`;
  }
  const at = result.expiredAt === null ? null : moment(result.expiredAt, now, options);
  switch (result.reason) {
    case 'EXPIRED_PLAYBACK_WINDOW': {
      const window =
        license && license.policy.playbackDurationSec > 0
          ? duration(license.policy.playbackDurationSec)
          : 'viewing window';
      return `The ${window} to watch this title ended${at ? ` on ${at}` : ''}.`;
    }
    case 'EXPIRED_RENTAL':
      return `The time to start watching ran out${at ? ` on ${at}` : ''}.`;
    case 'EXPIRED_LICENSE':
      return `This download reached the end of its licence${at ? ` on ${at}` : ''}.`;
    case 'CHECK_IN_REQUIRED':
      return `This device has been offline too long${at ? ` (check-in was due ${at})` : ''}. Connect to the internet so it can check in, then play again.`;
    case 'TITLE_UNAVAILABLE':
      return `This title left the catalogue${at ? ` on ${at}` : ''}.`;
    case 'REVOKED':
      return license ? (endedWords(license) ?? result.message) : result.message;
    case 'RELEASED':
      return 'This download was deleted.';
    case 'NOT_DOWNLOADED':
      return 'The download has not finished yet.';
    case 'LICENSE_NOT_FOUND':
      return 'This device holds no licence for this title.';
    default:
      return result.message;
  }
}

/** A licence status as a short label. */
export const STATUS_LABEL: Record<LicenseView['status'], string> = {
  issued: 'Downloading',
  downloaded: 'Downloaded',
  released: 'Deleted',
  revoked: 'Revoked',
  expired: 'Expired',
};

/** A playback position, "1:02:03" or "4:05". */
export function position(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function year(at: number, options: WordsOptions): string {
  return new Intl.DateTimeFormat('en-GB', { year: 'numeric', ...zone(options) }).format(at);
}

function zone(options: WordsOptions): { timeZone?: string } {
  return options.timeZone === undefined ? {} : { timeZone: options.timeZone };
}
