import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { isTerminal, type JobDetailWire } from '@jobtrail/domain';
import { fetchJob, searchJobs } from '../api/endpoints.js';
import { queryKeys } from '../api/query-keys.js';
import { useApi, useSession } from '../auth/auth-context.js';
import { CopyButton } from '../components/copy-button.js';
import { DateTime } from '../components/date-time.js';
import { Loading } from '../components/loading.js';
import { ProblemAlert } from '../components/problem-alert.js';
import { useConnectionLabels } from '../components/connection-name.js';
import { StatusBadge } from '../components/status-badge.js';
import { useFallbackPollMs } from '../live/live-context.js';
import { formatDuration, jobDurationMs, jobFirstStartMs } from '../lib/format.js';
import { useNow } from '../lib/clock-context.js';
import { ChallengeForm } from './challenge-form.js';
import { JobActions } from './job-actions.js';
import { JobErrorView } from './job-error-view.js';
import { JobLogs } from './job-logs.js';
import { attemptsText } from './retry-policy.js';
import { StepsTimeline } from './steps-timeline.js';
import { supportDetails } from './support-details.js';
import { TransitionsTable } from './transitions-table.js';
import { AttemptsList } from './attempts-list.js';
import { JobDeliveries } from '../webhooks/job-deliveries.js';

/** Everything about one job: status, actions, error and troubleshooting, steps, result, history, logs. */
export function JobPanel({ jobId }: { readonly jobId: string }) {
  const client = useApi();
  const poll = useFallbackPollMs();
  const detail = useQuery({
    queryKey: queryKeys.job(jobId),
    queryFn: ({ signal }) => fetchJob(client, jobId, signal),
    // Live events refetch it; without them a running job is polled until it ends.
    refetchInterval: (q) => (poll !== null && q.state.data && !isTerminal(q.state.data.status) ? poll : false),
  });
  if (detail.isPending) return <Loading label="Loading the job…" />;
  if (!detail.data)
    return (
      <ProblemAlert error={detail.error} context="Could not load this job" onRetry={() => void detail.refetch()} />
    );
  return <JobDetailView job={detail.data} pollMs={!isTerminal(detail.data.status) ? poll : null} />;
}

