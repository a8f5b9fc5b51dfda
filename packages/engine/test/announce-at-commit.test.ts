import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { createJob } from '@jobtrail/domain';
import { DataSource } from 'typeorm';
import { JobEventsBus, JobsStore, databaseFor, uuidv7, type JobChange } from '../src/index.js';
import {
  databaseKinds,
  openSecondPool,
  openTestDatabase,
  silentLog,
  type TestDatabase,
} from './support/test-database.js';

const kinds = (await databaseKinds()).filter((k) => k === 'postgres');

/**
 * A job change reaches the other processes' live clients and idle workers by NOTIFY. When that
 * announcement was a separate call after the commit, a failure between the two (the connection
 * dropped, the pool timed out, the process died) lost it: a committed change that no other process
 * heard of. The announcement is now part of the change's own transaction.
 */
describe.each(kinds)('changes announced by their commit on %s', (kind) => {
  let t: TestDatabase;
  let writer: { dataSource: DataSource; store: JobsStore; bus: JobEventsBus };
  beforeAll(async () => {
    t = await openTestDatabase(kind);
    // A second process on the same database, whose calls outside a transaction all fail after its
    // commits: what a dropped connection or an exhausted pool does.
    const dataSource = await openSecondPool(t, 4);
    const db = databaseFor(dataSource);
    db.query = () => Promise.reject(new Error('connection terminated unexpectedly'));
    db.execute = () => Promise.reject(new Error('connection terminated unexpectedly'));
    const bus = new JobEventsBus(db, null, silentLog);
    writer = { dataSource, store: new JobsStore(db), bus };
  });
  afterAll(async () => {
    await writer.dataSource.destroy();
    await t.close();
  });

  it('another process hears a committed change even when every call after the commit fails', async () => {
    const { tenantId, connectionId } = await t.seedConnection();
    const heard: JobChange[] = [];
    const unsubscribe = t.bus.subscribe((c) => heard.push(c));
    try {
      // The listener connects in the background: wait until it hears a change of its own.
      await t.createJob(tenantId, connectionId, 'refresh');
      for (let i = 0; i < 100 && heard.length === 0; i++) await sleep(50);
      expect(heard).toHaveLength(1);

      const now = new Date();
      const other = await t.seedConnection();
      const job = createJob({ id: uuidv7(now.getTime()), connectionId: other.connectionId, action: 'refresh', now });
      const [committed] = await writer.store.commitNow([
        {
          tenantId: other.tenantId,
          before: null,
          next: job,
          events: [{ kind: 'created', at: now, actor: 'test', reason: 'requested' }],
        },
      ]);
      // What every caller does after a commit; its failure must not matter.
      await writer.bus.publish([committed!.change]).catch(() => undefined);
      for (let i = 0; i < 100 && heard.length < 2; i++) await sleep(50);
      expect(heard.map((c) => c.job.job_id)).toContain(job.id);
    } finally {
      unsubscribe();
    }
  });

  it('a change whose transaction rolls back is never announced', async () => {
    const { tenantId, connectionId } = await t.seedConnection();
    const heard: JobChange[] = [];
    const unsubscribe = t.bus.subscribe((c) => heard.push(c));
    try {
      const now = new Date();
      const job = createJob({ id: uuidv7(now.getTime()), connectionId, action: 'refresh', now });
      await expect(
        t.db.transaction(async (tx) => {
          await t.store.commit(tx, [
            { tenantId, before: null, next: job, events: [{ kind: 'created', at: now, actor: 'test', reason: 'x' }] },
          ]);
          throw new Error('rolled back after the write');
        }),
      ).rejects.toThrow('rolled back');
      // A later change is heard, so the earlier one had its chance to arrive first.
      const later = await t.seedConnection();
      const created = await t.createJob(later.tenantId, later.connectionId, 'refresh');
      for (let i = 0; i < 100 && !heard.some((c) => c.job.job_id === created.id); i++) await sleep(50);
      expect(heard.map((c) => c.job.job_id)).toEqual([created.id]);
    } finally {
      unsubscribe();
    }
  });
});
