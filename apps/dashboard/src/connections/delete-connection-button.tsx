import { useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import type { ConnectionWire } from '@jobtrail/domain';
import { fetchJob, searchJobs } from '../api/endpoints.js';
import { queryKeys } from '../api/query-keys.js';
import { useApi } from '../auth/auth-context.js';
import { ConfirmButton } from '../components/confirm-button.js';
import { connectionLabel } from '../lib/format.js';

/** The one label of this action, in the list and on the connection's page alike. */
export const DELETE_CONNECTION = 'Delete connection';

interface Props {
  readonly connection: ConnectionWire;
  readonly onConfirm: (connection: ConnectionWire) => void;
  readonly disabled?: boolean;
  readonly className?: string;
}

/** What the latest successful refresh brought in: what a deletion loses. Null when unknown. */
function useDataCounts(connection: ConnectionWire, enabled: boolean) {
  const client = useApi();
  return useQuery({
    queryKey: queryKeys.dataCounts(connection.connection_id),
    enabled,
    queryFn: async ({ signal }) => {
      const latest = await searchJobs(
        client,
        { connection_id: connection.connection_id, status: ['success'], action: 'refresh', limit: 1 },
        null,
        signal,
      );
      const job = latest.items[0];
      if (!job) return null;
      const { result } = await fetchJob(client, job.job_id, signal);
      const accounts = result?.['accounts'];
      const transactions = result?.['transactions'];
      return accounts === undefined || transactions === undefined ? null : { accounts, transactions };
    },
  });
}

/**
 * Deletes a connection after a dialog that names it by reference and masked login, says what is
 * lost (counted from the latest refresh when there is one) and that it cannot be undone.
 */
export function DeleteConnectionButton({ connection, onConfirm, disabled, className = 'button-danger' }: Props) {
  const [open, setOpen] = useState(false);
  const counts = useDataCounts(connection, open);
  const label = connectionLabel(connection);
  const data = counts.data
    ? `its ${counts.data.accounts.toLocaleString()} accounts and ${counts.data.transactions.toLocaleString()} transactions (as of the latest refresh)`
    : 'its accounts and transactions';
  return (
    <ConfirmButton
      label={DELETE_CONNECTION}
      ariaLabel={`${DELETE_CONNECTION} ${label}`}
      title={`${DELETE_CONNECTION} ${label}?`}
      question={`This deletes the connection ${label}, its job history and ${data}.`}
      details={
        <p className="dialog-warning">
          <strong>This cannot be undone.</strong>
        </p>
      }
      confirmLabel={DELETE_CONNECTION}
      className={className}
      disabled={disabled}
      onOpen={() => setOpen(true)}
      onConfirm={() => onConfirm(connection)}
    />
  );
}
