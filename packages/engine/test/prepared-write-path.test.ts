import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { createJob, jobError, transitionJobOrThrow, type Job, type JobEvent } from '@jobtrail/domain';
import pg from 'pg';
import {
  JobsStore,
  databaseFor,
  pendingChangePayloads,
  transitionEvents,
  uuidv7,
  type JobChange,
} from '../src/index.js';
import { databaseKinds, openSecondPool, openTestDatabase, type TestDatabase } from './support/test-database.js';

const kinds = await databaseKinds();

/**
 * The write path of issue 13: on PostgreSQL a commit writes its job and connection rows in one
 * statement and its events with their notifications in a second, each prepared once per
 * connection. What that shape could break: a connection row written twice in one statement (only
 * one write would count), a notification too long once the ids are known, a prepared statement
 * whose result columns change under a running process.
 */
describe.each(kinds)('the write path on %s', (kind) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase(kind);
  });
  afterAll(async () => {
    await t.close();
  });

  const claim = async (tenantId: string, jobId: string): Promise<Job> => {
    const claimed = await t.db.transaction(async (tx) => {
      const due = (await t.store.lockDueJobs(tx, Date.now() + 1_000, 100)).find((c) => c.job.id === jobId)!;
      const res = transitionJobOrThrow(
        due.job,
        { type: 'claim', workerId: 'w1', leaseMs: 30_000 },
        { now: new Date(), actor: 'w1' },
      );
      const [committed] = await t.store.commit(
        tx,
        [{ tenantId, before: due.job, next: res.job, events: transitionEvents(res.transition) }],
        { locked: [due.job] },
      );
      return committed!.job;
    });
    return claimed;
  };

  /** A refresh claimed on a new connection, and how to end its attempt. */
  const runningRefresh = async () => {
    const { tenantId, connectionId } = await t.seedConnection();
    const refresh = await t.createJob(tenantId, connectionId, 'refresh');
    const running = await claim(tenantId, refresh.id);
    const end = (event: JobEvent) => transitionJobOrThrow(running, event, { now: new Date(), actor: 'w1' });
    return { tenantId, connectionId, refresh, running, end };
  };

  it('one commit that ends a refresh and creates a job on its connection writes both to the connection', async () => {
    const { tenantId, connectionId, refresh, running, end } = await runningRefresh();
    const failed = end({ type: 'fail', error: jobError('invalid-credentials', 'The bank refused the password.') });
    const now = new Date(Date.now() + 5);
    const purge = createJob({ id: uuidv7(now.getTime()), connectionId, action: 'purge', now });
    const committed = await t.store.commitNow([
      { tenantId, before: running, next: failed.job, events: transitionEvents(failed.transition) },
      { tenantId, before: null, next: purge, events: [{ kind: 'created', at: now, actor: 'k', reason: 'requested' }] },
    ]);
    expect(committed.map((c) => c?.job.status)).toEqual(['failed', 'pending']);
    const [connection] = await t.db.query<{ status: string; latest_job_id: string; last_refresh_job_id: string }>(
      'SELECT status, latest_job_id, last_refresh_job_id FROM connections WHERE id = $1',
      [connectionId],
    );
    expect(connection).toEqual({ status: 'invalid', latest_job_id: purge.id, last_refresh_job_id: refresh.id });
  });

  it('an attempt that ends tells the circuit of the institution its writer names, without reading it again', async () => {
    const { tenantId, running, end } = await runningRefresh();
    const failed = end({
      type: 'requeue',
      runAt: new Date(Date.now() + 60_000),
      error: jobError('institution-unavailable', 'The bank is down.'),
    });
    // A connection's institution never changes, so a running attempt's word (from its claim) is
    // the stored one; a name no connection has shows which the commit used.
    const named = `inst-named-${uuidv7()}`;
    await t.store.commitNow([
      {
        tenantId,
        before: running,
        next: failed.job,
        events: transitionEvents(failed.transition),
        institutionId: named,
      },
    ]);
    const circuits = await t.db.query<{ institution_id: string; consecutive_failures: number | string }>(
      'SELECT institution_id, consecutive_failures FROM institution_circuits WHERE institution_id = $1',
      [named],
    );
    expect(circuits.map((c) => [c.institution_id, Number(c.consecutive_failures)])).toEqual([[named, 1]]);
  });

  it('a job created with an older id never becomes its connection’s latest', async () => {
    const { tenantId, connectionId } = await t.seedConnection();
    const newer = await t.createJob(tenantId, connectionId, 'refresh');
    const past = new Date(Date.now() - 60_000);
    // uuidv7() never goes backwards in one process: an id from before it was first called.
    const older = createJob({
      id: `00000000-0000-7000-8000-${newer.id.slice(-12)}`,
      connectionId,
      action: 'purge',
      now: past,
    });
    await t.store.commitNow([
      { tenantId, before: null, next: older, events: [{ kind: 'created', at: past, actor: 'k', reason: 'requested' }] },
    ]);
    const [connection] = await t.db.query<{ latest_job_id: string }>(
      'SELECT latest_job_id FROM connections WHERE id = $1',
      [connectionId],
    );
    expect(connection!.latest_job_id).toBe(newer.id);
  });

  it('a commit of many changes announces each with the id of its newest event, in id order', async () => {
    const heard: JobChange[] = [];
    const unsubscribe = t.bus.subscribe((c) => heard.push(c));
    try {
      const seeded = await Promise.all(Array.from({ length: 60 }, () => t.seedConnection()));
      const now = new Date();
      // Long lines make the changes span several notifications (8,000 bytes each at most).
      const writes = seeded.map(({ tenantId, connectionId }, i) => ({
        tenantId,
        before: null,
        next: createJob({ id: uuidv7(now.getTime() + i), connectionId, action: 'refresh' as const, now }),
        events: [
          { kind: 'created' as const, at: now, actor: 'k', reason: 'requested' },
          { kind: 'log' as const, at: now, level: 'info' as const, step: null, message: 'x'.repeat(300) },
        ],
      }));
      const committed = await t.store.commitNow(writes);
      // SQLite's single process announces after the commit (the API and the worker publish).
      if (kind === 'sqlite') await t.bus.publish(committed.map((c) => c!.change));
      for (let i = 0; i < 100 && heard.length < writes.length; i++) await sleep(50);
      const ours = heard.filter((c) => writes.some((w) => w.next.id === c.job.job_id));
      expect(ours.map((c) => c.job.job_id)).toEqual(writes.map((w) => w.next.id));
      const ids = ours.map((c) => c.id);
      expect(ids).toEqual(committed.map((c) => c!.change.id));
      expect(ids.every((id, i) => id > 0 && (i === 0 || id > ids[i - 1]!))).toBe(true);
      const stored = await t.db.query<{ job_id: string; id: number | string }>(
        `SELECT job_id, MAX(id) AS id FROM job_events WHERE job_id IN (${writes.map((_, i) => `$${i + 1}`).join(', ')}) GROUP BY job_id`,
        writes.map((w) => w.next.id),
      );
      expect(new Map(stored.map((r) => [r.job_id, Number(r.id)]))).toEqual(
        new Map(ours.map((c) => [c.job.job_id, c.id])),
      );
    } finally {
      unsubscribe();
    }
  });

  if (kind === 'postgres')
    it('runs the hot statements named (prepared) by default, and none named when prepared statements are off', async () => {
      const named = async (preparedStatements: boolean | undefined) => {
        const dataSource = await openSecondPool(t, 2);
        const query = pg.Client.prototype.query;
        const names: string[] = [];
        pg.Client.prototype.query = function (this: pg.Client, config: unknown, ...rest: unknown[]) {
          const name = (config as { name?: string } | null)?.name;
          if (name) names.push(name);
          return (query as (...args: unknown[]) => unknown).call(this, config, ...rest);
        } as typeof query;
        try {
          const db = databaseFor(dataSource, preparedStatements === undefined ? {} : { preparedStatements });
          const store = new JobsStore(db);
          const { tenantId, connectionId } = await t.seedConnection();
          const now = new Date();
          const job = createJob({ id: uuidv7(now.getTime()), connectionId, action: 'refresh', now });
          const [created] = await store.commitNow([
            {
              tenantId,
              before: null,
              next: job,
              events: [{ kind: 'created', at: now, actor: 'k', reason: 'requested' }],
            },
          ]);
          expect(created?.job.status).toBe('pending');
          await db.transaction((tx) => store.lockDueJobs(tx, Date.now() + 1_000, 10));
          return names;
        } finally {
          pg.Client.prototype.query = query;
          await dataSource.destroy();
        }
      };
      expect((await named(undefined)).length).toBeGreaterThanOrEqual(3);
      expect(await named(true)).not.toEqual([]);
      expect(await named(false)).toEqual([]);
    });

  if (kind === 'postgres')
    it('a prepared statement still runs after a migration adds a column under the running process', async () => {
      // One connection, so the second claim runs on the statements the first one prepared.
      const dataSource = await openSecondPool(t, 1);
      try {
        const db = databaseFor(dataSource);
        const store = new JobsStore(db);
        const claimVia = async () =>
          db.transaction(async (tx) => (await store.lockDueJobs(tx, Date.now() + 1_000, 100)).map((c) => c.job.id));
        const first = await t.seedConnection();
        const a = await t.createJob(first.tenantId, first.connectionId, 'refresh');
        expect(await claimVia()).toContain(a.id);
        await t.db.execute('ALTER TABLE jobs ADD COLUMN added_later INTEGER');
        expect(await claimVia()).toContain(a.id);
        await db.transaction((tx) =>
          store.lockResumableJobs(tx, 10).then(() => store.lockExpiredLeases(tx, Date.now(), 10)),
        );
      } finally {
        await dataSource.destroy();
        await t.db.execute('ALTER TABLE jobs DROP COLUMN added_later');
      }
    });
});

