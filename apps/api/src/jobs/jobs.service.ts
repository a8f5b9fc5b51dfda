import { Inject, Injectable } from '@nestjs/common';
import {
  MFA_MAX_WRONG_CODES,
  cancelEvents,
  challengeAnswerEvent,
  createJob,
  jobExpiresAt,
  retryJob,
  toPublicJobDetailWire,
  toJobSummaryWire,
  transitionJob,
  MAX_BULK_RETRY,
  type BulkRetryBody,
  type BulkRetryResponse,
  type BulkRetrySkipReason,
  type HistoryQuery,
  type JobStatsQuery,
  type JobStatsWire,
  type Job,
  type JobSummary,
  type JobAction,
  type JobDetailWire,
  type JobLogLineWire,
  type JobSearchQuery,
  type JobSummaryWire,
  type PageQuery,
  type JobEvent,
} from '@jobtrail/domain';
import { ApiProblem } from '../common/api-problem.js';
import {
  ConnectorRegistry,
  Database,
  DatabaseClock,
  JobEventsBus,
  JobsStore,
  isUniqueViolation,
  transitionEvents,
  uuidv7,
  type CommittedWrite,
  type JobChange,
  type JobWrite,
  type SqlExecutor,
} from '@jobtrail/engine';
import { decodeCursor, keysetPage, type Page } from '../common/cursor.js';
import { SealedPositions } from '../common/sealed-positions.js';
import type { AuthContext } from '../auth/auth-context.js';
import { APP_CONFIG } from '../common/tokens.js';
import type { AppConfig } from '../config/app-config.js';
import { recordIdempotentAnswer } from '../idempotency/idempotency-scope.js';
import { JobsRepository, type JobListFilter, type RetryFilter } from './jobs.repository.js';

/** Jobs read per keyset batch of a history export. */
const EXPORT_BATCH = 1_000;

/** Jobs retried in one transaction by a bulk retry. */
const BULK_RETRY_CHUNK = 200;

/** The outcome of starting an action: the new job, or the one already pending/processing. */
export interface StartedJob {
  readonly job: JobSummaryWire;
  readonly created: boolean;
}

