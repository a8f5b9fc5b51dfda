import { useCallback, useMemo } from 'react';
import { useSearchParams } from 'react-router';
import { isJobAction, isJobStatus, JOB_STATUSES, type JobStatus } from '@jobtrail/domain';
import type { HistoryFilters } from '../api/endpoints.js';

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Filters from the URL; anything malformed is ignored rather than sent to the API. */
export function parseFilters(params: URLSearchParams): HistoryFilters {
  const wanted = new Set((params.get('status') ?? '').split(',').filter(isJobStatus));
  const action = params.get('action');
  const from = params.get('from');
  const to = params.get('to');
  return {
    // Domain order, so `status=failed,success` and `status=success,failed` are the same query.
    statuses: JOB_STATUSES.filter((s) => wanted.has(s)),
    action: isJobAction(action) ? action : null,
    from: from && DAY.test(from) ? from : null,
    to: to && DAY.test(to) ? to : null,
  };
}

/** The URL parameters for these filters; other parameters are kept. */
export function writeFilters(params: URLSearchParams, filters: HistoryFilters): URLSearchParams {
  const next = new URLSearchParams(params);
  const set = (name: string, value: string | null) => (value ? next.set(name, value) : next.delete(name));
  set('status', filters.statuses.length > 0 ? filters.statuses.join(',') : null);
  set('action', filters.action);
  set('from', filters.from);
  set('to', filters.to);
  return next;
}

export function hasFilters(filters: HistoryFilters): boolean {
  return filters.statuses.length > 0 || filters.action !== null || filters.from !== null || filters.to !== null;
}

export function toggleStatus(statuses: readonly JobStatus[], status: JobStatus): JobStatus[] {
  return statuses.includes(status)
    ? statuses.filter((s) => s !== status)
    : JOB_STATUSES.filter((s) => s === status || statuses.includes(s));
}

/**
 * The history filters, kept in the URL so a filtered view can be reloaded, bookmarked and sent to
 * a colleague. Changes replace the history entry: the back button leaves the page, not the filters.
 */
export function useHistoryFilters(): [HistoryFilters, (filters: HistoryFilters) => void] {
  const [params, setParams] = useSearchParams();
  // The string is the value identity of the parameters: the filters object changes only with it.
  const key = params.toString();
  const filters = useMemo(() => parseFilters(new URLSearchParams(key)), [key]);
  const setFilters = useCallback(
    (next: HistoryFilters) => setParams((current) => writeFilters(current, next), { replace: true }),
    [setParams],
  );
  return [filters, setFilters];
}
