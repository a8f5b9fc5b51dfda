import { useCallback, useMemo } from 'react';
import { useInfiniteQuery } from '@tanstack/react-query';
import { useSearchParams } from 'react-router';
import { fetchConnections } from '../api/endpoints.js';
import { queryKeys } from '../api/query-keys.js';
import { useApi, useCan } from '../auth/auth-context.js';
import { EmptyState } from '../components/empty-state.js';
import { LoadMore } from '../components/load-more.js';
import { Loading } from '../components/loading.js';
import { ProblemAlert } from '../components/problem-alert.js';
import { InstitutionBanner } from '../connection/institution-banner.js';
import { useFallbackPollMs } from '../live/live-context.js';
import { useDocumentTitle } from '../lib/use-document-title.js';
import { useNow } from '../lib/clock-context.js';
import { ConnectionsFiltersForm } from './connections-filters-form.js';
import {
  hasConnectionFilters,
  parseConnectionFilters,
  writeConnectionFilters,
  type ConnectionFilters,
} from './connections-filters.js';
import { ConnectionsTable } from './connections-table.js';
import { CreateConnectionForm } from './create-connection-form.js';
import { useDeleteConnection } from './use-delete-connection.js';

/** The filters live in the URL: a filtered list can be bookmarked, reloaded and sent to a colleague. */
function useConnectionFilters(): [ConnectionFilters, (filters: ConnectionFilters) => void] {
  const [params, setParams] = useSearchParams();
  const key = params.toString();
  const filters = useMemo(() => parseConnectionFilters(new URLSearchParams(key)), [key]);
  const set = useCallback(
    (next: ConnectionFilters) => setParams((current) => writeConnectionFilters(current, next), { replace: true }),
    [setParams],
  );
  return [filters, set];
}

/** The home page: every connection of the tenant with its latest status, and a form to add one. */
export function ConnectionsPage() {
  useDocumentTitle('Connections');
  const client = useApi();
  const canCreate = useCan('operator');
  const canDelete = useCan('admin');
  const now = useNow();
  const poll = useFallbackPollMs();
  const remove = useDeleteConnection();
  const [filters, setFilters] = useConnectionFilters();
  const filtered = hasConnectionFilters(filters);
  const list = useInfiniteQuery({
    queryKey: queryKeys.connectionsList(filters),
    queryFn: ({ pageParam, signal }) => fetchConnections(client, filters, pageParam, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next,
    // Without live updates only the first page is kept fresh by polling; more would be costly.
    refetchInterval: (q) => (poll !== null && (q.state.data?.pages.length ?? 0) <= 1 ? poll : false),
  });
  const connections = list.data?.pages.flatMap((p) => p.items) ?? [];
  // Suggestions for the institution filter: those of the connections listed (any id may be typed).
  const institutions = [...new Set(['sandbox', ...connections.map((c) => c.institution_id)])].sort();
  // A banner per listed institution that is degraded or down. Every banner reads the same
  // `GET /institutions` query (one request for the page); operational ones render nothing.
  const listedInstitutions = [...new Set(connections.map((c) => c.institution_id))].sort();

  return (
    <div className="page-grid">
      <section aria-labelledby="connections-title" className="page-main">
        <h2 id="connections-title">Connections</h2>
        {remove.isError && <ProblemAlert error={remove.error} context="The connection was not deleted" />}
        <ConnectionsFiltersForm filters={filters} onChange={setFilters} institutions={institutions} />
        {listedInstitutions.map((id) => (
          <InstitutionBanner key={id} institutionId={id} />
        ))}
        {list.isPending ? (
          <Loading label="Loading connections…" />
        ) : !list.data ? (
          <ProblemAlert
            error={list.error}
            context="Could not load the connections"
            onRetry={() => void list.refetch()}
          />
        ) : connections.length === 0 && filtered ? (
          <EmptyState title="No connection matches these filters.">Widen the filters or clear them.</EmptyState>
        ) : connections.length === 0 ? (
          <EmptyState title="No connections yet.">
            {canCreate
              ? 'Create a sandbox connection with the form to see jobs run.'
              : 'An operator or admin key can create one.'}
          </EmptyState>
        ) : (
          <>
            <ConnectionsTable
              connections={connections}
              now={now}
              onDelete={canDelete ? (c) => remove.mutate(c) : null}
              deleting={remove.isPending ? (remove.variables?.connection_id ?? null) : null}
            />
            <LoadMore query={list} label="Load more connections" errorContext="Could not load more connections" />
            {list.isError && (
              <ProblemAlert
                error={list.error}
                context="Could not load all connections"
                onRetry={() => void list.refetch()}
              />
            )}
          </>
        )}
      </section>
      {canCreate && (
        <aside className="page-aside" aria-label="Create a connection">
          <CreateConnectionForm />
        </aside>
      )}
    </div>
  );
}
