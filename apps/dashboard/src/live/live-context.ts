import { createContext, useContext } from 'react';

/** `disabled`: live updates switched off (tests, or no session yet). */
export type LiveStatus = 'connecting' | 'live' | 'offline' | 'disabled';

export interface LiveState {
  readonly status: LiveStatus;
  /** When the next reconnection attempt is due (offline only). */
  readonly retryAt: number | null;
  /** Why the last attempt failed, for the indicator's hover text. */
  readonly reason: string | null;
  /** Reconnect now instead of waiting for the backoff. */
  readonly reconnect: () => void;
}

export const LiveContext = createContext<LiveState>({
  status: 'disabled',
  retryAt: null,
  reason: null,
  reconnect: () => undefined,
});

export function useLive(): LiveState {
  return useContext(LiveContext);
}

/**
 * How often a view polls while live updates are off (null while live): the page keeps moving,
 * only more slowly, instead of silently showing stale statuses.
 */
export function useFallbackPollMs(): number | null {
  const { status } = useLive();
  return status === 'live' ? null : 5_000;
}
