import type { InfiniteData, QueryClient } from '@tanstack/react-query';
import type { ConnectionWire, JobDetailWire, JobSummaryWire } from '@jobtrail/domain';
import { isTerminal } from '@jobtrail/domain';
import type { Page } from '../api/client.js';
import { endOfDayIso, startOfDayIso, type HistoryFilters } from '../api/endpoints.js';
import { queryKeys } from '../api/query-keys.js';
import { hasConnectionFilters, type ConnectionFilters } from '../connections/connections-filters.js';
import { matchesJobsFilters, type JobsFilters } from '../jobs-list/jobs-filters.js';

type Pages<T> = InfiniteData<Page<T>, string | null>;

/** True when `job` is at least as recent as what is cached: events can arrive after a fresher fetch. */
function isFresher(job: JobSummaryWire, cached: { updated_at: string }): boolean {
  return Date.parse(job.updated_at) >= Date.parse(cached.updated_at);
}

/** Newest first, as the history is ordered: by date, then by job id (UUIDv7, time-ordered). */
function isNewerThan(job: JobSummaryWire, other: JobSummaryWire): boolean {
  const a = Date.parse(job.date);
  const b = Date.parse(other.date);
  return a > b || (a === b && job.job_id > other.job_id);
}

export function matchesFilters(job: JobSummaryWire, filters: HistoryFilters): boolean {
  if (filters.statuses.length > 0 && !filters.statuses.includes(job.status)) return false;
  if (filters.action && job.action !== filters.action) return false;
  const date = Date.parse(job.date);
  if (filters.from && date < Date.parse(startOfDayIso(filters.from))) return false;
  if (filters.to && date > Date.parse(endOfDayIso(filters.to))) return false;
  return true;
}

/**
 * The history with `job` in it: replaced where it already is, or put on top when it is a new job
 * that matches the filters. A row whose new status no longer matches a status filter stays until
 * the next fetch, so rows do not vanish under the user's pointer.
 */
export function patchHistory(
  data: Pages<JobSummaryWire> | undefined,
  job: JobSummaryWire,
  filters: HistoryFilters,
): Pages<JobSummaryWire> | undefined {
  return patchNewestFirst(data, job, (j) => matchesFilters(j, filters));
}

/** `patchHistory` for any newest-first list of jobs, given what belongs in it. */
export function patchNewestFirst(
  data: Pages<JobSummaryWire> | undefined,
  job: JobSummaryWire,
  belongs: (job: JobSummaryWire) => boolean,
): Pages<JobSummaryWire> | undefined {
  if (!data) return data;
  let found = false;
  let changed = false;
  const pages = data.pages.map((page) => {
    const index = page.items.findIndex((row) => row.job_id === job.job_id);
    if (index === -1) return page;
    found = true;
    const current = page.items[index];
    if (current && !isFresher(job, current)) return page;
    changed = true;
    const items = page.items.slice();
    items[index] = job;
    return { ...page, items };
  });
  // The same object when nothing changed, so nothing re-renders for a stale event.
  if (found) return changed ? { ...data, pages } : data;
  const first = data.pages[0];
  if (!first || !belongs(job)) return data;
  const top = first.items[0];
  // Only brand-new jobs go on top; an older unknown job belongs to a page not loaded yet.
  if (top && !isNewerThan(job, top)) return data;
  return { ...data, pages: [{ ...first, items: [job, ...first.items] }, ...data.pages.slice(1)] };
}

/** The summary's fields over the detail's; the refetch that follows fills in steps and transitions. */
function mergeIntoDetail(detail: JobDetailWire, job: JobSummaryWire): JobDetailWire {
  // The summary only says *whether* a cancel was requested; the buttons read *when* (allowedActions).
  const cancelAt = job.cancel_requested ? (detail.cancel_requested_at ?? job.updated_at) : null;
  return { ...detail, ...job, cancel_requested_at: cancelAt };
}

function isActive(job: JobSummaryWire): boolean {
  return !isTerminal(job.status);
}

export function patchActiveJobs(jobs: JobSummaryWire[] | undefined, job: JobSummaryWire): JobSummaryWire[] | undefined {
  if (!jobs) return jobs;
  const current = jobs.find((j) => j.job_id === job.job_id);
  if (current && !isFresher(job, current)) return jobs;
  const others = jobs.filter((j) => j.job_id !== job.job_id);
  return isActive(job) ? [job, ...others] : others;
}

