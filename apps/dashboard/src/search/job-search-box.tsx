import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { useLocation, useNavigate } from 'react-router';
import { searchJobs } from '../api/endpoints.js';
import { queryKeys } from '../api/query-keys.js';
import { useApi } from '../auth/auth-context.js';
import { problemOf } from '../components/problem-alert.js';
import { FULL_JOB_ID, JOB_ID_PREFIX, normaliseJobQuery } from './normalise-job-query.js';

/** True when the key press happens while the user is typing somewhere (then `/` is just a character). */
function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName);
}

/** Jumps to a job from any page: a full id opens it, a prefix opens the one match or lists several. */
export function JobSearchBox() {
  const client = useApi();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [value, setValue] = useState('');
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const messageId = useId();
  const input = useRef<HTMLInputElement>(null);
  const location = useLocation();

  // A message is about what was typed on the page it was typed on: a new page starts clean.
  useEffect(() => setMessage(null), [location.pathname, location.search]);

  // `/` focuses the search from anywhere, as on most sites with one search box.
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== '/' || event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
      if (document.querySelector('[aria-modal="true"]')) return;
      event.preventDefault();
      input.current?.focus();
      input.current?.select();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const query = normaliseJobQuery(value);
    setMessage(null);
    if (!JOB_ID_PREFIX.test(query)) {
      setMessage('A job id is made of hex digits and dashes, e.g. 01a2228f-6ede-7000-85e0-911490e2bd26.');
      return;
    }
    if (FULL_JOB_ID.test(query)) {
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
        ref={input}
        onChange={(e) => {
          setValue(e.target.value);
          // The message was about the previous text.
          setMessage(null);
        }}
        aria-keyshortcuts="/"
        aria-describedby={message ? messageId : undefined}
        aria-invalid={message ? true : undefined}
        spellCheck={false}
        autoComplete="off"
      />
      <kbd className="search-shortcut" aria-hidden="true" title="Press / to search">
        /
      </kbd>
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
