/** How retryable errors are spaced out. */
export interface BackoffOptions {
  /** Delay before the second attempt, before jitter. */
  readonly baseMs?: number;
  /** Upper bound of any delay. */
  readonly maxMs?: number;
  /** Growth per attempt. */
  readonly factor?: number;
  /** A source of numbers in [0, 1); injectable so tests are deterministic. */
  readonly random?: () => number;
}

/** Defaults: 2 s, 4 s, 8 s... capped at 5 minutes. */
export const DEFAULT_BACKOFF = { baseMs: 2_000, maxMs: 300_000, factor: 2 } as const;

/**
 * The delay after the given (1-based) failed attempt: exponential, capped, with "equal jitter" so
 * the delay lies in [d/2, d) — spread out so failed jobs don't all come back at once, yet never
 * shorter than half the nominal delay.
 */
export function backoffDelayMs(attempt: number, options: BackoffOptions = {}): number {
  const { baseMs, maxMs, factor } = { ...DEFAULT_BACKOFF, ...options };
  const random = options.random ?? Math.random;
  const exponent = Math.max(0, Math.floor(attempt) - 1);
  const nominal = Math.min(maxMs, baseMs * factor ** exponent);
  const r = Math.min(Math.max(random(), 0), 1);
  // Clamped: with r close to 1, floating point can round the sum up to the nominal delay itself.
  return Math.min(Math.floor(nominal / 2 + r * (nominal / 2)), Math.max(0, Math.ceil(nominal) - 1));
}

/** When the next attempt may start after `attempt` failed at `now`. */
export function nextRunAt(attempt: number, now: Date, options: BackoffOptions = {}): Date {
  return new Date(now.getTime() + backoffDelayMs(attempt, options));
}
