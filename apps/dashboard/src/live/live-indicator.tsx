import { useNow } from '../lib/clock-context.js';
import { useLive } from './live-context.js';

/** Whether the page is being kept up to date. Text and shape, never colour alone. */
export function LiveIndicator() {
  const live = useLive();
  const now = useNow();
  if (live.status === 'disabled') return null;
  const seconds = live.retryAt ? Math.max(0, Math.ceil((live.retryAt - now) / 1_000)) : null;
  const label = live.status === 'live' ? 'Live' : live.status === 'connecting' ? 'Connecting…' : 'Offline';
  const hint =
    live.status === 'live'
      ? 'Live updates are on: statuses change here as soon as they change on the server.'
      : `Live updates are off${live.reason ? ` (${live.reason})` : ''}. Pages refresh every few seconds meanwhile.`;
  return (
    <div className={`live-indicator live-${live.status}`} title={hint}>
      <span className="live-dot" aria-hidden="true" />
      <span role="status" aria-live="polite" data-testid="live-status">
        {label}
      </span>
      {live.status === 'offline' && (
        <button type="button" className="button-link" onClick={live.reconnect} aria-label="Reconnect live updates now">
          {seconds !== null && seconds > 0 ? `retry in ${seconds} s` : 'retry'}
        </button>
      )}
    </div>
  );
}
