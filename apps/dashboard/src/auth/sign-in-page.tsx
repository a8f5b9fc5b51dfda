import { useId, useState, type FormEvent } from 'react';
import type { WhoAmIWire } from '@jobtrail/domain';
import { ApiClient } from '../api/client.js';
import { fetchMe } from '../api/endpoints.js';
import { ProblemAlert } from '../components/problem-alert.js';
import { useDocumentTitle } from '../lib/use-document-title.js';

interface Props {
  /** Why the user is here again, e.g. their key stopped working. */
  readonly notice: string | null;
  readonly onSignedIn: (key: string, me: WhoAmIWire) => void;
}

/** Sign-in with an API key, checked against `GET /api/me` before it is kept. */
export function SignInPage({ notice, onSignedIn }: Props) {
  useDocumentTitle('Sign in');
  const [key, setKey] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const hintId = useId();

  async function submit(event: FormEvent) {
    event.preventDefault();
    const trimmed = key.trim();
    if (!trimmed) {
      setError(new Error('Enter an API key.'));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      onSignedIn(trimmed, await fetchMe(new ApiClient(trimmed)));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  return (
    <main className="sign-in" id="main">
      <h1 className="brand">Jobtrail</h1>
      <form className="card sign-in-form" onSubmit={(e) => void submit(e)} aria-labelledby="sign-in-title">
        <h2 id="sign-in-title">Sign in</h2>
        {notice && (
          <p className="notice" role="status">
            {notice}
          </p>
        )}
        <label htmlFor="api-key">API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={key}
          onChange={(e) => setKey(e.target.value)}
          aria-describedby={hintId}
          aria-invalid={error ? true : undefined}
          required
        />
        <p id={hintId} className="muted">
          Kept in this browser tab only, until you sign out or close the tab. Keys are created with the API&rsquo;s CLI;
          the demo start prints a sign-in link.
        </p>
        {error !== null && <ProblemAlert error={error} context="Sign-in failed" />}
        <button type="submit" className="button-primary" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
