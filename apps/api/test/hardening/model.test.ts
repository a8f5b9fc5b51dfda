import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  eventForError,
  jobError,
  stepsOf,
  transitionJob,
  transitionJobOrThrow,
  type Job,
  type JobEvent,
} from '@jobtrail/domain';
import fc from 'fast-check';
import request from 'supertest';
import { DatabaseClock, Database, JobEventsBus, JobsStore, LeaseSweeper, transitionEvents } from '@jobtrail/engine';
import { LOGGER } from '../../src/common/tokens.js';
import { randomId, tenantKey } from '../support/api-helpers.js';
import {
  databaseKinds,
  startTestApp,
  TEST_WORKER_CONFIG,
  type DatabaseKind,
  type TestApp,
} from '../support/test-app.js';
import { isTerminal, JobModel, type ModelJob } from './support-b/job-model.js';
import { checkModel, type RunLog } from './support-b/model-check.js';

/**
 * Model-based test of the API and the queue against a model of the state machine. Random
 * sequences of create / refresh / purge / cancel / retry / reads and hand-played worker moves
 * (claim, step, success, failure, retryable error, lost lease + sweeper, a stale worker's write)
 * run against the in-process API (role `api`: no background worker races the model) and the
 * model; every answer and, after every command, the whole stored state must match the model, and
 * the queue's invariants must hold.
 *
 * The worker is played by hand with the worker's own repository, like fencing.test.ts does.
 * Sequences are drawn and shrunk by fast-check; MODEL_SEED (+ MODEL_PATH, both printed with a
 * failure) replays a run, MODEL_RUNS widens it.
 */

const kinds = await databaseKinds();

const RUNS = Number(process.env.MODEL_RUNS ?? 100);
const MAX_COMMANDS = 60;
const SEED = process.env.MODEL_SEED ? Number(process.env.MODEL_SEED) : Math.floor(Math.random() * 2 ** 31);
const PATH = process.env.MODEL_PATH;
const MAX_ATTEMPTS = TEST_WORKER_CONFIG.maxAttempts;
/** The hand-played worker's lease: long, so only `lose-lease` ever expires one. */
const LEASE_MS = 600_000;
const WORKER = 'model-worker';

type CommandKind =
  | 'create'
  | 'refresh'
  | 'purge'
  | 'cancel'
  | 'retry'
  | 'claim'
  | 'advance'
  | 'fail'
  | 'retryable-error'
  | 'lose-lease'
  | 'stale-write'
  | 'read-history'
  | 'read-job';

/** One command as drawn: resolved against the model when it runs (as fast-check commands are). */
interface Intent {
  readonly kind: CommandKind;
  /** Chooses the target among the candidates. */
  readonly pick: number;
  /** Aim at an id that names nothing (404). */
  readonly unknown: boolean;
}

const WEIGHTS: ReadonlyArray<readonly [number, CommandKind]> = [
  [6, 'create'],
  [10, 'refresh'],
  [7, 'purge'],
  [7, 'cancel'],
  [7, 'retry'],
  [15, 'claim'],
  [45, 'advance'],
  [4, 'fail'],
  [6, 'retryable-error'],
  [5, 'lose-lease'],
  [3, 'stale-write'],
  [3, 'read-history'],
  [4, 'read-job'],
];

/** One intent: a weighted kind, a target chooser, and 1 in 20 aimed at an unknown id. */
const intentArb: fc.Arbitrary<Intent> = fc.record({
  kind: fc.oneof(...WEIGHTS.map(([weight, kind]) => ({ weight, arbitrary: fc.constant(kind) }))),
  pick: fc.noBias(fc.integer({ min: 0, max: (1 << 30) - 1 })),
  unknown: fc.noBias(fc.integer({ min: 0, max: 99 })).map((n) => n >= 95),
});

class Mismatch extends Error {
  override readonly name = 'Mismatch';
}

/** Compares JSON forms: rows made by a native driver live in another realm than jest's test code. */
function same(actual: unknown, expected: unknown, what: string): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected))
    throw new Mismatch(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

/** What the model says a job summary on the wire must show. */
const wireOf = (j: ModelJob) => ({
  job_id: j.id,
  connection_id: j.connectionId,
  action: j.action,
  status: j.status,
  attempt: j.attempt,
  retry_of: j.retryOf,
  cancel_requested: j.cancelRequested,
  error: j.errorCode,
});
// Bodies are read field by field, like supertest's `res.body`.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const pickWire = (b: any) => ({
  job_id: b?.job_id,
  connection_id: b?.connection_id,
  action: b?.action,
  status: b?.status,
  attempt: b?.attempt,
  retry_of: b?.retry_of,
  cancel_requested: b?.cancel_requested,
  error: b?.error?.code ?? null,
});

