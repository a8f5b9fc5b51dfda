import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jobError, transitionJobOrThrow } from '@jobtrail/domain';
import request from 'supertest';
import { Database, DatabaseClock, JobsStore, transitionEvents, type NewJobEvent } from '@jobtrail/engine';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';

const kinds = await databaseKinds();

/**
 * Log lines recorded together are folded into one job_events row (issue 13): what the logs
 * endpoint shows — every line once, in order, numbered 1, 2, 3... — must not depend on how the
 * lines were stored, whatever the page size.
 */
describe.each(kinds)('job log lines stored folded and one a row, on %s', (kind) => {
  let t: TestApp;
  const auth = () => ({ Authorization: `Bearer ${t.adminKey}` });
  beforeAll(async () => {
    t = await startTestApp(kind, { role: 'api' });
  });
  afterAll(() => t.close());

  const line = (message: string, at: number): NewJobEvent => ({
    kind: 'log',
    at: new Date(at),
    level: 'info',
    step: 'retrieve-accounts',
    message,
  });

  /** A claimed job (its creation logged one line), then three changes carrying 3, 1 and 2 log lines. */
  async function jobWithLines(): Promise<string> {
    const created = await request(t.server)
      .post('/api/connections')
      .set(auth())
      .send({ institution_id: 'sandbox', login_id: 'user-ok', password: 'pw' })
      .expect(202);
    const jobId: string = created.body.job.job_id;
    const store = t.app.get(JobsStore);
    const db = t.app.get(Database);
    const now = t.app.get(DatabaseClock).now();
    let claimed = await db.transaction(async (tx) => {
      const due = (await store.lockDueJobs(tx, now, 100)).find((c) => c.job.id === jobId)!;
      const res = transitionJobOrThrow(
        due.job,
        { type: 'claim', workerId: 'w', leaseMs: 60_000 },
        { now: new Date(now), actor: 'w' },
      );
      await store.commit(tx, [
        { tenantId: due.tenantId, before: due.job, next: res.job, events: transitionEvents(res.transition) },
      ]);
      return { tenantId: due.tenantId, job: res.job };
    });
    let n = 0;
    for (const count of [3, 1, 2]) {
      // Two changes without a transition (step progress), then the attempt's end with its lines.
      const event =
        count === 2
          ? ({ type: 'fail', error: jobError('invalid-credentials', 'The bank refused the password') } as const)
          : ({ type: 'heartbeat', workerId: 'w', leaseMs: 60_000 } as const);
      const res = transitionJobOrThrow(claimed.job, event, { now: new Date(now + 1), actor: 'w' });
      const events = [
        ...transitionEvents(res.transition),
        ...Array.from({ length: count }, () => line(`line ${++n}`, now + n)),
      ];
      const [written] = await store.commitNow([
        { tenantId: claimed.tenantId, before: claimed.job, next: res.job, events },
      ]);
      claimed = { ...claimed, job: written!.job };
    }
    return jobId;
  }

  it("stores a change's lines in its own event row (creation, transition), or in one log row without one", async () => {
    const jobId = await jobWithLines();
    const rows = await t.app
      .get(Database)
      .query<{ kind: string; to_status: string | null; message: string | null; lines: string | null }>(
        `SELECT kind, to_status, message, lines FROM job_events WHERE job_id = $1 ORDER BY id`,
        [jobId],
      );
    expect(
      rows.map((r) => [r.kind, r.to_status, r.lines ? (JSON.parse(r.lines) as unknown[]).length : r.message]),
    ).toEqual([
      ['created', 'pending', 1],
      ['transition', 'processing', null],
      ['log', null, 3],
      // A lone line without a transition keeps the one-line form.
      ['log', null, 'line 4'],
      ['transition', 'failed', 2],
    ]);
  });

  it.each([1, 2, 4, 50])('pages through every line once, in order, %i a page', async (limit) => {
    const jobId = await jobWithLines();
    const seen: Array<{ seq: number; message: string; step: string | null; level: string }> = [];
    let path: string | null = `/api/jobs/${jobId}/logs?limit=${limit}`;
    while (path) {
      const res = await request(t.server).get(path).set(auth()).expect(200);
      expect(res.body.length).toBeLessThanOrEqual(limit);
      seen.push(...res.body);
      const link = res.headers.link as string | undefined;
      path = link ? link.slice(1, link.indexOf('>')) : null;
    }
    expect(seen.map((l) => l.message)).toEqual([
      'refresh requested by key "bootstrap admin"',
      'line 1',
      'line 2',
      'line 3',
      'line 4',
      'line 5',
      'line 6',
    ]);
    expect(seen.map((l) => l.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(seen.slice(1).every((l) => l.step === 'retrieve-accounts' && l.level === 'info')).toBe(true);
    // The attempt's end is still shown as a transition, with its lines apart.
    const detail = await request(t.server).get(`/api/jobs/${jobId}`).set(auth()).expect(200);
    expect(detail.body.transitions.map((tr: { to: string }) => tr.to)).toEqual(['processing', 'failed']);
  });
});
