import { useMutation, useQueryClient, type InfiniteData } from '@tanstack/react-query';
import type { ConnectionWire } from '@jobtrail/domain';
import type { Page } from '../api/client.js';
import { deleteConnection } from '../api/endpoints.js';
import { queryKeys } from '../api/query-keys.js';
import { useApi } from '../auth/auth-context.js';
import { useNotify } from '../components/notice-context.js';
import { connectionLabel } from '../lib/format.js';

/** Deletes a connection, drops it (and its history) from every cache, and confirms it in a notice. */
export function useDeleteConnection(onDeleted?: () => void) {
  const client = useApi();
  const queryClient = useQueryClient();
  const notify = useNotify();
  return useMutation({
    mutationFn: (connection: ConnectionWire) => deleteConnection(client, connection.connection_id),
    onSuccess: (_void, connection) => {
      const id = connection.connection_id;
      // From every connections list, whatever its filters.
      queryClient.setQueriesData<InfiniteData<Page<ConnectionWire>, string | null>>(
        { queryKey: queryKeys.connections() },
        (data) =>
          data
            ? {
                ...data,
                pages: data.pages.map((p) => ({ ...p, items: p.items.filter((c) => c.connection_id !== id) })),
              }
            : data,
      );
      queryClient.removeQueries({ queryKey: queryKeys.connection(id) });
      queryClient.removeQueries({ queryKey: queryKeys.historyOf(id) });
      queryClient.removeQueries({ queryKey: queryKeys.activeJobs(id) });
      notify(`Connection ${connectionLabel(connection)} was deleted, with its jobs, accounts and transactions.`);
      onDeleted?.();
    },
  });
}
