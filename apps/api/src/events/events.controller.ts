import {
  Controller,
  Get,
  HttpCode,
  Inject,
  Post,
  Query,
  Req,
  Res,
  type BeforeApplicationShutdown,
} from '@nestjs/common';
import { EventsQuerySchema, toJobSummaryWire, type EventTokenWire, type EventsQuery } from '@jobtrail/domain';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { ApiKeysRepository } from '../auth/api-keys.repository.js';
import type { AuthContext } from '../auth/auth-context.js';
import { Caller, Public } from '../auth/auth.decorators.js';
import { ApiProblem } from '../common/api-problem.js';
import { LOGGER } from '../common/tokens.js';
import { Valid } from '../common/zod-validation.pipe.js';
import { Database, JobEventsBus, type JobChange } from '@jobtrail/engine';
import { JobsRepository } from '../jobs/jobs.repository.js';
import { EventTokens } from './event-tokens.js';

/** How often a comment line keeps idle streams (and the proxies between) open. */
const HEARTBEAT_MS = 15_000;
/** Most events replayed on a resume; older gaps are better served by re-reading the history. */
const REPLAY_LIMIT = 5_000;

@Controller('events')
export class EventsController implements BeforeApplicationShutdown {
  /** Open streams (their end functions): ended at shutdown, or the HTTP server would wait for them forever. */
  private readonly open = new Set<() => void>();
  private closing = false;

  constructor(
    private readonly bus: JobEventsBus,
    private readonly keys: ApiKeysRepository,
    private readonly tokens: EventTokens,
    private readonly db: Database,
    private readonly jobs: JobsRepository,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  /** Shutdown: end every stream (clients reconnect, with Last-Event-ID, to a running process). */
  beforeApplicationShutdown(): void {
    this.closing = true;
    for (const end of [...this.open]) end();
  }

  /** A token to open the stream with EventSource (`?token=`), valid 10 minutes. */
  @Post('token')
  @HttpCode(201)
  token(@Caller() auth: AuthContext): EventTokenWire {
    const { token, expiresAt } = this.tokens.issue(auth.keyId);
    return { token, expires_at: expiresAt.toISOString() };
  }

  /**
   * Server-Sent Events of job changes of the caller's tenant (`job.created`, `job.updated`, data:
   * the job summary), optionally of one connection; resumable with `Last-Event-ID`.
   */
  @Get()
  @Public()
  async stream(
    @Query(Valid.query(EventsQuerySchema)) query: EventsQuery,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const auth = await this.authenticate(req, query);
    const lastIdRaw = (req.headers['last-event-id'] as string | undefined) ?? query.last_event_id;
    const lastId = lastIdRaw && /^\d{1,18}$/.test(lastIdRaw) ? Number(lastIdRaw) : null;
    const wanted = (c: JobChange) =>
      c.tenantId === auth.tenantId && (!query.connection_id || c.connectionId === query.connection_id);
    // On PostgreSQL changes arrive through LISTEN, and notifications sent while that connection is
    // re-established (database restart) are lost: then the stream replays from the newest event it saw.
    let seen = lastId ?? (this.db.kind === 'postgres' ? await this.newestEventId() : 0);

    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.write('retry: 2000\n: connected\n\n');
    if (this.closing) {
      res.end();
      return;
    }

    // Subscribe before replaying so nothing falls between the two; duplicates are skipped by id.
    // Per job, not stream-wide: event ids are taken before commit and several processes publish,
    // so changes of different jobs arrive out of id order; only a job's own older state is stale.
    let replaying = true;
    const queued: JobChange[] = [];
    const sentUpTo = new Map<string, number>();
    const send = (c: JobChange) => {
      const jobId = c.job.job_id;
      if (c.id <= (sentUpTo.get(jobId) ?? lastId ?? 0) || res.writableEnded) return;
      seen = Math.max(seen, c.id);
      sentUpTo.delete(jobId);
      sentUpTo.set(jobId, c.id);
      // Bounded: the jobs least recently sent are forgotten first.
      if (sentUpTo.size > 10_000) sentUpTo.delete(sentUpTo.keys().next().value!);
      res.write(`id: ${c.id}\nevent: ${c.type}\ndata: ${JSON.stringify(c.job)}\n\n`);
    };
    const unsubscribe = this.bus.subscribe((c) => {
      if (!wanted(c)) return;
      if (replaying) queued.push(c);
      else send(c);
    });
    const offReconnect = this.bus.onReconnect(() => {
      this.replay(auth.tenantId, query.connection_id ?? null, seen).then(
        (changes) => changes.forEach(send),
        (err: unknown) =>
          this.log.warn({ err: { message: (err as Error).message } }, 'event replay after reconnect failed'),
      );
    });
    const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
    const close = () => {
      this.open.delete(end);
      clearInterval(heartbeat);
      unsubscribe();
      offReconnect();
    };
    const end = () => {
      close();
      res.end();
    };
    this.open.add(end);
    req.on('close', close);
    try {
      if (lastId !== null)
        for (const c of await this.replay(auth.tenantId, query.connection_id ?? null, lastId)) send(c);
    } catch (err) {
      this.log.warn({ err: { message: (err as Error).message } }, 'event replay failed');
    }
    replaying = false;
    for (const c of queued.splice(0)) send(c);
  }

  private async authenticate(req: Request, query: EventsQuery): Promise<AuthContext> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (match?.[1]) {
      const auth = await this.keys.findActiveKey(match[1]);
      if (auth) return auth;
      throw new ApiProblem('unauthorized', 'The API key is unknown or revoked.');
    }
    if (query.token) {
      const keyId = this.tokens.verify(query.token);
      const auth = keyId ? await this.keys.findActiveKeyById(keyId) : null;
      if (auth) return auth;
      throw new ApiProblem(
        'unauthorized',
        'The event token is invalid or expired; get a new one from POST /events/token.',
      );
    }
    throw new ApiProblem(
      'unauthorized',
      'Send an API key as `Authorization: Bearer <key>`, or a token from POST /events/token as `?token=`.',
    );
  }

  /** The id of the newest recorded job event (0 when there is none). */
  private newestEventId(): Promise<number> {
    return this.jobs.findNewestEventId();
  }

  /** One event per job changed after `lastId`, carrying the job as it is now. */
  private async replay(tenantId: string, connectionId: string | null, lastId: number): Promise<JobChange[]> {
    const events = await this.jobs.findEventsAfter(tenantId, connectionId, lastId, REPLAY_LIMIT);
    const latest = new Map<string, { id: number; created: boolean }>();
    for (const e of events) {
      const prev = latest.get(e.jobId);
      latest.set(e.jobId, { id: e.id, created: (prev?.created ?? false) || e.kind === 'created' });
    }
    if (latest.size === 0) return [];
    const jobs = await this.jobs.findJobsByIds(tenantId, [...latest.keys()]);
    return jobs
      .map((job): JobChange => {
        const mark = latest.get(job.id)!;
        return {
          id: mark.id,
          type: mark.created ? 'job.created' : 'job.updated',
          tenantId,
          connectionId: job.connectionId,
          job: toJobSummaryWire(job),
        };
      })
      .sort((a, b) => a.id - b.id);
  }
}
