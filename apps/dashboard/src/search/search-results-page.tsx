import { useQuery } from '@tanstack/react-query';
import { useLocation, useSearchParams } from 'react-router';
import { searchJobs } from '../api/endpoints.js';
import { queryKeys } from '../api/query-keys.js';
import { useApi } from '../auth/auth-context.js';
import { EmptyState } from '../components/empty-state.js';
import { NamedJobList } from '../components/job-list.js';
import { Loading } from '../components/loading.js';
import { ProblemAlert } from '../components/problem-alert.js';
import { ConnectionsTable } from '../connections/connections-table.js';
import { useDocumentTitle } from '../lib/use-document-title.js';
import { useNow } from '../lib/clock-context.js';
import { findAnything, planSearch, SEARCH_LIMIT } from './find-anything.js';
import { normaliseJobQuery } from './normalise-job-query.js';
import type { SearchState } from './search-box.js';

/**
 * `/search`: what the search box found when there was more than one match. A text (possibly a
 * customer's full login) comes in the history entry's state; a job id prefix alone in the URL.
 */
export function SearchResultsPage() {
  const location = useLocation();
  const state = location.state as Partial<SearchState> | null;
  return typeof state?.q === 'string' && state.q.trim() !== '' ? <TextResults text={state.q} /> : <JobPrefixResults />;
}

/** Connections (by full login, reference or id prefix) and jobs (by id prefix) a text found. */
function TextResults({ text }: { readonly text: string }) {
  useDocumentTitle('Search results');
  const client = useApi();
  const now = useNow();
  const plan = planSearch(text);
  const results = useQuery({
    queryKey: queryKeys.search(plan.text),
    queryFn: ({ signal }) => findAnything(client, plan, signal),
  });
  return (
    <section aria-labelledby="search-title">
      {/* The text is not repeated: it may be a customer's full login, masked everywhere else. */}
      <h2 id="search-title">Search results</h2>
      {results.isPending ? (
        <Loading label="Searching…" />
      ) : results.isError ? (
        <ProblemAlert error={results.error} context="The search failed" onRetry={() => void results.refetch()} />
      ) : results.data.connections.length + results.data.jobs.length === 0 ? (
        <EmptyState title="Nothing matches.">Logins must be typed in full, ids from their start.</EmptyState>
      ) : (
        <>
          {results.data.more && (
            <p className="muted">The first {SEARCH_LIMIT} of each kind are shown; type more characters to narrow.</p>
          )}
          {results.data.connections.length > 0 && (
            <section aria-labelledby="search-connections-title">
              <h3 id="search-connections-title">
                Connections <span className="muted small">({results.data.connections.length})</span>
              </h3>
              <ConnectionsTable connections={results.data.connections} now={now} onDelete={null} deleting={null} />
            </section>
          )}
          {results.data.jobs.length > 0 && (
            <section aria-labelledby="search-jobs-title">
              <h3 id="search-jobs-title">
                Jobs whose id starts with <code>{plan.jobPrefix}</code>{' '}
                <span className="muted small">({results.data.jobs.length})</span>
              </h3>
              <NamedJobList jobs={results.data.jobs} caption="Matching jobs" now={now} showErrors />
            </section>
          )}
        </>
      )}
    </section>
  );
}

/** The jobs whose id starts with the searched prefix, when there is more than one. */
function JobPrefixResults() {
  const client = useApi();
  const [params] = useSearchParams();
  const prefix = normaliseJobQuery(params.get('job_id') ?? '');
  useDocumentTitle(`Jobs starting with ${prefix}`);
  const now = useNow();
  const search = { job_id: prefix, limit: SEARCH_LIMIT };
  const results = useQuery({
    queryKey: queryKeys.jobSearch(search),
    queryFn: ({ signal }) => searchJobs(client, search, null, signal),
    enabled: prefix !== '',
  });

  return (
    <section aria-labelledby="search-title">
      <h2 id="search-title">
        Jobs whose id starts with <code>{prefix || '…'}</code>
      </h2>
      {prefix === '' ? (
        <EmptyState title="Type a login, a reference, a connection id or a job id in the search box." />
      ) : results.isPending ? (
        <Loading label="Searching…" />
      ) : results.isError ? (
        <ProblemAlert error={results.error} context="The search failed" onRetry={() => void results.refetch()} />
      ) : results.data.items.length === 0 ? (
        <EmptyState title={`No job id starts with “${prefix}”.`}>
          Check the id, or search with fewer characters.
        </EmptyState>
      ) : (
        <>
          <p className="muted">
            {results.data.items.length}
            {results.data.next ? '+' : ''} matching jobs
            {results.data.next ? ' (the 50 newest shown; type more characters to narrow)' : ''}.
          </p>
          <NamedJobList jobs={results.data.items} caption="Matching jobs" now={now} showErrors />
        </>
      )}
    </section>
  );
}
