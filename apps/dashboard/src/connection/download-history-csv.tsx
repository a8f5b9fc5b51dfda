import { useState } from 'react';
import { fetchHistoryCsv, type HistoryFilters } from '../api/endpoints.js';
import { useApi } from '../auth/auth-context.js';
import { ProblemAlert } from '../components/problem-alert.js';

/**
 * "Download CSV": the whole filtered history, fetched with the session's key (a plain link could
 * not send it) and saved from a blob.
 */
export function DownloadHistoryCsv({
  connectionId,
  filters,
}: {
  readonly connectionId: string;
  readonly filters: HistoryFilters;
}) {
  const client = useApi();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function download() {
    setBusy(true);
    setError(null);
    try {
      const blob = await fetchHistoryCsv(client, connectionId, filters);
      const url = URL.createObjectURL(blob);
      const link = document.createElement('a');
      link.href = url;
      link.download = `connection-${connectionId}-jobs.csv`;
      document.body.append(link);
      link.click();
      link.remove();
      // Revoked after the click has handed the blob to the browser's download.
      setTimeout(() => URL.revokeObjectURL(url), 1_000);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <button type="button" className="secondary" onClick={() => void download()} disabled={busy}>
        {busy ? 'Preparing CSV…' : 'Download CSV'}
      </button>
      {error !== null && <ProblemAlert error={error} context="Could not download the history" />}
    </>
  );
}
