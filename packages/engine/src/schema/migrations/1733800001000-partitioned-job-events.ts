import type { MigrationInterface, QueryRunner } from 'typeorm';
import {
  DEFAULT_PARTITION,
  EVENT_PARTITION_MONTHS_AHEAD,
  PAST_PARTITION,
  addMonths,
  createMonthPartitionSql,
  monthStart,
} from '../../retention/event-partitions.js';

/**
 * PostgreSQL: `job_events` becomes range-partitioned by `at`, one partition per UTC month, so that
 * retention drops a month's events as a whole file instead of deleting rows (which never returns
 * the space). Works on a database with data, without copying it: the table is renamed and attached
 * as `job_events_past`, the partition of everything before its bound.
 *
 * - A partitioned table's primary key must include the partition key: it becomes `(id, at)`. Ids
 *   still come from the one sequence (`job_events_id_seq`, now owned by the parent), so they go on
 *   increasing from where they were.
 * - The past's bound is the start of the current month, or of the next one when the table already
 *   has rows of this month (moving them would copy a month of history under the lock). The rare
 *   rows past that bound (a clock that ran ahead) are moved through the parent, ids kept.
 * - A validated `CHECK` on the old table proves the bound, so attaching does not scan it again
 *   under the exclusive lock; the indexes it already has are attached to the parent's.
 * - A default partition takes any `at` no month covers (a skewed clock): an insert never fails.
 *
 * SQLite keeps one table.
 */
export class PartitionedJobEvents1733800001000 implements MigrationInterface {
  name = 'PartitionedJobEvents1733800001000';

  async up(q: QueryRunner): Promise<void> {
    if (q.connection.driver.options.type !== 'postgres') return;
    await q.query('LOCK TABLE job_events IN ACCESS EXCLUSIVE MODE');
    const [clock] = (await q.query(
      'SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now, (SELECT max(at) FROM job_events) AS max_at',
    )) as { now: string; max_at: string | null }[];
    const current = monthStart(Number(clock!.now));
    const maxAt = clock!.max_at === null ? null : Number(clock!.max_at);
    const bound = maxAt !== null && maxAt >= current ? addMonths(current, 1) : current;

    await q.query(`ALTER TABLE job_events RENAME TO ${PAST_PARTITION}`);
    await q.query(`ALTER INDEX ix_job_events_job RENAME TO ${PAST_PARTITION}_job_id_id_idx`);
    await q.query(`ALTER INDEX ix_job_events_tenant RENAME TO ${PAST_PARTITION}_tenant_id_id_idx`);
    await q.query(
      `ALTER TABLE ${PAST_PARTITION} DROP CONSTRAINT job_events_pkey, ADD CONSTRAINT ${PAST_PARTITION}_pkey PRIMARY KEY (id, at)`,
    );
    await q.query(`ALTER TABLE ${PAST_PARTITION} ALTER COLUMN id DROP DEFAULT`);
    const aheadOfBound = maxAt !== null && maxAt >= bound;
    if (aheadOfBound) {
      await q.query(`CREATE TEMPORARY TABLE job_events_ahead (LIKE ${PAST_PARTITION}) ON COMMIT DROP`);
      await q.query(
        `WITH moved AS (DELETE FROM ${PAST_PARTITION} WHERE at >= $1 RETURNING *) INSERT INTO job_events_ahead SELECT * FROM moved`,
        [bound],
      );
    }
    await q.query(
      `ALTER TABLE ${PAST_PARTITION} ADD CONSTRAINT ck_${PAST_PARTITION}_bound CHECK (at < ${bound}) NOT VALID`,
    );
    await q.query(`ALTER TABLE ${PAST_PARTITION} VALIDATE CONSTRAINT ck_${PAST_PARTITION}_bound`);

    await q.query(`CREATE TABLE job_events (
      id BIGINT NOT NULL DEFAULT nextval('job_events_id_seq'),
      job_id VARCHAR(36) NOT NULL,
      tenant_id VARCHAR(36) NOT NULL,
      connection_id VARCHAR(36) NOT NULL,
      kind VARCHAR(16) NOT NULL,
      at BIGINT NOT NULL,
      from_status VARCHAR(16) NULL,
      to_status VARCHAR(16) NULL,
      reason VARCHAR(100) NULL,
      actor VARCHAR(100) NULL,
      attempt INTEGER NULL,
      level VARCHAR(8) NULL,
      step VARCHAR(64) NULL,
      message TEXT NULL,
      steps TEXT NULL,
      CONSTRAINT job_events_pkey PRIMARY KEY (id, at),
      CONSTRAINT job_events_job_id_fkey FOREIGN KEY (job_id) REFERENCES jobs(id) ON DELETE CASCADE,
      CONSTRAINT ck_job_events_kind CHECK (kind IN ('created', 'transition', 'log')),
      CONSTRAINT ck_job_events_from_status CHECK (from_status IS NULL OR from_status IN ${STATUSES}),
      CONSTRAINT ck_job_events_to_status CHECK (to_status IS NULL OR to_status IN ${STATUSES})
    ) PARTITION BY RANGE (at)`);
    await q.query('ALTER SEQUENCE job_events_id_seq OWNED BY job_events.id');
    await q.query('CREATE INDEX ix_job_events_job ON job_events (job_id, id)');
    await q.query('CREATE INDEX ix_job_events_tenant ON job_events (tenant_id, id)');
    await q.query(`ALTER TABLE job_events ATTACH PARTITION ${PAST_PARTITION} FOR VALUES FROM (MINVALUE) TO (${bound})`);
    // The partition's own bound says the same from now on.
    await q.query(`ALTER TABLE ${PAST_PARTITION} DROP CONSTRAINT ck_${PAST_PARTITION}_bound`);

    for (let month = bound; month <= addMonths(current, EVENT_PARTITION_MONTHS_AHEAD); month = addMonths(month, 1)) {
      await q.query(createMonthPartitionSql(month));
    }
    await q.query(`CREATE TABLE ${DEFAULT_PARTITION} PARTITION OF job_events DEFAULT`);
    if (aheadOfBound) await q.query(`INSERT INTO job_events (${COLUMNS}) SELECT ${COLUMNS} FROM job_events_ahead`);
    // Retention finds the oldest finished job it keeps by creation time (EventPartitions.dropExpired).
    // Partial: no entry for active jobs, and no use to any query that does not ask for finished ones
    // (a plain created_at index would lure the history's plans away from ix_jobs_history).
    await q.query('CREATE INDEX ix_jobs_finished_created ON jobs (created_at) WHERE finished_at IS NOT NULL');
  }

