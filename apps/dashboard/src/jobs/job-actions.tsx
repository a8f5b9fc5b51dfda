import { useMutation, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import { allowedActions, jobFromDetailWire, type JobDetailWire, type JobSummaryWire } from '@jobtrail/domain';
import { cancelJob, retryJob } from '../api/endpoints.js';
import { queryKeys } from '../api/query-keys.js';
import { useApi, useCan, useSession } from '../auth/auth-context.js';
import { ProblemAlert } from '../components/problem-alert.js';
import { applyActionResult } from '../live/apply-job-change.js';
import { shortId } from '../lib/format.js';

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
        {allowed.retry && (
          <button type="button" className="button-primary" onClick={() => retry.mutate()} disabled={retry.isPending}>
            {retry.isPending ? 'Retrying…' : 'Retry'}
          </button>
        )}
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
