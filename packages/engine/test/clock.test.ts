import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { transitionJobOrThrow } from '@jobtrail/domain';
import { DatabaseClock, LeaseSweeper, transitionEvents, type Clock } from '../src/index.js';
import {
  TEST_WORKER_CONFIG,
  databaseKinds,
  openTestDatabase,
  silentLog,
  type TestDatabase,
} from './support/test-database.js';

const kinds = (await databaseKinds()).filter((k) => k === 'postgres');
const SKEW_MS = 5 * 60_000;

/**
 * Two processes whose machines' clocks are five minutes apart share one database: a lease set by
 * one must not look expired to the other's sweeper. Time that expires or orders jobs is the
 * database's, read through each machine's clock with a measured offset.
 */
describe.each(kinds)('clocks of processes that disagree, on %s', (kind) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase(kind);
  });
  afterAll(() => t.close());

  const claimWith = async (clock: Clock) => {
    const { tenantId, connectionId } = await t.seedConnection();
    const job = await t.createJob(tenantId, connectionId, 'refresh');
    const claimed = transitionJobOrThrow(
      { ...job, runAt: new Date(0) },
      { type: 'claim', workerId: 'worker-on-time', leaseMs: 30_000 },
      { now: new Date(clock.now()), actor: 'worker-on-time' },
    );
    await t.store.commitNow([
      { tenantId, before: job, next: claimed.job, events: transitionEvents(claimed.transition) },
    ]);
    return claimed.job;
  };

  it("measures the database's time through a skewed machine clock", async () => {
    const skewed = new DatabaseClock(t.db, () => Date.now() + SKEW_MS);
    await skewed.sync();
    expect(Math.abs(skewed.now() - Date.now())).toBeLessThan(2_000);
    expect(Math.abs(skewed.offsetMs + SKEW_MS)).toBeLessThan(2_000);
    // Times are stored in BIGINT columns: the clock only ever gives whole milliseconds.
    expect(Number.isInteger(skewed.offsetMs)).toBe(true);
  });

  it('a sweeper on a machine five minutes ahead does not take a live lease (it would by its own clock)', async () => {
    const onTime = new DatabaseClock(t.db);
    await onTime.sync();
    const job = await claimWith(onTime);
    const ahead = () => Date.now() + SKEW_MS;
    // By its own clock, the machine ahead sees the 30 s lease long expired and sweeps the job.
    const naive = new LeaseSweeper(t.db, t.store, t.bus, TEST_WORKER_CONFIG, silentLog, 'sweeper:naive', {
      now: ahead,
    });
    const synced = new DatabaseClock(t.db, ahead);
    await synced.sync();
    const sweeper = new LeaseSweeper(t.db, t.store, t.bus, TEST_WORKER_CONFIG, silentLog, 'sweeper:synced', synced);
    expect(await sweeper.sweepExpiredLeases()).toBe(0);
    const [row] = await t.db.query<{ status: string }>('SELECT status FROM jobs WHERE id = $1', [job.id]);
    expect(row?.status).toBe('processing');
    // The same sweeper on the machine's own clock is what used to happen: the live job is taken away.
    expect(await naive.sweepExpiredLeases()).toBe(1);
  });
});
