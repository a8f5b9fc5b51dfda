import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { createJob } from '@jobtrail/domain';
import pg from 'pg';
import { DataSource } from 'typeorm';
import {
  EventPartitions,
  MIGRATIONS,
  RetentionSweeper,
  addMonths,
  databaseFor,
  listEventPartitions,
  monthPartitionName,
  monthStart,
  uuidv7,
  type Database,
} from '../src/index.js';
import { PartitionedJobEvents1733800001000 } from '../src/schema/migrations/1733800001000-partitioned-job-events.js';
import {
  PG_SERVER_URL,
  databaseKinds,
  openTestDatabase,
  silentLog,
  type TestDatabase,
} from './support/test-database.js';

const kinds = (await databaseKinds()).filter((k) => k === 'postgres');

const DAY = 86_400_000;
/** The migrations before partitioning, and how many are at or after it (undone to get back there). */
const BEFORE_PARTITIONING = MIGRATIONS.slice(0, MIGRATIONS.indexOf(PartitionedJobEvents1733800001000));
const FROM_PARTITIONING = MIGRATIONS.length - BEFORE_PARTITIONING.length;
/** The columns every version of the table has (later migrations may add some). */
const EVENT_COLUMNS = 'id, job_id, tenant_id, connection_id, kind, at, level, message';
const RETENTION = { successDays: 90, failedDays: 365, cancelledDays: 90, sweepMs: 3_600_000 };

/** A tenant and a connection, by SQL: the rows the jobs below hang from. */
async function seedConnection(db: Database): Promise<{ tenantId: string; connectionId: string }> {
  const tenantId = uuidv7();
  const connectionId = uuidv7();
  await db.execute('INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, 0)', [tenantId, `t-${tenantId}`]);
  await db.execute(
    `INSERT INTO connections (id, tenant_id, institution_id, login_id, credentials_enc, created_at)
     VALUES ($1, $2, 'sandbox', 'user-ok', 'x', 0)`,
    [connectionId, tenantId],
  );
  return { tenantId, connectionId };
}

/** A job created and (unless pending) finished at the given times, with no events yet. */
async function insertJob(
  db: Database,
  owner: { tenantId: string; connectionId: string },
  status: 'pending' | 'success' | 'failed',
  createdAt: number,
  finishedAt: number | null,
): Promise<string> {
  const id = uuidv7(createdAt);
  await db.execute(
    `INSERT INTO jobs (id, tenant_id, connection_id, action, status, created_at, updated_at, finished_at, attempt,
        max_attempts, run_at, steps)
     VALUES ($1, $2, $3, 'purge', $4, $5, $5, $6, 1, 3, $5, '[]')`,
    [id, owner.tenantId, owner.connectionId, status, createdAt, finishedAt],
  );
  return id;
}

/** `count` events of the job at `at`, each with a message of `pad` characters; their ids. */
async function insertEvents(
  db: Database,
  owner: { tenantId: string; connectionId: string },
  jobId: string,
  at: number,
  count = 1,
  pad = 10,
): Promise<number[]> {
  const rows = await db.query<{ id: string }>(
    `INSERT INTO job_events (job_id, tenant_id, connection_id, kind, at, level, message)
     SELECT $1, $2, $3, 'log', $4, 'info', repeat('x', $6) FROM generate_series(1, $5) RETURNING id`,
    [jobId, owner.tenantId, owner.connectionId, at, count, pad],
  );
  return rows.map((r) => Number(r.id)).sort((a, b) => a - b);
}

/** Which partition holds each event, by id. */
async function partitionsOf(db: Database, ids: number[]): Promise<string[]> {
  const rows = await db.query<{ id: string; part: string }>(
    'SELECT id, tableoid::regclass::text AS part FROM job_events WHERE id = ANY($1::bigint[])',
    [ids],
  );
  const byId = new Map(rows.map((r) => [Number(r.id), r.part]));
  return ids.map((id) => byId.get(id) ?? 'gone');
}

async function partitionNames(db: Database): Promise<string[]> {
  return (await listEventPartitions(db)).map((p) => p.name);
}