export function JobDetailView({ job, pollMs }: { readonly job: JobDetailWire; readonly pollMs: number | null }) {
  const { me } = useSession();
  const now = useNow();
  const duration = jobDurationMs(job, now);
  const firstStart = jobFirstStartMs(job);
  const connectionName = useConnectionLabels([job.connection_id]);
  return (
    <article className="job-panel" aria-labelledby="job-title">
      <header className="page-header">
        <h2 id="job-title" className="job-title">
          <span>Job</span> <span className="mono job-id-full">{job.job_id}</span>
        </h2>
        <div className="job-headline">
          <span className="job-status-large" data-testid="job-status">
            <StatusBadge status={job.status} />
          </span>
          <span>{job.action}</span>
          <span className="muted">
            on <Link to={`/connections/${job.connection_id}`}>connection {connectionName(job.connection_id)}</Link>
          </span>
          <CopyButton text={job.job_id} label="Copy job ID">
            Copy job ID
          </CopyButton>
          <CopyButton text={supportDetails(job, me)} label="Copy support details">
            Copy support details
          </CopyButton>
        </div>
        <RetryLinks job={job} />
        {/* What went wrong and what to do come before the buttons: the fix leads, Retry follows. */}
        <JobErrorView job={job} />
        <ChallengeForm job={job} />
        <JobActions job={job} />
      </header>

      <div className="job-grid">
        <div className="job-main">
          {job.result && (
            <section aria-labelledby="result-title">
              <h3 id="result-title">Result</h3>
              <dl className="result">
                {Object.entries(job.result).map(([name, value]) => (
                  <div key={name}>
                    <dt>{name.replace(/_/g, ' ')}</dt>
                    <dd>{value.toLocaleString()}</dd>
                  </div>
                ))}
              </dl>
            </section>
          )}
          <section aria-labelledby="steps-title">
            <h3 id="steps-title">Steps{job.attempt > 0 ? ` (attempt ${job.attempt})` : ''}</h3>
            <StepsTimeline steps={job.steps} now={now} />
          </section>
          {job.attempts.length > 1 && (
            <section aria-labelledby="attempts-title">
              <h3 id="attempts-title">Attempts ({job.attempts.length})</h3>
              <AttemptsList attempts={job.attempts} now={now} />
            </section>
          )}
          <section aria-labelledby="transitions-title">
            <h3 id="transitions-title">Status changes</h3>
            <TransitionsTable transitions={job.transitions} />
          </section>
          <section aria-labelledby="deliveries-title">
            <h3 id="deliveries-title">Webhook deliveries</h3>
            <JobDeliveries jobId={job.job_id} />
          </section>
          <section aria-labelledby="logs-title">
            <h3 id="logs-title">Log lines</h3>
            <JobLogs jobId={job.job_id} pollMs={pollMs} />
          </section>
        </div>
        <aside className="job-facts" aria-label="Job facts">
          <dl className="facts facts-column">
            <div>
              <dt>Triggered</dt>
              <dd>
                <DateTime iso={job.date} now={now} />
              </dd>
            </div>
            <div>
              <dt>{job.attempt > 1 ? 'Started (first attempt)' : 'Started'}</dt>
              <dd>{firstStart === null ? '—' : <DateTime iso={new Date(firstStart).toISOString()} now={now} />}</dd>
            </div>
            <div>
              <dt>Finished</dt>
              <dd>{job.finished_at ? <DateTime iso={job.finished_at} /> : '—'}</dd>
            </div>
            <div>
              <dt>Duration</dt>
              <dd data-testid="job-duration" title="From the first attempt's start, across every attempt">
                {duration === null ? '—' : formatDuration(duration)}
              </dd>
            </div>
            <div>
              <dt>Attempts</dt>
              <dd data-testid="job-attempts">{attemptsText(job)}</dd>
            </div>
            {job.status === 'pending' && job.attempt > 0 && (
              <div>
                <dt>Next attempt</dt>
                <dd>
                  <DateTime iso={job.run_at} now={now} tense="future" />
                </dd>
              </div>
            )}
            <div>
              <dt>Requested by</dt>
              <dd>{job.requested_by ? job.requested_by.name : 'system'}</dd>
            </div>
          </dl>
        </aside>
      </div>
    </article>
  );
}

/**
 * "Retry of" comes with the job; "retried by" is not stored on it, so it is looked up lazily
 * among the connection's later jobs, and only for jobs that can have been retried.
 */
function RetryLinks({ job }: { readonly job: JobDetailWire }) {
  const client = useApi();
  const retriable = job.status === 'failed' || job.status === 'cancelled';
  const retriedBy = useQuery({
    queryKey: queryKeys.retriedBy(job.job_id),
    queryFn: async ({ signal }) => {
      const page = await searchJobs(
        client,
        { connection_id: job.connection_id, from: job.date, action: job.action, limit: 200 },
        null,
        signal,
      );
      return page.items.filter((j) => j.retry_of === job.job_id);
    },
    enabled: retriable,
  });
  const retries = retriedBy.data ?? [];
  if (!job.retry_of && retries.length === 0) return null;
  return (
    <ul className="retry-links">
      {job.retry_of && (
        <li>
          Retry of{' '}
          <Link to={`/jobs/${job.retry_of}`} className="mono">
            {job.retry_of}
          </Link>
        </li>
      )}
      {retries.map((r) => (
        <li key={r.job_id}>
          Retried by{' '}
          <Link to={`/jobs/${r.job_id}`} className="mono">
            {r.job_id}
          </Link>{' '}
          <StatusBadge status={r.status} />
        </li>
      ))}
    </ul>
  );
}
