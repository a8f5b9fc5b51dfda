import { TERMINAL_STATUSES, retentionDays, type RetentionPolicy } from '@jobtrail/domain';
import type { Logger } from 'pino';
import type { Database, SqlExecutor } from '../database/database.js';

/**
 * `job_events` on PostgreSQL is range-partitioned by `at` (epoch ms), one partition per UTC month
 * (`job_events_p2026_11`), with `job_events_past` (the table as it was before partitioning, up to
 * its bound) and `job_events_default` (whatever no month takes: a skewed clock). SQLite keeps one
 * table and never calls this.
 */

/** Months ahead of the current one that always have a partition, so inserts rarely meet the default. */
export const EVENT_PARTITION_MONTHS_AHEAD = 3;

/**
 * How far before its job's `created_at` an event's `at` may be: both come from the processes'
 * database clocks, which agree to milliseconds; a day is far beyond any skew they can have.
 */
export const EVENT_CLOCK_SKEW_MS = 86_400_000;

/** Serialises partition changes across worker processes (the event-id lock is 7_401_442_001). */
const PARTITION_LOCK = 7_401_442_002;

/** A DDL statement waits this long for the table's lock, then gives up until the next sweep. */
const LOCK_TIMEOUT = '5s';

export const PAST_PARTITION = 'job_events_past';
export const DEFAULT_PARTITION = 'job_events_default';

/** The start of the UTC month `ms` falls in, in epoch ms. */
export function monthStart(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/** The start of the UTC month `months` after the one starting at `start`. */
export function addMonths(start: number, months: number): number {
  const d = new Date(start);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1);
}

