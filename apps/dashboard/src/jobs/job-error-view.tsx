import { describeError, type JobDetailWire } from '@jobtrail/domain';

type Props = { readonly job: Pick<JobDetailWire, 'error' | 'status' | 'attempt' | 'max_attempts' | 'run_at'> };

/**
 * The job's error as support needs it: the catalogue's title for the code, what happened this
 * time (detail), and the catalogue's troubleshooting steps.
 */
export function JobErrorView({ job }: Props) {
  const { error } = job;
  if (!error) return null;
  const entry = describeError(error.code);
  // A pending job with an error is waiting for its next automatic attempt.
  const requeued = job.status === 'pending';
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
      {requeued && (
        <p className="notice">
          Jobtrail retries automatically: attempt {job.attempt + 1} of {job.max_attempts} is due at{' '}
          {new Date(job.run_at).toLocaleTimeString()}.
        </p>
      )}
      {entry.troubleshooting.length > 0 ? (
        <>
          <h4>Troubleshooting</h4>
          <ol className="troubleshooting" aria-label="Troubleshooting steps">
            {entry.troubleshooting.map((step) => (
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
