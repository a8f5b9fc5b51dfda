import { JOB_STATUSES, type JobStatus, type JobSummaryWire } from '@jobtrail/domain';

const HOUR = 3_600_000;

export interface HourBucket {
  /** Start of the hour (epoch ms). */
  readonly start: number;
  readonly failed: number;
  readonly succeeded: number;
  /** failed / (failed + succeeded); null when no job of that hour has finished either way. */
  readonly rate: number | null;
}

export interface OverviewStats {
  readonly total: number;
  readonly counts: Readonly<Record<JobStatus, number>>;
  readonly hours: readonly HourBucket[];
  readonly failureRate: number | null;
  readonly slowest: readonly (JobSummaryWire & { readonly durationMs: number })[];
}

/**
 * Counts by status, the failure rate per hour over the 24 hours before `now` and the slowest
 * jobs. The rate is failed / (failed + success): cancelled and unfinished jobs say nothing about
 * whether jobs work. Jobs fall in the hour they were triggered.
 */
export function computeOverview(jobs: readonly JobSummaryWire[], now: number, slowestCount = 5): OverviewStats {
  const counts = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
  const firstHour = Math.floor(now / HOUR) * HOUR - 23 * HOUR;
  const failed = new Array<number>(24).fill(0);
  const succeeded = new Array<number>(24).fill(0);
  for (const job of jobs) {
    counts[job.status] += 1;
    const index = Math.floor((Date.parse(job.date) - firstHour) / HOUR);
    if (index < 0 || index >= 24) continue;
    if (job.status === 'failed') failed[index] = (failed[index] ?? 0) + 1;
    if (job.status === 'success') succeeded[index] = (succeeded[index] ?? 0) + 1;
  }
  const hours = failed.map((f, i) => {
    const s = succeeded[i] ?? 0;
    return { start: firstHour + i * HOUR, failed: f, succeeded: s, rate: f + s === 0 ? null : f / (f + s) };
  });
  const totalFailed = counts.failed;
  const finished = counts.failed + counts.success;
  const slowest = jobs
    .filter((j) => j.started_at !== null && j.finished_at !== null)
    .map((j) => ({ ...j, durationMs: Date.parse(j.finished_at as string) - Date.parse(j.started_at as string) }))
    .sort((a, b) => b.durationMs - a.durationMs)
    .slice(0, slowestCount);
  return { total: jobs.length, counts, hours, failureRate: finished === 0 ? null : totalFailed / finished, slowest };
}

export function percent(rate: number | null): string {
  return rate === null ? '—' : `${(rate * 100).toFixed(rate > 0 && rate < 0.1 ? 1 : 0)}%`;
}
