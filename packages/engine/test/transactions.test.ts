import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createJob, transitionJobOrThrow } from '@jobtrail/domain';
import pg from 'pg';
import { JobsStore, TransactionEndedError, databaseFor, transitionEvents, uuidv7 } from '../src/index.js';
import { databaseKinds, openSecondPool, openTestDatabase, type TestDatabase } from './support/test-database.js';

const kinds = await databaseKinds();

/**
 * Transactions as the store uses them. On PostgreSQL, BEGIN is sent with the first statement and
 * `queryAndCommit`'s COMMIT with the last (node-postgres pipelining): what that could break is
 * atomicity (a statement run outside the transaction, a COMMIT that lands after a failure), TypeORM's
 * manager inside the transaction (beginning and committing one of its own), and the pooled
 * connection (handed back with an answer still on its way, or still pipelining).
 */
describe.each(kinds)('transactions on %s', (kind) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase(kind);
    await t.db.execute('CREATE TABLE tx_probe (id INTEGER PRIMARY KEY)');
  });
  afterAll(async () => {
    await t.close();
  });

  const probeIds = async () =>
    (await t.db.query<{ id: number | string }>('SELECT id FROM tx_probe ORDER BY id')).map((r) => Number(r.id));
  const clear = () => t.db.execute('DELETE FROM tx_probe');

  it('queryAndCommit commits the statements before it and its own', async () => {
    await clear();
    const rows = await t.db.transaction(async (tx) => {
      await tx.execute('INSERT INTO tx_probe (id) VALUES (1)');
      return tx.queryAndCommit<{ id: number | string }>('INSERT INTO tx_probe (id) VALUES (2) RETURNING id');
    });
    expect(rows.map((r) => Number(r.id))).toEqual([2]);
    expect(await probeIds()).toEqual([1, 2]);
  });

  it('a failing last statement commits nothing, and its own error is the one thrown', async () => {
    await clear();
    await t.db.execute('INSERT INTO tx_probe (id) VALUES (1)');
    const err = await t.db
      .transaction(async (tx) => {
        await tx.execute('INSERT INTO tx_probe (id) VALUES (2)');
        return tx.queryAndCommit('INSERT INTO tx_probe (id) VALUES (1)');
      })
      .catch((e: unknown) => e);
    expect(String((err as Error).message)).toMatch(/unique|duplicate/i);
    expect(await probeIds()).toEqual([1]);
  });

  it('a failed statement caught inside the transaction: PostgreSQL then commits nothing', async () => {
    await clear();
    await t.db.execute('INSERT INTO tx_probe (id) VALUES (1)');
    const outcome = await t.db
      .transaction(async (tx) => {
        await tx.execute('INSERT INTO tx_probe (id) VALUES (3)');
        await tx.execute('INSERT INTO tx_probe (id) VALUES (1)').catch(() => undefined);
        // SQLite goes on after a failed statement; PostgreSQL refuses everything after it.
        await tx.queryAndCommit('INSERT INTO tx_probe (id) VALUES (4)');
        return 'committed';
      })
      .catch(() => 'rolled back');
    expect(await probeIds()).toEqual(kind === 'postgres' ? [1] : [1, 3, 4]);
    expect(outcome).toBe(kind === 'postgres' ? 'rolled back' : 'committed');
  });

  it('nothing runs after queryAndCommit, and a throw after it leaves the commit in place', async () => {
    await clear();
    const err = await t.db
      .transaction(async (tx) => {
        await tx.queryAndCommit('INSERT INTO tx_probe (id) VALUES (5)');
        await expect(tx.queryAndCommit('INSERT INTO tx_probe (id) VALUES (6)')).rejects.toBeInstanceOf(
          TransactionEndedError,
        );
        await tx.execute('INSERT INTO tx_probe (id) VALUES (6)');
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransactionEndedError);
    expect(await probeIds()).toEqual([5]);
  });

  it("TypeORM's manager runs inside the transaction: a nested transaction of it is a savepoint", async () => {
    await clear();
    await t.db
      .transaction(async (tx) => {
        await tx.manager.query('INSERT INTO tx_probe (id) VALUES (7)');
        // Were the runner not told of the transaction, this would BEGIN and COMMIT one of its own,
        // committing 7 and 8 with it.
        await tx.manager.transaction((m) => m.query('INSERT INTO tx_probe (id) VALUES (8)'));
        await tx.execute('INSERT INTO tx_probe (id) VALUES (9)');
        throw new Error('roll back');
      })
      .catch(() => undefined);
    expect(await probeIds()).toEqual([]);
  });

  if (kind === 'postgres') {
    it('hands its connection back idle and no longer pipelining, whatever the outcome', async () => {
      await clear();
      const dataSource = await openSecondPool(t, 1);
      try {
        const db = databaseFor(dataSource);
        await db.transaction((tx) => tx.queryAndCommit('INSERT INTO tx_probe (id) VALUES (10)'));
        await db.transaction((tx) => tx.queryAndCommit('INSERT INTO tx_probe (id) VALUES (10)')).catch(() => undefined);
        await db
          .transaction(async (tx) => {
            await tx.execute('INSERT INTO tx_probe (id) VALUES (10)').catch(() => undefined);
          })
          .catch(() => undefined);
        const runner = dataSource.createQueryRunner();
        try {
          const client = (await runner.connect()) as { pipeline: boolean; getTransactionStatus(): string | null };
          expect(client.pipeline).toBe(false);
          expect(client.getTransactionStatus()).toBe('I');
        } finally {
          await runner.release();
        }
        expect(await db.query<{ n: string }>('SELECT count(*) AS n FROM tx_probe')).toEqual([{ n: '1' }]);
      } finally {
        await dataSource.destroy();
      }
    });

    it('a create is two round trips and a claim three (BEGIN and COMMIT ride with statements)', async () => {
      // A round trip starts when a statement goes on the wire while none of its connection's is
      // unanswered (counted where node-postgres writes a query out, not where it is queued).
      const proto = pg.Query.prototype as unknown as {
        submit: (connection: object) => unknown;
        handleReadyForQuery: (connection: object) => unknown;
      };
      const { submit, handleReadyForQuery } = proto;
      const unanswered = new WeakMap<object, number>();
      let roundTrips = 0;
      proto.submit = function (this: unknown, connection: object) {
        const before = unanswered.get(connection) ?? 0;
        if (before === 0) roundTrips++;
        unanswered.set(connection, before + 1);
        return submit.call(this, connection);
      };
      proto.handleReadyForQuery = function (this: unknown, connection: object) {
        unanswered.set(connection, (unanswered.get(connection) ?? 1) - 1);
        return handleReadyForQuery.call(this, connection);
      };
      try {
        const store = new JobsStore(t.db);
        const { tenantId, connectionId } = await t.seedConnection();
        const now = new Date();
        const job = createJob({ id: uuidv7(now.getTime()), connectionId, action: 'refresh', now });
        roundTrips = 0;
        await store.commitNow([
          {
            tenantId,
            before: null,
            next: job,
            events: [{ kind: 'created', at: now, actor: 'k', reason: 'requested' }],
          },
        ]);
        expect(roundTrips).toBe(2);
        roundTrips = 0;
        const claimed = await t.db.transaction(async (tx) => {
          const due = (await store.lockDueJobs(tx, Date.now() + 1_000, 100)).find((c) => c.job.id === job.id)!;
          const res = transitionJobOrThrow(
            due.job,
            { type: 'claim', workerId: 'w1', leaseMs: 30_000 },
            { now: new Date(), actor: 'w1' },
          );
          return store.commit(
            tx,
            [{ tenantId, before: due.job, next: res.job, events: transitionEvents(res.transition) }],
            { locked: [due.job], last: true },
          );
        });
        expect(claimed[0]?.job.status).toBe('processing');
        expect(roundTrips).toBe(3);
      } finally {
        proto.submit = submit;
        proto.handleReadyForQuery = handleReadyForQuery;
      }
    });
  }
});
