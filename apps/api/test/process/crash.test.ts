import { afterEach, describe, expect, it } from '@jest/globals';
import {
  apiClient,
  testEnv,
  createTestDatabase,
  freePort,
  newAdminKey,
  overlappingProcessing,
  ProcessGroup,
  readTransitions,
  sleep,
  statusCounts,
  type JobtrailProcess,
  type TestDatabase,
} from '../support/processes.js';
import { databaseKinds, type DatabaseKind } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

const kinds = await databaseKinds();

const LEASE_MS = 1_000;
/** The worker sweeps expired leases every half lease. */
const SWEEP_MS = LEASE_MS / 2;
const ROUNDS = 3;

describe.each(kinds)('a worker process killed with SIGKILL (%s)', (kind: DatabaseKind) => {
  let db: TestDatabase | null = null;
  let group: ProcessGroup | null = null;

  afterEach(async () => {
    await group?.killAll();
    await db?.drop();
    group = null;
    db = null;
  });

  it(`${ROUNDS} kill/restart rounds: every job ends, none lost or stuck, never two at once on a connection`, async () => {
    db = await createTestDatabase(kind);
    const adminKey = newAdminKey();
    const g = new ProcessGroup({
      ...testEnv(),
      ...db.env,
      JOBTRAIL_ADMIN_KEY: adminKey,
      JOBTRAIL_WORKER_CONCURRENCY: '4',
      JOBTRAIL_LEASE_MS: String(LEASE_MS),
      JOBTRAIL_POLL_MS: '100',
      JOBTRAIL_BACKOFF_BASE_MS: '50',
      JOBTRAIL_SANDBOX_SLOW_STEP_MS: '200',
      // Enough attempts that three crashes cannot exhaust a job: every job must end in success.
      JOBTRAIL_MAX_ATTEMPTS: '10',
    });
    group = g;
    const reader = db.reader;
    const api = g.start('api', { JOBTRAIL_ROLE: 'api', PORT: String(await freePort()) });
    await api.waitHealthy();
    const client = apiClient(api.base, adminKey);
    let worker = g.start('worker-0', { JOBTRAIL_ROLE: 'worker' });
    await worker.waitWorkerReady();

    const jobIds = new Set<string>();
    const logins = [
      ...Array<string>(10).fill('user-slow'),
      ...Array<string>(6).fill('user-ok'),
      ...Array<string>(4).fill('user-flaky'),
    ];
    const connections = await Promise.all(
      logins.map(async (login) => {
        const { connectionId, jobId } = await client.connect(login);
        jobIds.add(jobId);
        return connectionId;
      }),
    );
    /** More work on every connection: a purge, then a refresh (the same job when one is still queued). */
    const moreWork = async () => {
      for (const action of ['purge', 'refresh'] as const) {
        for (const { jobId } of await Promise.all(connections.map((c) => client.action(c, action)))) jobIds.add(jobId);
      }
    };
    await moreWork();

    const ownedBy = async (p: JobtrailProcess) =>
      (
        await reader.query<{ id: string; lease_owner: string }>(
          `SELECT id, lease_owner FROM jobs WHERE status = 'processing'`,
        )
      ).filter((r) => r.lease_owner.includes(`:${p.pid}:`));
    const rounds: Array<{ killedAt: number; restartedAt: number; inFlight: string[] }> = [];
    try {
      for (let round = 1; round <= ROUNDS; round++) {
        // Kill while it is in the middle of jobs.
        await waitFor(
          `worker-${round - 1} to run jobs`,
          async () => ((await ownedBy(worker)).length >= 2 ? true : undefined),
          15_000,
          20,
        );
        await sleep(50 + Math.floor(Math.random() * 250));
        const killed = worker;
        const killedAt = Date.now();
        expect(await killed.kill()).toEqual({ code: null, signal: 'SIGKILL' });
        const inFlight = (await ownedBy(killed)).map((r) => r.id);
        expect(inFlight.length).toBeGreaterThan(0);
        worker = g.start(`worker-${round}`, { JOBTRAIL_ROLE: 'worker' });
        await worker.waitWorkerReady();
        const restartedAt = Date.now();
        rounds.push({ killedAt, restartedAt, inFlight });
        // The new worker's sweeper returns them to the queue once their lease ran out.
        await waitFor(
          `the jobs of worker-${round - 1} to be swept`,
          async () => {
            const lost = await reader.query<{ job_id: string }>(
              `SELECT job_id FROM job_events WHERE kind = 'transition' AND reason = 'worker-lost' AND at >= ? AND job_id IN (${inFlight.map(() => '?').join(', ')})`,
              [killedAt, ...inFlight],
            );
            return new Set(lost.map((r) => r.job_id)).size === inFlight.length ? true : undefined;
          },
          Math.max(0, killedAt + LEASE_MS - Date.now()) + SWEEP_MS + 5_000,
          20,
        );
        await moreWork();
      }

      // The last worker finishes everything.
      await waitFor(
        'every job to end',
        async () => {
          const counts = await statusCounts(reader);
          return (counts.pending ?? 0) + (counts.processing ?? 0) === 0 ? counts : undefined;
        },
        30_000,
        100,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${JSON.stringify(await statusCounts(reader))}\n${g.tails()}`);
    }

    // None lost: every job created through the API is in the table, and ended in success.
    const jobs = await reader.query<{ id: string; status: string; attempt: number }>(
      'SELECT id, status, attempt FROM jobs',
    );
    expect(jobs.map((j) => j.id).sort()).toEqual([...jobIds].sort());
    expect(jobs.filter((j) => j.status !== 'success')).toEqual([]);

    const transitions = await readTransitions(reader);
    // Each job succeeded exactly once.
    const successes = new Map<string, number>();
    for (const t of transitions)
      if (t.to_status === 'success') successes.set(t.job_id, (successes.get(t.job_id) ?? 0) + 1);
    expect(jobs.filter((j) => successes.get(j.id) !== 1)).toEqual([]);

    // Every job the killed workers held came back through the sweeper as worker-lost, in time.
    const lost = transitions.filter((t) => t.reason === 'worker-lost');
    expect(lost.length).toBeGreaterThan(0);
    for (const { killedAt, restartedAt, inFlight } of rounds) {
      for (const id of inFlight) {
        const back = lost.find((t) => t.job_id === id && t.at >= killedAt);
        expect(back).toMatchObject({ from_status: 'processing', to_status: 'pending' });
        expect(back!.actor).toMatch(/^sweeper:/);
        // Within lease + sweep time of the crash (or of the new worker's start, when later).
        expect(back!.at).toBeLessThanOrEqual(Math.max(killedAt + LEASE_MS, restartedAt) + SWEEP_MS + 1_000);
      }
    }

    // Never two jobs of one connection processing at the same time.
    expect(overlappingProcessing(transitions)).toEqual([]);
  }, 120_000);
});

describe('the one-processing-per-connection check used above', () => {
  const t = (id: number, job: string, from: string, to: string, at: number) => ({
    id,
    job_id: job,
    connection_id: 'c',
    at,
    from_status: from,
    to_status: to,
    reason: '',
    actor: '',
    attempt: 1,
  });
  it('passes back-to-back jobs and catches overlapping ones', () => {
    const sequential = [
      t(1, 'a', 'pending', 'processing', 10),
      t(2, 'a', 'processing', 'pending', 20),
      t(3, 'b', 'pending', 'processing', 20),
      t(4, 'b', 'processing', 'success', 30),
    ];
    expect(overlappingProcessing(sequential)).toEqual([]);
    const overlapping = [
      t(1, 'a', 'pending', 'processing', 10),
      t(2, 'b', 'pending', 'processing', 15),
      t(3, 'a', 'processing', 'success', 20),
      t(4, 'b', 'processing', 'success', 30),
    ];
    expect(overlappingProcessing(overlapping)).toHaveLength(2);
    // Recorded times alone (commit order looks fine): b starts before a ended.
    const byTime = [
      t(1, 'a', 'pending', 'processing', 10),
      t(2, 'a', 'processing', 'success', 40),
      t(3, 'b', 'pending', 'processing', 30),
      t(4, 'b', 'processing', 'success', 50),
    ];
    expect(overlappingProcessing(byTime)).toHaveLength(1);
  });
});