interface JobRowView {
  id: string;
  connection_id: string;
  action: string;
  status: string;
  attempt: number | string;
  cancel_requested_at: number | string | null;
  retry_of: string | null;
  error: string | null;
  steps: string;
  updated_at: number | string;
  finished_at: number | string | null;
  result: string | null;
  lease_owner: string | null;
}

const shortId = (id: string) => id.slice(-6);

describe.each(kinds)('model-based: API + queue against the state machine model on %s', (kind: DatabaseKind) => {
  let t: TestApp;
  let db: Database;
  let repo: JobsStore;
  let worker: LeaseSweeper;
  let tenants = 0;
  const executed = new Map<CommandKind, number>();
  /** How the runs' jobs ended up (a measure of how deep the sequences went). */
  const outcomes = new Map<string, number>();

  beforeAll(async () => {
    t = await startTestApp(kind, { role: 'api' });
    db = t.app.get(Database);
    repo = t.app.get(JobsStore);
    // role 'api' runs no worker: the test plays the sweeper with the engine's own.
    worker = new LeaseSweeper(
      db,
      repo,
      t.app.get(JobEventsBus),
      t.config.worker,
      t.app.get(LOGGER),
      'sweeper:model',
      t.app.get(DatabaseClock),
    );
  });
  afterAll(() => t.close());

  /** Runs one sequence from scratch: a tenant of its own, an empty model, no worker state. */
  const execute = async (intents: readonly Intent[], log: RunLog): Promise<void> => {
    const { key, tenantId } = await tenantKey(t, `model-${kind}-${++tenants}`, 'admin');
    const auth = { Authorization: `Bearer ${key}` };
    const model = new JobModel(MAX_ATTEMPTS);
    /** The hand-played worker's copy of each job it holds. */
    const held = new Map<string, Job>();
    /** Copies held by workers whose lease was lost: their writes must change nothing. */
    const stale: Job[] = [];
    /** Terminal jobs as first seen: they must never change again. */
    const terminal = new Map<string, string>();

    const post = (path: string, body?: object) =>
      request(t.server)
        .post(`/api${path}`)
        .set(auth)
        .send(body ?? {});
    const get = (path: string) => request(t.server).get(`/api${path}`).set(auth);
    // The worker's time is the database's, as the API's and the claim's are (a machine clock a
    // millisecond behind would make a job requeued "now" not yet due for the claim).
    const dbNow = () => t.app.get(DatabaseClock).now();
    const ctx = () => ({ now: new Date(dbNow()), actor: WORKER });
    const write = async (before: Job, next: Job, events: ReturnType<typeof transitionEvents>) =>
      (await repo.commitNow([{ tenantId, before, next, events }]))[0] ?? null;
    const pickOf = <T>(xs: readonly T[], pick: number): T | undefined =>
      xs.length === 0 ? undefined : xs[pick % xs.length];
    const notFound = (res: request.Response, what: string) => {
      same(res.status, 404, `${what}: status`);
      same(res.body?.code, 'not-found', `${what}: problem code`);
    };

    /** The worker's copy, with a cancel request read from the database (the runner learns it by heartbeat or event). */
    const current = async (m: ModelJob): Promise<Job> => {
      const job = held.get(m.id);
      if (!job) throw new Mismatch(`the worker holds no copy of processing job ${m.id}`);
      const cancelAt = await repo.findCancelRequest(m.id);
      same(cancelAt !== null, m.cancelRequested, `cancel request of ${shortId(m.id)} as the worker sees it`);
      return cancelAt ? { ...job, cancelRequestedAt: cancelAt } : job;
    };

    /** After every command: stored state = model, and the invariants. */
    const verify = async (what: string) => {
      const rows = await db.query<JobRowView>(
        `SELECT id, connection_id, action, status, attempt, cancel_requested_at, retry_of, error, steps, updated_at, finished_at, result, lease_owner
           FROM jobs WHERE tenant_id = $1 ORDER BY created_at, id`,
        [tenantId],
      );
      same(
        rows.map((r) => ({
          job_id: r.id,
          connection_id: r.connection_id,
          action: r.action,
          status: r.status,
          attempt: Number(r.attempt),
          retry_of: r.retry_of,
          cancel_requested: r.cancel_requested_at !== null,
          error: r.error === null ? null : (JSON.parse(r.error) as { code: string }).code,
        })),
        model.jobs.map(wireOf),
        `stored jobs after ${what}`,
      );
      // At most one processing job per connection, one pending/processing job per (connection, action).
      const byConnection = new Map<string, number>();
      const byAction = new Map<string, number>();
      for (const r of rows) {
        if (r.status === 'processing') byConnection.set(r.connection_id, (byConnection.get(r.connection_id) ?? 0) + 1);
        if (r.status === 'pending' || r.status === 'processing')
          byAction.set(`${r.connection_id}/${r.action}`, (byAction.get(`${r.connection_id}/${r.action}`) ?? 0) + 1);
      }
      same(
        [...byConnection].filter(([, n]) => n > 1),
        [],
        `connections with more than one processing job after ${what}`,
      );
      same(
        [...byAction].filter(([, n]) => n > 1),
        [],
        `(connection, action) pairs with more than one active job after ${what}`,
      );
      // Terminal jobs never change, in any column.
      for (const r of rows) {
        if (!isTerminal(r.status as ModelJob['status'])) continue;
        const snapshot = JSON.stringify(r);
        const first = terminal.get(r.id);
        if (first === undefined) terminal.set(r.id, snapshot);
        else same(snapshot, first, `terminal job ${shortId(r.id)} after ${what}`);
      }
    };

    try {
      for (const drawn of intents) {
        // A worker with nothing running claims instead of stepping (keeps sequences deep).
        const intent: Intent =
          drawn.kind === 'advance' && model.processing().length === 0 ? { ...drawn, kind: 'claim' } : drawn;
        switch (intent.kind) {
          case 'create': {
            log.push('create connection');
            const res = await post('/connections', { institution_id: 'sandbox', login_id: 'user-ok', password: 'pw' });
            same(res.status, 202, 'POST /connections status');
            model.addConnection(res.body.connection.connection_id);
            const job = model.addJob(res.body.job.job_id, res.body.connection.connection_id, 'refresh', null);
            same(pickWire(res.body.job), wireOf(job), 'POST /connections job');
            break;
          }
          case 'refresh':
          case 'purge': {
            const action = intent.kind;
            const conn = intent.unknown ? undefined : pickOf(model.connections, intent.pick);
            if (!conn) {
              log.push(`${action} on an unknown connection`);
              notFound(await post(`/connections/${randomId()}/${action}`), `POST ${action} (unknown)`);
              break;
            }
            const active = model.active(conn, action);
            log.push(`${action} ${shortId(conn)}${active ? ` (active ${shortId(active.id)})` : ''}`);
            const res = await post(`/connections/${conn}/${action}`);
            if (active) {
              same(res.status, 200, `POST ${action} with an active job: status`);
              same(pickWire(res.body), wireOf(active), `POST ${action}: the active job`);
            } else {
              same(res.status, 202, `POST ${action}: status`);
              same(
                pickWire(res.body),
                wireOf(model.addJob(res.body.job_id, conn, action, null)),
                `POST ${action}: the new job`,
              );
            }
            break;
          }
          case 'cancel':
          case 'retry': {
            const target = intent.unknown ? undefined : pickOf(model.jobs, intent.pick);
            if (!target) {
              log.push(`${intent.kind} an unknown job`);
              notFound(await post(`/jobs/${randomId()}/${intent.kind}`), `POST ${intent.kind} (unknown)`);
              break;
            }
            log.push(
              `${intent.kind} ${shortId(target.id)} (${target.status}${target.cancelRequested ? ', cancel requested' : ''})`,
            );
            const res = await post(`/jobs/${target.id}/${intent.kind}`);
            if (intent.kind === 'cancel') {
              const status = model.cancel(target);
              same(res.status, status, 'POST cancel: status');
              if (status === 409) same(res.body?.code, 'illegal-transition', 'POST cancel: problem code');
              else same(pickWire(res.body), wireOf(target), 'POST cancel: the job');
            } else if (target.status === 'failed' && target.errorCode === 'invalid-credentials') {
              // The model never replaces credentials: resending the rejected ones is refused (issue 12).
              same(res.status, 409, 'POST retry of an invalid-credentials failure: status');
              same(res.body?.code, 'credentials-update-required', 'POST retry: problem code');
            } else if (target.status === 'failed' || target.status === 'cancelled') {
              const active = model.active(target.connectionId, target.action);
              same(res.status, active ? 200 : 202, 'POST retry: status');
              const job = active ?? model.addJob(res.body.job_id, target.connectionId, target.action, target.id);
              same(pickWire(res.body), wireOf(job), 'POST retry: the job');
            } else {
              same(res.status, 409, 'POST retry of a job that is not failed or cancelled: status');
              same(res.body?.code, 'illegal-transition', 'POST retry: problem code');
            }
            break;
          }
          case 'claim': {
            const expected = model.claimable();
            const chosen = pickOf(expected, intent.pick);
            log.push(chosen ? `claim ${shortId(chosen.id)} (of ${expected.length} due)` : 'claim (nothing due)');
            const claimed = await db.transaction(async (tx) => {
              const due = (await repo.lockDueJobs(tx, t.app.get(DatabaseClock).now(), 1_000)).filter(
                (c) => c.tenantId === tenantId,
              );
              same(
                due.map((c) => c.job.id).sort(),
                expected.map((j) => j.id).sort(),
                'claimable jobs (oldest pending per idle connection)',
              );
              const c = chosen && due.find((d) => d.job.id === chosen.id);
              if (!c) return null;
              const res = transitionJobOrThrow(
                c.job,
                { type: 'claim', workerId: WORKER, leaseMs: LEASE_MS, deadlineMs: LEASE_MS },
                ctx(),
              );
              const [change] = await repo.commit(tx, [
                { tenantId, before: c.job, next: res.job, events: transitionEvents(res.transition) },
              ]);
              if (!change) throw new Mismatch(`the claim of ${chosen.id} was refused by the fence`);
              return res.job;
            });
            if (claimed && chosen) {
              held.set(chosen.id, claimed);
              model.claim(chosen);
            }
            break;
          }
          case 'advance':
          case 'fail':
          case 'retryable-error': {
            const m = pickOf(model.processing(), intent.pick);
            if (!m) {
              log.push(`${intent.kind} (nothing processing)`);
              break;
            }
            log.push(
              `${intent.kind} ${shortId(m.id)} (attempt ${m.attempt}, ${m.stepsDone} steps done${m.cancelRequested ? ', cancel requested' : ''})`,
            );
            const before = await current(m);
            const now = new Date(dbNow());
            let next: Job;
            let events: ReturnType<typeof transitionEvents> = [];
            if (intent.kind === 'advance') {
              const outcome = model.advance(m);
              if (outcome === 'step') {
                const step = stepsOf(m.action)[m.stepsDone - 1]!;
                const started = transitionJobOrThrow(before, { type: 'step-started', step }, { now, actor: WORKER });
                next = transitionJobOrThrow(started.job, { type: 'step-succeeded', step }, { now, actor: WORKER }).job;
              } else {
                const event: JobEvent =
                  outcome === 'cancelled'
                    ? { type: 'stop-cancelled' }
                    : { type: 'succeed', result: { accounts: 0, transactions: 0 } };
                const res = transitionJobOrThrow(before, event, { now, actor: WORKER });
                next = res.job;
                events = transitionEvents(res.transition);
              }
            } else {
              const error =
                intent.kind === 'fail'
                  ? jobError('invalid-credentials', 'model: the password was refused')
                  : jobError('institution-unavailable', 'model: the bank is down');
              model.error(m, error.code, error.retryable);
              let event = eventForError(before, error, now);
              // Due again at once, so the model need not wait out the backoff.
              if (event.type === 'requeue') event = { ...event, runAt: now };
              const res = transitionJob(before, event, { now, actor: WORKER });
              if (!res.ok)
                throw new Mismatch(`${intent.kind}: the state machine refused ${event.type}: ${res.error.message}`);
              next = res.job;
              events = transitionEvents(res.transition);
            }
            same(next.status, m.status, `${intent.kind}: the status the worker computed`);
            if (!(await write(before, next, events)))
              throw new Mismatch(`${intent.kind}: the worker's write of ${m.id} was refused by the fence`);
            if (next.status === 'processing') held.set(m.id, next);
            else held.delete(m.id);
            break;
          }
          case 'lose-lease': {
            const m = pickOf(model.processing(), intent.pick);
            if (!m) {
              log.push('lose-lease (nothing processing)');
              break;
            }
            log.push(
              `lose-lease ${shortId(m.id)} (attempt ${m.attempt}${m.cancelRequested ? ', cancel requested' : ''}) + sweep`,
            );
            await db.execute('UPDATE jobs SET lease_expires_at = $1 WHERE id = $2', [dbNow() - 1, m.id]);
            same(await worker.sweepExpiredLeases(), 1, 'jobs swept');
            model.error(m, 'worker-lost', true);
            // The sweeper backs off; make it due again at once, as in fencing.test.ts.
            await db.execute(`UPDATE jobs SET run_at = $1 WHERE id = $2 AND status = 'pending'`, [dbNow() - 1, m.id]);
            stale.push(held.get(m.id)!);
            held.delete(m.id);
            break;
          }
          case 'stale-write': {
            const s = pickOf(stale, intent.pick);
            if (!s) {
              log.push('stale-write (no stale worker)');
              break;
            }
            log.push(`stale-write ${shortId(s.id)} (attempt ${s.attempt})`);
            const res = transitionJobOrThrow(
              s,
              { type: 'fail', error: jobError('invalid-credentials', 'model: stale worker') },
              ctx(),
            );
            same(await write(s, res.job, transitionEvents(res.transition)), null, `a stale worker's write of ${s.id}`);
            break;
          }
          case 'read-history': {
            const conn = intent.unknown ? undefined : pickOf(model.connections, intent.pick);
            if (!conn) {
              log.push('read the history of an unknown connection');
              notFound(await get(`/connections/${randomId()}/jobs`), 'GET history (unknown)');
              break;
            }
            log.push(`read history ${shortId(conn)}`);
            const res = await get(`/connections/${conn}/jobs?limit=200`);
            same(res.status, 200, 'GET history: status');
            same(
              (res.body as unknown[]).map(pickWire),
              model.history(conn).map(wireOf),
              'GET history: jobs, newest first',
            );
            break;
          }
          case 'read-job': {
            const m = intent.unknown ? undefined : pickOf(model.jobs, intent.pick);
            if (!m) {
              log.push('read an unknown job');
              notFound(await get(`/jobs/${randomId()}`), 'GET job (unknown)');
              break;
            }
            log.push(`read job ${shortId(m.id)}`);
            const res = await get(`/jobs/${m.id}`);
            same(res.status, 200, 'GET job: status');
            same(pickWire(res.body), wireOf(m), 'GET job: summary');
            same(
              (res.body.transitions as Array<{ from: string; to: string }>).map((tr) => `${tr.from}>${tr.to}`),
              m.transitions,
              'GET job: transitions',
            );
            if (m.status === 'processing') {
              const steps = stepsOf(m.action).map((name, i) => ({
                name,
                status: i < m.stepsDone ? 'success' : 'pending',
              }));
              same(
                (res.body.steps as Array<{ name: string; status: string }>).map((s) => ({
                  name: s.name,
                  status: s.status,
                })),
                steps,
                'GET job: steps',
              );
            }
            break;
          }
        }
        const line = log[log.length - 1]!;
        // Count the commands that did something (not those that found no target).
        if (!/\((nothing|no stale)/.test(line)) executed.set(intent.kind, (executed.get(intent.kind) ?? 0) + 1);
        await verify(line);
      }
    } finally {
      for (const j of model.jobs) outcomes.set(j.status, (outcomes.get(j.status) ?? 0) + 1);
      // Nothing of this run may stay due or processing for the next one (the queue is shared).
      await db.execute(
        `UPDATE jobs SET status = 'cancelled', lease_owner = NULL, lease_expires_at = NULL WHERE tenant_id = $1 AND status IN ('pending', 'processing')`,
        [tenantId],
      );
    }
  };

  it(`${RUNS} random sequences of up to ${MAX_COMMANDS} commands match the model (seed ${SEED})`, async () => {
    const started = Date.now();
    const stats = await checkModel({
      seed: SEED,
      path: PATH,
      runs: RUNS,
      maxCommands: MAX_COMMANDS,
      intent: intentArb,
      execute,
    });
    console.log(
      `model (${kind}): seed ${SEED}, ${stats.runs} runs, ${stats.commands} commands in ${Date.now() - started} ms; by kind ${JSON.stringify(Object.fromEntries([...executed].sort()))}; jobs ended ${JSON.stringify(Object.fromEntries([...outcomes].sort()))}`,
    );
    expect(stats.runs).toBe(RUNS);
    // The interesting paths were reached.
    for (const k of ['claim', 'advance', 'cancel', 'retry', 'lose-lease', 'stale-write'] as const)
      expect(executed.get(k) ?? 0).toBeGreaterThan(0);
    for (const s of ['success', 'failed', 'cancelled', 'processing'] as const)
      expect(outcomes.get(s) ?? 0).toBeGreaterThan(0);
  }, 180_000);
});
