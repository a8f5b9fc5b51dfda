/**
 * The peers of the engine benchmark, on the same PostgreSQL server, each in its own fresh database:
 * graphile-worker 0.17 (default settings, and with its batching) and pg-boss 10.
 */
import { Logger, makeWorkerUtils, run, type Runner } from 'graphile-worker';
import pg from 'pg';
import PgBoss from 'pg-boss';
import {
  chunks,
  createPgDatabase,
  latencyOf,
  log,
  pgClient,
  pollUntil,
  sleep,
  withTimeout,
  type DrainResult,
  type LatencyResult,
} from './common.js';

const STOP_TIMEOUT_MS = 60_000;
/** graphile-worker logs to the console by default; the bench's stdout carries only its table. */
const silentLogger = new Logger(() => () => undefined);

/**
 * graphile-worker's pool, owned here so it is surely ended before its database is dropped (a pool
 * left with idle clients would raise an unhandled error when DROP DATABASE ... FORCE ends them).
 * Size 10: graphile's default `maxPoolSize`.
 */
function graphilePool(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

export type GraphileMode = 'default' | 'batched';

/** Seeds `jobs` no-op jobs through WorkerUtils.addJobs (one statement per 5,000). */
async function seedGraphile(pool: pg.Pool, jobs: number): Promise<void> {
  const utils = await makeWorkerUtils({ pgPool: pool, logger: silentLogger });
  try {
    await utils.migrate();
    for (const [from, to] of chunks(jobs, 5_000)) {
      await utils.addJobs(
        Array.from({ length: to - from }, (_, i) => ({ identifier: 'noop', payload: { i: from + i } })),
      );
    }
  } finally {
    await utils.release();
  }
}

/**
 * graphile-worker drain. `default`: `run({ taskList })` with default settings (concurrency 1; the
 * pool given is the size graphile makes from a connection string).
 * `batched`: the same concurrency as Jobtrail's worker, a local queue of 500 jobs and batched
 * completion (`completeJobBatchDelay: 0`, `failJobBatchDelay: 0`): the options of 0.17's preset.
 */
export async function graphileDrain(
  pgServer: string,
  jobs: number,
  mode: GraphileMode,
  concurrency: number,
  timeoutMs: number,
): Promise<DrainResult> {
  const db = await createPgDatabase(pgServer, `graphile_${mode}`);
  const pool = graphilePool(db.url);
  let runner: Runner | null = null;
  try {
    log(`graphile-worker (${mode}): seeding ${jobs.toLocaleString('en')} jobs`);
    await seedGraphile(pool, jobs);
    const check = await pgClient(db.url);
    try {
      await check.query('ANALYZE');
      let firstTask = 0;
      let handled = 0;
      log(`graphile-worker (${mode}): draining`);
      const started = performance.now();
      runner = await run({
        pgPool: pool,
        taskList: {
          noop: async () => {
            if (handled++ === 0) firstTask = performance.now();
          },
        },
        logger: silentLogger,
        noHandleSignals: true,
        ...(mode === 'batched'
          ? {
              concurrency,
              preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
            }
          : {}),
      });
      // A completed job is deleted; a failed one stays (with its error), so "empty" means all succeeded.
      // As for every system, the database is polled only once every job reached the handler.
      const finished = await pollUntil(
        async () =>
          handled >= jobs &&
          !(await check.query<{ busy: boolean }>('SELECT EXISTS (SELECT 1 FROM graphile_worker._private_jobs) AS busy'))
            .rows[0]?.busy,
        20,
        timeoutMs,
        `graphile-worker (${mode}) drain`,
      );
      await withTimeout(runner.stop(), STOP_TIMEOUT_MS, 'stopping graphile-worker');
      runner = null;
      return { jobs, seconds: (finished - firstTask) / 1000, secondsFromStart: (finished - started) / 1000 };
    } finally {
      await check.end().catch(() => undefined);
    }
  } finally {
    await runner?.kill().catch(() => undefined);
    await pool.end().catch(() => undefined);
    await db.drop().catch((err: unknown) => log(`could not drop ${db.name}: ${String(err)}`));
  }
}

/**
 * graphile-worker pickup latency with default settings: an idle runner, jobs added one at a time
 * through WorkerUtils.addJob (its own pool, as an API process would), timed from the addJob call to
 * the task function being called.
 */
export async function graphileLatency(
  pgServer: string,
  samples: number,
  warmup: number,
  spacingMs: number,
): Promise<LatencyResult> {
  const db = await createPgDatabase(pgServer, 'graphile_latency');
  // The runner's pool, and the one addJob uses (as an API process would have its own).
  const pool = graphilePool(db.url);
  const addPool = graphilePool(db.url);
  let runner: Runner | null = null;
  try {
    const utils = await makeWorkerUtils({ pgPool: addPool, logger: silentLogger });
    await utils.migrate();
    const waiting = new Map<number, (at: number) => void>();
    runner = await run({
      pgPool: pool,
      taskList: {
        noop: async (payload) => {
          waiting.get((payload as { i: number }).i)?.(performance.now());
        },
      },
      logger: silentLogger,
      noHandleSignals: true,
    });
    await sleep(500);
    const total = warmup + samples;
    log(`graphile-worker: pickup latency, ${total} jobs ${spacingMs} ms apart (${warmup} warm-up)`);
    const out: number[] = [];
    let next = performance.now();
    for (let i = 0; i < total; i++) {
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
      const started = new Promise<number>((resolve) => waiting.set(i, resolve));
      const t0 = performance.now();
      next = t0 + spacingMs;
      await utils.addJob('noop', { i });
      const at = await withTimeout(started, 10_000, `graphile-worker: job ${i} was not picked up`);
      waiting.delete(i);
      if (i >= warmup) out.push(at - t0);
    }
    await withTimeout(runner.stop(), STOP_TIMEOUT_MS, 'stopping graphile-worker');
    runner = null;
    await utils.release();
    return latencyOf(out);
  } finally {
    await runner?.kill().catch(() => undefined);
    await pool.end().catch(() => undefined);
    await addPool.end().catch(() => undefined);
    await db.drop().catch((err: unknown) => log(`could not drop ${db.name}: ${String(err)}`));
  }
}

/**
 * pg-boss drain: `work(queue, { batchSize: 100 }, handler)`. pg-boss 10's work loop sleeps its
 * polling interval (2 s by default, 0.5 s at least) after every fetch unless the worker was
 * notified, even when the batch came back full, so the handler notifies its own worker after a full
 * batch (as a throughput-minded user does; without it the drain runs at batchSize per interval).
 * Completion is pg-boss's own (a batched, not awaited `complete` of the fetched ids).
 */
export async function pgBossDrain(pgServer: string, jobs: number, timeoutMs: number): Promise<DrainResult> {
  const db = await createPgDatabase(pgServer, 'pgboss');
  const queue = 'noop';
  const batchSize = 100;
  let boss: PgBoss | null = null;
  try {
    boss = new PgBoss({ connectionString: db.url });
    boss.on('error', (err: Error) => log(`pg-boss error: ${err.message}`));
    await boss.start();
    await boss.createQueue(queue);
    log(`pg-boss: seeding ${jobs.toLocaleString('en')} jobs`);
    for (const [from, to] of chunks(jobs, 5_000)) {
      await boss.insert(Array.from({ length: to - from }, (_, i) => ({ name: queue, data: { i: from + i } })));
    }
    const check = await pgClient(db.url);
    try {
      await check.query('ANALYZE');
      let firstBatch = 0;
      let handled = 0;
      let workerId: string | null = null;
      const b = boss;
      log('pg-boss: draining');
      const started = performance.now();
      workerId = await b.work(queue, { batchSize }, async (batch) => {
        if (handled === 0) firstBatch = performance.now();
        handled += batch.length;
        if (batch.length === batchSize && workerId) b.notifyWorker(workerId);
      });
      const finished = await pollUntil(
        async () =>
          handled >= jobs &&
          (
            await check.query<{ busy: boolean }>(
              `SELECT EXISTS (SELECT 1 FROM pgboss.job WHERE name = $1 AND state < 'completed') AS busy`,
              [queue],
            )
          ).rows[0]?.busy === false,
        20,
        timeoutMs,
        'pg-boss drain',
      );
      const completed = Number(
        (
          await check.query<{ n: string }>(
            `SELECT COUNT(*) AS n FROM pgboss.job WHERE name = $1 AND state = 'completed'`,
            [queue],
          )
        ).rows[0]?.n,
      );
      if (completed !== jobs) throw new Error(`pg-boss drain: ${completed} jobs completed of ${jobs}`);
      return { jobs, seconds: (finished - firstBatch) / 1000, secondsFromStart: (finished - started) / 1000 };
    } finally {
      await check.end().catch(() => undefined);
    }
  } finally {
    await boss?.stop({ graceful: false, wait: true, timeout: 5_000 }).catch(() => undefined);
    await db.drop().catch((err: unknown) => log(`could not drop ${db.name}: ${String(err)}`));
  }
}
