import { afterEach, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { challengeAnswerEvent, transitionJobOrThrow, type Job } from '@jobtrail/domain';
import { JOB_COLUMNS, jobToValues, rowToJob, transitionEvents, type JobRow } from '../src/index.js';
import { databaseKinds, openTestDatabase, type TestDatabase } from './support/test-database.js';

const kinds = await databaseKinds();
const SCRIPT = fileURLToPath(new URL('./support/worker-process.mjs', import.meta.url));
const LEASE_MS = 1_000;

/** A worker process of the engine alone (the built `dist`), on the test's database. */
class WorkerProcess {
  readonly child: ChildProcess;
  readonly ready: Promise<string>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private stderr = '';

  constructor(t: TestDatabase, env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [SCRIPT], {
      env: { ...process.env, ...t.env, LEASE_MS: String(LEASE_MS), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.ready = new Promise((resolve, reject) => {
      this.child.stdout!.on('data', (d: Buffer) => {
        const m = /ready (\S+)/.exec(d.toString());
        if (m?.[1]) resolve(m[1]);
      });
      this.child.on('exit', () => reject(new Error(`worker exited before it was ready: ${this.stderr}`)));
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await probe();
    if (v !== undefined) return v;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe.each(kinds)('engine worker processes on %s', (kind) => {
  let t: TestDatabase | null = null;
  const running: WorkerProcess[] = [];
  afterEach(async () => {
    for (const w of running.splice(0)) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    await t?.close();
    t = null;
  });
  const start = async (env: Record<string, string> = {}) => {
    const w = new WorkerProcess(t!, env);
    running.push(w);
    return { w, id: await w.ready };
  };
  const heldBy = async (workerId: string) =>
    t!.db.query<{ id: string }>(`SELECT id FROM jobs WHERE status = 'processing' AND lease_owner = $1`, [workerId]);
  const counts = async () =>
    Object.fromEntries(
      (
        await t!.db.query<{ status: string; n: number | string }>(
          'SELECT status, COUNT(*) AS n FROM jobs GROUP BY status',
        )
      ).map((r) => [r.status, Number(r.n)]),
    ) as Record<string, number>;

  it('killed with SIGKILL twice mid-work: every job ends in success, none lost, never two at once on a connection', async () => {
    t = await openTestDatabase(kind);
    const jobs: string[] = [];
    for (let i = 0; i < 12; i++) {
      const { tenantId, connectionId } = await t.seedConnection('user-slow');
      jobs.push((await t.createJob(tenantId, connectionId, 'refresh')).id);
      jobs.push((await t.createJob(tenantId, connectionId, 'purge')).id);
    }
    let current = await start();
    for (let round = 0; round < 2; round++) {
      await until('the worker to hold jobs', async () => ((await heldBy(current.id)).length >= 2 ? true : undefined));
      const inFlight = (await heldBy(current.id)).map((r) => r.id);
      current.w.child.kill('SIGKILL');
      expect(await current.w.exited).toEqual({ code: null, signal: 'SIGKILL' });
      current = await start();
      // The new worker's sweeper gives the dead one's jobs back once their lease ran out.
      await until('the lost jobs to be swept', async () => {
        const lost = await t!.db.query<{ job_id: string }>(
          `SELECT DISTINCT job_id FROM job_events WHERE kind = 'transition' AND reason = 'worker-lost'`,
        );
        const swept = new Set(lost.map((r) => r.job_id));
        return inFlight.every((id) => swept.has(id)) ? true : undefined;
      });
    }
    const final = await until(
      'every job to end',
      async () => {
        const c = await counts();
        return (c.pending ?? 0) + (c.processing ?? 0) === 0 ? c : undefined;
      },
      40_000,
    );
    expect(final).toEqual({ success: jobs.length });
    // Per connection, processing intervals never overlap (commit order of the transitions).
    const transitions = await t.db.query<{
      job_id: string;
      connection_id: string;
      to_status: string;
      from_status: string;
    }>(`SELECT job_id, connection_id, from_status, to_status FROM job_events WHERE kind = 'transition' ORDER BY id`);
    const processing = new Map<string, string>();
    const overlaps: string[] = [];
    for (const tr of transitions) {
      if (tr.to_status === 'processing') {
        const other = processing.get(tr.connection_id);
        if (other && other !== tr.job_id) overlaps.push(`${tr.connection_id}: ${other} and ${tr.job_id}`);
        processing.set(tr.connection_id, tr.job_id);
      } else if (tr.from_status === 'processing') processing.delete(tr.connection_id);
    }
    expect(overlaps).toEqual([]);
  });

  const jobRow = async (id: string): Promise<Job> =>
    rowToJob((await t!.db.query<JobRow>('SELECT * FROM jobs WHERE id = $1', [id]))[0]!);
  const parked = async (id: string) => {
    const job = await jobRow(id);
    return job.status === 'processing' && job.challenge !== null ? job : undefined;
  };
  /** What the API does with a code: the domain's answer event, committed through the store. */
  const answer = async (tenantId: string, job: Job, accepted: boolean) => {
    const event = challengeAnswerEvent(job, accepted, new Date());
    const res = transitionJobOrThrow(job, event!, { now: new Date(), actor: 'test-key' });
    const [committed] = await t!.store.commitNow([
      { tenantId, before: job, next: res.job, events: transitionEvents(res.transition) },
    ]);
    await t!.bus.publish([committed!.change]);
  };

  /** A right code, written as the store writes an answer but announced to no one: a lost notification. */
  const answerUnannounced = async (tenantId: string, job: Job) => {
    const res = transitionJobOrThrow(job, challengeAnswerEvent(job, true, new Date())!, {
      now: new Date(),
      actor: 'test-key',
    });
    await t!.db.execute(
      `UPDATE jobs SET ${JOB_COLUMNS.map((c, i) => `${c} = $${i + 1}`).join(', ')} WHERE id = $1`,
      jobToValues({ ...res.job, version: job.version + 1 }, tenantId),
    );
  };

  /** A refresh on a new connection whose bank asks for a code, parked by a started worker. */
  const waitingForCode = async () => {
    t = await openTestDatabase(kind);
    const { tenantId, connectionId } = await t.seedConnection('user-mfa');
    const created = await t.createJob(tenantId, connectionId, 'refresh');
    await start();
    return { tenantId, waiting: await until('the challenge', () => parked(created.id)) };
  };
  const succeeded = (id: string, timeoutMs?: number) =>
    until(
      'success',
      async () => {
        const j = await jobRow(id);
        return j.status === 'success' ? j : undefined;
      },
      timeoutMs,
    );

  it('a job waiting for a one-time code holds no lease, survives SIGKILL of its worker, and completes after the code', async () => {
    t = await openTestDatabase(kind);
    const { tenantId, connectionId } = await t.seedConnection('user-mfa');
    const created = await t.createJob(tenantId, connectionId, 'refresh');
    const a = await start();
    const waiting = await until('the challenge', () => parked(created.id));
    expect(waiting.leaseOwner).toBeNull();
    expect(waiting.leaseExpiresAt).toBeNull();
    expect(waiting.steps.map((s) => s.status)).toEqual(['action-required', 'pending', 'pending']);
    a.w.child.kill('SIGKILL');
    await a.w.exited;
    // Well past the dead worker's lease: nothing sweeps a job that waits for its user.
    const b = await start();
    await sleep(LEASE_MS * 2);
    expect((await jobRow(created.id)).challenge).not.toBeNull();
    expect((await jobRow(created.id)).status).toBe('processing');
    await answer(tenantId, await jobRow(created.id), true);
    const done = await until('success', async () => {
      const j = await jobRow(created.id);
      return j.status === 'success' ? j : undefined;
    });
    expect(done.attempt).toBe(1);
    expect(done.result).toEqual({ accounts: 3, transactions: 120 });
    const reasons = await t.db.query<{ reason: string; actor: string }>(
      `SELECT reason, actor FROM job_events WHERE job_id = $1 AND kind = 'transition' ORDER BY id`,
      [created.id],
    );
    expect(reasons.map((r) => r.reason)).toEqual(['claimed', 'mfa-required', 'mfa-answered', 'completed']);
    expect(reasons[3]!.actor).toBe(b.id);
  });

  it('an answer whose announcement never arrived is resumed by the next poll', async () => {
    const { tenantId, waiting } = await waitingForCode();
    // The worker looks for resumable jobs when told of one, and once a poll interval.
    await answerUnannounced(tenantId, waiting);
    const done = await succeeded(waiting.id);
    expect(done.attempt).toBe(1);
  });

  it('an answer whose announcement never arrived is resumed while other changes keep waking the worker', async () => {
    const { tenantId, waiting } = await waitingForCode();
    // New jobs every 30 ms: on PostgreSQL each one's announcement wakes the worker before its
    // 100 ms poll would, so the worker never sleeps a whole poll through.
    let flowing = true;
    const flow = (async () => {
      while (flowing) {
        const other = await t!.seedConnection('user-ok');
        await t!.createJob(other.tenantId, other.connectionId, 'refresh');
        await sleep(30);
      }
    })();
    try {
      await answerUnannounced(tenantId, waiting);
      const done = await succeeded(waiting.id, 10_000);
      expect(done.attempt).toBe(1);
    } finally {
      flowing = false;
      await flow;
    }
  });

  it('jobs waiting for a code take no worker slot: 4 waiting with concurrency 4, other jobs still run', async () => {
    t = await openTestDatabase(kind);
    const waitingIds: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { tenantId, connectionId } = await t.seedConnection('user-mfa');
      waitingIds.push((await t.createJob(tenantId, connectionId, 'refresh')).id);
    }
    await start({ CONCURRENCY: '4' });
    for (const id of waitingIds) await until('the challenge', () => parked(id));
    const others: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { tenantId, connectionId } = await t.seedConnection('user-ok');
      others.push((await t.createJob(tenantId, connectionId, 'refresh')).id);
    }
    for (const id of others)
      await until('the other jobs to succeed', async () =>
        (await jobRow(id)).status === 'success' ? true : undefined,
      );
    for (const id of waitingIds) expect((await jobRow(id)).challenge).not.toBeNull();
  });

  it('an unanswered challenge fails the job with mfa-timeout at expires_at', async () => {
    t = await openTestDatabase(kind);
    const { tenantId, connectionId } = await t.seedConnection('user-mfa');
    const created = await t.createJob(tenantId, connectionId, 'refresh');
    await start({ MFA_TIMEOUT_MS: '800' });
    const waiting = await until('the challenge', () => parked(created.id));
    const failed = await until('mfa-timeout', async () => {
      const j = await jobRow(created.id);
      return j.status === 'failed' ? j : undefined;
    });
    expect(failed.error?.code).toBe('mfa-timeout');
    expect(failed.finishedAt!.getTime()).toBeGreaterThanOrEqual(waiting.challenge!.expiresAt.getTime());
    expect(failed.steps.map((s) => s.status)).toEqual(['failed', 'skipped', 'skipped']);
  });

  it('SIGTERM: running jobs finish within the grace period and the process exits 0', async () => {
    t = await openTestDatabase(kind);
    for (let i = 0; i < 3; i++) {
      const { tenantId, connectionId } = await t.seedConnection('user-slow');
      await t.createJob(tenantId, connectionId, 'refresh');
    }
    const { w, id } = await start({ GRACE_MS: '10000' });
    await until('the worker to hold jobs', async () => ((await heldBy(id)).length >= 3 ? true : undefined));
    w.child.kill('SIGTERM');
    expect(await w.exited).toEqual({ code: 0, signal: null });
    expect(await counts()).toEqual({ success: 3 });
  });

  it('SIGTERM with too short a grace: running jobs are released without using up an attempt, exit 0', async () => {
    t = await openTestDatabase(kind);
    const { tenantId, connectionId } = await t.seedConnection('user-slow');
    const job = await t.createJob(tenantId, connectionId, 'refresh');
    const { w, id } = await start({ GRACE_MS: '0', SLOW_STEP_MS: '5000', MAX_ATTEMPTS: '3' });
    await until('the worker to hold the job', async () => ((await heldBy(id)).length === 1 ? true : undefined));
    w.child.kill('SIGTERM');
    expect(await w.exited).toEqual({ code: 0, signal: null });
    const [row] = await t.db.query<{ status: string; attempt: number | string; max_attempts: number | string }>(
      'SELECT status, attempt, max_attempts FROM jobs WHERE id = $1',
      [job.id],
    );
    expect({ status: row!.status, attempt: Number(row!.attempt), maxAttempts: Number(row!.max_attempts) }).toEqual({
      status: 'pending',
      attempt: 1,
      maxAttempts: job.maxAttempts + 1,
    });
  });

  // Several worker processes share one database only on PostgreSQL (SQLite refuses a second one).
  if (kind === 'postgres')
    it('scale-out: two worker processes drain 200 jobs, each succeeding exactly once, both taking work', async () => {
      t = await openTestDatabase(kind);
      const jobs: string[] = [];
      for (let i = 0; i < 200; i++) {
        const { tenantId, connectionId } = await t.seedConnection('user-ok');
        jobs.push((await t.createJob(tenantId, connectionId, 'refresh')).id);
      }
      const [a, b] = [await start(), await start()];
      await until(
        'every job to succeed',
        async () => ((await counts()).success === jobs.length ? true : undefined),
        60_000,
      );
      const successes = await t.db.query<{ job_id: string; actor: string }>(
        `SELECT job_id, actor FROM job_events WHERE kind = 'transition' AND to_status = 'success'`,
      );
      expect(successes).toHaveLength(jobs.length);
      expect(new Set(successes.map((r) => r.job_id)).size).toBe(jobs.length);
      const claims = await t.db.query<{ actor: string }>(
        `SELECT actor FROM job_events WHERE kind = 'transition' AND to_status = 'processing'`,
      );
      expect(claims).toHaveLength(jobs.length);
      expect(claims.some((r) => r.actor === a.id)).toBe(true);
      expect(claims.some((r) => r.actor === b.id)).toBe(true);
    });

  if (kind === 'postgres')
    it('two worker processes scheduling: every due slot of 150 connections yields exactly one scheduled refresh', async () => {
      t = await openTestDatabase(kind);
      const connections: string[] = [];
      for (let i = 0; i < 150; i++) connections.push((await t.seedConnection('user-ok')).connectionId);
      // Both schedulers poll every 20 ms (jittered) before any slot is due...
      await Promise.all([start({ SCHEDULE_POLL_MS: '20' }), start({ SCHEDULE_POLL_MS: '20' })]);
      // ...then every slot falls due at one instant of the database clock, so both processes reach
      // for the same slots together (more than one round's worth: 100 per transaction).
      const [clock] = await t.db.query<{ now: number | string }>(
        `SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint AS now`,
      );
      const slot = Number(clock!.now) + 500;
      await t.db.execute(
        `UPDATE connections SET refresh_every_hours = 1, next_refresh_at = $1 WHERE id IN (${connections
          .map((_, i) => `$${i + 2}`)
          .join(', ')})`,
        [slot, ...connections],
      );
      const slots = async () =>
        t!.db.query<{ id: string; next_refresh_at: number | string }>('SELECT id, next_refresh_at FROM connections');
      await until(
        'every slot to be served',
        async () => ((await slots()).every((c) => Number(c.next_refresh_at) > slot) ? true : undefined),
        30_000,
      );
      // A few more rounds of both, in case a duplicate would come late.
      await sleep(300);
      const scheduledJobs = await t.db.query<{ connection_id: string; requested_by_id: string; action: string }>(
        `SELECT connection_id, requested_by_id, action FROM jobs`,
      );
      expect(scheduledJobs).toHaveLength(connections.length);
      expect(new Set(scheduledJobs.map((j) => j.connection_id))).toEqual(new Set(connections));
      expect(scheduledJobs.every((j) => j.requested_by_id === 'schedule' && j.action === 'refresh')).toBe(true);
      // Each slot moved on by exactly one period.
      expect((await slots()).map((c) => Number(c.next_refresh_at) - slot)).toEqual(connections.map(() => 3_600_000));
    });
});
