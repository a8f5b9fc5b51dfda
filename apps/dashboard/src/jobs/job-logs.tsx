import { useInfiniteQuery } from '@tanstack/react-query';
import { fetchJobLogs } from '../api/endpoints.js';
import { queryKeys } from '../api/query-keys.js';
import { useApi } from '../auth/auth-context.js';
import { Loading } from '../components/loading.js';
import { LoadMore } from '../components/load-more.js';
import { ProblemAlert } from '../components/problem-alert.js';
import { dateTitle } from '../lib/format.js';

const timeFormat = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  fractionalSecondDigits: 3,
});

/** The job's log lines, oldest first; refetched by live updates while the job runs. */
export function JobLogs({ jobId, pollMs }: { readonly jobId: string; readonly pollMs: number | null }) {
  const client = useApi();
  const logs = useInfiniteQuery({
    queryKey: queryKeys.jobLogs(jobId),
    queryFn: ({ pageParam, signal }) => fetchJobLogs(client, jobId, pageParam, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next,
    refetchInterval: pollMs ?? false,
  });
  if (logs.isPending) return <Loading label="Loading log lines…" />;
  if (!logs.data)
    return (
      <ProblemAlert error={logs.error} context="Could not load the log lines" onRetry={() => void logs.refetch()} />
    );
  const lines = logs.data.pages.flatMap((p) => p.items);
  if (lines.length === 0) return <p className="muted">No log lines.</p>;
  return (
    <>
      <ol className="logs" aria-label="Log lines">
        {lines.map((line) => (
          <li key={line.seq} className={`log-line log-${line.level}`}>
            <time dateTime={line.at} title={dateTitle(line.at)} className="mono">
              {timeFormat.format(new Date(line.at))}
            </time>
            <span className="log-level">{line.level}</span>
            {line.step && <span className="log-step mono">{line.step}</span>}
            <span className="log-message">{line.message}</span>
          </li>
        ))}
      </ol>
      <LoadMore query={logs} label="More log lines" errorContext="Could not load more log lines" />
    </>
  );
}
