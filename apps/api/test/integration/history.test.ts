import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  ConnectionSchema,
  DEFAULT_PAGE_SIZE,
  JobSummarySchema,
  MAX_PAGE_SIZE,
  type Job,
  type JobSummaryWire,
} from '@jobtrail/domain';
import request from 'supertest';
import {
  bearer,
  expectProblem,
  insertConnection,
  insertJobs,
  newestFirst,
  nextLinkOf,
  seedHistory,
  seededJob,
  tenantKey,
} from '../support/api-helpers.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';

const kinds = await databaseKinds();

const DAY = 24 * 60 * 60 * 1000;
const START = Date.UTC(2024, 0, 1, 8, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

describe.each(kinds)('job history and lists on %s', (kind) => {
  let t: TestApp;
  let auth: { Authorization: string };
  let tenantId: string;
  /** Connection A: 500 terminal jobs. Connection B: 40 more, later. Both in tenant `history`. */
  let connA: string;
  let connB: string;
  let jobsA: Job[];
  let jobsB: Job[];

  beforeAll(async () => {
    t = await startTestApp(kind);
    const k = await tenantKey(t, 'history');
    auth = bearer(k.key);
    tenantId = k.tenantId;
    connA = await insertConnection(t, tenantId, START - DAY);
    connB = await insertConnection(t, tenantId, START - DAY + 1);
    jobsA = await seedHistory(t, tenantId, connA, 500, START);
    jobsB = await seedHistory(t, tenantId, connB, 40, START + 100 * 60_000 + 30_000, 5 * 60_000);
  });
  afterAll(() => t.close());

  /** GETs `path` and every page after it through the Link headers; the ids in order. */
  async function collect(path: string, key = auth): Promise<{ ids: string[]; pages: number; items: JobSummaryWire[] }> {
    const items: JobSummaryWire[] = [];
    let next: string | null = path;
    let pages = 0;
    while (next !== null) {
      const res = await request(t.server).get(next).set(key);
      expect(res.status).toBe(200);
      const page = (res.body as unknown[]).map((j) => JobSummarySchema.parse(j));
      items.push(...page);
      pages++;
      next = nextLinkOf(res);
      if (next !== null) expect(page.length).toBeGreaterThan(0);
      expect(pages).toBeLessThan(1_000);
    }
    return { ids: items.map((j) => j.job_id), pages, items };
  }

  const ids = (jobs: readonly Job[]) => jobs.map((j) => j.id);

  it('answers newest first, 50 jobs by default, with a Link to the next page', async () => {
    const res = await request(t.server).get(`/api/connections/${connA}/jobs`).set(auth);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(Array.isArray(res.body)).toBe(true);
    const page = (res.body as unknown[]).map((j) => JobSummarySchema.parse(j));
    expect(page).toHaveLength(DEFAULT_PAGE_SIZE);
    expect(page.map((j) => j.job_id)).toEqual(ids(jobsA.slice(0, 50)));
    const dates = page.map((j) => Date.parse(j.date));
    expect(dates).toEqual([...dates].sort((a, b) => b - a));
    expect(page[0]).toMatchObject({
      job_id: jobsA[0]!.id,
      connection_id: connA,
      date: jobsA[0]!.createdAt.toISOString(),
      status: jobsA[0]!.status,
      action: jobsA[0]!.action,
    });
    const link = nextLinkOf(res);
    expect(link).toMatch(new RegExp(`^/api/connections/${connA}/jobs\\?(.+&)?cursor=[A-Za-z0-9_-]+$`));
  });

  it('gives at most 200 jobs a page, and the next page continues where it ended', async () => {
    const res = await request(t.server).get(`/api/connections/${connA}/jobs?limit=${MAX_PAGE_SIZE}`).set(auth);
    expect(res.status).toBe(200);
    expect((res.body as JobSummaryWire[]).map((j) => j.job_id)).toEqual(ids(jobsA.slice(0, MAX_PAGE_SIZE)));
    const next = nextLinkOf(res)!;
    expect(next).toContain(`limit=${MAX_PAGE_SIZE}`);
    const second = await request(t.server).get(next).set(auth);
    expect((second.body as JobSummaryWire[]).map((j) => j.job_id)).toEqual(ids(jobsA.slice(200, 400)));
    expectProblem(
      await request(t.server)
        .get(`/api/connections/${connA}/jobs?limit=${MAX_PAGE_SIZE + 1}`)
        .set(auth),
      400,
      'validation-failed',
    );
  });

  it('pages through all 500 jobs with limit=7: no duplicate, no gap, no Link after the last page', async () => {
    const { ids: seen, pages, items } = await collect(`/api/connections/${connA}/jobs?limit=7`);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(ids(jobsA));
    expect(pages).toBe(Math.ceil(500 / 7));
    expect(items.every((j) => j.connection_id === connA)).toBe(true);
  });

  it('ends without a Link when the last page is exactly full', async () => {
    const res = await request(t.server).get(`/api/connections/${connB}/jobs?limit=40`).set(auth);
    expect(res.body).toHaveLength(40);
    expect(res.headers.link).toBeUndefined();
    const { ids: seen, pages } = await collect(`/api/connections/${connB}/jobs?limit=20`);
    expect(seen).toEqual(ids(jobsB));
    expect(pages).toBe(2);
  });

  it('filters by several statuses, as `status=a,b` and as repeated `status=a&status=b`', async () => {
    const expected = ids(jobsA.filter((j) => j.status === 'failed' || j.status === 'cancelled'));
    expect(expected.length).toBeGreaterThan(100);
    expect(expected.length).toBeLessThan(500);
    const comma = await collect(`/api/connections/${connA}/jobs?status=failed,cancelled&limit=50`);
    const repeated = await collect(`/api/connections/${connA}/jobs?status=failed&status=cancelled&limit=50`);
    expect(comma.ids).toEqual(expected);
    expect(repeated.ids).toEqual(expected);
    expect(comma.items.every((j) => j.status === 'failed' || j.status === 'cancelled')).toBe(true);
    // A failed job's error is in its summary.
    expect(comma.items.find((j) => j.status === 'failed')?.error).toMatchObject({
      code: 'institution-unavailable',
      retryable: true,
    });

    const one = await collect(`/api/connections/${connA}/jobs?status=success&limit=200`);
    expect(one.ids).toEqual(ids(jobsA.filter((j) => j.status === 'success')));
  });

  it('filters by action, and by action and status together', async () => {
    const purges = await collect(`/api/connections/${connA}/jobs?action=purge&limit=30`);
    expect(purges.ids).toEqual(ids(jobsA.filter((j) => j.action === 'purge')));
    const failedRefreshes = await collect(`/api/connections/${connA}/jobs?action=refresh&status=failed&limit=30`);
    expect(failedRefreshes.ids).toEqual(ids(jobsA.filter((j) => j.action === 'refresh' && j.status === 'failed')));
    expect(failedRefreshes.ids.length).toBeGreaterThan(0);
  });

  it('filters by a time range with `from` and `to`', async () => {
    // Bounds between two jobs' times, so the result does not depend on inclusive/exclusive ends.
    const from = jobsA[300]!.createdAt.getTime() - 20_000;
    const to = jobsA[120]!.createdAt.getTime() + 20_000;
    const inRange = (j: Job) => j.createdAt.getTime() >= from && j.createdAt.getTime() <= to;
    const both = await collect(`/api/connections/${connA}/jobs?from=${iso(from)}&to=${iso(to)}&limit=25`);
    expect(both.ids).toEqual(ids(jobsA.filter(inRange)));
    expect(both.ids).toHaveLength(181);

    const onlyFrom = await collect(`/api/connections/${connA}/jobs?from=${iso(from)}&limit=200`);
    expect(onlyFrom.ids).toEqual(ids(jobsA.filter((j) => j.createdAt.getTime() >= from)));
    const onlyTo = await collect(`/api/connections/${connA}/jobs?to=${iso(to)}&limit=200`);
    expect(onlyTo.ids).toEqual(ids(jobsA.filter((j) => j.createdAt.getTime() <= to)));

    // The same instant written with an offset.
    const local = new Date(from + 2 * 60 * 60 * 1000).toISOString().replace('Z', '+02:00');
    const withOffset = await collect(
      `/api/connections/${connA}/jobs?from=${encodeURIComponent(local)}&to=${iso(to)}&limit=200`,
    );
    expect(withOffset.ids).toEqual(both.ids);

    // With the other filters too.
    const combined = await collect(
      `/api/connections/${connA}/jobs?from=${iso(from)}&to=${iso(to)}&status=success&action=refresh&limit=9`,
    );
    expect(combined.ids).toEqual(
      ids(jobsA.filter((j) => inRange(j) && j.status === 'success' && j.action === 'refresh')),
    );

    // A window with no job is an empty page, not a 404.
    const empty = await request(t.server)
      .get(`/api/connections/${connA}/jobs?to=${iso(START - 1)}`)
      .set(auth);
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual([]);
    expect(empty.headers.link).toBeUndefined();
    expectProblem(
      await request(t.server)
        .get(`/api/connections/${connA}/jobs?from=${iso(to)}&to=${iso(from)}`)
        .set(auth),
      400,
      'validation-failed',
    );
  });

  it('orders jobs created in the same millisecond by id, and pages through them without loss', async () => {
    const ties = await tenantKey(t, 'history-ties');
    const conn = await insertConnection(t, ties.tenantId, START - DAY);
    const at = START + 7 * DAY;
    const jobs = [
      ...Array.from({ length: 30 }, (_, i) => seededJob(conn, at, 'success', 'refresh', i)),
      ...Array.from({ length: 10 }, (_, i) => seededJob(conn, at + 1, 'failed', 'purge', i)),
      ...Array.from({ length: 10 }, (_, i) => seededJob(conn, at - 1, 'cancelled', 'refresh', i)),
    ];
    await insertJobs(t, ties.tenantId, jobs);
    const { ids: seen } = await collect(`/api/connections/${conn}/jobs?limit=7`, bearer(ties.key));
    expect(seen).toEqual(ids(newestFirst(jobs)));
    const { ids: filtered } = await collect(`/api/connections/${conn}/jobs?limit=4&status=success`, bearer(ties.key));
    expect(filtered).toEqual(ids(newestFirst(jobs.filter((j) => j.status === 'success'))));
  });

  it('keeps later pages stable while new jobs are added between pages', async () => {
    // A connection of its own tenant, so this test's new jobs do not change the others' lists.
    const live = await tenantKey(t, 'history-live');
    const liveAuth = bearer(live.key);
    const conn = await insertConnection(t, live.tenantId, START - DAY);
    const seeded = await seedHistory(t, live.tenantId, conn, 500, START);

    const seen: string[] = [];
    const added: string[] = [];
    let next: string | null = `/api/connections/${conn}/jobs?limit=7`;
    let pages = 0;
    while (next !== null) {
      const res = await request(t.server).get(next).set(liveAuth);
      expect(res.status).toBe(200);
      seen.push(...(res.body as JobSummaryWire[]).map((j) => j.job_id));
      next = nextLinkOf(res);
      pages++;
      // Between pages: a new refresh job (202), cancelled so the next refresh makes another one.
      const refresh = await request(t.server).post(`/api/connections/${conn}/refresh`).set(liveAuth);
      expect(refresh.status).toBe(202);
      added.push(refresh.body.job_id as string);
      expect((await request(t.server).post(`/api/jobs/${refresh.body.job_id}/cancel`).set(liveAuth)).status).toBe(200);
    }
    expect(pages).toBe(Math.ceil(500 / 7));
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(ids(seeded));
    expect(seen.filter((id) => added.includes(id))).toEqual([]);

    // A fresh first page starts with the new jobs, newest first.
    const fresh = await collect(`/api/connections/${conn}/jobs?limit=200`, liveAuth);
    expect(fresh.ids).toEqual([...[...added].reverse(), ...ids(seeded)]);
  });

  describe('GET /jobs (tenant-wide search)', () => {
    const all = () => newestFirst([...jobsA, ...jobsB]);

    it("lists every job of the tenant newest first, across connections, and no other tenant's", async () => {
      const { ids: seen } = await collect('/api/jobs?limit=200');
      expect(seen).toEqual(ids(all()));
    });

    it('filters by connection_id', async () => {
      const { ids: seen } = await collect(`/api/jobs?connection_id=${connB}&limit=15`);
      expect(seen).toEqual(ids(jobsB));
    });

    it('finds a job by its id and by the start of its id (any case)', async () => {
      const target = jobsA[123]!;
      const exact = await request(t.server).get(`/api/jobs?job_id=${target.id}`).set(auth);
      expect(exact.status).toBe(200);
      expect((exact.body as JobSummaryWire[]).map((j) => j.job_id)).toEqual([target.id]);

      // The first hex digits are the high bits of the creation time: shared by neighbours.
      const prefix = target.id.slice(0, 7);
      const expected = ids(all().filter((j) => j.id.startsWith(prefix)));
      expect(expected.length).toBeGreaterThan(1);
      expect(expected.length).toBeLessThan(540);
      expect((await collect(`/api/jobs?job_id=${prefix}&limit=200`)).ids).toEqual(expected);
      expect((await collect(`/api/jobs?job_id=${prefix.toUpperCase()}&limit=200`)).ids).toEqual(expected);

      const longer = target.id.slice(0, 15);
      expect((await collect(`/api/jobs?job_id=${longer}&limit=200`)).ids).toEqual(
        ids(all().filter((j) => j.id.startsWith(longer))),
      );
      const none = await request(t.server).get('/api/jobs?job_id=ffffffff-ffff').set(auth);
      expect(none.status).toBe(200);
      expect(none.body).toEqual([]);
    });

    it('filters by status, action and time range', async () => {
      const from = jobsA[200]!.createdAt.getTime() - 1_000;
      const to = jobsA[100]!.createdAt.getTime() + 1_000;
      const expected = ids(
        all().filter(
          (j) =>
            ['failed', 'cancelled'].includes(j.status) &&
            j.action === 'refresh' &&
            j.createdAt.getTime() >= from &&
            j.createdAt.getTime() <= to,
        ),
      );
      expect(expected.length).toBeGreaterThan(5);
      const { ids: seen } = await collect(
        `/api/jobs?status=failed&status=cancelled&action=refresh&from=${iso(from)}&to=${iso(to)}&limit=6`,
      );
      expect(seen).toEqual(expected);
      const combined = await collect(`/api/jobs?connection_id=${connA}&status=success&limit=200`);
      expect(combined.ids).toEqual(ids(jobsA.filter((j) => j.status === 'success')));
    });
  });

  describe('GET /connections', () => {
    it("lists the tenant's connections newest first, paged through Link, with each latest job", async () => {
      const k = await tenantKey(t, 'many-connections', 'operator');
      const created: string[] = [];
      // Created back to back: several share a millisecond, so the id must break ties.
      for (let i = 0; i < 23; i++) {
        const res = await request(t.server)
          .post('/api/connections')
          .set(bearer(k.key))
          .send({ institution_id: 'sandbox', login_id: `user-${i}`, password: 'pw' });
        expect(res.status).toBe(202);
        created.push(res.body.connection.connection_id as string);
      }
      const seen: string[] = [];
      let next: string | null = '/api/connections?limit=5';
      let pages = 0;
      while (next !== null) {
        const res = await request(t.server).get(next).set(bearer(k.key));
        expect(res.status).toBe(200);
        const page = (res.body as unknown[]).map((c) => ConnectionSchema.parse(c));
        expect(page.length).toBeLessThanOrEqual(5);
        expect(
          page.every((c) => c.latest_job?.action === 'refresh' && c.latest_job.connection_id === c.connection_id),
        ).toBe(true);
        seen.push(...page.map((c) => c.connection_id));
        next = nextLinkOf(res);
        pages++;
      }
      expect(pages).toBe(5);
      expect(seen).toEqual([...created].reverse());

      const firstPage = await request(t.server).get('/api/connections').set(bearer(k.key));
      expect(firstPage.body).toHaveLength(23);
      expect(firstPage.headers.link).toBeUndefined();
    });

    it('shows the latest job of a connection as it changes', async () => {
      const res = await request(t.server).get(`/api/connections/${connA}`).set(auth);
      expect(res.status).toBe(200);
      // Seeded directly, so the connection row names no latest job yet.
      const started = await request(t.server).post(`/api/connections/${connA}/refresh`).set(auth);
      expect(started.status).toBe(202);
      const after = ConnectionSchema.parse((await request(t.server).get(`/api/connections/${connA}`).set(auth)).body);
      expect(after.latest_job).toMatchObject({ job_id: started.body.job_id, status: 'pending' });
      const list = (await request(t.server).get('/api/connections?limit=200').set(auth)).body as {
        connection_id: string;
        latest_job: { job_id: string } | null;
      }[];
      expect(list.find((c) => c.connection_id === connA)?.latest_job?.job_id).toBe(started.body.job_id);
      // The new job heads the history.
      const head = await request(t.server).get(`/api/connections/${connA}/jobs?limit=2`).set(auth);
      expect((head.body as JobSummaryWire[]).map((j) => j.job_id)).toEqual([started.body.job_id, jobsA[0]!.id]);
    });
  });
});
