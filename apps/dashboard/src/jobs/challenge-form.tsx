import { useId, useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { allowedActions, jobFromDetailWire, type JobDetailWire } from '@jobtrail/domain';
import { answerChallenge } from '../api/endpoints.js';
import { queryKeys } from '../api/query-keys.js';
import { useApi, useCan, useSession } from '../auth/auth-context.js';
import { DateTime } from '../components/date-time.js';
import { ProblemAlert } from '../components/problem-alert.js';
import { applyActionResult } from '../live/apply-job-change.js';
import { useNow } from '../lib/clock-context.js';

/**
 * The institution's one-time-code challenge of a waiting job: its prompt, when it lapses, and a
 * code field for operators (`POST /jobs/:job_id/mfa`). A wrong code shows the API's problem (how
 * many tries are left); the third fails the job, which the page then shows.
 */
export function ChallengeForm({ job }: { readonly job: JobDetailWire }) {
  const client = useApi();
  const queryClient = useQueryClient();
  const { me } = useSession();
  const canAct = useCan('operator');
  const now = useNow();
  const codeId = useId();
  const [code, setCode] = useState('');
  const answer = useMutation({
    mutationFn: (value: string) => answerChallenge(client, job.job_id, value),
    onSuccess: (next) => {
      setCode('');
      applyActionResult(queryClient, next);
    },
    // A wrong code changed the job too (counted, or failed on the third): read it again.
    onError: () => void queryClient.invalidateQueries({ queryKey: queryKeys.job(job.job_id) }),
  });
  const challenge = job.challenge;
  if (!challenge || !allowedActions(jobFromDetailWire(job).job).answerChallenge) return null;

  function submit(e: FormEvent) {
    e.preventDefault();
    const value = code.trim();
    if (value) answer.mutate(value);
  }

  return (
    <section className="challenge notice notice-warning" aria-labelledby="challenge-title" data-testid="challenge">
      <h3 id="challenge-title">Needs your input: one-time code</h3>
      <p className="challenge-prompt">{challenge.prompt}</p>
      <p className="muted small">
        The bank waits until <DateTime iso={challenge.expires_at} now={now} tense="future" />; without a code by then
        the job fails (<code>mfa-timeout</code>). Three wrong codes fail it too (<code>mfa-failed</code>).
      </p>
      {canAct ? (
        <form onSubmit={submit} aria-label="One-time code">
          <label htmlFor={codeId}>Code</label>
          <input
            id={codeId}
            value={code}
            onChange={(e) => setCode(e.target.value)}
            inputMode="numeric"
            autoComplete="one-time-code"
            required
            maxLength={32}
          />
          <button type="submit" className="button-primary" disabled={answer.isPending || !code.trim()}>
            {answer.isPending ? 'Sending…' : 'Send code'}
          </button>
        </form>
      ) : (
        <p className="muted small">
          Your key&rsquo;s role ({me.role}) can only read; an operator or admin key can enter the code.
        </p>
      )}
      {answer.isError && <ProblemAlert error={answer.error} context="The code was not accepted" />}
    </section>
  );
}
