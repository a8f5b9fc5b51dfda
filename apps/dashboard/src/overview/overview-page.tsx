import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { JOB_STATUSES, MAX_PAGE_SIZE, type JobSummaryWire } from '@jobtrail/domain';
import type { ApiClient } from '../api/client.js';
import { searchJobs } from '../api/endpoints.js';
import { queryKeys } from '../api/query-keys.js';
import { useApi } from '../auth/auth-context.js';
import { EmptyState } from '../components/empty-state.js';
import { NamedJobList } from '../components/job-list.js';
import { Loading } from '../components/loading.js';
import { ProblemAlert } from '../components/problem-alert.js';
import { StatusBadge } from '../components/status-badge.js';
import { useFallbackPollMs } from '../live/live-context.js';
import { useDocumentTitle } from '../lib/use-document-title.js';
import { BulkRetryButton } from '../jobs-list/bulk-retry-button.js';
import { jobsPageLink } from '../jobs-list/jobs-filters.js';
import { useNow } from '../lib/clock-context.js';
import { FailureRateChart } from './failure-rate-chart.js';
import { computeOverview, percent } from './overview-stats.js';
import { TopErrorCodes } from './top-error-codes.js';

/** At most this many pages of 200: enough for a picture of the day without hammering the API. */
const MAX_PAGES = 5;

interface Sample {
  readonly jobs: JobSummaryWire[];
  /** True when the day had more jobs than were read. */
  readonly truncated: boolean;
  readonly at: number;
}

async function fetchLastDay(client: ApiClient, signal: AbortSignal): Promise<Sample> {
  const at = Date.now();
  const from = new Date(at - 24 * 3_600_000).toISOString();
  const jobs: JobSummaryWire[] = [];
  let next: string | null = null;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const res = await searchJobs(client, { from, limit: MAX_PAGE_SIZE }, next, signal);
    jobs.push(...res.items);
    next = res.next;
    if (!next) break;
  }
  return { jobs, truncated: next !== null, at };
}

/** The tenant's last 24 hours at a glance: counts by status, failure rate per hour, slowest jobs. */
export function OverviewPage() {
  useDocumentTitle('Overview');
  const client = useApi();
  const now = useNow();
  const poll = useFallbackPollMs();
  const sample = useQuery({
    queryKey: queryKeys.overview(),
    queryFn: ({ signal }) => fetchLastDay(client, signal),
    // Live events mark it stale (throttled); without them it is re-read once a minute.
    refetchInterval: poll === null ? false : 60_000,
  });

  return (
    <section aria-labelledby="overview-title" className="overview">
      <h2 id="overview-title">Overview · last 24 hours</h2>
      {sample.isPending ? (
        <Loading label="Reading the last 24 hours of jobs…" />
      ) : !sample.data ? (
        <ProblemAlert
          error={sample.error}
          context="Could not load the overview"
          onRetry={() => void sample.refetch()}
        />
      ) : sample.data.jobs.length === 0 ? (
        <EmptyState title="No jobs in the last 24 hours.">
          Start a refresh on a connection to see it counted here.
        </EmptyState>
      ) : (
        <OverviewBody sample={sample.data} now={now} />
      )}
    </section>
  );
}

function OverviewBody({ sample, now }: { readonly sample: Sample; readonly now: number }) {
  const stats = computeOverview(sample.jobs, sample.at);
  // The tiles open the Jobs page on the same 24 hours the overview counts.
  const since = new Date(sample.at - 24 * 3_600_000).toISOString();
  return (
    <>
      {sample.truncated && (
        <p className="notice">
          Based on the {sample.jobs.length.toLocaleString()} most recent jobs of the day; older ones are not counted.
        </p>
      )}
      <ul className="stat-cards" aria-label="Jobs by status">
        <li className="stat-card">
          <Link to={jobsPageLink({ from: since })} className="stat-link">
            <span className="stat-value">{stats.total.toLocaleString()}</span>
            <span className="stat-label">jobs</span>
          </Link>
        </li>
        {JOB_STATUSES.map((status) => (
          <li key={status} className="stat-card">
            <Link to={jobsPageLink({ status, from: since })} className="stat-link" data-testid={`tile-${status}`}>
              <span className="stat-value">{stats.counts[status].toLocaleString()}</span>
              <StatusBadge status={status} />
            </Link>
          </li>
        ))}
        <li className="stat-card">
          <Link to={jobsPageLink({ status: 'failed', from: since })} className="stat-link">
            <span className="stat-value">{percent(stats.failureRate)}</span>
            <span className="stat-label">failure rate</span>
          </Link>
        </li>
      </ul>
      {/* Operators only (the button hides itself otherwise): the failed jobs the tiles count. */}
      {stats.counts.failed > 0 && (
        <BulkRetryButton filters={{ status: 'failed', from: since }} label="Retry failed jobs of the last 24 hours" />
      )}
      <section aria-labelledby="error-codes-title">
        <h3 id="error-codes-title">Top error codes in the last 24 hours</h3>
        <TopErrorCodes since={since} />
      </section>
      <section aria-labelledby="failure-rate-title">
        <h3 id="failure-rate-title">Failure rate per hour</h3>
        <p className="muted small">
          Failed ÷ (failed + succeeded) among the jobs triggered in each hour; cancelled and unfinished jobs are left
          out.
        </p>
        <FailureRateChart hours={stats.hours} />
      </section>
      <section aria-labelledby="slowest-title">
        <h3 id="slowest-title">Slowest jobs</h3>
        {stats.slowest.length === 0 ? (
          <p className="muted">No finished job yet.</p>
        ) : (
          <NamedJobList jobs={stats.slowest} caption="Slowest finished jobs" now={now} />
        )}
      </section>
    </>
  );
}
