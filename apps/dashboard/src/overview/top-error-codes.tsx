import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { describeError } from '@jobtrail/domain';
import { fetchJobStats } from '../api/endpoints.js';
import { queryKeys } from '../api/query-keys.js';
import { useApi, useCan } from '../auth/auth-context.js';
import { Loading } from '../components/loading.js';
import { ProblemAlert } from '../components/problem-alert.js';
import { BulkRetryButton } from '../jobs-list/bulk-retry-button.js';
import { jobsPageLink } from '../jobs-list/jobs-filters.js';

/** How many codes are listed: the few that explain most failures. */
export const TOP_ERROR_CODES = 5;

/**
 * "Why do jobs fail?": the error codes of the failed jobs created since `since`, most frequent first,
 * each linked to the Jobs page filtered by it. Counted by the API (`GET /jobs/stats`) over every job
 * of the range, not the sample the rest of the overview reads.
 */
export function TopErrorCodes({ since }: { readonly since: string }) {
  const client = useApi();
  // Operators may retry a code's failed jobs from its row; for others the column is left out.
  const canRetry = useCan('operator');
  const stats = useQuery({
    queryKey: queryKeys.errorCodeCounts(since),
    queryFn: ({ signal }) => fetchJobStats(client, since, signal),
    placeholderData: (previous) => previous,
  });
  if (stats.isPending) return <Loading label="Counting the error codes…" />;
  if (!stats.data)
    return (
      <ProblemAlert
        error={stats.error}
        context="Could not count the error codes"
        onRetry={() => void stats.refetch()}
      />
    );
  const codes = stats.data.by_error_code.slice(0, TOP_ERROR_CODES);
  if (codes.length === 0) return <p className="muted">No job failed in the last 24 hours.</p>;
  const failed = stats.data.by_status.failed ?? 0;
  return (
    <div className="table-scroll">
      <table className="data-table top-error-codes" data-testid="top-error-codes">
        <caption className="visually-hidden">Top error codes of the failed jobs, last 24 hours</caption>
        <thead>
          <tr>
            <th scope="col">Error code</th>
            <th scope="col">Meaning</th>
            <th scope="col" className="num">
              Failed jobs
            </th>
            {canRetry && (
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {codes.map(({ code, count }) => (
            <tr key={code} data-error-code={code}>
              <td>
                <Link
                  to={jobsPageLink({ status: 'failed', error_code: code, from: since })}
                  aria-label={`${count} failed ${count === 1 ? 'job' : 'jobs'} with ${code}`}
                >
                  <code className="error-code">{code}</code>
                </Link>
              </td>
              <td>{describeError(code).title}</td>
              <td className="num">
                {count.toLocaleString()}
                {failed > 0 && <span className="muted small"> ({Math.round((count / failed) * 100)}%)</span>}
              </td>
              {canRetry && (
                <td className="row-actions">
                  <BulkRetryButton
                    filters={{ status: 'failed', error_code: code, from: since }}
                    label={`Retry failed jobs with ${code}`}
                  />
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
