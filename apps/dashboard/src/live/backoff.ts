/**
 * Delay before reconnection attempt `failures` (1, 2, ...): exponential from 1 s, capped at 30 s,
 * with "full jitter" so a server restart is not met by every open dashboard at the same instant.
 */
export function reconnectDelayMs(failures: number, random: () => number = Math.random): number {
  const ceiling = Math.min(30_000, 1_000 * 2 ** Math.max(0, failures - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
