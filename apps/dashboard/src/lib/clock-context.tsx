import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';

/** How often the shared clock ticks: relative times and running durations show seconds. */
export const CLOCK_TICK_MS = 1_000;

const ClockContext = createContext<number | null>(null);

/**
 * The one clock of the dashboard: a single timer drives every "5 s ago", every "in 6 s" and every
 * running duration, so they move together and nothing on screen freezes while a job runs.
 */
export function ClockProvider({
  children,
  tickMs = CLOCK_TICK_MS,
}: {
  readonly children: ReactNode;
  readonly tickMs?: number;
}) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), tickMs);
    return () => clearInterval(timer);
  }, [tickMs]);
  return <ClockContext.Provider value={now}>{children}</ClockContext.Provider>;
}

/** The shared clock's current time (epoch ms); re-renders the caller on every tick. */
export function useNow(): number {
  const now = useContext(ClockContext);
  if (now === null) throw new Error('useNow() outside of <ClockProvider>');
  return now;
}
