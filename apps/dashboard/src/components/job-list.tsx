import { Link } from 'react-router';
import type { JobSummaryWire } from '@jobtrail/domain';
import { formatDuration, jobDurationMs } from '../lib/format.js';
import { DateTime } from './date-time.js';
import { StatusBadge } from './status-badge.js';

interface Props {
  readonly jobs: readonly JobSummaryWire[];
  readonly caption: string;
  readonly now: number;
}

/** A short, plain (not virtualized) table of jobs across connections: search results, slowest jobs. */
export function JobList({ jobs, caption, now }: Props) {
  return (
    <div className="table-scroll">
      <table className="data-table">
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Job ID</th>
            <th scope="col">Connection</th>
            <th scope="col">Date</th>
            <th scope="col">Action</th>
            <th scope="col">Status</th>
            <th scope="col">Duration</th>
          </tr>
        </thead>
        <tbody>
          {jobs.map((job) => {
            const ms = jobDurationMs(job, now);
            return (
              <tr key={job.job_id}>
                <td>
                  <Link to={`/jobs/${job.job_id}`} className="mono">
                    {job.job_id}
                  </Link>
                </td>
                <td>
                  <Link
                    to={`/connections/${job.connection_id}`}
                    className="mono"
                    aria-label={`Connection ${job.connection_id}`}
                  >
                    {job.connection_id.slice(0, 8)}…
                  </Link>
                </td>
                <td>
                  <DateTime iso={job.date} now={now} />
                </td>
                <td>{job.action}</td>
                <td>
                  <StatusBadge status={job.status} />
                </td>
                <td>{ms === null ? '—' : formatDuration(ms)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
