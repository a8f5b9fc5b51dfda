import { useQuery } from '@tanstack/react-query';
import { useApi } from '../auth/auth-context.js';
import { useFallbackPollMs } from '../live/live-context.js';
import { Loading } from '../components/loading.js';
import { ProblemAlert } from '../components/problem-alert.js';
import { DeliveriesTable } from './deliveries-table.js';
import { fetchJobDeliveries, webhookKeys } from './webhooks-api.js';

/**
 * The webhook deliveries a job's changes caused. They settle after the job does: each recorded
 * attempt (`webhook.delivery` on the event stream) refetches them; they are polled only while live
 * updates are down.
 */
export function JobDeliveries({ jobId }: { readonly jobId: string }) {
  const client = useApi();
  const poll = useFallbackPollMs();
  const list = useQuery({
    queryKey: webhookKeys.job(jobId),
    queryFn: ({ signal }) => fetchJobDeliveries(client, jobId, signal),
    refetchInterval: poll ?? false,
  });
  if (list.isPending) return <Loading label="Loading deliveries…" />;
  if (!list.data) return <ProblemAlert error={list.error} context="Could not load the webhook deliveries" />;
  return <DeliveriesTable deliveries={list.data.items} />;
}
