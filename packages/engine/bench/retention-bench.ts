/**
 * `pnpm bench` (engine, after the drain bench): retention of expired jobs on PostgreSQL. Seeds
 * BENCH_RETENTION_JOBS finished jobs past their retention period (two history rows each) and a tenth
 * as many recent ones. Then it runs the engine's RetentionSweeper once, and reports its time, its
 * rate, and the database's size before, after, and after a plain VACUUM. Deleting rows frees space
 * inside the files but does not shrink them: docs/scaling.md says why partitions are the way past
 * this.
 *
 * Environment:
 *   BENCH_PG_URL           PostgreSQL server (default postgres://postgres@127.0.0.1:5432)
 *   BENCH_RETENTION_JOBS   expired jobs to seed (default 1,000,000)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { RetentionSweeper } from '../src/index.js';
import { createPgDatabase, intEnv, log } from './engine/common.js';
import { openBenchDatabase, seedJobtrail } from './engine/jobtrail.js';

const PG_URL = (process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432').replace(/\/+$/, '');
const EXPIRED = intEnv('BENCH_RETENTION_JOBS', 1_000_000, 1_000);
const RECENT = Math.ceil(EXPIRED / 10);
const CONNECTIONS = 1_000;
const DAY = 86_400_000;
/** Jobs inserted per statement while seeding. */
const SEED_CHUNK = 100_000;

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
      log(`retention: seeding ${EXPIRED.toLocaleString('en')} expired and ${RECENT.toLocaleString('en')} recent jobs`);
      const seed = async (count: number, finishedBefore: number) => {
        for (let from = 0; from < count; from += SEED_CHUNK) {
          const n = Math.min(SEED_CHUNK, count - from);
          // Set-based: the seeding is not what is measured, and a million rows through parameters would take minutes.
          await db.execute(
            `INSERT INTO jobs (id, tenant_id, connection_id, action, status, created_at, updated_at, started_at,
                finished_at, attempt, max_attempts, run_at, steps, version)
              SELECT gen_random_uuid()::text, $1, ($2::varchar[])[1 + g % $3::int], 'refresh', 'success',
                $4::bigint - g, $4::bigint - g + 20, $4::bigint - g + 5, $4::bigint - g + 20, 1, 3, $4::bigint - g, '[]', 3
              FROM generate_series(1, $5) AS g`,
            [tenantId, connectionIds, CONNECTIONS, finishedBefore - from, n],
          );
        }
      };
      await seed(EXPIRED, now - 200 * DAY);
      await seed(RECENT, now - DAY);
      await db.execute(
        `INSERT INTO job_events (job_id, tenant_id, connection_id, kind, at, from_status, to_status, attempt)
          SELECT id, tenant_id, connection_id, 'transition', started_at, 'pending', 'processing', 1 FROM jobs
          UNION ALL
          SELECT id, tenant_id, connection_id, 'transition', finished_at, 'processing', 'success', 1 FROM jobs`,
      );
      await db.execute('VACUUM ANALYZE');
      const size = async () =>
        Number((await db.query<{ n: string }>('SELECT pg_database_size(current_database()) AS n'))[0]?.n ?? 0);
      const before = await size();
      const sweeper = new RetentionSweeper(
        db,
        { successDays: 90, failedDays: 365, cancelledDays: 90, sweepMs: 3_600_000 },
        pino({ level: 'warn' }),
      );
      log('retention: purging');
      const started = performance.now();
      const deleted = await sweeper.purgeExpired();
      const seconds = (performance.now() - started) / 1000;
      if (deleted !== EXPIRED) throw new Error(`retention deleted ${deleted} jobs, expected ${EXPIRED}`);
      const left = Number((await db.query<{ n: string }>('SELECT COUNT(*) AS n FROM jobs'))[0]?.n ?? 0);
      if (left !== RECENT) throw new Error(`retention left ${left} jobs, expected ${RECENT}`);
      const after = await size();
      await db.execute('VACUUM');
      const vacuumed = await size();
      console.log(
        [
          '',
          `Retention on PostgreSQL: ${EXPIRED.toLocaleString('en')} expired jobs (2 history rows each) among ${(EXPIRED + RECENT).toLocaleString('en')}`,
          `  purge: ${seconds.toFixed(1)} s (${Math.round(EXPIRED / seconds).toLocaleString('en')} jobs/s), ${RECENT.toLocaleString('en')} recent jobs kept`,
          `  database size: ${mb(before)} before, ${mb(after)} after the purge, ${mb(vacuumed)} after VACUUM (rows deleted, files not shrunk)`,
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
