/** Small helpers shared by the engine benchmark's scenarios: settings, databases, waiting, statistics. */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

const env = process.env;

export function intEnv(name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name]?.replaceAll('_', '');
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new Error(`${name} must be an integer between ${min} and ${max}`);
  return n;
}

/** Progress goes to stderr; stdout carries only the final table. */
export const log = (msg: string): void => void process.stderr.write(`[engine-bench] ${msg}\n`);

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects when `p` takes longer than `ms` (the work itself is not cancelled: callers clean up). */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>(
    (_, reject) =>
      (timer = setTimeout(() => reject(new Error(`${what}: no result within ${Math.round(ms / 1000)} s`)), ms)),
  );
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Calls `done` every `intervalMs` until it answers true; returns the time (performance.now) of
 * that answer. Throws after `timeoutMs`.
 */
export async function pollUntil(
  done: () => Promise<boolean>,
  intervalMs: number,
  timeoutMs: number,
  what: string,
): Promise<number> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    if (await done()) return performance.now();
    if (performance.now() > until) throw new Error(`${what}: not done within ${Math.round(timeoutMs / 1000)} s`);
    await sleep(intervalMs);
  }
}

/** A fresh PostgreSQL database on the bench server, dropped by `drop` (forcefully, whoever is connected). */
export interface BenchPgDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

export async function createPgDatabase(serverUrl: string, label: string): Promise<BenchPgDatabase> {
  const name = `jobtrail_bench_${label}_${randomBytes(4).toString('hex')}`;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: `${serverUrl}/postgres`, connectionTimeoutMillis: 10_000 });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  return {
    name,
    url: `${serverUrl}/${name}`,
    drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

/** A single client on a database (for seeding helpers, polls and checks). */
export async function pgClient(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await c.connect();
  return c;
}

/** Nearest-rank percentile of ascending-sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

/** Splits `n` items into consecutive [start, end) ranges of at most `size`. */
export function* chunks(n: number, size: number): Generator<[number, number]> {
  for (let i = 0; i < n; i += size) yield [i, Math.min(n, i + size)];
}

/** The outcome of one drain: jobs/s from the first job picked up to the last one committed. */
export interface DrainResult {
  readonly jobs: number;
  /** From the first handler call to the moment the database showed no job left to do. */
  readonly seconds: number;
  /** The same, counted from the call that starts the worker (framework start-up included). */
  readonly secondsFromStart: number;
}

export const jobsPerSecond = (r: DrainResult): number => r.jobs / r.seconds;

/** Latency samples in milliseconds. */
export interface LatencyResult {
  readonly samples: number;
  readonly medianMs: number;
  readonly p99Ms: number;
}

export function latencyOf(samplesMs: readonly number[]): LatencyResult {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return { samples: sorted.length, medianMs: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
}