/** Jobs: starting actions, history, details, retry and cancel. */
@Injectable()
export class JobsService {
  constructor(
    private readonly db: Database,
    private readonly jobs: JobsRepository,
    private readonly store: JobsStore,
    private readonly clock: DatabaseClock,
    private readonly bus: JobEventsBus,
    private readonly positions: SealedPositions,
    private readonly connectors: ConnectorRegistry,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Starts `action` on a connection, unless a job of that action is already pending or processing
   * there: then that job is the answer. The partial unique index settles concurrent requests.
   */
  async startAction(
    auth: AuthContext,
    connectionId: string,
    action: JobAction,
    retryOf: string | null = null,
  ): Promise<StartedJob> {
    // First whether the connection is the caller's: nothing about another tenant's connection (its
    // active job, its refresh limit) may show before that answer, which is 404 like a missing one.
    if (!(await this.jobs.connectionExists(auth.tenantId, connectionId))) throw ApiProblem.notFound('Connection');
    for (let tries = 0; tries < 5; tries++) {
      const existing = await this.jobs.findActiveJob(connectionId, action);
      if (existing) {
        return { job: toJobSummaryWire(existing), created: false };
      }
      if (action === 'refresh') await this.checkRefreshLimit(connectionId);
      try {
        const created = await this.db.transaction(async (tx) => {
          if (!(await this.jobs.connectionExists(auth.tenantId, connectionId, tx)))
            throw ApiProblem.notFound('Connection');
          const job = await this.insertNewJob(tx, auth, connectionId, action, retryOf);
          // With an Idempotency-Key, the answer (202 + the new job) commits with the work.
          await recordIdempotentAnswer(tx, 202, job.change.job);
          return job;
        });
        await this.announceCreated(created);
        return { job: created.change.job, created: true };
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        // Another request created the active job first: loop to answer with it.
      }
    }
    throw new ApiProblem('service-unavailable', 'The connection is too busy; retry shortly.');
  }

  /** At most `refreshesPerHour` refresh jobs per connection in any hour (429 beyond). */
  private async checkRefreshLimit(connectionId: string): Promise<void> {
    const limit = this.config.limits.refreshesPerHour;
    const since = this.clock.now() - 3_600_000;
    const { count, oldest } = await this.jobs.countRecentJobs(connectionId, 'refresh', since, limit);
    if (count < limit || oldest === null) return;
    const retryAfter = Math.max(1, Math.ceil((oldest - since) / 1000));
    throw new ApiProblem(
      'refresh-limit-exceeded',
      `A connection may be refreshed ${limit} times an hour; retry in ${retryAfter} s.`,
      {
        // These describe the connection's limit, overriding the key's that every response carries.
        headers: {
          'Retry-After': String(retryAfter),
          'RateLimit-Limit': String(limit),
          'RateLimit-Remaining': '0',
          'RateLimit-Reset': String(retryAfter),
          'RateLimit-Policy': `${limit};w=3600`,
        },
      },
    );
  }

  /**
   * Creates a new pending job with its creation events, through the store's one write path. The caller announces it (`announceCreated`) once the
   * transaction committed.
   */
  async insertNewJob(
    tx: SqlExecutor,
    auth: AuthContext,
    connectionId: string,
    action: JobAction,
    retryOf: string | null,
    reason = 'requested',
  ): Promise<CommittedWrite> {
    const [created] = await this.store.commit(tx, [this.newJobWrite(auth, connectionId, action, retryOf, reason)]);
    return created!;
  }

  /** A new pending job with its creation events, for the store's `commit`. */
  private newJobWrite(
    auth: AuthContext,
    connectionId: string,
    action: JobAction,
    retryOf: string | null,
    reason: string,
  ): JobWrite {
    // The database's time: creation times order a connection's actions, whichever process took them.
    const now = new Date(this.clock.now());
    const job = createJob({
      id: uuidv7(now.getTime()),
      connectionId,
      action,
      now,
      retryOf,
      maxAttempts: this.config.worker.maxAttempts,
      requestedBy: { id: auth.keyId, name: auth.keyName },
    });
    return {
      tenantId: auth.tenantId,
      before: null,
      next: job,
      events: [
        { kind: 'created', at: now, actor: auth.keyId, reason: retryOf ? 'retry' : reason },
        {
          kind: 'log',
          at: now,
          level: 'info',
          step: null,
          message: `${action} requested by key "${auth.keyName}"${retryOf ? ` as a retry of job ${retryOf}` : ''}`,
        },
      ],
    };
  }

  /**
   * Retries the finished jobs matching a filter, at most MAX_BULK_RETRY a call. Only the newest job
   * of its action on its connection is retried (never one a newer job already follows), never
   * beside an active job of that action, never an `invalid-credentials` failure whose credentials
   * did not change. Each chunk is re-checked under the connections' locks, so two calls with the
   * same filter at once never retry one job twice.
   */
  async bulkRetry(auth: AuthContext, body: BulkRetryBody): Promise<BulkRetryResponse> {
    const filter: RetryFilter = {
      status: body.status,
      action: body.action,
      errorCode: body.error_code,
      connectionId: body.connection_id,
      institutionId: body.institution_id,
      from: body.from === undefined ? undefined : Date.parse(body.from),
      to: body.to === undefined ? undefined : Date.parse(body.to),
    };
    const { matched, newest, candidates } = await this.jobs.findRetryCandidates(auth.tenantId, filter, MAX_BULK_RETRY);
    const skipped: Partial<Record<BulkRetrySkipReason, number>> = {};
    const skip = (reason: BulkRetrySkipReason, n = 1) => {
      if (n > 0) skipped[reason] = (skipped[reason] ?? 0) + n;
    };
    skip('superseded', matched - newest);
    skip('over-limit', newest - candidates.length);

    const credentials = await this.jobs.findCredentialsUpdatedAtMany(candidates.map((j) => j.connectionId));
    const allowed = candidates.filter((job) => {
      const refused = retryJob(job, {
        id: job.id,
        now: new Date(this.clock.now()),
        credentialsUpdatedAt: credentials.get(job.connectionId) ?? null,
      });
      if (!refused.ok)
        skip(refused.error.refusal === 'credentials-update-required' ? refused.error.refusal : 'already-retried');
      return refused.ok;
    });
    const active = await this.jobs.findActiveActions(allowed.map((j) => j.connectionId));
    const ready = allowed.filter((job) => {
      const busy = active.has(`${job.connectionId}:${job.action}`);
      if (busy) skip('active-job');
      return !busy;
    });
    if (body.dry_run) return { matched, retried: 0, skipped, job_ids: ready.map((j) => j.id), dry_run: true };

    const created: string[] = [];
    for (let i = 0; i < ready.length; i += BULK_RETRY_CHUNK) {
      const chunk = ready.slice(i, i + BULK_RETRY_CHUNK);
      let outcome: { changes: JobChange[]; reasons: BulkRetrySkipReason[] };
      try {
        outcome = await this.retryChunk(auth, chunk);
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        // A single request started one of these actions meanwhile: one job at a time, then.
        outcome = { changes: [], reasons: [] };
        for (const job of chunk) {
          try {
            const one = await this.retryChunk(auth, [job]);
            outcome.changes.push(...one.changes);
            outcome.reasons.push(...one.reasons);
          } catch (e) {
            if (!isUniqueViolation(e)) throw e;
            outcome.reasons.push('active-job');
          }
        }
      }
      for (const reason of outcome.reasons) skip(reason);
      created.push(...outcome.changes.map((c) => c.job.job_id));
      await this.bus.publish(outcome.changes);
    }
    return { matched, retried: created.length, skipped, job_ids: created, dry_run: false };
  }

  /** Retries these jobs in one transaction, after re-checking them under their connections' locks. */
  private async retryChunk(
    auth: AuthContext,
    chunk: readonly Job[],
  ): Promise<{ changes: JobChange[]; reasons: BulkRetrySkipReason[] }> {
    return this.db.transaction(async (tx) => {
      await this.jobs.lockConnections(
        tx,
        chunk.map((j) => j.connectionId),
      );
      const still = await this.jobs.findStillRetryable(tx, auth.tenantId, chunk);
      const active = await this.jobs.findActiveActions(
        chunk.map((j) => j.connectionId),
        tx,
      );
      const reasons: BulkRetrySkipReason[] = [];
      const writes: JobWrite[] = [];
      for (const job of chunk) {
        if (!still.has(job.id)) reasons.push('already-retried');
        else if (active.has(`${job.connectionId}:${job.action}`)) reasons.push('active-job');
        else writes.push(this.newJobWrite(auth, job.connectionId, job.action, job.id, 'retry'));
      }
      const committed = await this.store.commit(tx, writes);
      return { changes: committed.flatMap((c) => (c ? [c.change] : [])), reasons };
    });
  }

  /** Counts of the jobs created in a time range (default: the last 24 hours). */
  async stats(auth: AuthContext, query: JobStatsQuery): Promise<JobStatsWire> {
    const to = query.to === undefined ? this.clock.now() : Date.parse(query.to);
    const from = query.from === undefined ? to - 24 * 3_600_000 : Date.parse(query.from);
    const stats = await this.jobs.stats(auth.tenantId, from, to);
    const byStatus: Record<string, number> = {};
    for (const r of stats.byStatus) byStatus[r.status] = r.count;
    const hours = new Map<number, Record<string, number>>();
    for (const r of stats.perHour) {
      const row = hours.get(r.hour) ?? {};
      row[r.status] = r.count;
      hours.set(r.hour, row);
    }
    return {
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      total: stats.byStatus.reduce((n, r) => n + r.count, 0),
      by_status: byStatus,
      by_error_code: [...stats.byErrorCode],
      per_hour: [...hours].map(([hour, counts]) => ({
        hour: new Date(hour * 3_600_000).toISOString(),
        by_status: counts,
      })),
    };
  }

  /** Tells live clients and idle workers about a committed new job. */
  async announceCreated(created: CommittedWrite): Promise<void> {
    await this.bus.publish([created.change]);
  }

  /** A connection's history page; 404 when the connection is not the tenant's. */
  async history(auth: AuthContext, connectionId: string, query: HistoryQuery): Promise<Page<JobSummaryWire>> {
    const after = query.cursor ? decodeCursor(query.cursor) : null;
    const rows = await this.jobs.findHistoryPage(
      auth.tenantId,
      connectionId,
      listFilter(query),
      after,
      query.limit + 1,
    );
    // A non-empty page proves the connection is the tenant's; only an empty one needs the check.
    if (rows.length === 0 && !(await this.jobs.connectionExists(auth.tenantId, connectionId)))
      throw ApiProblem.notFound('Connection');
    return toPage(rows, query.limit);
  }

  /**
   * The whole filtered history of a connection, newest first, in keyset batches (no page limit):
   * each batch is read when the consumer asks for it. 404 before the first byte when the
   * connection is not the tenant's.
   */
  async historyBatches(
    auth: AuthContext,
    connectionId: string,
    query: HistoryQuery,
  ): Promise<AsyncIterable<readonly JobSummary[]>> {
    if (!(await this.jobs.connectionExists(auth.tenantId, connectionId))) throw ApiProblem.notFound('Connection');
    const filter = listFilter(query);
    const jobs = this.jobs;
    return {
      async *[Symbol.asyncIterator]() {
        let after: { createdAt: number; id: string } | null = null;
        for (;;) {
          const batch = await jobs.findHistoryPage(auth.tenantId, connectionId, filter, after, EXPORT_BATCH);
          if (batch.length > 0) yield batch;
          const last = batch[batch.length - 1];
          if (batch.length < EXPORT_BATCH || !last) return;
          after = { createdAt: last.createdAt.getTime(), id: last.id };
        }
      },
    };
  }

  async search(auth: AuthContext, query: JobSearchQuery): Promise<Page<JobSummaryWire>> {
    const after = query.cursor ? decodeCursor(query.cursor) : null;
    const filter: JobListFilter = {
      ...listFilter(query),
      connectionId: query.connection_id,
      idPrefix: query.job_id?.toLowerCase(),
      errorCode: query.error_code,
      institutionId: query.institution_id,
    };
    return toPage(await this.jobs.searchJobs(auth.tenantId, filter, after, query.limit + 1), query.limit);
  }

  async detail(auth: AuthContext, jobId: string): Promise<JobDetailWire> {
    const job = await this.jobs.findJob(auth.tenantId, jobId);
    if (!job) throw ApiProblem.notFound('Job');
    return toPublicJobDetailWire(
      job,
      await this.jobs.findTransitions(job.id),
      jobExpiresAt(job, this.config.retention),
    );
  }

  async logs(auth: AuthContext, jobId: string, query: PageQuery): Promise<Page<JobLogLineWire>> {
    const job = await this.jobs.findJob(auth.tenantId, jobId);
    if (!job) throw ApiProblem.notFound('Job');
    // Log line ids come from a sequence all tenants share: the client sees each line's ordinal in
    // its job (`seq`) and a cursor sealed for this tenant and job, never the global id.
    const after = query.cursor ? this.positions.openLogCursor(auth.tenantId, job.id, query.cursor) : null;
    if (query.cursor && after === null)
      throw ApiProblem.validation([{ field: 'query.cursor', message: 'is not a valid cursor' }]);
    const lines = await this.jobs.findLogsPage(job.id, after, query.limit + 1);
    const ordinal = after?.ordinal ?? 0;
    const kept = lines.slice(0, query.limit);
    const items = kept.map((l, i) => ({
      seq: ordinal + i + 1,
      at: l.at.toISOString(),
      level: l.level,
      step: l.step,
      message: l.message,
    }));
    const last = kept[kept.length - 1];
    return {
      items,
      nextCursor:
        lines.length > query.limit && last
          ? this.positions.logCursor(auth.tenantId, job.id, last, ordinal + kept.length)
          : null,
    };
  }

  /** A manual retry of a failed or cancelled job: a new job with `retry_of` (409 otherwise). */
  async retry(auth: AuthContext, jobId: string): Promise<StartedJob> {
    const job = await this.jobs.findJob(auth.tenantId, jobId);
    if (!job) throw ApiProblem.notFound('Job');
    const credentialsUpdatedAt = await this.jobs.findCredentialsUpdatedAt(job.connectionId);
    const allowed = retryJob(job, { id: job.id, now: new Date(this.clock.now()), credentialsUpdatedAt });
    if (!allowed.ok) {
      if (allowed.error.refusal === 'credentials-update-required')
        throw new ApiProblem(
          'credentials-update-required',
          `Job ${job.id} failed because the bank rejected the credentials; retrying with the same ones may lock the user's bank account. Update the connection (PATCH /connections/${job.connectionId}) first: that starts a refresh with the new credentials.`,
        );
      throw allowed.error;
    }
    return this.startAction(auth, job.connectionId, job.action, job.id);
  }

  /**
   * Cancels a job: a pending one at once, a processing one at its next step boundary (the worker
   * sees the request). Writes are fenced on the status and attempt read, and retried if a worker
   * changed the job in between.
   */
  async cancel(auth: AuthContext, jobId: string): Promise<JobSummaryWire> {
    for (let tries = 0; tries < 5; tries++) {
      const job = await this.jobs.findJob(auth.tenantId, jobId);
      if (!job) throw ApiProblem.notFound('Job');
      const ctx = { now: new Date(this.clock.now()), actor: auth.keyId };
      // A job parked on a challenge has no worker to stop it at a step: it is cancelled at once.
      let next = job;
      const events: JobWrite['events'][number][] = [];
      for (const event of cancelEvents(job)) {
        const res = transitionJob(next, event, ctx);
        if (!res.ok) throw res.error;
        next = res.job;
        events.push(...transitionEvents(res.transition));
      }
      const [committed] = await this.store.commitNow([
        {
          tenantId: auth.tenantId,
          before: job,
          next,
          events: [
            ...events,
            {
              kind: 'log',
              at: next.updatedAt,
              level: 'info',
              step: null,
              message: `cancel requested by key "${auth.keyName}"`,
            },
          ],
        },
      ]);
      if (committed) {
        await this.bus.publish([committed.change]);
        return committed.change.job;
      }
    }
    throw new ApiProblem('service-unavailable', 'The job is changing too fast; retry shortly.');
  }

  /**
   * Answers the one-time-code challenge a job waits on. The institution's connector judges the
   * code; the domain decides what the answer does (`challengeAnswerEvent`), and the change is
   * committed with the job locked, so two answers at once are taken one after the other (the
   * second finds no challenge: 409). 202 with the job when the code is right (a worker resumes it);
   * 422 `mfa-code-invalid` for a wrong one (the third fails the job with `mfa-failed`).
   */
  async answerChallenge(auth: AuthContext, jobId: string, code: string): Promise<JobSummaryWire> {
    const job = await this.jobs.findJob(auth.tenantId, jobId);
    if (!job) throw ApiProblem.notFound('Job');
    if (job.status !== 'processing' || job.challenge === null) throw notWaiting(job.id);
    const login = await this.jobs.findConnectionLogin(job.connectionId);
    const connector = login ? this.connectors.get(login.institutionId) : null;
    const accepted =
      login !== null && connector?.verifyOneTimeCode
        ? await connector.verifyOneTimeCode({ loginId: login.loginId, code })
        : false;
    const outcome = await this.db.transaction(async (tx) => {
      const current = await this.jobs.lockJob(tx, auth.tenantId, jobId);
      const now = new Date(this.clock.now());
      const event = current ? challengeAnswerEvent(current, accepted, now) : null;
      if (!current || !event) return null;
      const res = transitionJob(current, event, { now, actor: auth.keyId });
      if (!res.ok) throw res.error;
      const [committed] = await this.store.commit(tx, [
        {
          tenantId: auth.tenantId,
          before: current,
          next: res.job,
          events: [
            ...transitionEvents(res.transition),
            {
              kind: 'log',
              at: now,
              level: event.type === 'code-accepted' ? 'info' : 'warn',
              step: current.steps.find((s) => s.status === 'action-required')?.name ?? null,
              message: answerLogLine(event, current.challenge?.wrongCodes ?? 0, auth.keyName),
            },
          ],
        },
      ]);
      return committed ? { event, committed } : null;
    });
    if (!outcome) throw notWaiting(jobId);
    await this.bus.publish([outcome.committed.change]);
    const { event, committed } = outcome;
    if (event.type === 'code-accepted') return committed.change.job;
    if (event.type === 'code-rejected') {
      const left = MFA_MAX_WRONG_CODES - (committed.job.challenge?.wrongCodes ?? 0);
      throw new ApiProblem(
        'mfa-code-invalid',
        `The institution rejected the one-time code; ${left} ${left === 1 ? 'try' : 'tries'} left.`,
      );
    }
    if (committed.job.error?.code === 'mfa-failed')
      throw new ApiProblem(
        'mfa-code-invalid',
        `The institution rejected the one-time code ${MFA_MAX_WRONG_CODES} times: job ${jobId} failed with mfa-failed.`,
      );
    throw new ApiProblem(
      'challenge-not-waiting',
      `The challenge expired before the answer: job ${jobId} failed with mfa-timeout.`,
    );
  }
}

function notWaiting(jobId: string): ApiProblem {
  return new ApiProblem(
    'challenge-not-waiting',
    `Job ${jobId} is not waiting for a one-time code (never asked, already answered, or the job ended).`,
  );
}

function answerLogLine(event: JobEvent, wrongCodesBefore: number, keyName: string): string {
  switch (event.type) {
    case 'code-accepted':
      return `one-time code accepted (entered with key "${keyName}")`;
    case 'code-rejected':
      return `wrong one-time code (${wrongCodesBefore + 1} of ${MFA_MAX_WRONG_CODES}, entered with key "${keyName}")`;
    default:
      return event.type === 'fail' ? `${event.error.code}: ${event.error.detail}` : event.type;
  }
}

function listFilter(query: HistoryQuery | JobSearchQuery): JobListFilter {
  return {
    statuses: query.status,
    action: query.action,
    from: query.from === undefined ? undefined : Date.parse(query.from),
    to: query.to === undefined ? undefined : Date.parse(query.to),
  };
}

/** A page of jobs, newest first. */
function toPage(rows: JobSummary[], limit: number): Page<JobSummaryWire> {
  return keysetPage(rows, limit, (j) => ({ createdAt: j.createdAt.getTime(), id: j.id }), toJobSummaryWire);
}