  async down(q: QueryRunner): Promise<void> {
    if (q.connection.driver.options.type !== 'postgres') return;
    await q.query('DROP INDEX ix_jobs_finished_created');
    await q.query('LOCK TABLE job_events IN ACCESS EXCLUSIVE MODE');
    // Every partition's rows go back into one table (the past may have been dropped by retention).
    await q.query(
      'CREATE TABLE job_events_single (LIKE job_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)',
    );
    await q.query('INSERT INTO job_events_single SELECT * FROM job_events');
    await q.query('ALTER SEQUENCE job_events_id_seq OWNED BY NONE');
    await q.query('DROP TABLE job_events');
    await q.query('ALTER TABLE job_events_single RENAME TO job_events');
    await q.query('ALTER TABLE job_events ADD CONSTRAINT job_events_pkey PRIMARY KEY (id)');
    await q.query(
      'ALTER TABLE job_events ADD CONSTRAINT job_events_job_id_fkey FOREIGN KEY (job_id) REFERENCES jobs(id) ON DELETE CASCADE',
    );
    await q.query('ALTER SEQUENCE job_events_id_seq OWNED BY job_events.id');
    await q.query('CREATE INDEX ix_job_events_job ON job_events (job_id, id)');
    await q.query('CREATE INDEX ix_job_events_tenant ON job_events (tenant_id, id)');
  }
}

const STATUSES = "('pending', 'processing', 'success', 'failed', 'cancelled')";

/** The table's columns at this migration, named: rows move by name, whatever the physical order. */
const COLUMNS =
  'id, job_id, tenant_id, connection_id, kind, at, from_status, to_status, reason, actor, attempt, level, step, message, steps';
