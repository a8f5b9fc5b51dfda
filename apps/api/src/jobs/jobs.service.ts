import { Inject, Injectable } from '@nestjs/common';
import {
  createJob,
  jobExpiresAt,
  retryJob,
  toPublicJobDetailWire,
  toJobSummaryWire,
  transitionJob,
  type HistoryQuery,
  type Job,
  type JobAction,
  type JobDetailWire,
  type JobLogLineWire,
  type JobSearchQuery,
  type JobSummaryWire,
  type PageQuery,
} from '@jobtrail/domain';
import { ApiProblem } from '../common/api-problem.js';
import {
  Database,
  DatabaseClock,
  JobEventsBus,
  JobsStore,
  isUniqueViolation,
  transitionEvents,
  uuidv7,
  type CommittedWrite,
  type SqlExecutor,
} from '@jobtrail/engine';
import { decodeCursor, decodeSeqCursor, encodeSeqCursor, keysetPage, type Page } from '../common/cursor.js';
import type { AuthContext } from '../auth/auth-context.js';
import { APP_CONFIG } from '../common/tokens.js';
import type { AppConfig } from '../config/app-config.js';
import { recordIdempotentAnswer } from '../idempotency/idempotency-scope.js';
import { JobsRepository, type JobListFilter } from './jobs.repository.js';

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
  ): Promise<CommittedWrite> {
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
    const [created] = await this.store.commit(tx, [
      {
        tenantId: auth.tenantId,
        before: null,
        next: job,
        events: [
          { kind: 'created', at: now, actor: auth.keyId, reason: retryOf ? 'retry' : 'requested' },
          {
            kind: 'log',
            at: now,
            level: 'info',
            step: null,
            message: `${action} requested by key "${auth.keyName}"${retryOf ? ` as a retry of job ${retryOf}` : ''}`,
          },
        ],
      },
    ]);
    return created!;
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

  async search(auth: AuthContext, query: JobSearchQuery): Promise<Page<JobSummaryWire>> {
    const after = query.cursor ? decodeCursor(query.cursor) : null;
    const filter: JobListFilter = {
      ...listFilter(query),
      connectionId: query.connection_id,
      idPrefix: query.job_id?.toLowerCase(),
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
    const after = query.cursor ? decodeSeqCursor(query.cursor) : 0;
    const lines = await this.jobs.findLogsPage(job.id, after, query.limit + 1);
    const items = lines
      .slice(0, query.limit)
      .map((l) => ({ seq: l.seq, at: l.at.toISOString(), level: l.level, step: l.step, message: l.message }));
    const last = items[items.length - 1];
    return { items, nextCursor: lines.length > query.limit && last ? encodeSeqCursor(last.seq) : null };
  }

  /** A manual retry of a failed or cancelled job: a new job with `retry_of` (409 otherwise). */
  async retry(auth: AuthContext, jobId: string): Promise<StartedJob> {
    const job = await this.jobs.findJob(auth.tenantId, jobId);
    if (!job) throw ApiProblem.notFound('Job');
    const allowed = retryJob(job, { id: job.id, now: new Date(this.clock.now()) });
    if (!allowed.ok) throw allowed.error;
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
      const res = transitionJob(
        job,
        { type: 'request-cancel' },
        { now: new Date(this.clock.now()), actor: auth.keyId },
      );
      if (!res.ok) throw res.error;
      const [committed] = await this.store.commitNow([
        {
          tenantId: auth.tenantId,
          before: job,
          next: res.job,
          events: [
            ...transitionEvents(res.transition),
            {
              kind: 'log',
              at: res.job.updatedAt,
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
function toPage(rows: Job[], limit: number): Page<JobSummaryWire> {
  return keysetPage(rows, limit, (j) => ({ createdAt: j.createdAt.getTime(), id: j.id }), toJobSummaryWire);
}
