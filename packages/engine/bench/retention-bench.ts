/**
 * `pnpm bench` (engine, after the drain bench): retention of expired jobs on PostgreSQL, where
 * `job_events` is partitioned by month. The database is set up as if it had been partitioned for
 * two years (a monthly partition for each of the last 23 months). It seeds BENCH_RETENTION_JOBS
 * successful jobs that ended 13 to 23 months ago, past every retention period (two history rows
 * each, spread over ten monthly partitions), and a tenth as many recent ones. Then it runs the
 * engine's RetentionSweeper once, and reports its time, its rate, the partitions it dropped, and
 * the size of the database and of `job_events` before, after, and after a plain VACUUM. Dropped
 * partitions return their space at once; the jobs' rows are still deleted by rows (docs/scaling.md).
 *
 * Environment:
 *   BENCH_PG_URL           PostgreSQL server (default postgres://postgres@127.0.0.1:5432)
 *   BENCH_RETENTION_JOBS   expired jobs to seed (default 1,000,000)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import {
  DEFAULT_PARTITION,
  PAST_PARTITION,
  RetentionSweeper,
  addMonths,
  createMonthPartitionSql,
  listEventPartitions,
  monthStart,
} from '../src/index.js';
import { createPgDatabase, intEnv, log } from './engine/common.js';
import { openBenchDatabase, seedJobtrail } from './engine/jobtrail.js';

const PG_URL = (process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432').replace(/\/+$/, '');
const EXPIRED = intEnv('BENCH_RETENTION_JOBS', 1_000_000, 1_000);
const RECENT = Math.ceil(EXPIRED / 10);
const CONNECTIONS = 1_000;
const DAY = 86_400_000;
/** Jobs inserted per statement while seeding. */
const SEED_CHUNK = 100_000;
/** Months of partitions before the current one, as if the database had been partitioned that long ago. */
const MONTHS_KEPT = 23;
/** The expired jobs end 13 to 23 months ago: older than the longest retention (365 days). */
const EXPIRED_MONTHS = [-23, -13] as const;

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

