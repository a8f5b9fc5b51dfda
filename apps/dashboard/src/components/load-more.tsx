import { ProblemAlert } from './problem-alert.js';

/** The parts of a paged (infinite) query that its "load more" control needs. */
export interface PagedQuery {
  readonly hasNextPage: boolean;
  readonly isFetchingNextPage: boolean;
  readonly isFetchNextPageError: boolean;
  readonly error: unknown;
  fetchNextPage(): Promise<unknown>;
}

/**
 * The next-page button of every keyset-paged list (history, jobs, connections, logs), and the
 * error of a next page that failed, with a retry. One control, one behaviour everywhere.
 */
export function LoadMore({
  query,
  label = 'Load more',
  errorContext,
}: {
  query: PagedQuery;
  label?: string;
  errorContext: string;
}) {
  return (
    <>
      {query.hasNextPage && (
        <button
          type="button"
          className="load-more"
          onClick={() => void query.fetchNextPage()}
          disabled={query.isFetchingNextPage}
        >
          {query.isFetchingNextPage ? 'Loading…' : label}
        </button>
      )}
      {query.isFetchNextPageError && (
        <ProblemAlert error={query.error} context={errorContext} onRetry={() => void query.fetchNextPage()} />
      )}
    </>
  );
}
