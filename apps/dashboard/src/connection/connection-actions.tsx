import { useId } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate } from 'react-router';
import { JOB_ACTIONS, type ConnectionWire, type JobAction, type JobSummaryWire } from '@jobtrail/domain';
import { fetchActiveJobs, startAction } from '../api/endpoints.js';
import { queryKeys } from '../api/query-keys.js';
import { useApi, useCan, useSession } from '../auth/auth-context.js';
import { ConfirmButton } from '../components/confirm-button.js';
import { ProblemAlert } from '../components/problem-alert.js';
import { DeleteConnectionButton } from '../connections/delete-connection-button.js';
import { useDeleteConnection } from '../connections/use-delete-connection.js';
import { applyActionResult } from '../live/apply-job-change.js';
import { useFallbackPollMs } from '../live/live-context.js';
import { connectionLabel, shortId } from '../lib/format.js';

/**
 * Refresh, Purge and Delete of one connection. An action is disabled while a job of that action
 * is pending or processing (the API would hand back that same job anyway), and for roles that may
 * not start it.
 */
export function ConnectionActions({ connection }: { readonly connection: ConnectionWire }) {
  const client = useApi();
  const { me } = useSession();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const canAct = useCan('operator');
  const canDelete = useCan('admin');
  const poll = useFallbackPollMs();
  const reasonId = useId();
  const id = connection.connection_id;

  const active = useQuery({
    queryKey: queryKeys.activeJobs(id),
    queryFn: ({ signal }) => fetchActiveJobs(client, id, signal),
    refetchInterval: poll ?? false,
  });
  const start = useMutation({
    mutationFn: (action: JobAction) => startAction(client, id, action),
    onSuccess: ({ job }) => applyActionResult(queryClient, job),
  });
  const remove = useDeleteConnection(() => navigate('/'));

  const running = (action: JobAction): JobSummaryWire | undefined => active.data?.find((j) => j.action === action);
  const disabledReason = canAct
    ? null
    : `Your key's role (${me.role}) can only read; an operator or admin key can start actions.`;

  const button = (action: JobAction) => {
    const job = running(action);
    const busy = job !== undefined || (start.isPending && start.variables === action);
    const label = job
      ? `${capitalise(action)} ${job.status === 'processing' ? 'running' : 'queued'}…`
      : capitalise(action);
    if (action === 'purge') {
      return (
        <ConfirmButton
          key={action}
          label={label}
          title={`Purge the data of ${connectionLabel(connection)}?`}
          question="Purge deletes every account and transaction fetched for this connection. Continue?"
          details={
            <p className="dialog-warning">
              The connection and its job history stay; a refresh fetches the data again.{' '}
              <strong>The purge itself cannot be undone.</strong>
            </p>
          }
          confirmLabel="Purge data"
          disabled={!canAct || busy}
          describedBy={disabledReason ? reasonId : undefined}
          onConfirm={() => start.mutate('purge')}
        />
      );
    }
    return (
      <button
        key={action}
        type="button"
        className="button-primary"
        disabled={!canAct || busy}
        aria-describedby={disabledReason ? reasonId : undefined}
        onClick={() => start.mutate(action)}
      >
        {label}
      </button>
    );
  };

  return (
    <div className="connection-actions">
      <div className="button-row">
        {JOB_ACTIONS.map(button)}
        {canDelete && (
          <DeleteConnectionButton
            connection={connection}
            disabled={remove.isPending}
            onConfirm={(c) => remove.mutate(c)}
          />
        )}
      </div>
      {disabledReason && (
        <p id={reasonId} className="muted small">
          {disabledReason}
        </p>
      )}
      {start.isSuccess && (
        <p role="status" className="notice">
          {start.data.created
            ? `${capitalise(start.data.job.action)} started: `
            : `A ${start.data.job.action} was already ${start.data.job.status}: `}
          <Link to={`/jobs/${start.data.job.job_id}`}>job {shortId(start.data.job.job_id)}</Link>
        </p>
      )}
      {start.isError && (
        <ProblemAlert error={start.error} context={`The ${start.variables ?? 'action'} was not started`} />
      )}
      {remove.isError && <ProblemAlert error={remove.error} context="The connection was not deleted" />}
    </div>
  );
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
