import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { DatabaseClock, JobEventsBus, JobsStore, RefreshScheduler, databaseFor } from '../src/index.js';
import { databaseKinds, openTestDatabase, silentLog, type TestDatabase } from './support/test-database.js';

const kinds = await databaseKinds();
const H = 3_600_000;

describe.each(kinds)('the refresh scheduler on %s', (kind) => {
  let t: TestDatabase;
  let clock: DatabaseClock;
  let scheduler: RefreshScheduler;
  beforeAll(async () => {
    t = await openTestDatabase(kind);
    clock = new DatabaseClock(t.db);
    await clock.sync();
    scheduler = new RefreshScheduler(t.db, t.store, t.bus, silentLog, clock, 60_000);
  });
  afterAll(() => t.close());

  /** A connection refreshed every `hours`, its slot due `agoMs` ago (by the database clock). */
  const scheduled = async (hours: number, agoMs: number, status = 'active', login = 'user-ok') => {
    const { tenantId, connectionId } = await t.seedConnection(login);
    const slot = clock.now() - agoMs;
    await t.db.execute(
      'UPDATE connections SET refresh_every_hours = $1, next_refresh_at = $2, status = $3 WHERE id = $4',
      [hours, slot, status, connectionId],
    );
    return { tenantId, connectionId, slot };
  };
  const jobsOf = (connectionId: string) =>
    t.db.query<{ id: string; action: string; requested_by_id: string; requested_by_name: string; status: string }>(
      'SELECT id, action, requested_by_id, requested_by_name, status FROM jobs WHERE connection_id = $1',
      [connectionId],
    );
  const nextSlot = async (connectionId: string) =>
    Number(
      (
        await t.db.query<{ next_refresh_at: number | string }>(
          'SELECT next_refresh_at FROM connections WHERE id = $1',
          [connectionId],
        )
      )[0]!.next_refresh_at,
    );

  it('a due slot starts one refresh requested by the schedule, and moves to the next slot', async () => {
    const { connectionId, slot } = await scheduled(6, 1_000);
    const notDue = await scheduled(6, -60_000);
    const counts = await scheduler.runDue();
    expect(counts.start).toBeGreaterThanOrEqual(1);
    const jobs = await jobsOf(connectionId);
    expect(jobs.map((j) => [j.action, j.requested_by_id, j.requested_by_name, j.status])).toEqual([
      ['refresh', 'schedule', 'schedule', 'pending'],
    ]);
    expect(await nextSlot(connectionId)).toBe(slot + 6 * H);
    // The same slot never starts a second one; a slot not due yet starts nothing.
    await scheduler.runDue();
    expect(await jobsOf(connectionId)).toHaveLength(1);
    expect(await jobsOf(notDue.connectionId)).toHaveLength(0);
    const [event] = await t.db.query<{ actor: string; reason: string }>(
      `SELECT actor, reason FROM job_events WHERE job_id = $1 AND kind = 'created'`,
      [jobs[0]!.id],
    );
    expect(event).toEqual({ actor: 'schedule', reason: 'scheduled' });
  });

  it('slots missed while no worker ran give one catch-up refresh, then the next slot in the future', async () => {
    const { connectionId, slot } = await scheduled(1, 3.5 * H);
    await scheduler.runDue();
    await scheduler.runDue();
    expect(await jobsOf(connectionId)).toHaveLength(1);
    expect(await nextSlot(connectionId)).toBe(slot + 4 * H);
  });

  it('skips a slot while a refresh is active, and pauses a connection that needs new credentials', async () => {
    const busy = await scheduled(2, 1_000);
    await t.createJob(busy.tenantId, busy.connectionId, 'refresh');
    const invalid = await scheduled(2, 1_000, 'invalid', 'user-bad-password');
    const counts = await scheduler.runDue();
    expect(counts['skip-active']).toBeGreaterThanOrEqual(1);
    expect(counts.paused).toBeGreaterThanOrEqual(1);
    expect(await jobsOf(busy.connectionId)).toHaveLength(1);
    expect(await jobsOf(invalid.connectionId)).toHaveLength(0);
    // Both moved on to their next slot all the same.
    expect(await nextSlot(busy.connectionId)).toBe(busy.slot + 2 * H);
    expect(await nextSlot(invalid.connectionId)).toBe(invalid.slot + 2 * H);
  });

  it('defers a slot whose institution is down', async () => {
    const down = new RefreshScheduler(t.db, t.store, t.bus, silentLog, clock, 60_000, async () => true);
    const { connectionId, slot } = await scheduled(3, 1_000);
    const counts = await down.runDue();
    expect(counts.deferred).toBeGreaterThanOrEqual(1);
    expect(await jobsOf(connectionId)).toHaveLength(0);
    expect(await nextSlot(connectionId)).toBe(slot + 3 * H);
  });

  // Two workers on one database: PostgreSQL (SQLite runs one worker process).
  if (kind === 'postgres')
    it('two schedulers with their own connections racing: every due slot yields exactly one refresh', async () => {
      const second = new DataSource({
        type: 'postgres',
        url: t.env.DB_URL,
        entities: [],
        synchronize: false,
        logging: false,
        extra: { max: 10 },
      });
      await second.initialize();
      try {
        const db2 = databaseFor(second);
        const bus2 = new JobEventsBus(db2, null, silentLog);
        const other = new RefreshScheduler(db2, new JobsStore(db2), bus2, silentLog, new DatabaseClock(db2), 60_000);
        const due = [];
        for (let i = 0; i < 150; i++) due.push(await scheduled(1, 1_000 + i));
        // Many rounds of both at once: whoever claims a slot starts its job; the other skips it.
        for (let round = 0; round < 4; round++)
          await Promise.all([scheduler.runDue(), other.runDue(), scheduler.runDue(), other.runDue()]);
        for (const d of due) {
          const jobs = await jobsOf(d.connectionId);
          expect(jobs).toHaveLength(1);
          expect(await nextSlot(d.connectionId)).toBe(d.slot + H);
        }
      } finally {
        await second.destroy();
      }
    });
});
