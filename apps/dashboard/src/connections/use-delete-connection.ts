import { useMutation, useQueryClient, type InfiniteData } from '@tanstack/react-query';
import type { ConnectionWire } from '@jobtrail/domain';
import type { Page } from '../api/client.js';
import { deleteConnection } from '../api/endpoints.js';
import { queryKeys } from '../api/query-keys.js';
import { useApi } from '../auth/auth-context.js';

/** Deletes a connection and drops it (and its history) from every cache. */
export function useDeleteConnection(onDeleted?: () => void) {
  const client = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => deleteConnection(client, id),
    onSuccess: (_void, id) => {
      queryClient.setQueryData<InfiniteData<Page<ConnectionWire>, string | null>>(queryKeys.connections(), (data) =>
        data
          ? { ...data, pages: data.pages.map((p) => ({ ...p, items: p.items.filter((c) => c.connection_id !== id) })) }
          : data,
      );
      queryClient.removeQueries({ queryKey: queryKeys.connection(id) });
      queryClient.removeQueries({ queryKey: queryKeys.historyOf(id) });
      queryClient.removeQueries({ queryKey: queryKeys.activeJobs(id) });
      onDeleted?.();
    },
  });
}
