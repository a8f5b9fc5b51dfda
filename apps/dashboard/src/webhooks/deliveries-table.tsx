import type { WebhookDeliveryWire } from '@jobtrail/domain';
import { DateTime } from '../components/date-time.js';

interface Props {
  readonly deliveries: readonly WebhookDeliveryWire[];
  /** Shown per row when given (the subscription's log; a job's list is read-only). */
  readonly onRedeliver?: (delivery: WebhookDeliveryWire) => void;
  readonly busyId?: string | null;
}

/** The answer of the last attempt, as a person reads it. */
function lastAnswer(d: WebhookDeliveryWire): string {
  if (d.last_status_code !== null) return String(d.last_status_code);
  return d.last_error ?? (d.status === 'pending' ? 'not sent yet' : '—');
}

/** Deliveries with their status, last answer and attempts. */
export function DeliveriesTable({ deliveries, onRedeliver, busyId = null }: Props) {
  if (deliveries.length === 0) return <p className="muted">No deliveries yet.</p>;
  return (
    // Scrolls sideways on a phone rather than widening the page; focusable so keys can scroll it.
    <div className="table-scroll" tabIndex={0} role="region" aria-label="Webhook deliveries, scrollable">
      <table className="data-table deliveries-table">
        <thead>
          <tr>
            <th scope="col">Event</th>
            <th scope="col">Status</th>
            <th scope="col">Last answer</th>
            <th scope="col">Attempts</th>
            <th scope="col">Created</th>
            {onRedeliver && <th scope="col">Action</th>}
          </tr>
        </thead>
        <tbody>
          {deliveries.map((d) => (
            <tr key={d.delivery_id} data-delivery-id={d.delivery_id}>
              <td>
                <code>{d.event_type}</code>
              </td>
              <td>
                <span className={`delivery-status delivery-${d.status}`}>{d.status}</span>
              </td>
              <td title={d.last_error ?? undefined}>{lastAnswer(d)}</td>
              <td>{d.attempts}</td>
              <td>
                <DateTime iso={d.created_at} />
              </td>
              {onRedeliver && (
                <td>
                  <button
                    type="button"
                    className="button-small"
                    disabled={busyId === d.delivery_id}
                    onClick={() => onRedeliver(d)}
                  >
                    Redeliver
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