async function totalSize(db: Database, name: string): Promise<number> {
  const [row] = await db.query<{ n: string }>('SELECT pg_total_relation_size($1::regclass) AS n', [name]);
  return Number(row!.n);
}

const now = Date.now();
const current = monthStart(now);

/**
 * `job_events` on PostgreSQL: the migration partitions a table that already has rows, maintenance
 * creates months ahead from any number of processes, and retention drops whole partitions only
 * when every job they hold events of has expired.
 */
describe.each(kinds)('job_events partitions on %s', (kind) => {
  describe('the migration on a database with events', () => {
    let name: string;
    let dataSource: DataSource;
    let db: Database;
    let owner: { tenantId: string; connectionId: string };
    let before: Record<string, unknown>[];
    let nowJob: string;
    const old = Date.UTC(2024, 4, 17);
    const ahead = addMonths(current, 40) + 1_000;

    beforeAll(async () => {
      name = `jobtrail_engine_${randomBytes(6).toString('hex')}`;
      const admin = new pg.Client({ connectionString: `${PG_SERVER_URL}/postgres` });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.end();
      // The schema as it was before partitioning, with rows in it.
      const open = async (migrations: typeof MIGRATIONS) => {
        dataSource = new DataSource({
          type: 'postgres',
          url: `${PG_SERVER_URL}/${name}`,
          migrations,
          migrationsRun: true,
          entities: [],
          logging: false,
        });
        await dataSource.initialize();
        db = databaseFor(dataSource);
      };
      await open(BEFORE_PARTITIONING);
      owner = await seedConnection(db);
      const oldJob = await insertJob(db, owner, 'success', old, old + 1_000);
      nowJob = await insertJob(db, owner, 'pending', now, null);
      await insertEvents(db, owner, oldJob, old, 3);
      await insertEvents(db, owner, nowJob, now, 2);
      // A clock far ahead wrote one: it must not stretch the past's bound.
      await insertEvents(db, owner, nowJob, ahead, 1);
      before = await db.query(`SELECT ${EVENT_COLUMNS} FROM job_events ORDER BY id`);
      await dataSource.destroy();
      await open(MIGRATIONS);
    });
    afterAll(async () => {
      await dataSource.destroy();
      const admin = new pg.Client({ connectionString: `${PG_SERVER_URL}/postgres` });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    });

    it('keeps every row and id, in the partition its time belongs to', async () => {
      expect(await db.query(`SELECT ${EVENT_COLUMNS} FROM job_events ORDER BY id`)).toEqual(before);
      const ids = before.map((r) => Number(r.id));
      // This month already had rows: the past takes it whole; the far-off row went to the default.
      expect(await partitionsOf(db, ids)).toEqual([
        'job_events_past',
        'job_events_past',
        'job_events_past',
        'job_events_past',
        'job_events_past',
        'job_events_default',
      ]);
      const parts = await listEventPartitions(db);
      expect(parts.map((p) => p.name)).toEqual([
        'job_events_past',
        ...[1, 2, 3].map((m) => monthPartitionName(addMonths(current, m))),
        'job_events_default',
      ]);
      expect(parts[0]).toMatchObject({ from: null, to: addMonths(current, 1) });
      const [kindOf] = await db.query<{ relkind: string }>(
        "SELECT relkind FROM pg_class WHERE oid = 'job_events'::regclass",
      );
      expect(kindOf!.relkind).toBe('p');
    });

    it('gives new events higher ids, in their month', async () => {
      const maxBefore = Math.max(...before.map((r) => Number(r.id)));
      const job = nowJob;
      const next = addMonths(current, 2) + 5;
      const [a] = await insertEvents(db, owner, job, now);
      const [b] = await insertEvents(db, owner, job, next);
      expect(a).toBeGreaterThan(maxBefore);
      expect(b).toBeGreaterThan(a!);
      expect(await partitionsOf(db, [a!, b!])).toEqual(['job_events_past', monthPartitionName(addMonths(current, 2))]);
    });

    it('is undone into one table again, rows and ids kept', async () => {
      const rows = await db.query(`SELECT ${EVENT_COLUMNS} FROM job_events ORDER BY id`);
      for (let i = 0; i < FROM_PARTITIONING; i++) await dataSource.undoLastMigration();
      expect(await db.query(`SELECT ${EVENT_COLUMNS} FROM job_events ORDER BY id`)).toEqual(rows);
      const [kindOf] = await db.query<{ relkind: string }>(
        "SELECT relkind FROM pg_class WHERE oid = 'job_events'::regclass",
      );
      expect(kindOf!.relkind).toBe('r');
      const job = nowJob;
      const [id] = await insertEvents(db, owner, job, now);
      expect(id).toBeGreaterThan(Math.max(...rows.map((r) => Number((r as { id: string }).id))));
      // And partitioned once more: the sequence is still the one the new table takes over.
      await dataSource.runMigrations();
      const [again] = await insertEvents(db, owner, job, now);
      expect(again).toBeGreaterThan(id!);
    });
  });

  describe('maintenance and retention', () => {
    let t: TestDatabase;
    let owner: { tenantId: string; connectionId: string };
    beforeAll(async () => {
      t = await openTestDatabase(kind);
      owner = await seedConnection(t.db);
    });
    afterAll(() => t.close());

    it('a fresh database has the past, this month, the next three and the default', async () => {
      const parts = await listEventPartitions(t.db);
      expect(parts.map((p) => p.name)).toEqual([
        'job_events_past',
        ...[0, 1, 2, 3].map((m) => monthPartitionName(addMonths(current, m))),
        'job_events_default',
      ]);
      expect(parts[0]).toMatchObject({ from: null, to: current });
      // The store's inserts land in this month's partition.
      const job = createJob({ id: uuidv7(), connectionId: owner.connectionId, action: 'refresh', now: new Date(now) });
      await t.store.commitNow([
        {
          tenantId: owner.tenantId,
          before: null,
          next: job,
          events: [{ kind: 'created', at: new Date(now), actor: 'test', reason: 'requested' }],
        },
      ]);
      const [row] = await t.db.query<{ part: string }>(
        'SELECT tableoid::regclass::text AS part FROM job_events WHERE job_id = $1',
        [job.id],
      );
      expect(row!.part).toBe(monthPartitionName(current));
      await t.db.execute('DELETE FROM jobs WHERE id = $1', [job.id]);
    });

    it('an event whose time no partition covers lands in the default; a very old one in the past', async () => {
      const job = await insertJob(t.db, owner, 'pending', now, null);
      const far = await insertEvents(t.db, owner, job, Date.UTC(2100, 0, 1));
      const ancient = await insertEvents(t.db, owner, job, 0);
      expect(await partitionsOf(t.db, [...far, ...ancient])).toEqual(['job_events_default', 'job_events_past']);
      await t.db.execute('DELETE FROM jobs WHERE id = $1', [job]);
    });

    it('creates the months ahead once, however many processes run it at once', async () => {
      const later = addMonths(current, 6) + DAY;
      const makers = Array.from({ length: 4 }, () => new EventPartitions(t.db, silentLog));
      const created = (await Promise.all(makers.map((m) => m.createAhead(later)))).flat();
      const expected = [4, 5, 6, 7, 8, 9].map((m) => monthPartitionName(addMonths(current, m)));
      expect(created.sort()).toEqual(expected);
      expect(await makers[0]!.createAhead(later)).toEqual([]);
      const names = await partitionNames(t.db);
      for (const name of expected) expect(names).toContain(name);
    });

    it("moves a month's events out of the default when that month's partition is created", async () => {
      const month = addMonths(current, 14);
      const job = await insertJob(t.db, owner, 'pending', now, null);
      const ids = await insertEvents(t.db, owner, job, month + 3_600_000, 3);
      const elsewhere = await insertEvents(t.db, owner, job, addMonths(current, 30));
      expect(await partitionsOf(t.db, [...ids, ...elsewhere])).toEqual(Array(4).fill('job_events_default'));
      await new EventPartitions(t.db, silentLog).createAhead(addMonths(month, -3));
      expect(await partitionsOf(t.db, [...ids, ...elsewhere])).toEqual([
        ...Array(3).fill(monthPartitionName(month)),
        'job_events_default',
      ]);
      await t.db.execute('DELETE FROM jobs WHERE id = $1', [job]);
    });

    it('drops a partition whose jobs all expired, returning its space, and never one with a live job', async () => {
      // Three months a year and a half ahead, where this test owns the jobs: retention runs "then".
      const m0 = addMonths(current, 18);
      const [m1, m2, m3] = [1, 2, 3].map((n) => addMonths(m0, n)) as [number, number, number];
      await new EventPartitions(t.db, silentLog).createAhead(m3);
      // m0: one success, long expired by then, with a lot of history.
      const expired = await insertJob(t.db, owner, 'success', m0 + DAY, m0 + DAY + 1_000);
      await insertEvents(t.db, owner, expired, m0 + DAY, 2_000, 500);
      // m1: a success expired by then, and a failure that finished late enough to be kept (365
      // days): its month must stay.
      const expiredToo = await insertJob(t.db, owner, 'success', m1 + DAY, m1 + DAY + 1_000);
      const expiredEvents = await insertEvents(t.db, owner, expiredToo, m1 + DAY, 2);
      const kept = await insertJob(t.db, owner, 'failed', m1 + 2 * DAY, m2 + 20 * DAY);
      const keptEvents = await insertEvents(t.db, owner, kept, m1 + 2 * DAY, 2);
      // m2: a job created at its very start whose first event's clock was a minute behind: it sits
      // in m1, and keeps m1 once the failure above is gone.
      const skewed = await insertJob(t.db, owner, 'pending', m2 + 60_000, null);
      const skewedEvents = await insertEvents(t.db, owner, skewed, m2 - 60_000);

      const m0Name = monthPartitionName(m0);
      const m1Name = monthPartitionName(m1);
      const namesBefore = await partitionNames(t.db);
      const sizeBefore = await sumOfSizes(t.db, namesBefore);
      const m0Size = await totalSize(t.db, m0Name);
      expect(m0Size).toBeGreaterThan(1_000_000);
      // Retention runs when m1 is older than the longest retention (365 days), the failure not yet.
      const then = addMonths(m2, 12) + 10 * DAY;
      const sweeper = new RetentionSweeper(t.db, RETENTION, silentLog);
      await sweeper.purgeExpired(then);

      const names = await partitionNames(t.db);
      expect(names).not.toContain(m0Name);
      expect(names).not.toContain('job_events_past');
      expect(names).toContain(m1Name);
      expect(await sumOfSizes(t.db, namesBefore)).toBeLessThanOrEqual(sizeBefore - m0Size);
      // The expired jobs are gone with their events; the kept job and the skewed one keep theirs.
      const jobs = (await t.db.query<{ id: string }>('SELECT id FROM jobs')).map((r) => r.id);
      expect(jobs).not.toContain(expired);
      expect(jobs).not.toContain(expiredToo);
      expect(jobs).toEqual(expect.arrayContaining([kept, skewed]));
      expect(await partitionsOf(t.db, [...expiredEvents, ...keptEvents, ...skewedEvents])).toEqual([
        'gone',
        'gone',
        m1Name,
        m1Name,
        m1Name,
      ]);

      // The failure expires and is deleted: m1 still holds the skewed event of a pending job.
      await t.db.execute('DELETE FROM jobs WHERE id = $1', [kept]);
      await sweeper.purgeExpired(then);
      expect(await partitionNames(t.db)).toContain(m1Name);
      expect(await partitionsOf(t.db, skewedEvents)).toEqual([m1Name]);

      // Once that job is finished and expired too, m1 goes.
      await t.db.execute("UPDATE jobs SET status = 'success', finished_at = $2 WHERE id = $1", [skewed, m2 + DAY]);
      await sweeper.purgeExpired(then);
      expect(await partitionNames(t.db)).not.toContain(m1Name);
      expect(await partitionsOf(t.db, skewedEvents)).toEqual(['gone']);
    });
  });
});

/** The space the named partitions take (none for those dropped since). */
async function sumOfSizes(db: Database, names: string[]): Promise<number> {
  const existing = new Set(await partitionNames(db));
  let sum = 0;
  for (const name of names) if (existing.has(name)) sum += await totalSize(db, name);
  return sum;
}
