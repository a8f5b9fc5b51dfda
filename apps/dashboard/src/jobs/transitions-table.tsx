import type { JobTransitionWire } from '@jobtrail/domain';
import { DateTime } from '../components/date-time.js';
import { StatusBadge } from '../components/status-badge.js';

/** Every recorded status change of the job, oldest first. */
export function TransitionsTable({ transitions }: { readonly transitions: readonly JobTransitionWire[] }) {
  if (transitions.length === 0) return <p className="muted">No status change yet: the job is waiting for a worker.</p>;
  return (
    // Focusable: on a phone the table scrolls sideways, and keyboard users must be able to scroll it.
    <div className="table-scroll" tabIndex={0} role="region" aria-label="Status changes, scrollable">
      <table className="data-table transitions-table">
        <caption className="visually-hidden">Status changes, oldest first</caption>
        <thead>
          <tr>
            <th scope="col">Change</th>
            <th scope="col">Reason</th>
            <th scope="col">Actor</th>
            <th scope="col">Attempt</th>
            <th scope="col">Time</th>
          </tr>
        </thead>
        <tbody>
          {transitions.map((t, i) => (
            <tr key={`${t.at}-${i}`}>
              <td className="transition-change">
                <StatusBadge status={t.from} /> <span aria-label="to">→</span> <StatusBadge status={t.to} />
              </td>
              <td>
                <code>{t.reason}</code>
              </td>
              <td className="mono small">{t.actor}</td>
              <td>{t.attempt}</td>
              <td>
                <DateTime iso={t.at} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
