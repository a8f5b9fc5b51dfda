import { useRef } from 'react';
import { Link } from 'react-router';
import { useVirtualizer } from '@tanstack/react-virtual';
import { describeError, type JobSummaryWire } from '@jobtrail/domain';
import { CopyButton } from '../components/copy-button.js';
import { DateTime } from '../components/date-time.js';
import { NeedsInputBadge, StatusBadge } from '../components/status-badge.js';
import { attemptsCellText, attemptsText } from '../jobs/retry-policy.js';
import { formatDuration, jobDurationMs, shortId } from '../lib/format.js';

/** Every row has this height (CSS agrees), so the virtualizer never has to measure. */
export const ROW_HEIGHT = 56;
const COLUMNS = 6;

interface Props {
  readonly jobs: readonly JobSummaryWire[];
  readonly now: number;
}

/**
 * A connection's job history. Only the rows in view (plus a margin) are in the DOM, so ten
 * thousand loaded jobs scroll as smoothly as ten; `aria-rowcount`/`aria-rowindex` tell assistive
 * technology how big the table really is.
 */
export function HistoryTable({ jobs, now }: Props) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: jobs.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 10,
    getItemKey: (index) => jobs[index]?.job_id ?? index,
  });
  const rows = virtualizer.getVirtualItems();
  const paddingTop = rows[0]?.start ?? 0;
  const paddingBottom = virtualizer.getTotalSize() - (rows.at(-1)?.end ?? 0);

  return (
    <div className="history-scroll" ref={scrollRef} tabIndex={0} role="region" aria-label="Job history, scrollable">
      {/* Explicit roles: on phones the rows are laid out as grids, and some browsers drop table semantics then. */}
      <table className="data-table history-table" role="table" aria-rowcount={jobs.length + 1}>
        <caption className="visually-hidden">Job history, newest first</caption>
        <thead role="rowgroup">
          <tr role="row" aria-rowindex={1}>
            <th scope="col" role="columnheader" className="col-id">
              Job ID
            </th>
            <th scope="col" role="columnheader" className="col-date">
              Date
            </th>
            <th scope="col" role="columnheader" className="col-action">
              Action
            </th>
            <th scope="col" role="columnheader" className="col-status">
              Status
            </th>
            <th scope="col" role="columnheader" className="col-duration">
              Duration
            </th>
            <th scope="col" role="columnheader" className="col-attempt">
              Attempt
            </th>
          </tr>
        </thead>
        <tbody role="rowgroup">
          {paddingTop > 0 && (
            <tr aria-hidden="true" className="spacer" style={{ height: paddingTop }}>
              <td colSpan={COLUMNS} />
            </tr>
          )}
          {rows.map((row) => {
            const job = jobs[row.index];
            return job ? <HistoryRow key={row.key} job={job} now={now} rowIndex={row.index + 2} /> : null;
          })}
          {paddingBottom > 0 && (
            <tr aria-hidden="true" className="spacer" style={{ height: paddingBottom }}>
              <td colSpan={COLUMNS} />
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}

function HistoryRow({
  job,
  now,
  rowIndex,
}: {
  readonly job: JobSummaryWire;
  readonly now: number;
  readonly rowIndex: number;
}) {
  const duration = jobDurationMs(job, now);
  return (
    <tr role="row" aria-rowindex={rowIndex} data-job-id={job.job_id} className={`history-row row-${job.status}`}>
      <td role="cell" className="col-id">
        <span className="job-id-cell">
          <Link to={`/jobs/${job.job_id}`} className="mono job-id" title={job.job_id}>
            {job.job_id}
          </Link>
          <CopyButton text={job.job_id} label={`Copy job ID ${shortId(job.job_id)}`} />
        </span>
      </td>
      <td role="cell" className="col-date">
        <DateTime iso={job.date} now={now} />
      </td>
      <td role="cell" className="col-action">
        {job.action}
      </td>
      <td role="cell" className="col-status">
        <StatusBadge status={job.status} />
        <NeedsInputBadge job={job} />
        {job.cancel_requested && job.status === 'processing' && <span className="muted small"> cancelling</span>}
        {job.error && job.status !== 'success' && (
          // Why it failed, at a glance (the job page has the rest); hidden on phones, where rows are two lines.
          <code className="history-error error-code hide-narrow" title={describeError(job.error.code).title}>
            {job.error.code}
          </code>
        )}
      </td>
      <td role="cell" className="col-duration">
        {duration === null ? '—' : formatDuration(duration)}
      </td>
      <td role="cell" className="col-attempt" title={attemptsText(job)}>
        {attemptsCellText(job)}
      </td>
    </tr>
  );
}
