/** Display helpers. Dates come from the wire as ISO-8601 UTC strings. */
import { isTerminal, type JobStatus } from '@jobtrail/domain';

const localFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** Local date and time, e.g. "Dec 10, 2024, 5:33:00 AM". */
export function formatLocal(iso: string): string {
  return localFormat.format(new Date(iso));
}

/** "2024-12-10 04:33:00 UTC": what support people compare with server logs. */
export function formatUtc(iso: string): string {
  return `${new Date(iso)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, '')} UTC`;
}

/** The hover text of a date: UTC for humans, the exact ISO value for copy-paste. */
export function dateTitle(iso: string): string {
  return `UTC: ${formatUtc(iso)}\nISO: ${new Date(iso).toISOString()}`;
}

/**
 * Which way a time points. `past`: something that happened (triggered, started): never "in 6 s",
 * even when the server's clock is a little ahead of the browser's. `future`: something due (the
 * next attempt): never "just now" nor "ago" while it is due. `auto`: whichever the clock says.
 */
export type Tense = 'past' | 'future' | 'auto';

const UNITS: readonly (readonly [number, string])[] = [
  [86_400_000, 'd'],
  [3_600_000, 'h'],
  [60_000, 'min'],
  [1_000, 's'],
];

function amount(abs: number, round: (n: number) => number): string {
  const [size, unit] = UNITS.find(([ms]) => abs >= ms) ?? [1_000, 's'];
  return `${Math.max(1, round(abs / size))} ${unit}`;
}

/**
 * "3 min ago" / "in 20 s". Written by hand rather than with Intl.RelativeTimeFormat, whose short
 * style differs by engine ("3 min. ago"), so the table reads the same in every browser.
 */
export function relativeTime(iso: string, now: number, tense: Tense = 'auto'): string {
  const diff = new Date(iso).getTime() - now;
  const future = tense === 'future' || (tense === 'auto' && diff > 0);
  if (future) {
    // Seconds round up: "in 1 s" until it is due, then "due now" — never "just now" or "ago".
    if (diff <= 0) return 'due now';
    return `in ${amount(diff, diff < 60_000 ? Math.ceil : Math.floor)}`;
  }
  const ago = Math.max(0, -diff);
  if (ago < 5_000) return 'just now';
  return `${amount(ago, Math.floor)} ago`;
}

/** "850 ms", "12.3 s", "4 min 5 s", "2 h 3 min". */
export function formatDuration(ms: number): string {
  if (ms < 0) ms = 0;
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.floor((ms % 60_000) / 1_000)} s`;
  return `${Math.floor(ms / 3_600_000)} h ${Math.floor((ms % 3_600_000) / 60_000)} min`;
}

interface DurationFields {
  readonly status: JobStatus;
  readonly date: string;
  readonly started_at: string | null;
  readonly finished_at: string | null;
  readonly attempt: number;
  /** Present on the job detail: the first `→ processing` change is when the first attempt started. */
  readonly transitions?: readonly { readonly to: JobStatus; readonly at: string; readonly attempt: number }[];
}

/**
 * When the job's first attempt started (epoch ms), or null if no attempt ever started. `started_at`
 * is the current attempt's start; a job on its second attempt started earlier: the detail's
 * transitions tell when, and a summary falls back to when the job was triggered.
 */
export function jobFirstStartMs(job: DurationFields): number | null {
  const first = job.transitions?.find((t) => t.to === 'processing');
  if (first) return Date.parse(first.at);
  if (job.started_at === null) return null;
  return job.attempt > 1 ? Date.parse(job.date) : Date.parse(job.started_at);
}

/**
 * How long a job took, or has been going, across all its attempts (backoff waits included). Null
 * when it never started (pending, or cancelled before a worker took it).
 */
export function jobDurationMs(job: DurationFields, now: number): number | null {
  const start = jobFirstStartMs(job);
  if (start === null) return null;
  if (job.finished_at) return Date.parse(job.finished_at) - start;
  return isTerminal(job.status) ? null : now - start;
}

/** "us•••ok": enough to recognise a login without showing it to everyone looking at the screen. */
export function maskLogin(login: string): string {
  if (login.length <= 2) return '•••';
  if (login.length <= 5) return `${login.slice(0, 1)}•••`;
  return `${login.slice(0, 2)}•••${login.slice(-2)}`;
}

/**
 * Connection ids are UUIDv7: their first block is a timestamp, the same for connections created
 * in the same moment. The first and last blocks together tell them apart.
 */
export function shortConnectionId(id: string): string {
  return `${id.slice(0, 8)}…${id.slice(-4)}`;
}

/** The first block of a UUID, for compact mentions ("job 01a2228f…"). */
export function shortId(id: string): string {
  return `${id.slice(0, 8)}…`;
}

/**
 * How a connection is named everywhere (lists, pages, dialogs, notices): the masked login, and the
 * reference the customer is known by when there is one — "us•••ok (customer-42)".
 */
export function connectionLabel(connection: { readonly login_id: string; readonly user_ref: string | null }): string {
  const masked = maskLogin(connection.login_id);
  return connection.user_ref ? `${masked} (${connection.user_ref})` : masked;
}
