import { useQuery } from '@tanstack/react-query';
import { useSearchParams } from 'react-router';
import { searchJobs } from '../api/endpoints.js';
import { queryKeys } from '../api/query-keys.js';
import { useApi } from '../auth/auth-context.js';
import { EmptyState } from '../components/empty-state.js';
import { JobList } from '../components/job-list.js';
import { Loading } from '../components/loading.js';
import { ProblemAlert } from '../components/problem-alert.js';
import { useDocumentTitle } from '../lib/use-document-title.js';
import { useNow } from '../lib/clock-context.js';
import { normaliseJobQuery } from './normalise-job-query.js';

/** The jobs whose id starts with the searched prefix, when there is more than one. */
export function SearchResultsPage() {
  const client = useApi();
  const [params] = useSearchParams();
  const prefix = normaliseJobQuery(params.get('job_id') ?? '');
  useDocumentTitle(`Jobs starting with ${prefix}`);
  const now = useNow();
  const search = { job_id: prefix, limit: 50 };
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
        <EmptyState title="Type a job id or its first characters in the search box." />
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
          <JobList jobs={results.data.items} caption="Matching jobs" now={now} showErrors />
        </>
      )}
    </section>
  );
}
