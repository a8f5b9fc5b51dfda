import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { BULK_RETRY_SKIP_REASONS, type BulkRetryBody, type BulkRetryResponse } from '@jobtrail/domain';
import { bulkRetry } from '../api/endpoints.js';
import { queryKeys } from '../api/query-keys.js';
import { useApi, useCan } from '../auth/auth-context.js';
import { ConfirmButton } from '../components/confirm-button.js';
import { ProblemAlert } from '../components/problem-alert.js';
import type { JobsFilters } from './jobs-filters.js';

/** The bulk-retry filter of the Jobs page's filters: failed jobs unless the filter is exactly `cancelled`. */
export function bulkRetryBody(filters: JobsFilters): Omit<BulkRetryBody, 'dry_run'> {
  const pick = (param: string) => (filters[param] ? { [param]: filters[param] } : {});
  return {
    status: filters.status === 'cancelled' ? 'cancelled' : 'failed',
    ...pick('action'),
    ...pick('error_code'),
    ...pick('connection_id'),
    ...pick('institution_id'),
    ...pick('from'),
    ...pick('to'),
  } as Omit<BulkRetryBody, 'dry_run'>;
}

/** "superseded 2, active job 1". */
export function skippedText(skipped: BulkRetryResponse['skipped']): string {
  return BULK_RETRY_SKIP_REASONS.flatMap((r) => (skipped[r] ? [`${r.replace(/-/g, ' ')} ${skipped[r]}`] : [])).join(
    ', ',
  );
}

/**
 * "Retry N matching jobs" (operators): a dry run counts the failed (or cancelled) jobs the Jobs
 * page's filters match and would retry; the confirmation names that number; the answer says how
 * many were retried and why the others were skipped. Jobs already followed by a newer job of their
 * action, or active, are never retried twice (the API decides).
 */
export function BulkRetry({ filters }: { readonly filters: JobsFilters }) {
  const client = useApi();
  const queryClient = useQueryClient();
  const canAct = useCan('operator');
  const body = bulkRetryBody(filters);
  const [result, setResult] = useState<BulkRetryResponse | null>(null);
  const count = useQuery({
    queryKey: queryKeys.bulkRetryCount(body),
    queryFn: () => bulkRetry(client, { ...body, dry_run: true }),
    enabled: canAct,
  });
  const retry = useMutation({
    mutationFn: () => bulkRetry(client, { ...body, dry_run: false }),
    onSuccess: (res) => {
      setResult(res);
      void queryClient.invalidateQueries({ queryKey: ['bulk-retry-count'] });
      void queryClient.invalidateQueries({ queryKey: queryKeys.jobsList(filters) });
    },
  });
  if (!canAct) return null;
  const n = count.data?.job_ids.length ?? 0;
  const what = body.status === 'cancelled' ? 'cancelled' : 'failed';
  return (
    <div className="bulk-retry" data-testid="bulk-retry">
      {count.data && n > 0 && (
        <ConfirmButton
          label={retry.isPending ? 'Retrying…' : `Retry ${n} matching ${n === 1 ? 'job' : 'jobs'}`}
          title={`Retry ${n} ${what} ${n === 1 ? 'job' : 'jobs'}?`}
          question={`This starts ${n} new ${n === 1 ? 'job' : 'jobs'}, one for each ${what} job matching these filters${
            count.data.matched > n
              ? ` (${count.data.matched - n} of the ${count.data.matched} matching are skipped: ${skippedText(count.data.skipped)})`
              : ''
          }.`}
          confirmLabel={`Retry ${n} ${n === 1 ? 'job' : 'jobs'}`}
          className="button-secondary"
          danger={false}
          disabled={retry.isPending}
          onConfirm={() => retry.mutate()}
        />
      )}
      {result && (
        <p role="status" className="notice" data-testid="bulk-retry-result">
          Retried {result.retried} {result.retried === 1 ? 'job' : 'jobs'} of {result.matched} matching
          {skippedText(result.skipped) ? `; skipped: ${skippedText(result.skipped)}` : ''}.
        </p>
      )}
      {retry.isError && <ProblemAlert error={retry.error} context="Could not retry the jobs" />}
    </div>
  );
}
