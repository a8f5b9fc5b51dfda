import { afterAll, describe, expect, it } from '@jest/globals';
import {
  apiClient,
  testEnv,
  createTestDatabase,
  eventPositions,
  freePort,
  newAdminKey,
  overlappingProcessing,
  ProcessGroup,
  readTransitions,
  statusCounts,
  type TestDatabase,
} from '../support/processes.js';
import { openSse, type SseClient, type SseEvent } from '../support/sse.js';
import { databaseKinds } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

const postgres = (await databaseKinds()).filter((k) => k === 'postgres');

const JOBS = 2_000;
const CONNECTIONS = 200;
/** Requests in flight at once while jobs are created. */
const PARALLEL = 16;

/** Runs `fn` over `items` with at most `n` calls at once. */
async function pool<T>(items: readonly T[], n: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}

// jest refuses `describe.each([])`, hence the condition.
if (postgres.length > 0)
  describe('scale-out on postgres: two API processes and two worker processes on one database', () => {
    let db: TestDatabase | null = null;
    let group: ProcessGroup | null = null;
    let sse: SseClient | null = null;
    afterAll(async () => {
      sse?.close();
      await group?.killAll();
      await db?.drop();
    });

    it(`drain ${JOBS} jobs: each succeeds exactly once, one at a time per connection, both workers work, events cross processes`, async () => {
      db = await createTestDatabase('postgres');
      const adminKey = newAdminKey();
      const g = new ProcessGroup({
        ...testEnv(),
        ...db.env,
        JOBTRAIL_ADMIN_KEY: adminKey,
        JOBTRAIL_WORKER_CONCURRENCY: '8',
        JOBTRAIL_LEASE_MS: '10000',
        JOBTRAIL_POLL_MS: '500',
      });
      group = g;
      // The first process runs the migrations and creates the key; the others start on the result.
      const apiA = g.start('api-a', { JOBTRAIL_ROLE: 'api', PORT: String(await freePort()) });
      await apiA.waitHealthy();
      const apiB = g.start('api-b', { JOBTRAIL_ROLE: 'api', PORT: String(await freePort()) });
      const workers = [
        g.start('worker-1', { JOBTRAIL_ROLE: 'worker' }),
        g.start('worker-2', { JOBTRAIL_ROLE: 'worker' }),
      ];
      await Promise.all([apiB.waitHealthy(), ...workers.map((w) => w.waitWorkerReady())]);

      // The client of process A: no worker runs in A, so every event it streams came by NOTIFY.
      sse = await openSse(`${apiA.base}/events`, { Authorization: `Bearer ${adminKey}` });
      expect(sse.status).toBe(200);

      const clients = [apiClient(apiA.base, adminKey), apiClient(apiB.base, adminKey)];
      const created = new Set<string>();
      const createdViaB = new Set<string>();
      const connections: string[] = [];
      await pool(Array.from({ length: CONNECTIONS }), PARALLEL, async (_, i) => {
        const { connectionId, jobId } = await clients[i % 2]!.connect('user-ok');
        connections.push(connectionId);
        created.add(jobId);
        if (i % 2 === 1) createdViaB.add(jobId);
      });
      // Then purge, refresh, purge, ... on every connection, through both APIs, until enough jobs
      // exist (a refresh or purge still queued is answered with that job: 200, not a new one).
      const started = Date.now();
      for (let round = 0; created.size < JOBS; round++) {
        if (Date.now() - started > 90_000) throw new Error(`only ${created.size} jobs created in 90 s\n${g.tails()}`);
        const action = round % 2 === 0 ? 'purge' : 'refresh';
        await pool(connections, PARALLEL, async (connectionId, i) => {
          if (created.size >= JOBS) return;
          const via = (i + round) % 2;
          const { jobId, created: isNew } = await clients[via]!.action(connectionId, action);
          if (!isNew) return;
          created.add(jobId);
          if (via === 1) createdViaB.add(jobId);
        });
      }

      const reader = db.reader;
      const counts = await waitFor(
        'the queue to drain',
        async () => {
          const c = await statusCounts(reader);
          return (c.pending ?? 0) + (c.processing ?? 0) === 0 ? c : undefined;
        },
        120_000,
        200,
      ).catch(async (err: Error) => {
        throw new Error(`${err.message}: ${JSON.stringify(await statusCounts(reader))}\n${g.tails()}`);
      });
      expect(counts).toEqual({ success: created.size });

      const jobs = await reader.query<{ id: string; status: string; attempt: number }>(
        'SELECT id, status, attempt FROM jobs',
      );
      expect(jobs.map((j) => j.id).sort()).toEqual([...created].sort());
      expect(jobs.filter((j) => j.status !== 'success' || j.attempt !== 1)).toEqual([]);

      // Exactly one claim and one success per job.
      const transitions = await readTransitions(reader);
      const perJob = new Map<string, string[]>();
      for (const t of transitions)
        perJob.set(t.job_id, [...(perJob.get(t.job_id) ?? []), `${t.from_status}>${t.to_status}`]);
      const odd = [...created].filter(
        (id) => (perJob.get(id) ?? []).join(',') !== 'pending>processing,processing>success',
      );
      expect(odd.map((id) => `${id}: ${perJob.get(id)?.join(',')}`)).toEqual([]);

      // One processing job per connection at any time.
      expect(overlappingProcessing(transitions)).toEqual([]);

      // Both worker processes claimed jobs.
      const claimers = new Set(transitions.filter((t) => t.to_status === 'processing').map((t) => t.actor));
      expect(claimers.size).toBe(2);
      for (const w of workers) expect([...claimers].some((a) => a.includes(`:${w.pid}:`))).toBe(true);

      // The SSE client of API A saw every job succeed (and the creations made through API B).
      const missing = await sse
        .waitFor(
          'a success event for every job',
          (events) => {
            const done = new Set(events.filter((e) => e.job.status === 'success').map((e) => e.job.job_id));
            return [...created].every((id) => done.has(id)) ? [] : undefined;
          },
          30_000,
        )
        .catch(() => {
          const done = new Set(sse!.events.filter((e) => e.job.status === 'success').map((e) => e.job.job_id));
          return [...created].filter((id) => !done.has(id));
        });
      expect(missing).toEqual([]);
      // Creations made through API B reached A's client too. The stream reads what was committed
      // in id order (a notification only wakes it), so every job's first event is its creation,
      // carrying the job as it was when read (changes committed together may be coalesced).
      const first = new Map<string, SseEvent>();
      for (const e of sse.events) if (!first.has(e.job.job_id)) first.set(e.job.job_id, e);
      expect([...createdViaB].filter((id) => first.get(id)?.event === 'job.created').length).toBe(createdViaB.size);
      const badFirst = [...first.values()].filter((e) => e.event !== 'job.created');
      expect(badFirst).toEqual([]);
      // A job's own events never go back in time on the stream.
      // (Ids are sealed per tenant: opened with the deployment's key to compare positions.)
      const position = await eventPositions(db);
      const lastSeen = new Map<string, number>();
      const backwards = sse.events.filter((e) => {
        const before = lastSeen.get(e.job.job_id) ?? 0;
        lastSeen.set(e.job.job_id, position(e.id));
        return position(e.id) <= before;
      });
      expect(backwards).toEqual([]);
    }, 180_000);
  });

// Without PostgreSQL (and JOBTRAIL_REQUIRE_PG unset) there is nothing to scale out; databaseKinds() said why.
if (postgres.length === 0) {
  describe('scale-out', () => {
    it('needs PostgreSQL (not reachable: not run)', () => {
      expect(postgres).toEqual([]);
    });
  });
}
