import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { useLocation, useNavigate } from 'react-router';
import { searchConnections } from '../api/endpoints.js';
import { queryKeys } from '../api/query-keys.js';
import { useApi } from '../auth/auth-context.js';
import { problemOf } from '../components/problem-alert.js';
import { findAnything, MAX_SEARCH_LENGTH, planSearch, type SearchPlan } from './find-anything.js';

/** What a search results page is opened with (history state, see below). */
export interface SearchState {
  readonly q: string;
}

function nothingFound(plan: SearchPlan): string {
  if (plan.connectionQuery === null) return `No job id starts with “${plan.jobPrefix ?? plan.text}”.`;
  return plan.jobPrefix === null
    ? `No connection has this login or reference (logins must be typed in full).`
    : `No connection or job matches “${plan.text}”: logins must be typed in full, ids from their start.`;
}

/** True when the key press happens while the user is typing somewhere (then `/` is just a character). */
function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName);
}

/**
 * The one search box, on every page: a customer's full login (matched exactly by the API through a
 * keyed hash: logins stay encrypted), a reference, a connection id or a job id (or their start).
 * One match opens it; several are listed; none says so.
 */
export function SearchBox() {
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
    const plan = planSearch(value);
    setMessage(null);
    if (plan.text === '') {
      setMessage('Type a full login, a reference, a connection id or a job id (or its first characters).');
      return;
    }
    if (plan.connectionQuery === null && plan.jobPrefix === null) {
      // Called a job id by the user ("job …"), but it cannot be one.
      setMessage('A job id is made of hex digits and dashes, e.g. 01a2228f-6ede-7000-85e0-911490e2bd26.');
      return;
    }
    if (plan.text.length > MAX_SEARCH_LENGTH) {
      setMessage(`At most ${MAX_SEARCH_LENGTH} characters: no login, reference or id is longer.`);
      return;
    }
    setBusy(true);
    try {
      if (plan.fullId !== null) {
        // A whole id opens at once: the connection of that id if there is one, otherwise the job.
        const id = plan.fullId;
        const found = plan.connectionQuery === null ? null : await searchConnections(client, id, 2);
        const connection = found?.items.find((c) => c.connection_id === id);
        navigate(connection ? `/connections/${id}` : `/jobs/${id}`);
        return;
      }
      const results = await queryClient.fetchQuery({
        queryKey: queryKeys.search(plan.text),
        queryFn: ({ signal }) => findAnything(client, plan, signal),
      });
      const [connection] = results.connections;
      const [job] = results.jobs;
      const total = results.connections.length + results.jobs.length;
      if (total === 0) setMessage(nothingFound(plan));
      else if (total === 1 && connection) navigate(`/connections/${connection.connection_id}`);
      else if (total === 1 && job) navigate(`/jobs/${job.job_id}`);
      else if (results.connections.length === 0 && plan.jobPrefix !== null)
        navigate(`/search?job_id=${encodeURIComponent(plan.jobPrefix)}`);
      // The text may be a customer's full login: it travels in the history entry's state, never in
      // the URL (which ends up in bookmarks, server logs and links sent around).
      else navigate('/search', { state: { q: value } satisfies SearchState });
    } catch (err) {
      setMessage(problemOf(err).title);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form role="search" className="job-search" onSubmit={(e) => void submit(e)}>
      <label htmlFor="job-search-input" className="visually-hidden">
        Find a connection or a job
      </label>
      <input
        id="job-search-input"
        type="search"
        placeholder="Login, reference, connection or job ID"
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
        {busy ? 'Finding…' : 'Find'}
      </button>
      {message && (
        <p id={messageId} className="search-message" role="alert">
          {message}
        </p>
      )}
    </form>
  );
}
