/**
 * `pnpm bench` (engine): how the PostgreSQL drain scales from one worker process to two. Each run
 * uses a fresh database seeded with BENCH_SCALING_JOBS pending jobs (one per connection). It starts
 * the worker processes, each a WorkerRuntime with the no-op institution at BENCH_CONCURRENCY, waits
 * until all of them are ready, and times from the first job reaching a connector to the poll that
 * finds nothing pending or processing. On one machine, the processes share its cores with
 * PostgreSQL: the figure says whether the database or the worker is the limit, not what a cluster
 * of machines would do.
 *
 * Environment:
 *   BENCH_PG_URL        PostgreSQL server (default postgres://postgres@127.0.0.1:5432)
 *   BENCH_SCALING_JOBS  jobs per run (default 20,000)
 *   BENCH_CONCURRENCY   each worker process's concurrency (default 100)
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { intEnv, log, pgClient, pollUntil } from './engine/common.js';
import { BUSY_SQL, scratch, seedJobtrail } from './engine/jobtrail.js';

const PG_URL = (process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432').replace(/\/+$/, '');
const JOBS = intEnv('BENCH_SCALING_JOBS', 20_000, 100);
const CONCURRENCY = intEnv('BENCH_CONCURRENCY', 100, 1, 256);
const WORKER = fileURLToPath(new URL('./engine/drain-worker.js', import.meta.url));

interface Message {
  readonly type: 'ready' | 'first';
  readonly at?: number;
}

/** Jobs per second with `processes` worker processes draining JOBS jobs. */
async function drain(processes: number): Promise<number> {
  const s = await scratch('postgres', PG_URL, `scale${processes}`);
  const children: ChildProcess[] = [];
  try {
    if (s.database.kind !== 'postgres') throw new Error('the scaling bench runs on PostgreSQL');
    const url = s.database.url;
    await seedJobtrail(s.database, JOBS, true);
    log(`scaling: ${processes} worker process(es), ${JOBS.toLocaleString('en')} jobs`);
    let firstAt = Number.POSITIVE_INFINITY;
    const ready = Array.from({ length: processes }, () => {
      const child = fork(WORKER, [url, String(CONCURRENCY), s.dataDir], {
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      });
      children.push(child);
      return new Promise<void>((resolve, reject) => {
        child.on('message', (m: Message) => {
          if (m.type === 'ready') resolve();
          if (m.type === 'first' && m.at !== undefined) firstAt = Math.min(firstAt, m.at);
        });
        child.once('exit', (code) => reject(new Error(`a worker process exited with ${code}`)));
      });
    });
    await Promise.all(ready);
    const poller = await pgClient(url);
    try {
      await pollUntil(
        async () => Number((await poller.query<{ busy: number }>(BUSY_SQL)).rows[0]?.busy) === 0,
        20,
        300_000,
        `drain with ${processes} worker process(es)`,
      );
      const doneAt = Date.now();
      const done = await poller.query<{ n: string }>(`SELECT COUNT(*) AS n FROM jobs WHERE status = 'success'`);
      if (Number(done.rows[0]?.n) !== JOBS) throw new Error(`${done.rows[0]?.n} of ${JOBS} jobs succeeded`);
      return JOBS / ((doneAt - firstAt) / 1000);
    } finally {
      await poller.end();
    }
  } finally {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGTERM');
          }),
      ),
    );
    await s.cleanup();
  }
}

async function main(): Promise<void> {
  const one = await drain(1);
  const two = await drain(2);
  console.log(
    [
      '',
      `Drain scaling on PostgreSQL: ${JOBS.toLocaleString('en')} no-op jobs, concurrency ${CONCURRENCY} per worker process`,
      `  1 worker process:  ${Math.round(one).toLocaleString('en')} jobs/s`,
      `  2 worker processes: ${Math.round(two).toLocaleString('en')} jobs/s (${(two / one).toFixed(2)}x)`,
    ].join('\n'),
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
