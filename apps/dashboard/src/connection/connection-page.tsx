import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { Link, useParams } from 'react-router';
import { fetchConnection, fetchHistory } from '../api/endpoints.js';
import { queryKeys } from '../api/query-keys.js';
import { useApi, useCan } from '../auth/auth-context.js';
import { CopyButton } from '../components/copy-button.js';
import { LoadMore } from '../components/load-more.js';
import { DateTime } from '../components/date-time.js';
import { EmptyState } from '../components/empty-state.js';
import { Loading } from '../components/loading.js';
import { ProblemAlert } from '../components/problem-alert.js';
import { useFallbackPollMs } from '../live/live-context.js';
import { connectionLabel } from '../lib/format.js';
import { useDocumentTitle } from '../lib/use-document-title.js';
import { useNow } from '../lib/clock-context.js';
import { ConnectionActions } from './connection-actions.js';
import { InstitutionBanner } from './institution-banner.js';
import { UpdateCredentialsForm } from './update-credentials-form.js';
import { DownloadHistoryCsv } from './download-history-csv.js';
import { HistoryFiltersForm, rangeIsInvalid } from './history-filters.js';
import { HistoryTable } from './history-table.js';
import { hasFilters, useHistoryFilters } from './use-history-filters.js';

/** One connection: who it is, its actions, and its job history with filters. */
export function ConnectionPage() {
  const { connectionId = '' } = useParams();
  const client = useApi();
  const canAct = useCan('operator');
  const now = useNow();
  const connection = useQuery({
    queryKey: queryKeys.connection(connectionId),
    queryFn: ({ signal }) => fetchConnection(client, connectionId, signal),
  });
  const masked = connection.data ? connectionLabel(connection.data) : 'Connection';
  useDocumentTitle(connection.data ? `Connection ${masked}` : 'Connection');

  return (
    <div className="connection-page">
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to="/">Connections</Link> <span aria-hidden="true">/</span>{' '}
        <span aria-current="page">{connection.data ? masked : '…'}</span>
      </nav>
      {connection.isPending ? (
        <Loading label="Loading the connection…" />
      ) : connection.isError ? (
        <ProblemAlert
          error={connection.error}
          context="Could not load this connection"
          onRetry={() => void connection.refetch()}
        />
      ) : (
        <>
          <header className="page-header">
            <h2>
              Connection <span className="mono">{masked}</span>
            </h2>
            <dl className="facts">
              <div>
                <dt>Institution</dt>
                <dd>{connection.data.institution_id}</dd>
              </div>
              {connection.data.user_ref && (
                <div>
                  <dt>Reference</dt>
                  <dd>{connection.data.user_ref}</dd>
                </div>
              )}
              <div>
                <dt>Created</dt>
                <dd>
                  <DateTime iso={connection.data.created_at} />
                </dd>
              </div>
              <div>
                <dt>Scheduled refresh</dt>
                <dd data-testid="next-refresh">
                  {connection.data.refresh_every_hours === null ? (
                    'on request only'
                  ) : (
                    <>
                      every {connection.data.refresh_every_hours} h
                      {connection.data.next_refresh_at && (
                        <>
                          ; next <DateTime iso={connection.data.next_refresh_at} now={now} tense="future" />
                        </>
                      )}
                    </>
                  )}
                </dd>
              </div>
              <div>
                <dt>Connection ID</dt>
                <dd className="id-with-copy">
                  <span className="mono">{connection.data.connection_id}</span>
                  <CopyButton text={connection.data.connection_id} label="Copy connection ID" />
                </dd>
              </div>
            </dl>
            <InstitutionBanner institutionId={connection.data.institution_id} />
            <ConnectionActions connection={connection.data} />
            {canAct && <UpdateCredentialsForm connection={connection.data} />}
          </header>
          <JobHistory connectionId={connectionId} />
        </>
      )}
    </div>
  );
}

function JobHistory({ connectionId }: { readonly connectionId: string }) {
  const client = useApi();
  const [filters, setFilters] = useHistoryFilters();
  const now = useNow();
  const poll = useFallbackPollMs();
  const invalid = rangeIsInvalid(filters);
  const history = useInfiniteQuery({
    queryKey: queryKeys.history(connectionId, filters),
    queryFn: ({ pageParam, signal }) => fetchHistory(client, connectionId, filters, pageParam, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next,
    enabled: !invalid,
    // Live events patch the loaded rows; without them, only a short history is polled (each poll refetches every loaded page).
    refetchInterval: (q) => (poll !== null && (q.state.data?.pages.length ?? 0) <= 2 ? poll : false),
  });
  const jobs = history.data?.pages.flatMap((p) => p.items) ?? [];

  return (
    <section aria-labelledby="history-title" className="history">
      <h3 id="history-title">Job history</h3>
      <HistoryFiltersForm filters={filters} onChange={setFilters} />
      {!invalid && <DownloadHistoryCsv connectionId={connectionId} filters={filters} />}
      {invalid ? null : history.isPending ? (
        <Loading label="Loading the job history…" />
      ) : !history.data ? (
        <ProblemAlert
          error={history.error}
          context="Could not load the job history"
          onRetry={() => void history.refetch()}
        />
      ) : jobs.length === 0 ? (
        <EmptyState title={hasFilters(filters) ? 'No job matches these filters.' : 'No jobs yet.'}>
          {hasFilters(filters) ? 'Widen the filters or clear them.' : 'Start a refresh to see its job here.'}
        </EmptyState>
      ) : (
        <>
          <p className="muted" aria-live="polite" data-testid="history-count">
            Showing {jobs.length} {jobs.length === 1 ? 'job' : 'jobs'}
            {history.hasNextPage ? ', more available' : ''}
            {hasFilters(filters) ? ' matching the filters' : ''}.
          </p>
          <HistoryTable jobs={jobs} now={now} />
          <LoadMore query={history} errorContext="Could not load more jobs" />
          {history.isRefetchError && (
            <ProblemAlert
              error={history.error}
              context="Could not bring the history up to date"
              onRetry={() => void history.refetch()}
            />
          )}
        </>
      )}
    </section>
  );
}
