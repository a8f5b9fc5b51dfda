import { useQueries, useQueryClient, type InfiniteData, type QueryClient } from '@tanstack/react-query';
import type { ConnectionWire } from '@jobtrail/domain';
import type { Page } from '../api/client.js';
import { fetchConnection } from '../api/endpoints.js';
import { queryKeys } from '../api/query-keys.js';
import { useApi } from '../auth/auth-context.js';
import { connectionLabel, shortConnectionId } from '../lib/format.js';

/**
 * Most connections one view reads by id to name them. A page of 50 jobs may name 50 connections;
 * beyond this (or for a deleted one) the short id stands in, rather than spend the key's rate limit.
 */
export const MAX_NAMED_CONNECTIONS = 25;

/** A connection some list already read (connections page, search results), with when it was read. */
function fromLists(queryClient: QueryClient, id: string): { data: ConnectionWire; at: number } | undefined {
  for (const query of queryClient.getQueryCache().findAll({ queryKey: queryKeys.connections() })) {
    const pages = query.state.data as InfiniteData<Page<ConnectionWire>> | undefined;
    const found = pages?.pages.flatMap((p) => p.items).find((c) => c.connection_id === id);
    if (found) return { data: found, at: query.state.dataUpdatedAt };
  }
  return undefined;
}

/**
 * The labels of connections known only by id (job lists, the job page): "us•••ok (acct-1204)", as
 * everywhere else, from what the caches hold or one `GET /connections/:id` each (cached 5 min);
 * the short id until then, or when the connection cannot be read.
 */
export function useConnectionLabels(ids: readonly string[]): (id: string) => string {
  const client = useApi();
  const queryClient = useQueryClient();
  const unique = [...new Set(ids)].slice(0, MAX_NAMED_CONNECTIONS);
  const results = useQueries({
    queries: unique.map((id) => {
      const known = fromLists(queryClient, id);
      return {
        queryKey: queryKeys.connection(id),
        queryFn: ({ signal }: { signal: AbortSignal }) => fetchConnection(client, id, signal),
        staleTime: 300_000,
        retry: false,
        ...(known ? { initialData: known.data, initialDataUpdatedAt: known.at } : {}),
      };
    }),
  });
  const labels = new Map<string, string>();
  unique.forEach((id, i) => {
    const data = results[i]?.data;
    if (data) labels.set(id, connectionLabel(data));
  });
  return (id) => labels.get(id) ?? shortConnectionId(id);
}
