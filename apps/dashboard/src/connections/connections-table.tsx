import { Link } from 'react-router';
import type { ConnectionStatus, ConnectionWire } from '@jobtrail/domain';
import { DateTime, RelativeTime } from '../components/date-time.js';
import { NeedsInputBadge, StatusBadge } from '../components/status-badge.js';
import { connectionLabel, maskLogin } from '../lib/format.js';
import { DeleteConnectionButton } from './delete-connection-button.js';

const CONNECTION_STATUS_LABEL: Record<ConnectionStatus, string> = {
  pending: '⏳ Pending',
  active: '✅ Active',
  invalid: '❌ Invalid credentials',
  'action-required': '⚠️ Action required',
  unavailable: '⚠️ Institution unavailable',
};

const CONNECTION_STATUS_HINT: Record<ConnectionStatus, string> = {
  pending: 'No refresh has finished yet, or new credentials are being verified.',
  active: 'The last refresh succeeded.',
  invalid: 'The bank rejected the credentials: update them on the connection page.',
  'action-required': 'The user must log in to the bank and clear a prompt.',
  unavailable: 'The institution failed the last refresh.',
};

interface Props {
  readonly connections: readonly ConnectionWire[];
  readonly now: number;
  /** Null when the key may not delete (only admins may). */
  readonly onDelete: ((connection: ConnectionWire) => void) | null;
  readonly deleting: string | null;
}

/** Connections with their latest job's status; the masked login links to the connection's page. */
export function ConnectionsTable({ connections, now, onDelete, deleting }: Props) {
  return (
    <div className="table-scroll">
      <table className="data-table connections-table">
        <caption className="visually-hidden">Connections</caption>
        <thead>
          <tr>
            <th scope="col">Login</th>
            <th scope="col">Institution</th>
            <th scope="col">Status</th>
            <th scope="col" className="hide-narrow">
              Created
            </th>
            <th scope="col">Latest job</th>
            {onDelete && (
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {connections.map((c) => {
            const masked = maskLogin(c.login_id);
            return (
              <tr key={c.connection_id} data-connection-id={c.connection_id}>
                <td>
                  <Link to={`/connections/${c.connection_id}`} aria-label={`Connection ${connectionLabel(c)}`}>
                    <span className="mono">{masked}</span>
                  </Link>
                  {c.user_ref && <div className="muted small">{c.user_ref}</div>}
                </td>
                <td>{c.institution_id}</td>
                <td>
                  <span
                    className={`connection-status connection-status-${c.status}`}
                    title={CONNECTION_STATUS_HINT[c.status]}
                  >
                    {CONNECTION_STATUS_LABEL[c.status]}
                  </span>
                </td>
                <td className="hide-narrow">
                  <DateTime iso={c.created_at} />
                </td>
                <td>
                  {c.latest_job ? (
                    <span className="latest-job">
                      <StatusBadge status={c.latest_job.status} />{' '}
                      {/* The same badge as the job lists: the connection is stuck until someone types a code. */}
                      <NeedsInputBadge job={c.latest_job} />{' '}
                      <span className="muted small">
                        {c.latest_job.action}, <RelativeTime iso={c.latest_job.date} now={now} />
                      </span>
                    </span>
                  ) : (
                    <span className="muted">No job yet</span>
                  )}
                </td>
                {onDelete && (
                  <td className="row-actions">
                    <DeleteConnectionButton
                      connection={c}
                      disabled={deleting === c.connection_id}
                      onConfirm={onDelete}
                      className="button-small button-danger"
                    />
                  </td>
                )}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
