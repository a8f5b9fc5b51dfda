import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { createJob } from '@jobtrail/domain';
import { uuidv7, type JobWrite } from '../src/index.js';
import { databaseKinds, openTestDatabase, type TestDatabase } from './support/test-database.js';

const kinds = (await databaseKinds()).filter((k) => k === 'postgres');

/**
 * Event ids are the resume cursor of live streams. Two writers whose transactions overlap must
 * not make an id visible after a larger one was seen: a client resuming after the larger one
 * would never get the smaller.
 */
describe.each(kinds)('event ids in commit order on %s', (kind) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase(kind);
  });
  afterAll(() => t.close());

  const creation = async (): Promise<JobWrite> => {
    const { tenantId, connectionId } = await t.seedConnection();
    const now = new Date();
    const job = createJob({ id: uuidv7(now.getTime()), connectionId, action: 'refresh', now });
    return { tenantId, before: null, next: job, events: [{ kind: 'created', at: now, actor: 'test', reason: 'x' }] };
  };
  const visibleIds = async () =>
    new Set((await t.db.query<{ id: string | number }>('SELECT id FROM job_events')).map((r) => Number(r.id)));

  it('an event committed later never has a smaller id than one already visible', async () => {
    const [first, second] = [await creation(), await creation()];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // The first transaction draws its event id, then stays open (a slow commit, a paused process).
    const slow = t.db.transaction(async (tx) => {
      await t.store.commit(tx, [first]);
      await gate;
    });
    await sleep(100);
    const fast = t.store.commitNow([second]);
    await Promise.race([fast, sleep(500)]);
    const seen = await visibleIds();
    const maxSeen = Math.max(0, ...seen);
    release();
    await Promise.all([slow, fast]);
    const late = [...(await visibleIds())].filter((id) => !seen.has(id));
    expect(late.length).toBeGreaterThan(0);
    expect(late.filter((id) => id < maxSeen)).toEqual([]);
  });
});
