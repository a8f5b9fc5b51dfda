import { useMutation, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import {
  allowedActions,
  describeError,
  jobFromDetailWire,
  type JobDetailWire,
  type JobSummaryWire,
} from '@jobtrail/domain';
import { cancelJob, retryJob } from '../api/endpoints.js';
import { queryKeys } from '../api/query-keys.js';
import { useApi, useCan, useSession } from '../auth/auth-context.js';
import { ConfirmButton } from '../components/confirm-button.js';
import { ProblemAlert } from '../components/problem-alert.js';
import { applyActionResult } from '../live/apply-job-change.js';
import { shortId } from '../lib/format.js';
import { retryNeedsConfirmation } from './retry-policy.js';

/** Retry and Cancel, exactly as the domain's state machine allows them (the API's 409s agree). */
export function JobActions({ job }: { readonly job: JobDetailWire }) {
  const client = useApi();
  const { me } = useSession();
  const queryClient = useQueryClient();
  const canAct = useCan('operator');
  const allowed = allowedActions(jobFromDetailWire(job).job);

  const retry = useMutation({
    mutationFn: () => retryJob(client, job.job_id),
    onSuccess: (next) => {
      applyActionResult(queryClient, next);
      queryClient.setQueryData<JobSummaryWire[]>(queryKeys.retriedBy(job.job_id), (list) => [
        next,
        ...(list ?? []).filter((j) => j.job_id !== next.job_id),
      ]);
    },
  });
  const cancel = useMutation({
    mutationFn: () => cancelJob(client, job.job_id),
    onSuccess: (next) => applyActionResult(queryClient, next),
  });

  if (!allowed.retry && !allowed.cancel) {
    return job.status === 'processing' && job.cancel_requested ? (
      <p className="notice">Cancel requested: the job stops at its next step.</p>
    ) : null;
  }
  if (!canAct) {
    return (
      <p className="muted small">
        Your key&rsquo;s role ({me.role}) can only read; an operator or admin key can{' '}
        {allowed.retry ? 'retry' : 'cancel'} this job.
      </p>
    );
  }
  return (
    <div className="job-actions">
      <div className="button-row">
        {allowed.retry &&
          (retryNeedsConfirmation(job) ? (
            // Retrying an error that needs someone to act first fails again (and wrong passwords can
            // lock the bank account): the fix leads above, Retry is secondary and asks first.
            <ConfirmButton
              label={retry.isPending ? 'Retrying…' : 'Retry'}
              title="Retry without fixing the cause?"
              question={`${describeError(job.error?.code ?? '').title}: Jobtrail does not retry this error, because the same attempt fails again until the cause is fixed.`}
              details={<p>Follow the steps under “What to do” first. Retry only once that is done.</p>}
              confirmLabel="Retry anyway"
              className="button-secondary"
              disabled={retry.isPending}
              onConfirm={() => retry.mutate()}
            />
          ) : (
            <button type="button" className="button-primary" onClick={() => retry.mutate()} disabled={retry.isPending}>
              {retry.isPending ? 'Retrying…' : 'Retry'}
            </button>
          ))}
        {allowed.cancel && (
          <button type="button" className="button-danger" onClick={() => cancel.mutate()} disabled={cancel.isPending}>
            {cancel.isPending ? 'Cancelling…' : 'Cancel job'}
          </button>
        )}
      </div>
      {retry.isSuccess && (
        <p role="status" className="notice">
          Retry started as <Link to={`/jobs/${retry.data.job_id}`}>job {shortId(retry.data.job_id)}</Link>.
        </p>
      )}
      {retry.isError && <ProblemAlert error={retry.error} context="The job was not retried" />}
      {cancel.isError && <ProblemAlert error={cancel.error} context="The job was not cancelled" />}
    </div>
  );
}