async function main(): Promise<void> {
  const pgDb = await createPgDatabase(PG_URL, 'retention');
  const dataDir = mkdtempSync(join(tmpdir(), 'jobtrail-retention-bench-'));
  const database = { kind: 'postgres' as const, url: pgDb.url };
  try {
    const { tenantId, connectionIds } = await seedJobtrail(database, CONNECTIONS, false);
    const { dataSource, db } = await openBenchDatabase(database);
    try {
      const now = Date.now();
      const current = monthStart(now);
      // The migration made an empty database's past end at this month: give the months before
      // partitions of their own, as two years of monthly upkeep would have.
      const first = addMonths(current, -MONTHS_KEPT);
      await db.execute(`DROP TABLE ${PAST_PARTITION}`);
      await db.execute(
        `CREATE TABLE ${PAST_PARTITION} PARTITION OF job_events FOR VALUES FROM (MINVALUE) TO (${first})`,
      );
      for (let month = first; month < current; month = addMonths(month, 1))
        await db.execute(createMonthPartitionSql(month));
      log(`retention: seeding ${EXPIRED.toLocaleString('en')} expired and ${RECENT.toLocaleString('en')} recent jobs`);
      /** `count` jobs created evenly over [from, to), each finished 20 ms after its creation. */
      const seed = async (count: number, from: number, to: number) => {
        const step = (to - from) / count;
        for (let done = 0; done < count; done += SEED_CHUNK) {
          const n = Math.min(SEED_CHUNK, count - done);
          // Set-based: the seeding is not what is measured, and a million rows through parameters would take minutes.
          await db.execute(
            `INSERT INTO jobs (id, tenant_id, connection_id, action, status, created_at, updated_at, started_at,
                finished_at, attempt, max_attempts, run_at, steps, version)
              SELECT gen_random_uuid()::text, $1, ($2::varchar[])[1 + g % $3::int], 'refresh', 'success',
                c, c + 20, c + 5, c + 20, 1, 3, c, '[]', 3
              FROM generate_series($4::int, $5::int) AS g, LATERAL (SELECT ($6::float8 + g * $7::float8)::bigint AS c) AS t`,
            [tenantId, connectionIds, CONNECTIONS, done, done + n - 1, from, step],
          );
        }
      };
      await seed(EXPIRED, addMonths(current, EXPIRED_MONTHS[0]), addMonths(current, EXPIRED_MONTHS[1]));
      await seed(RECENT, now - 2 * DAY, now - DAY);
      await db.execute(
        `INSERT INTO job_events (job_id, tenant_id, connection_id, kind, at, from_status, to_status, attempt)
          SELECT id, tenant_id, connection_id, 'transition', started_at, 'pending', 'processing', 1 FROM jobs
          UNION ALL
          SELECT id, tenant_id, connection_id, 'transition', finished_at, 'processing', 'success', 1 FROM jobs`,
      );
      await db.execute('VACUUM ANALYZE');
      const size = async () =>
        Number((await db.query<{ n: string }>('SELECT pg_database_size(current_database()) AS n'))[0]?.n ?? 0);
      const eventsSize = async () =>
        Number(
          (
            await db.query<{ n: string }>(
              `SELECT COALESCE(SUM(pg_total_relation_size(inhrelid)), 0) AS n FROM pg_inherits
                WHERE inhparent = 'job_events'::regclass`,
            )
          )[0]?.n ?? 0,
        );
      const partitionsBefore = (await listEventPartitions(db)).map((p) => p.name);
      const before = await size();
      const eventsBefore = await eventsSize();
      const sweeper = new RetentionSweeper(
        db,
        { successDays: 90, failedDays: 365, cancelledDays: 90, sweepMs: 3_600_000 },
        pino({ level: 'warn' }),
      );
      // Timed apart: how much of the purge is dropping partitions, and how much deleting the jobs' rows.
      const partitions = sweeper.partitions!;
      const dropExpired = partitions.dropExpired.bind(partitions);
      let dropSeconds = 0;
      partitions.dropExpired = async (...args) => {
        const t0 = performance.now();
        try {
          return await dropExpired(...args);
        } finally {
          dropSeconds = (performance.now() - t0) / 1000;
        }
      };
      log('retention: purging');
      const started = performance.now();
      const deleted = await sweeper.purgeExpired();
      const seconds = (performance.now() - started) / 1000;
      if (deleted !== EXPIRED) throw new Error(`retention deleted ${deleted} jobs, expected ${EXPIRED}`);
      const left = Number((await db.query<{ n: string }>('SELECT COUNT(*) AS n FROM jobs'))[0]?.n ?? 0);
      if (left !== RECENT) throw new Error(`retention left ${left} jobs, expected ${RECENT}`);
      const after = await size();
      const eventsAfter = await eventsSize();
      const partitionsAfter = new Set((await listEventPartitions(db)).map((p) => p.name));
      const dropped = partitionsBefore.filter((p) => !partitionsAfter.has(p));
      if (dropped.length < EXPIRED_MONTHS[1] - EXPIRED_MONTHS[0])
        throw new Error(`retention dropped ${dropped.length} partitions (${dropped.join(', ')}), expected at least 10`);
      const leftInDefault = Number(
        (await db.query<{ n: string }>(`SELECT COUNT(*) AS n FROM ${DEFAULT_PARTITION}`))[0]?.n ?? 0,
      );
      await db.execute('VACUUM');
      const vacuumed = await size();
      const eventsVacuumed = await eventsSize();
      console.log(
        [
          '',
          `Retention on PostgreSQL, job_events partitioned by month: ${EXPIRED.toLocaleString('en')} expired jobs (2 history rows each) among ${(EXPIRED + RECENT).toLocaleString('en')}`,
          `  purge: ${seconds.toFixed(1)} s (${Math.round(EXPIRED / seconds).toLocaleString('en')} jobs/s), ${RECENT.toLocaleString('en')} recent jobs kept; of it, dropping partitions ${dropSeconds.toFixed(2)} s, deleting the jobs' rows ${(seconds - dropSeconds).toFixed(1)} s`,
          `  partitions dropped: ${dropped.length} (${dropped[0]} .. ${dropped[dropped.length - 1]}); events left in the default: ${leftInDefault}`,
          `  database size: ${mb(before)} before, ${mb(after)} after the purge, ${mb(vacuumed)} after VACUUM`,
          `  job_events (all partitions, with indexes): ${mb(eventsBefore)} before, ${mb(eventsAfter)} after the purge, ${mb(eventsVacuumed)} after VACUUM`,
        ].join('\n'),
      );
    } finally {
      await dataSource.destroy();
    }
  } finally {
    await pgDb.drop().catch((err: unknown) => log(`could not drop ${pgDb.name}: ${String(err)}`));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