describe('notifications of changes whose ids are not drawn yet', () => {
  it('fit under PostgreSQL’s 8,000-byte limit with 20-digit ids, chunk by chunk, in order', () => {
    const change = (i: number, detail: number): JobChange =>
      ({
        id: 0,
        type: 'job.updated',
        tenantId: 't',
        connectionId: 'c',
        job: { job_id: `job-${i}`, error: { code: 'x', title: 'x', detail: 'd'.repeat(detail), retryable: false } },
      }) as unknown as JobChange;
    const changes = Array.from({ length: 40 }, (_, i) => change(i, i === 7 ? 20_000 : 700));
    const pending = pendingChangePayloads(changes);
    expect(pending.jobIds).toEqual(changes.map((c) => c.job.job_id));
    expect([...pending.chunks].sort((a, b) => a - b)).toEqual(pending.chunks);
    const sizes = new Map<number, number>();
    pending.suffixes.forEach((suffix, i) => {
      const json = `{"id":${'9'.repeat(20)}${suffix}`;
      expect(() => JSON.parse(json)).not.toThrow();
      sizes.set(pending.chunks[i]!, (sizes.get(pending.chunks[i]!) ?? 1) + json.length + 1);
    });
    expect(Math.max(...sizes.values())).toBeLessThan(8_000);
    expect(sizes.size).toBeGreaterThan(3);
    // The long error detail is cut (clients read it from the API), not the change.
    expect(pending.suffixes[7]!.length).toBeLessThan(1_000);
  });
});
