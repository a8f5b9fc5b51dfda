import { describeError, type JobDetailWire } from '@jobtrail/domain';
import { Link } from 'react-router';
import { RelativeTime } from '../components/date-time.js';
import { useNow } from '../lib/clock-context.js';
import { retryOutlook, troubleshootingFor } from './retry-policy.js';

type Props = {
  readonly job: Pick<JobDetailWire, 'error' | 'status' | 'attempt' | 'max_attempts' | 'run_at'> &
    Partial<Pick<JobDetailWire, 'connection_id'>>;
};

/**
 * The job's error as support needs it, leading with what to do: the catalogue's title for the
 * code, what happened this time (detail), whether Jobtrail will try again, and the catalogue's
 * troubleshooting steps.
 */
export function JobErrorView({ job }: Props) {
  const now = useNow();
  const { error } = job;
  if (!error) return null;
  const entry = describeError(error.code);
  const outlook = retryOutlook(job);
  const steps = troubleshootingFor(job);
  const requeued = outlook === 'will-retry';
  return (
    <section className={`job-error ${requeued ? 'job-error-requeued' : ''}`} aria-labelledby="job-error-title">
      <h3 id="job-error-title">
        {requeued ? 'Last attempt failed' : job.status === 'cancelled' ? 'Why it stopped' : 'What went wrong'}
      </h3>
      <p className="error-headline">
        <span aria-hidden="true">{job.status === 'cancelled' ? '⊘' : '❌'}</span> <strong>{entry.title}</strong>{' '}
        <code className="error-code">{error.code}</code>
      </p>
      {error.detail && <p className="error-detail">{error.detail}</p>}
      {error.code === 'invalid-credentials' && job.status === 'failed' && job.connection_id && (
        <p>
          <Link to={`/connections/${job.connection_id}#update-credentials`}>Update the credentials</Link>: the refresh
          that follows verifies them (a retry is refused until they change).
        </p>
      )}
      {requeued && (
        <p className="notice">
          Jobtrail retries automatically: attempt {job.attempt + 1} of {job.max_attempts},{' '}
          <RelativeTime iso={job.run_at} now={now} tense="future" />.
        </p>
      )}
      {outlook === 'not-retried' && (
        <p className="notice notice-warning" data-testid="retry-outlook">
          Not retried: Jobtrail does not retry this error automatically, and retrying as it is fails again. Fix the
          cause first.
        </p>
      )}
      {outlook === 'exhausted' && (
        <p className="notice notice-warning" data-testid="retry-outlook">
          All {job.max_attempts} attempts failed: Jobtrail will not retry this job again by itself.
        </p>
      )}
      {steps.length > 0 ? (
        <>
          <h4>What to do</h4>
          <ol className="troubleshooting" aria-label="Troubleshooting steps">
            {steps.map((step) => (
              <li key={step}>{step}</li>
            ))}
          </ol>
        </>
      ) : (
        <p className="muted">
          This error code came from the institution as is; the catalogue has no steps for it. Send the support details
          to the team.
        </p>
      )}
    </section>
  );
}