function withLatestJob(connection: ConnectionWire, job: JobSummaryWire): ConnectionWire {
  if (connection.connection_id !== job.connection_id) return connection;
  const latest = connection.latest_job;
  if (latest === null || isNewerThan(job, latest) || (latest.job_id === job.job_id && isFresher(job, latest))) {
    return { ...connection, latest_job: job };
  }
  return connection;
}

function patchPageById(page: Page<JobSummaryWire> | undefined, job: JobSummaryWire): Page<JobSummaryWire> | undefined {
  if (!page) return page;
  return { ...page, items: page.items.map((row) => (row.job_id === job.job_id && isFresher(job, row) ? job : row)) };
}

/**
 * Brings every cached view of a job up to date: from a live event, or from the answer of an
 * action this tab started. Lists are patched in place (no refetch of thousands of loaded rows);
 * the job's own page is patched at once and refetched for what a summary lacks (steps, transitions, logs).
 */
export function applyJobChange(queryClient: QueryClient, job: JobSummaryWire): void {
  const cache = queryClient.getQueryCache();

  for (const query of cache.findAll({ queryKey: queryKeys.historyOf(job.connection_id) })) {
    const filters = query.queryKey[2] as HistoryFilters;
    queryClient.setQueryData<Pages<JobSummaryWire>>(query.queryKey, (data) => patchHistory(data, job, filters));
  }

  for (const query of cache.findAll({ queryKey: queryKeys.jobsLists() })) {
    const filters = query.queryKey[1] as JobsFilters;
    queryClient.setQueryData<Pages<JobSummaryWire>>(query.queryKey, (data) =>
      patchNewestFirst(data, job, (j) => matchesJobsFilters(j, filters)),
    );
  }

  queryClient.setQueryData<JobSummaryWire[]>(queryKeys.activeJobs(job.connection_id), (jobs) =>
    patchActiveJobs(jobs, job),
  );

  const detailKey = queryKeys.job(job.job_id);
  if (queryClient.getQueryData(detailKey)) {
    queryClient.setQueryData<JobDetailWire>(detailKey, (detail) =>
      detail && isFresher(job, detail) ? mergeIntoDetail(detail, job) : detail,
    );
    void queryClient.invalidateQueries({ queryKey: detailKey });
    void queryClient.invalidateQueries({ queryKey: queryKeys.jobLogs(job.job_id) });
  }

  queryClient.setQueryData<ConnectionWire>(queryKeys.connection(job.connection_id), (c) =>
    c ? withLatestJob(c, job) : c,
  );
  // Every connections list (one per set of filters the user opened).
  for (const query of cache.findAll({ queryKey: queryKeys.connections() })) {
    const list = query.state.data as Pages<ConnectionWire> | undefined;
    if (!list) continue;
    const filters = query.queryKey[1] as ConnectionFilters | undefined;
    const known = list.pages.some((page) => page.items.some((c) => c.connection_id === job.connection_id));
    if (known) {
      queryClient.setQueryData<Pages<ConnectionWire>>(query.queryKey, (data) =>
        data
          ? {
              ...data,
              pages: data.pages.map((page) => ({ ...page, items: page.items.map((c) => withLatestJob(c, job)) })),
            }
          : data,
      );
      // A job that ends may change the connection's status and its latest job's: a filtered list
      // is re-read (the row stays until then, rather than vanish under the pointer).
      if (filters && hasConnectionFilters(filters) && isTerminal(job.status))
        void queryClient.invalidateQueries({ queryKey: query.queryKey, exact: true });
    } else if (!filters || !hasConnectionFilters(filters) || isTerminal(job.status)) {
      // A connection created elsewhere (another tab, an API consumer), or one whose ended job may
      // make it match the filters: the list must show it. The progress of a job of a connection a
      // filtered list does not show cannot bring it in: no re-read for each of those events.
      void queryClient.invalidateQueries({ queryKey: query.queryKey, exact: true });
    }
  }

  for (const query of cache.findAll({ queryKey: ['job-search'] })) {
    queryClient.setQueryData<Page<JobSummaryWire>>(query.queryKey, (page) => patchPageById(page, job));
  }

  if (job.retry_of) void queryClient.invalidateQueries({ queryKey: queryKeys.retriedBy(job.retry_of) });
}

/**
 * The answer of an action this tab started (refresh, purge, retry, cancel, create). Its events may
 * already have arrived and moved the job on; the list of running jobs is then re-read rather than
 * patched, so a stale "pending" answer cannot keep a button disabled.
 */
export function applyActionResult(queryClient: QueryClient, job: JobSummaryWire): void {
  applyJobChange(queryClient, job);
  void queryClient.invalidateQueries({ queryKey: queryKeys.activeJobs(job.connection_id) });
}
