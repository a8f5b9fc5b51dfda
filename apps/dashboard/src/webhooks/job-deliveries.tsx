import { useQuery } from '@tanstack/react-query';
import { useApi } from '../auth/auth-context.js';
import { Loading } from '../components/loading.js';
import { ProblemAlert } from '../components/problem-alert.js';
import { DeliveriesTable } from './deliveries-table.js';
import { fetchJobDeliveries, webhookKeys } from './webhooks-api.js';

/** The webhook deliveries a job's changes caused (polled while the page is open: they settle later). */
export function JobDeliveries({ jobId }: { readonly jobId: string }) {
  const client = useApi();
  const list = useQuery({
    queryKey: webhookKeys.job(jobId),
    queryFn: ({ signal }) => fetchJobDeliveries(client, jobId, signal),
    refetchInterval: 5_000,
  });
  if (list.isPending) return <Loading label="Loading deliveries…" />;
  if (!list.data) return <ProblemAlert error={list.error} context="Could not load the webhook deliveries" />;
  return <DeliveriesTable deliveries={list.data.items} />;
}
