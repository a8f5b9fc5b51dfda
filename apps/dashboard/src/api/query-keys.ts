import type { JobsFilters } from '../jobs-list/jobs-filters.js';
import type { HistoryFilters, JobSearch } from './endpoints.js';

/**
 * Every TanStack Query key in one place, so live events and mutations patch exactly the caches
 * the views read. Keys start with the entity so `invalidateQueries({ queryKey: ['history', id] })`
 * reaches every filter of one connection's history.
 */
export const queryKeys = {
  me: () => ['me'] as const,
  keys: () => ['keys'] as const,
  connections: () => ['connections'] as const,
  connection: (id: string) => ['connection', id] as const,
  institutions: () => ['institutions'] as const,
  bulkRetryCount: (body: object) => ['bulk-retry-count', body] as const,
  history: (connectionId: string, filters: HistoryFilters) => ['history', connectionId, filters] as const,
  historyOf: (connectionId: string) => ['history', connectionId] as const,
  activeJobs: (connectionId: string) => ['active-jobs', connectionId] as const,
  job: (jobId: string) => ['job', jobId] as const,
  jobLogs: (jobId: string) => ['job-logs', jobId] as const,
  retriedBy: (jobId: string) => ['retried-by', jobId] as const,
  jobSearch: (search: JobSearch) => ['job-search', search] as const,
  jobsList: (filters: JobsFilters) => ['jobs-list', filters] as const,
  jobsLists: () => ['jobs-list'] as const,
  overview: () => ['overview'] as const,
  dataCounts: (connectionId: string) => ['data-counts', connectionId] as const,
};
