import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import {
  apiClient,
  testEnv,
  createTestDatabase,
  freePort,
  newAdminKey,
  ProcessGroup,
  readTransitions,
  type JobtrailProcess,
  type TestDatabase,
} from '../support/processes.js';
import { openSse } from '../support/sse.js';
import { databaseKinds, type DatabaseKind } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

const kinds = await databaseKinds();

/** How long after the grace period a process may take to close the rest and exit. */
const EXIT_MARGIN_MS = 3_000;

interface JobState {
  id: string;
  status: string;
  attempt: number;
}

describe.each(kinds)('SIGTERM on %s', (kind: DatabaseKind) => {
  let db: TestDatabase;
  let group: ProcessGroup;
  let api: JobtrailProcess;
  let client: ReturnType<typeof apiClient>;
  const adminKey = newAdminKey();

  const jobs = async (ids: readonly string[]): Promise<JobState[]> => {
    const rows = await db.reader.query<JobState>(
      `SELECT id, status, attempt FROM jobs WHERE id IN (${ids.map(() => '?').join(', ')})`,
      [...ids],
    );
    return ids.map((id) => rows.find((r) => r.id === id)!);
  };
  const processingCount = async () =>
    Number(
      (await db.reader.query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM jobs WHERE status = 'processing'`))[0]!
        .n,
    );
  const workerEnv = (grace: number, slowStepMs: number) => ({
    JOBTRAIL_ROLE: 'worker',
    JOBTRAIL_SHUTDOWN_GRACE_MS: String(grace),
    JOBTRAIL_SANDBOX_SLOW_STEP_MS: String(slowStepMs),
  });
  /** Sends SIGTERM and returns the exit and how long it took. */
  const terminate = async (p: JobtrailProcess, grace: number) => {
    const sent = Date.now();
    p.signal('SIGTERM');
    const exit = await p.waitExit(grace + EXIT_MARGIN_MS);
    if (exit === null)
      throw new Error(`${p.name} did not exit within ${grace + EXIT_MARGIN_MS} ms of SIGTERM\n${p.tail()}`);
    return { exit, tookMs: Date.now() - sent };
  };
  /** Starts `n` user-slow connections and waits until all of their jobs are processing. */
  const slowJobsInFlight = async (n: number): Promise<string[]> => {
    const ids = await Promise.all(Array.from({ length: n }, async () => (await client.connect('user-slow')).jobId));
    await waitFor(
      `${n} jobs processing`,
      async () => ((await jobs(ids)).every((j) => j.status === 'processing') ? true : undefined),
      15_000,
      25,
    );
    return ids;
  };

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    group = new ProcessGroup({
      ...testEnv(),
      ...db.env,
      JOBTRAIL_ADMIN_KEY: adminKey,
      JOBTRAIL_WORKER_CONCURRENCY: '4',
      JOBTRAIL_LEASE_MS: '10000',
      JOBTRAIL_POLL_MS: '100',
      JOBTRAIL_BACKOFF_BASE_MS: '50',
    });
    api = group.start('api', { JOBTRAIL_ROLE: 'api', PORT: String(await freePort()) });
    await api.waitHealthy();
    client = apiClient(api.base, adminKey);
  }, 30_000);
  afterEach(async () => {
    // Only the workers of a test: the api process is shared.
    await Promise.all(group.all.filter((p) => p !== api && p.running).map((p) => p.kill()));
  });
  afterAll(async () => {
    await group?.killAll();
    await db?.drop();
  });

  it('grace long enough: stops claiming, in-flight jobs finish, exit 0; queued jobs wait for the next worker', async () => {
    const grace = 8_000;
    // Jobs of 3 × 1 s: none can finish (and free a slot for a queued job) before SIGTERM is sent.
    const worker = group.start('worker', workerEnv(grace, 1_000));
    await worker.waitWorkerReady();
    const inFlight = await slowJobsInFlight(4);
    // Concurrency is full: these stay queued.
    const queued = await Promise.all([1, 2].map(async () => (await client.connect('user-ok')).jobId));

    const { exit, tookMs } = await terminate(worker, grace);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(tookMs).toBeLessThan(grace);
    expect(await processingCount()).toBe(0);
    expect(await jobs(inFlight)).toEqual(inFlight.map((id) => ({ id, status: 'success', attempt: 1 })));
    expect(await jobs(queued)).toEqual(queued.map((id) => ({ id, status: 'pending', attempt: 0 })));
    const transitions = (await readTransitions(db.reader)).filter((t) => inFlight.includes(t.job_id));
    expect(transitions.map((t) => `${t.from_status}>${t.to_status}`)).toEqual(
      expect.not.arrayContaining(['processing>pending']),
    );
    // (The next test's worker runs them.)
  }, 60_000);

  it('grace too short: in-flight jobs go back to pending (worker-lost), exit 0; a restarted worker finishes them', async () => {
    const grace = 300;
    const worker = group.start('worker', workerEnv(grace, 5_000));
    await worker.waitWorkerReady();
    const inFlight = await slowJobsInFlight(4);

    const { exit } = await terminate(worker, grace);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(await processingCount()).toBe(0);
    expect(await jobs(inFlight)).toEqual(inFlight.map((id) => ({ id, status: 'pending', attempt: 1 })));
    const released = (await readTransitions(db.reader)).filter(
      (t) => inFlight.includes(t.job_id) && t.from_status === 'processing',
    );
    expect(released.map((t) => `${t.to_status}:${t.reason}`)).toEqual(inFlight.map(() => 'pending:worker-lost'));
    // Released by the worker itself at shutdown, not by a sweeper after its lease.
    expect(released.every((t) => t.actor.includes(`:${worker.pid}:`) && !t.actor.startsWith('sweeper'))).toBe(true);

    const next = group.start('worker-2', workerEnv(grace, 50));
    await next.waitWorkerReady();
    await waitFor('the released jobs to finish', async () =>
      (await jobs(inFlight)).every((j) => j.status === 'success') ? true : undefined,
    );
    expect(await jobs(inFlight)).toEqual(inFlight.map((id) => ({ id, status: 'success', attempt: 2 })));
  }, 60_000);

  // The all-in-one process is the SQLite deployment (PostgreSQL runs split roles, as above).
  if (kind !== 'sqlite') return;
  it('all-in-one process with an open event stream and jobs in flight: exit 0 within grace', async () => {
    const grace = 2_000;
    const all = group.start('all-in-one', {
      ...workerEnv(grace, 5_000),
      JOBTRAIL_ROLE: 'all',
      PORT: String(await freePort()),
    });
    await all.waitHealthy();
    const sse = await openSse(`${all.base}/events`, { Authorization: `Bearer ${adminKey}` });
    try {
      expect(sse.status).toBe(200);
      const mine = apiClient(all.base, adminKey);
      const ids = await Promise.all([1, 2].map(async () => (await mine.connect('user-slow')).jobId));
      await waitFor(
        'jobs processing',
        async () => ((await jobs(ids)).every((j) => j.status === 'processing') ? true : undefined),
        15_000,
        25,
      );

      const { exit } = await terminate(all, grace);
      expect(exit).toEqual({ code: 0, signal: null });
      expect(await processingCount()).toBe(0);
      expect((await jobs(ids)).map((j) => j.status)).toEqual(['pending', 'pending']);
    } finally {
      sse.close();
    }
  }, 60_000);
});