/** `job_events_p2026_11` for the month starting at `start`. */
export function monthPartitionName(start: number): string {
  const d = new Date(start);
  return `job_events_p${d.getUTCFullYear()}_${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** The statement creating the month's partition (bounds are our own integers: inlined, DDL takes no parameters). */
export function createMonthPartitionSql(start: number): string {
  const from = Math.trunc(start);
  const to = Math.trunc(addMonths(start, 1));
  return `CREATE TABLE ${monthPartitionName(start)} PARTITION OF job_events FOR VALUES FROM (${from}) TO (${to})`;
}

/** A partition of `job_events`; bounds in epoch ms, null for MINVALUE (and both null for the default). */
export interface EventPartition {
  readonly name: string;
  readonly from: number | null;
  readonly to: number | null;
  readonly isDefault: boolean;
}

/** The partitions of `job_events`, oldest first (the default last). */
export async function listEventPartitions(sql: SqlExecutor): Promise<EventPartition[]> {
  const rows = await sql.query<{ name: string; bound: string }>(
    `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'job_events'::regclass`,
  );
  const value = (text: string | undefined) => (text === undefined || text === 'MINVALUE' ? null : Number(text));
  return rows
    .map((r) => {
      const m = /FROM \('?([^')]+)'?\) TO \('?([^')]+)'?\)/.exec(r.bound);
      return { name: r.name, from: value(m?.[1]), to: value(m?.[2]), isDefault: r.bound === 'DEFAULT' };
    })
    .sort((a, b) => (a.isDefault ? 1 : b.isDefault ? -1 : (a.to ?? 0) - (b.to ?? 0)));
}

/**
 * Keeps `job_events`' partitions: months are created ahead of time, and old partitions whose
 * events all belong to expired (or deleted) jobs are dropped whole, which returns their space at
 * once where deleting rows only leaves room for new ones.
 */
export class EventPartitions {
  constructor(
    private readonly db: Database,
    private readonly log: Logger,
    private readonly monthsAhead = EVENT_PARTITION_MONTHS_AHEAD,
  ) {}

  /**
   * Creates every missing month up to `monthsAhead` after `now`'s; returns their names. Any number
   * of processes may run it at once: the advisory lock makes them take turns, and each sees what
   * the previous one created.
   */
  async createAhead(now: number): Promise<string[]> {
    const last = addMonths(monthStart(now), this.monthsAhead);
    const partitions = await listEventPartitions(this.db);
    const highest = Math.max(...partitions.map((p) => p.to ?? -Infinity));
    if (highest > last) return [];
    const created: string[] = [];
    for (let month = Number.isFinite(highest) ? highest : monthStart(now); month <= last; month = addMonths(month, 1)) {
      if (await this.createMonth(month)) created.push(monthPartitionName(month));
    }
    if (created.length > 0) this.log.info({ partitions: created }, 'job_events partitions created');
    return created;
  }

  /** Creates the month's partition unless it exists; true when this call created it. */
  private createMonth(start: number): Promise<boolean> {
    const from = start;
    const to = addMonths(start, 1);
    return this.db.transaction(async (tx) => {
      await tx.execute(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
      await tx.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK]);
      const exists = await tx.query<{ name: string | null }>('SELECT to_regclass($1)::text AS name', [
        monthPartitionName(start),
      ]);
      if (exists[0]?.name) return false;
      const stranded = await tx.query(`SELECT 1 FROM ${DEFAULT_PARTITION} WHERE at >= $1 AND at < $2 LIMIT 1`, [
        from,
        to,
      ]);
      if (stranded.length === 0) {
        await tx.execute(createMonthPartitionSql(start));
        return true;
      }
      // Rows of this month already sit in the default partition (a clock ahead, or workers down
      // for months), and PostgreSQL refuses a new partition that the default's rows belong to:
      // detach the default, create the month, move its rows in through the parent (ids kept), attach.
      await tx.execute(`ALTER TABLE job_events DETACH PARTITION ${DEFAULT_PARTITION}`);
      await tx.execute(createMonthPartitionSql(start));
      const moved = await tx.execute(
        `WITH moved AS (DELETE FROM ${DEFAULT_PARTITION} WHERE at >= $1 AND at < $2 RETURNING *)
         INSERT INTO job_events SELECT * FROM moved`,
        [from, to],
      );
      await tx.execute(`ALTER TABLE job_events ATTACH PARTITION ${DEFAULT_PARTITION} DEFAULT`);
      this.log.info({ partition: monthPartitionName(start), events: moved }, 'job_events moved out of the default');
      return true;
    });
  }

  /**
   * Detaches and drops every partition that is older than the longest retention period and whose
   * events all belong to expired or deleted jobs; returns their names. Expired jobs are deleted
   * afterwards as before, and find their events gone.
   *
   * Every event of a job is at or after its creation (less the clock skew), so a partition ending
   * at `to` holds events of jobs created before `to + skew` only. When the oldest job that is not
   * expired was created after that, every job the partition has events of is expired or gone.
   */
  async dropExpired(now: number, policy: RetentionPolicy): Promise<string[]> {
    const days = TERMINAL_STATUSES.map((s) => retentionDays(s, policy)).filter((d): d is number => d !== null);
    if (days.length === 0) return [];
    const oldest = now - Math.max(...days) * 86_400_000;
    const candidates = (await listEventPartitions(this.db)).filter(
      (p) => !p.isDefault && p.to !== null && p.to <= oldest,
    );
    if (candidates.length === 0) return [];
    const firstLive = await this.oldestLiveJobCreatedAt(now, policy);
    const dropped: string[] = [];
    for (const p of candidates) {
      if (firstLive !== null && p.to! + EVENT_CLOCK_SKEW_MS > firstLive) break;
      const done = await this.db.transaction(async (tx) => {
        await tx.execute(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
        await tx.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK]);
        // Another process may have dropped it meanwhile.
        if (!(await listEventPartitions(tx)).some((q) => q.name === p.name)) return false;
        await tx.execute(`ALTER TABLE job_events DETACH PARTITION ${p.name}`);
        await tx.execute(`DROP TABLE ${p.name}`);
        return true;
      });
      if (done) dropped.push(p.name);
    }
    if (dropped.length > 0) this.log.info({ partitions: dropped }, 'expired job_events partitions dropped');
    return dropped;
  }

  /**
   * The creation time of the oldest job that retention keeps (active, or finished within its
   * status's period; null when there is none). Active jobs are few (`ux_jobs_active_action` holds
   * them all). Finished ones are walked from the oldest in `ix_jobs_finished_created`: only expired
   * jobs not deleted yet come before the first kept one, and retention deletes those right after.
   */
  private async oldestLiveJobCreatedAt(now: number, policy: RetentionPolicy): Promise<number | null> {
    const expired: string[] = [];
    const params: unknown[] = [];
    for (const status of TERMINAL_STATUSES) {
      const days = retentionDays(status, policy);
      if (days === null) continue;
      params.push(status, now - days * 86_400_000);
      expired.push(`(status = $${params.length - 1} AND finished_at < $${params.length})`);
    }
    const [row] = await this.db.query<{ created_at: string | number | null }>(
      `SELECT LEAST(
         (SELECT MIN(created_at) FROM jobs WHERE status IN ('pending', 'processing')),
         (SELECT created_at FROM jobs WHERE finished_at IS NOT NULL${expired.length > 0 ? ` AND NOT (${expired.join(' OR ')})` : ''}
           ORDER BY created_at LIMIT 1)) AS created_at`,
      params,
    );
    return row?.created_at == null ? null : Number(row.created_at);
  }
}
