import type { JobAttemptWire } from '@jobtrail/domain';
import { DateTime } from '../components/date-time.js';
import { StepsTimeline } from './steps-timeline.js';

const OUTCOME_LABEL: Record<JobAttemptWire['outcome'], string> = {
  running: '⏳ Running',
  success: '✅ Succeeded',
  failed: '❌ Failed',
  requeued: '↻ Requeued',
  cancelled: 'Cancelled',
};

/**
 * Every attempt of the job, oldest first: the latest open, earlier ones a click away, so a job
 * that failed twice then succeeded tells its whole story.
 */
export function AttemptsList({
  attempts,
  now,
}: {
  readonly attempts: readonly JobAttemptWire[];
  readonly now: number;
}) {
  if (attempts.length === 0) return <p className="muted">No attempt yet: the job is waiting for a worker.</p>;
  return (
    <ol className="attempts" aria-label="Attempts">
      {attempts.map((a, i) => {
        const latest = i === attempts.length - 1;
        return (
          <li key={a.attempt}>
            <details open={latest}>
              <summary>
                Attempt {a.attempt}: {OUTCOME_LABEL[a.outcome]}
                {a.error ? (
                  <>
                    {' '}
                    <code>{a.error.code}</code>
                  </>
                ) : null}
              </summary>
              <dl className="attempt-facts">
                <div>
                  <dt>Started</dt>
                  <dd>
                    <DateTime iso={a.started_at} />
                  </dd>
                </div>
                <div>
                  <dt>Ended</dt>
                  <dd>{a.finished_at ? <DateTime iso={a.finished_at} /> : 'still running'}</dd>
                </div>
                <div>
                  <dt>Worker</dt>
                  <dd className="mono small">{a.worker}</dd>
                </div>
                {a.error && (
                  <div>
                    <dt>Error</dt>
                    <dd>
                      {a.error.title}: {a.error.detail}
                    </dd>
                  </div>
                )}
              </dl>
              {latest ? (
                // The page shows the latest attempt's steps above, live: not twice.
                <p className="muted small">Its steps are the ones shown above.</p>
              ) : a.steps.length > 0 ? (
                <StepsTimeline steps={a.steps} now={now} label={`Steps of attempt ${a.attempt}`} />
              ) : (
                <p className="muted small">Its steps were not kept (it ended before steps were kept per attempt).</p>
              )}
            </details>
          </li>
        );
      })}
    </ol>
  );
}
