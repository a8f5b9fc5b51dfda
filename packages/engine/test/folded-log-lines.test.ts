import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jobError, transitionJobOrThrow, type Job } from '@jobtrail/domain';
import { transitionEvents, type NewJobEvent } from '../src/index.js';
import { databaseKinds, openTestDatabase, type TestDatabase } from './support/test-database.js';

const kinds = await databaseKinds();

/**
 * A change's log lines are stored folded into one job_events row (issue 13). What must hold: each
 * change's live event id is its job's newest event row (the SSE cursor), also when several jobs
 * share one commit; and the migration can be undone without losing a line.
 */
describe.each(kinds)('folded log lines on %s', (kind) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase(kind);
  });
  afterAll(() => t.close());

  const lines = (n: number, from: string): NewJobEvent[] =>
    Array.from({ length: n }, (_, i) => ({
      kind: 'log',
      at: new Date(),
      level: 'info',
      step: 'verify-credentials',
      message: `${from} ${i + 1}`,
    }));

  async function claimed(): Promise<{ tenantId: string; job: Job }> {
    const { tenantId, connectionId } = await t.seedConnection();
    const job = await t.createJob(tenantId, connectionId, 'refresh');
    const res = transitionJobOrThrow(
      job,
      { type: 'claim', workerId: 'w', leaseMs: 60_000 },
      { now: new Date(), actor: 'w' },
    );
    const [written] = await t.store.commitNow([
      { tenantId, before: job, next: res.job, events: [...transitionEvents(res.transition), ...lines(2, 'claim')] },
    ]);
    return { tenantId, job: written!.job };
  }

  it("gives each change of a shared commit its job's newest event row as its id", async () => {
    const jobs = [await claimed(), await claimed(), await claimed()];
    // One commit: a transition with lines, lines alone (folded), one lone line.
    const writes = jobs.map(({ tenantId, job }, i) => {
      const res =
        i === 0
          ? transitionJobOrThrow(
              job,
              { type: 'fail', error: jobError('invalid-credentials', 'The bank refused the password') },
              { now: new Date(), actor: 'w' },
            )
          : transitionJobOrThrow(
              job,
              { type: 'heartbeat', workerId: 'w', leaseMs: 60_000 },
              { now: new Date(), actor: 'w' },
            );
      return {
        tenantId,
        before: job,
        next: res.job,
        events: [...transitionEvents(res.transition), ...lines(i === 2 ? 1 : 3, `job ${i}`)],
      };
    });
    const committed = await t.store.commitNow(writes);
    for (const [i, c] of committed.entries()) {
      const newest = await t.db.query<{ id: number | string }>(
        'SELECT MAX(id) AS id FROM job_events WHERE job_id = $1',
        [jobs[i]!.job.id],
      );
      expect(c!.change.id).toBe(Number(newest[0]!.id));
    }
    const ids = committed.map((c) => c!.change.id);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    const rows = await t.db.query<{ kind: string; lines: string | null; message: string | null }>(
      'SELECT kind, lines, message FROM job_events WHERE job_id = $1 ORDER BY id',
      [jobs[0]!.job.id],
    );
    expect(rows.map((r) => [r.kind, r.lines === null ? r.message : (JSON.parse(r.lines) as unknown[]).length])).toEqual(
      [
        ['created', null],
        ['transition', 2],
        ['transition', 3],
      ],
    );
  });

  it('undoing the migration turns every folded line back into a row of its own, and redoing it works', async () => {
    const { job } = await claimed();
    const before = await t.db.query<{ n: number | string }>("SELECT COUNT(*) AS n FROM job_events WHERE kind = 'log'");
    const folded = await t.db.query<{ lines: string }>('SELECT lines FROM job_events WHERE lines IS NOT NULL');
    const foldedLines = folded.reduce((n, r) => n + (JSON.parse(r.lines) as unknown[]).length, 0);
    const foldedLogRows = Number(
      (
        await t.db.query<{ n: number | string }>(
          "SELECT COUNT(*) AS n FROM job_events WHERE kind = 'log' AND lines IS NOT NULL",
        )
      )[0]!.n,
    );
    await t.dataSource.undoLastMigration();
    const after = await t.db.query<{ n: number | string }>("SELECT COUNT(*) AS n FROM job_events WHERE kind = 'log'");
    expect(Number(after[0]!.n)).toBe(Number(before[0]!.n) - foldedLogRows + foldedLines);
    const own = await t.db.query<{ message: string }>(
      "SELECT message FROM job_events WHERE job_id = $1 AND kind = 'log' ORDER BY id",
      [job.id],
    );
    expect(own.map((r) => r.message)).toEqual(['claim 1', 'claim 2']);
    await t.dataSource.runMigrations();
    expect(await t.db.query('SELECT lines FROM job_events WHERE lines IS NOT NULL')).toEqual([]);
  });
});
