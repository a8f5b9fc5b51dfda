import { Link } from 'react-router';
import { describeError, type JobSummaryWire } from '@jobtrail/domain';
import { formatDuration, jobDurationMs, shortConnectionId } from '../lib/format.js';
import { useConnectionLabels } from './connection-name.js';
import { DateTime } from './date-time.js';
import { NeedsInputBadge, StatusBadge } from './status-badge.js';

interface Props {
  readonly jobs: readonly JobSummaryWire[];
  readonly caption: string;
  readonly now: number;
  /** Adds the error code and its catalogue title under the status of failed (and cancelled) rows. */
  readonly showErrors?: boolean;
  /** How each row names its connection; the short id unless told (see `NamedJobList`). */
  readonly labelOf?: (connectionId: string) => string;
}

/**
 * A plain (not virtualized) table of jobs across connections: the Jobs page, search results,
 * slowest jobs. On a phone each row becomes a card (CSS), every cell labelled by `data-label`.
 */
export function JobList({ jobs, caption, now, showErrors = false, labelOf = shortConnectionId }: Props) {
  return (
    <div className="table-scroll">
      <table className="data-table job-list">
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
              <tr key={job.job_id} data-job-id={job.job_id} className={`job-row row-${job.status}`}>
                <td data-label="Job ID" className="col-id">
                  <Link to={`/jobs/${job.job_id}`} className="mono">
                    {job.job_id}
                  </Link>
                </td>
                <td data-label="Connection">
                  <Link to={`/connections/${job.connection_id}`} className="mono" title={job.connection_id}>
                    {/* The visible label stays part of the link's name (WCAG 2.5.3). */}
                    <span className="visually-hidden">Connection </span>
                    {labelOf(job.connection_id)}
                  </Link>
                </td>
                <td data-label="Date">
                  <DateTime iso={job.date} now={now} />
                </td>
                <td data-label="Action">{job.action}</td>
                <td data-label="Status" className="col-status">
                  <StatusBadge status={job.status} />
                  <NeedsInputBadge job={job} />
                  {showErrors && job.error && job.status !== 'success' && (
                    <span className="row-error" data-testid="row-error">
                      <code className="error-code">{job.error.code}</code>{' '}
                      <span className="row-error-title">{describeError(job.error.code).title}</span>
                    </span>
                  )}
                </td>
                <td data-label="Duration">{ms === null ? '—' : formatDuration(ms)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** A `JobList` whose rows name their connection as everywhere else: masked login and reference. */
export function NamedJobList(props: Omit<Props, 'labelOf'>) {
  const labelOf = useConnectionLabels(props.jobs.map((j) => j.connection_id));
  return <JobList {...props} labelOf={labelOf} />;
}
