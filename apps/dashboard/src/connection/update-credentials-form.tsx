import { useId, useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import type { ConnectionWire } from '@jobtrail/domain';
import { updateCredentials } from '../api/endpoints.js';
import { queryKeys } from '../api/query-keys.js';
import { useApi } from '../auth/auth-context.js';
import { ProblemAlert } from '../components/problem-alert.js';
import { applyActionResult } from '../live/apply-job-change.js';
import { shortId } from '../lib/format.js';

/** The anchor the failed job's page links to. */
export const UPDATE_CREDENTIALS_ANCHOR = 'update-credentials';

/**
 * New credentials for a connection (operators): the API stores them encrypted and starts the
 * refresh that verifies them. Open by itself when the bank rejected the current ones.
 */
export function UpdateCredentialsForm({ connection }: { readonly connection: ConnectionWire }) {
  const client = useApi();
  const queryClient = useQueryClient();
  const loginId = useId();
  const passwordId = useId();
  const [login, setLogin] = useState(connection.login_id);
  const [password, setPassword] = useState('');
  const update = useMutation({
    mutationFn: () =>
      updateCredentials(client, connection.connection_id, {
        ...(login !== connection.login_id ? { login_id: login } : {}),
        password,
      }),
    onSuccess: ({ connection: updated, job }) => {
      setPassword('');
      queryClient.setQueryData(queryKeys.connection(updated.connection_id), updated);
      if (job) applyActionResult(queryClient, job);
    },
  });

  function submit(e: FormEvent) {
    e.preventDefault();
    if (password) update.mutate();
  }

  return (
    <details
      id={UPDATE_CREDENTIALS_ANCHOR}
      className="update-credentials"
      open={connection.status === 'invalid' || window.location.hash === `#${UPDATE_CREDENTIALS_ANCHOR}`}
    >
      <summary>Update credentials</summary>
      <form onSubmit={submit} aria-label="Update credentials">
        <label htmlFor={loginId}>Login</label>
        <input id={loginId} value={login} onChange={(e) => setLogin(e.target.value)} required maxLength={128} />
        <label htmlFor={passwordId}>New password</label>
        <input
          id={passwordId}
          type="password"
          autoComplete="new-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          required
          maxLength={256}
        />
        <button type="submit" className="button-primary" disabled={update.isPending || !password || !login}>
          {update.isPending ? 'Saving…' : 'Save and verify'}
        </button>
      </form>
      {update.isError && <ProblemAlert error={update.error} context="Could not update the credentials" />}
      {update.data?.job && (
        <p role="status">
          {update.data.created ? 'A refresh verifies the new credentials: ' : 'The running refresh uses them next: '}
          <Link to={`/jobs/${update.data.job.job_id}`}>job {shortId(update.data.job.job_id)}</Link>.
        </p>
      )}
    </details>
  );
}
