import { useId, useState, type FormEvent } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { useNavigate } from 'react-router';
import { searchJobs } from '../api/endpoints.js';
import { queryKeys } from '../api/query-keys.js';
import { useApi } from '../auth/auth-context.js';
import { problemOf } from '../components/problem-alert.js';

const FULL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PREFIX = /^[0-9a-f-]{1,36}$/;

/** Jumps to a job from any page: a full id opens it, a prefix opens the one match or lists several. */
export function JobSearchBox() {
  const client = useApi();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [value, setValue] = useState('');
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const messageId = useId();

  async function submit(event: FormEvent) {
    event.preventDefault();
    const query = value.trim().toLowerCase();
    setMessage(null);
    if (!PREFIX.test(query)) {
      setMessage('A job id is made of hex digits and dashes, e.g. 01a2228f-6ede-7000-85e0-911490e2bd26.');
      return;
    }
    if (FULL_ID.test(query)) {
      navigate(`/jobs/${query}`);
      return;
    }
    setBusy(true);
    try {
      const search = { job_id: query, limit: 50 };
      const page = await queryClient.fetchQuery({
        queryKey: queryKeys.jobSearch(search),
        queryFn: ({ signal }) => searchJobs(client, search, null, signal),
      });
      const [only] = page.items;
      if (page.items.length === 1 && only) navigate(`/jobs/${only.job_id}`);
      else if (page.items.length === 0) setMessage(`No job id starts with “${query}”.`);
      else navigate(`/search?job_id=${encodeURIComponent(query)}`);
    } catch (err) {
      setMessage(problemOf(err).title);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form role="search" className="job-search" onSubmit={(e) => void submit(e)}>
      <label htmlFor="job-search-input" className="visually-hidden">
        Find a job by id
      </label>
      <input
        id="job-search-input"
        type="search"
        placeholder="Job ID or its first characters"
        value={value}
        onChange={(e) => setValue(e.target.value)}
        aria-describedby={message ? messageId : undefined}
        aria-invalid={message ? true : undefined}
        spellCheck={false}
        autoComplete="off"
      />
      <button type="submit" disabled={busy}>
        {busy ? 'Finding…' : 'Find job'}
      </button>
      {message && (
        <p id={messageId} className="search-message" role="alert">
          {message}
        </p>
      )}
    </form>
  );
}
