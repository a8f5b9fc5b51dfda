import { useRef, useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { BulkRetryResponse } from '@jobtrail/domain';
import { ApiError } from '../api/client.js';
import { bulkRetry } from '../api/endpoints.js';
import { queryKeys } from '../api/query-keys.js';
import { useApi, useCan } from '../auth/auth-context.js';
import { ConfirmDialog } from '../components/confirm-dialog.js';
import { useNotify } from '../components/notice-context.js';
import { ProblemAlert } from '../components/problem-alert.js';
import {
  bulkRetryNotice,
  bulkRetryRequest,
  describeFilters,
  describeSkipped,
  newIdempotencyKey,
  type BulkRetryRequest,
} from './bulk-retry.js';
import type { JobsFilters } from './jobs-filters.js';

/** What the dialog asks about: the dry run's answer, the exact request it counted, and its key. */
interface Confirmation {
  readonly request: BulkRetryRequest;
  readonly filters: readonly string[];
  readonly preview: BulkRetryResponse;
  readonly idempotencyKey: string;
}

const jobsWord = (n: number) => `${n.toLocaleString('en')} ${n === 1 ? 'job' : 'jobs'}`;

/**
 * Retries every job matching the Jobs page's filters (`POST /jobs/retry`): first a dry run counts
 * them, a dialog names that count and the filters (focus on Cancel), and only then does the run
 * start. Shown to operators and admins when the page lists failed (or cancelled) jobs only. The
 * overview uses it too, with the filters of what it counts and a `label` naming them (several
 * buttons on one page need distinct names).
 */
export function BulkRetryButton({
  filters,
  label = 'Retry matching jobs',
}: {
  readonly filters: JobsFilters;
  readonly label?: string;
}) {
  const client = useApi();
  const canAct = useCan('operator');
  const notify = useNotify();
  const queryClient = useQueryClient();
  const [asking, setAsking] = useState<Confirmation | null>(null);
  const [nothing, setNothing] = useState<string | null>(null);
  // The confirmation being run: a second click on its answer is ignored rather than sent again.
  const confirmed = useRef<Confirmation | null>(null);

  const count = useMutation({
    mutationFn: (request: BulkRetryRequest) => bulkRetry(client, request),
    onSuccess: (preview, request) => {
      if (preview.job_ids.length === 0) {
        const why = describeSkipped(preview.skipped);
        setNothing(
          preview.matched === 0
            ? 'No job matches these filters now.'
            : `None of the ${jobsWord(preview.matched)} matching can be retried${why ? `: ${why}` : ''}.`,
        );
        return;
      }
      setAsking({ request, filters: describeFilters(filters), preview, idempotencyKey: newIdempotencyKey() });
    },
  });

  const run = useMutation({
    // The same key on every try: the server replays the first answer instead of retrying twice.
    mutationFn: (c: Confirmation) => bulkRetry(client, { ...c.request, dry_run: false }, c.idempotencyKey),
    // A lost answer (network, 503) or a first request still running is tried again with that key.
    retry: (failures, error) =>
      failures < 2 &&
      error instanceof ApiError &&
      (error.code === 'service-unavailable' || error.code === 'idempotency-key-in-flight'),
    retryDelay: 1_000,
    onSuccess: (result) => {
      confirmed.current = null;
      notify(bulkRetryNotice(result));
      void queryClient.invalidateQueries({ queryKey: queryKeys.jobsLists() });
      // The overview's counts (and its error codes) change too: the retried jobs are new, pending.
      void queryClient.invalidateQueries({ queryKey: queryKeys.overview() });
    },
  });

  const request = bulkRetryRequest(filters, true);
  if (!canAct || !request) return null;
  const busy = count.isPending || run.isPending;

  return (
    <div className="bulk-retry">
      <button
        type="button"
        className="button-secondary"
        aria-haspopup="dialog"
        disabled={busy}
        onClick={() => {
          setNothing(null);
          run.reset();
          count.mutate(request);
        }}
      >
        {count.isPending ? 'Counting matching jobs…' : run.isPending ? 'Retrying…' : label}
      </button>
      {nothing && (
        <p role="status" className="muted small">
          {nothing}
        </p>
      )}
      {count.isError && <ProblemAlert error={count.error} context="Could not count the jobs to retry" />}
      {run.isError && (
        <ProblemAlert
          error={run.error}
          context="The jobs were not retried"
          // Trying again sends the confirmed request with its key: never a second run.
          onRetry={run.variables ? () => run.mutate(run.variables) : undefined}
        />
      )}
      {asking && (
        <ConfirmDialog
          title={`Retry ${jobsWord(asking.preview.job_ids.length)}?`}
          question={`The ${asking.preview.job_ids.length.toLocaleString('en')} ${asking.request.status} ${asking.preview.job_ids.length === 1 ? 'job' : 'jobs'} matching these filters will be retried, each as a new job.`}
          confirmLabel={`Retry ${asking.preview.job_ids.length.toLocaleString('en')} matching ${asking.preview.job_ids.length === 1 ? 'job' : 'jobs'}`}
          danger={false}
          onCancel={() => setAsking(null)}
          onConfirm={() => {
            if (confirmed.current === asking) return;
            confirmed.current = asking;
            setAsking(null);
            run.mutate(asking);
          }}
        >
          <ul className="bulk-retry-filters" aria-label="Filters">
            {asking.filters.map((f) => (
              <li key={f}>{f}</li>
            ))}
          </ul>
          {describeSkipped(asking.preview.skipped) && (
            <p>
              Of the {jobsWord(asking.preview.matched)} matching, not retried: {describeSkipped(asking.preview.skipped)}
              .
            </p>
          )}
        </ConfirmDialog>
      )}
    </div>
  );
}
