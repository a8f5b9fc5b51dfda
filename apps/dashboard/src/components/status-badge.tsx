import { assertNever, type JobStatus } from '@jobtrail/domain';

function presentation(status: JobStatus): { icon: string; label: string } {
  switch (status) {
    case 'success':
      return { icon: '✅', label: 'Success' };
    case 'failed':
      return { icon: '❌', label: 'Failed' };
    case 'processing':
      return { icon: '⏳', label: 'Processing' };
    case 'pending':
      return { icon: '🕒', label: 'Pending' };
    case 'cancelled':
      return { icon: '⊘', label: 'Cancelled' };
    default:
      return assertNever(status, 'job status');
  }
}

/** A job's status as icon + text + per-status class, so colour is never the only signal. */
export function StatusBadge({ status }: { status: JobStatus }) {
  const { icon, label } = presentation(status);
  return (
    <span className={`status-badge status-${status}`}>
      {/* Screen readers get the word alone; the emoji would only be read out as noise. */}
      <span aria-hidden="true">{icon}</span> {label}
    </span>
  );
}

/** "Needs your input": the job waits for a one-time code (its page has the form). */
export function NeedsInputBadge({
  job,
}: {
  readonly job: { readonly challenge: unknown; readonly status: JobStatus };
}) {
  if (job.status !== 'processing' || job.challenge === null) return null;
  return (
    <span className="needs-input-badge" data-testid="needs-input">
      <span aria-hidden="true">🔑</span> Needs your input
    </span>
  );
}
