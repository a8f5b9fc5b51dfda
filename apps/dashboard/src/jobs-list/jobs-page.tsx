import { useCallback, useMemo } from 'react';
import { useInfiniteQuery } from '@tanstack/react-query';
import { useSearchParams } from 'react-router';
import { fetchJobsPage } from '../api/endpoints.js';
import { queryKeys } from '../api/query-keys.js';
import { useApi } from '../auth/auth-context.js';
import { EmptyState } from '../components/empty-state.js';
import { LoadMore } from '../components/load-more.js';
import { JobList } from '../components/job-list.js';
import { Loading } from '../components/loading.js';
import { ProblemAlert } from '../components/problem-alert.js';
import { useFallbackPollMs } from '../live/live-context.js';
import { useNow } from '../lib/clock-context.js';
import { useDocumentTitle } from '../lib/use-document-title.js';
import { BulkRetry } from './bulk-retry.js';
import { JobsFiltersForm } from './jobs-filters-form.js';
import {
  hasJobsFilters,
  jobsRangeIsInvalid,
  parseJobsFilters,
  writeJobsFilters,
  type JobsFilters,
} from './jobs-filters.js';

export const JOBS_PAGE_SIZE = 50;

/** The filters live in the URL: a filtered view can be bookmarked, reloaded and sent to a colleague. */
function useJobsFilters(): [JobsFilters, (filters: JobsFilters) => void] {
  const [params, setParams] = useSearchParams();
  const key = params.toString();
  const filters = useMemo(() => parseJobsFilters(new URLSearchParams(key)), [key]);
  const set = useCallback(
    (next: JobsFilters) => setParams((current) => writeJobsFilters(current, next), { replace: true }),
    [setParams],
  );
  return [filters, set];
}

/** `/jobs`: every job of the tenant, newest first, filtered, keyset-paged and live. */
export function JobsPage() {
  useDocumentTitle('Jobs');
  const client = useApi();
  const now = useNow();
  const poll = useFallbackPollMs();
  const [filters, setFilters] = useJobsFilters();
  const invalid = jobsRangeIsInvalid(filters);
  const list = useInfiniteQuery({
    queryKey: queryKeys.jobsList(filters),
    queryFn: ({ pageParam, signal }) => fetchJobsPage(client, filters, JOBS_PAGE_SIZE, pageParam, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next,
    enabled: !invalid,
    // Live events patch the rows (and add new matching jobs on top); offline, a short list is polled.
    refetchInterval: (q) => (poll !== null && (q.state.data?.pages.length ?? 0) <= 1 ? poll : false),
  });
  const jobs = list.data?.pages.flatMap((p) => p.items) ?? [];
  const filtered = hasJobsFilters(filters);

  return (
    <section aria-labelledby="jobs-title" className="jobs-page">
      <h2 id="jobs-title">Jobs</h2>
      <JobsFiltersForm filters={filters} onChange={setFilters} />
      {!invalid && <BulkRetry filters={filters} />}
      {invalid ? null : list.isPending ? (
        <Loading label="Loading jobs…" />
      ) : !list.data ? (
        <ProblemAlert error={list.error} context="Could not load the jobs" onRetry={() => void list.refetch()} />
      ) : jobs.length === 0 ? (
        <EmptyState title={filtered ? 'No job matches these filters.' : 'No jobs yet.'}>
          {filtered ? 'Widen the filters or clear them.' : 'Jobs appear here as soon as an action starts.'}
        </EmptyState>
      ) : (
        <>
          <p className="muted" aria-live="polite" data-testid="jobs-count">
            Showing {jobs.length} {jobs.length === 1 ? 'job' : 'jobs'}
            {list.hasNextPage ? ', more available' : ''}
            {filtered ? ' matching the filters' : ''}.
          </p>
          <JobList jobs={jobs} caption="Jobs of the tenant, newest first" now={now} showErrors />
          <LoadMore query={list} errorContext="Could not load more jobs" />
        </>
      )}
    </section>
  );
}
