/** Display helpers. Dates come from the wire as ISO-8601 UTC strings. */

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
 * "3 min ago" / "in 20 s". Written by hand rather than with Intl.RelativeTimeFormat, whose short
 * style differs by engine ("3 min. ago"), so the table reads the same in every browser.
 */
export function relativeTime(iso: string, now: number): string {
  const diff = new Date(iso).getTime() - now;
  const abs = Math.abs(diff);
  if (abs < 5_000) return 'just now';
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1_000, 's'],
  ];
  const [size, unit] = units.find(([ms]) => abs >= ms) ?? [1_000, 's'];
  const value = Math.floor(abs / size);
  return diff < 0 ? `${value} ${unit} ago` : `in ${value} ${unit}`;
}

/** "850 ms", "12.3 s", "4 min 5 s", "2 h 3 min". */
export function formatDuration(ms: number): string {
  if (ms < 0) ms = 0;
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.floor((ms % 60_000) / 1_000)} s`;
  return `${Math.floor(ms / 3_600_000)} h ${Math.floor((ms % 3_600_000) / 60_000)} min`;
}

/**
 * How long a job took (or has been running), from its current attempt's start. Null when it never
 * started (pending, or cancelled before a worker took it).
 */
export function jobDurationMs(
  job: { started_at: string | null; finished_at: string | null; status: string },
  now: number,
): number | null {
  if (!job.started_at) return null;
  const start = new Date(job.started_at).getTime();
  if (job.finished_at) return new Date(job.finished_at).getTime() - start;
  return job.status === 'processing' ? now - start : null;
}

/** "us•••ok": enough to recognise a login without showing it to everyone looking at the screen. */
export function maskLogin(login: string): string {
  if (login.length <= 2) return '•••';
  if (login.length <= 5) return `${login.slice(0, 1)}•••`;
  return `${login.slice(0, 2)}•••${login.slice(-2)}`;
}

/** The first block of a UUID, for compact mentions ("job 01a2228f…"). */
export function shortId(id: string): string {
  return `${id.slice(0, 8)}…`;
}
