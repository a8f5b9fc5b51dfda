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
import type { ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { ApiKeysRepository } from '../auth/api-keys.repository.js';
import type { AuthContext } from '../auth/auth-context.js';
import { Caller, Public } from '../auth/auth.decorators.js';
import { ApiProblem } from '../common/api-problem.js';
import { SealedPositions } from '../common/sealed-positions.js';
import { RateLimitGuard } from '../common/rate-limit.guard.js';
import { APP_CONFIG, LOGGER } from '../common/tokens.js';
import { Valid } from '../common/zod-validation.pipe.js';
import { Database, JobEventsBus, type JobChange } from '@jobtrail/engine';
import type { AppConfig } from '../config/app-config.js';
import { JobsRepository } from '../jobs/jobs.repository.js';
import { EventTokens } from './event-tokens.js';

/** How often a comment line keeps idle streams (and the proxies between) open. */
const HEARTBEAT_MS = 15_000;
/** How long a replay waits for a client to take what was already written before dropping it. */
const DRAIN_TIMEOUT_MS = 10_000;
/** Live changes held while a replay is written; a client that far behind is dropped and resumes. */
const MAX_QUEUED = 10_000;
/** Events read at once when a PostgreSQL stream catches up with the database. */
const LIVE_PAGE = 1_000;
/** Key ids per revocation query. */
const REAUTH_CHUNK = 500;

/** Why a stream was ended by the server. */
type EndReason = 'shutdown' | 'slow-client' | 'key-revoked' | 'token-expired';

/** One open stream, as the controller tracks it. */
interface OpenStream {
  readonly keyId: string;
  /** When the `?token=` it was opened with expires (epoch ms); null when opened with a key. */
  readonly expiresAt: number | null;
  end(reason: EndReason): void;
}

@Controller('events')
export class EventsController implements BeforeApplicationShutdown {
  /**
   * Open streams: re-authorised every `reauthMs`, ended at shutdown (or the HTTP server would wait
   * for them forever). Everything a stream holds (subscription, heartbeat, its slot in `perKey`)
   * is released by one idempotent close, run when the response closes for any reason.
   */
  private readonly open = new Set<OpenStream>();
  /** Open streams per key id (the cap). */
  private readonly perKey = new Map<string, number>();
  private subscriptions = 0;
  private heartbeats = 0;
  private reauthTimer: NodeJS.Timeout | null = null;
  private reauthRunning = false;
  private closing = false;

  constructor(
    private readonly bus: JobEventsBus,
    private readonly keys: ApiKeysRepository,
    private readonly tokens: EventTokens,
    private readonly db: Database,
    private readonly jobs: JobsRepository,
    private readonly rateLimit: RateLimitGuard,
    private readonly positions: SealedPositions,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  /** Shutdown: end every stream (clients reconnect, with Last-Event-ID, to a running process). */
  beforeApplicationShutdown(): void {
    this.closing = true;
    for (const s of [...this.open]) s.end('shutdown');
    this.stopReauth();
  }

  /** What open streams hold right now (for tests and diagnostics): all zero when none is open. */
  get streamStats(): { streams: number; subscriptions: number; heartbeats: number; keys: number } {
    return {
      streams: this.open.size,
      subscriptions: this.subscriptions,
      heartbeats: this.heartbeats,
      keys: this.perKey.size,
    };
  }

  /** A token to open the stream with EventSource (`?token=`), valid `JOBTRAIL_EVENT_TOKEN_TTL_MS`. */
  @Post('token')
  @HttpCode(201)
  token(@Caller() auth: AuthContext): EventTokenWire {
    const { token, expiresAt } = this.tokens.issue(auth.keyId, Date.now(), this.config.streams.tokenTtlMs);
    return { token, expires_at: expiresAt.toISOString() };
  }

  /**
   * Server-Sent Events of job changes of the caller's tenant (`job.created`, `job.updated`, data:
   * the job summary), optionally of one connection; resumable with `Last-Event-ID`. Also
   * `webhook.delivery` (a recorded attempt) and `connection.deleted`, neither stored nor replayed.
   *
   * Faults it is built for: a client that stops reading is dropped once `maxBufferBytes` wait for
   * it (it resumes with Last-Event-ID) instead of growing the server's memory; a client gone while
   * the stream was being authenticated leaves nothing behind; a key has at most `perKey` streams
   * and each open counts against its rate limit; a revoked key's or expired token's stream is
   * closed within `reauthMs` (checked for all streams at once, never per event).
   */
  @Get()
  @Public()
  async stream(
    @Query(Valid.query(EventsQuerySchema)) query: EventsQuery,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    // The stream is written on the Node.js response; until it starts, errors are answered by
    // Fastify (problem+json through the exception filter).
    const res = reply.raw;
    const { auth, expiresAt } = await this.authenticate(req, query);
    this.rateLimit.consume(auth.keyId, reply);
    const header = req.headers['last-event-id'] as string | undefined;
    // Ids are sealed per tenant (SealedPositions): one that does not open for this tenant, the
    // header like the query form, is a 400, not a silent restart.
    const field = header !== undefined ? 'header.last-event-id' : 'query.last_event_id';
    const lastIdRaw = header ?? query.last_event_id;
    const lastId = lastIdRaw !== undefined ? this.positions.openEventId(auth.tenantId, lastIdRaw) : null;
    if (lastIdRaw !== undefined && lastId === null)
      throw ApiProblem.validation([{ field, message: 'is not an event id of this stream' }]);
    const wanted = (c: JobChange) =>
      c.tenantId === auth.tenantId && (!query.connection_id || c.connectionId === query.connection_id);
    // On PostgreSQL changes arrive through LISTEN, and notifications sent while that connection is
    // re-established (database restart) are lost: then the stream replays from the newest event it saw.
    // Also the position the stream announces first (see below), on either database.
    let seen = lastId ?? (await this.newestEventId(auth.tenantId));

    // The client may have gone while we awaited: its 'close' was then already emitted and would
    // never run the clean-up registered below, so nothing is allocated for it.
    if (responseGone(res)) return;
    const { perKey, maxBufferBytes } = this.config.streams;
    const held = this.perKey.get(auth.keyId) ?? 0;
    if (held >= perKey)
      throw new ApiProblem(
        'rate-limited',
        `This key has ${held} open event streams, the most allowed; close one or retry later.`,
        { headers: { 'Retry-After': '5' } },
      );
    if (this.closing) throw new ApiProblem('service-unavailable', 'This process is shutting down; reconnect.');

    // From here to the end of this synchronous block the stream takes its resources and registers
    // the one close that releases them all. Fastify lets go of the response: the headers it
    // gathered (security, request id, rate limit) are written with the stream's own.
    reply.hijack();
    for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) res.setHeader(name, value);
    let closed = false;
    let replaying = true;
    const queued: JobChange[] = [];
    const sentUpTo = new Map<string, number>();
    const write = (chunk: string) => {
      if (closed || res.writableEnded) return;
      res.write(chunk);
      // writableLength: what waits in this response and its socket. A client that reads keeps it
      // near zero; one that stopped reading makes it grow with every event: drop it.
      if (res.writableLength > maxBufferBytes) stream.end('slow-client');
    };
    const send = (c: JobChange) => {
      const jobId = c.job.job_id;
      if (c.id <= (sentUpTo.get(jobId) ?? lastId ?? 0) || closed) return;
      seen = Math.max(seen, c.id);
      sentUpTo.delete(jobId);
      sentUpTo.set(jobId, c.id);
      // Bounded: the jobs least recently sent are forgotten first.
      if (sentUpTo.size > 10_000) sentUpTo.delete(sentUpTo.keys().next().value!);
      write(`id: ${this.positions.eventId(auth.tenantId, c.id)}\nevent: ${c.type}\ndata: ${JSON.stringify(c.job)}\n\n`);
    };
    /** Writes a replay, waiting for the client to take it when it piles up (a replay can be large). */
    const sendPaced = async (changes: readonly JobChange[]) => {
      for (const c of changes) {
        if (closed) return;
        send(c);
        if (res.writableLength > maxBufferBytes / 2 && !(await drained(res, DRAIN_TIMEOUT_MS))) {
          stream.end('slow-client');
          return;
        }
      }
    };
    // On PostgreSQL a change of another process arrives by NOTIFY, sent by that process after its
    // commit: two processes' notifications can arrive in the opposite order of their event ids
    // (ids are visible in commit order, notifications are not). Sent as they arrive, a stream could
    // give a client id 8 before id 7 and a client resuming after 8 would never get 7. So there a
    // notification only wakes the stream, which reads what was committed after the last id it
    // sent, in id order, from the database: the id a client holds is a commit-ordered cursor.
    // On SQLite one process commits and publishes in order: changes are sent as they come.
    const fromDatabase = this.db.kind === 'postgres';
    let following = false;
    let wokenAgain = false;
    const follow = async () => {
      for (;;) {
        const page = await this.readChanges(auth.tenantId, query.connection_id ?? null, seen, LIVE_PAGE);
        await sendPaced(page.changes);
        if (closed) return;
        // Past what was read even when nothing was sent for it (log lines, deleted jobs).
        seen = Math.max(seen, page.lastId);
        if (!page.more) return;
      }
    };
    const catchUp = () => {
      if (closed) return;
      if (following || replaying) {
        wokenAgain = true;
        return;
      }
      following = true;
      void (async () => {
        try {
          do {
            wokenAgain = false;
            await follow();
          } while (wokenAgain && !closed);
        } catch (err) {
          // The next notification (or the reconnect replay) tries again from the same id.
          this.log.warn({ err: { message: (err as Error).message } }, 'event stream catch-up failed');
        } finally {
          following = false;
        }
      })();
    };
    const unsubscribe = this.bus.subscribe((c) => {
      if (!wanted(c)) return;
      if (fromDatabase) return catchUp();
      if (!replaying) return send(c);
      queued.push(c);
      if (queued.length > MAX_QUEUED) stream.end('slow-client');
    });
    this.subscriptions++;
    // No id: the deletion is not stored, so it neither moves the client's resume point nor replays.
    const offDeleted = this.bus.onConnectionDeleted((d) => {
      if (d.tenantId !== auth.tenantId || (query.connection_id && d.connectionId !== query.connection_id)) return;
      write(`event: connection.deleted\ndata: ${JSON.stringify({ connection_id: d.connectionId })}\n\n`);
    });
    /**
     * Replays what changed after `from`; when that is more than a replay may carry, tells the
     * client to reload the history instead (`event: reset`) rather than leave a silent gap.
     */
    const resume = async (from: number) => {
      const replay = await this.replay(auth.tenantId, query.connection_id ?? null, from);
      if (replay.complete) return sendPaced(replay.changes);
      seen = Math.max(seen, await this.newestEventId(auth.tenantId));
      write(`event: reset\ndata: ${JSON.stringify({ reason: 'replay-too-long', reload: 'history' })}\n\n`);
    };
    // Recorded webhook attempts (no id: not stored, not replayed). A job's deliveries are readable
    // by every role; a subscription's own (webhook.test) only by admins, like the delivery log.
    const offDelivery = this.bus.onDelivery((d) => {
      if (d.tenantId !== auth.tenantId) return;
      if (query.connection_id && d.connectionId !== query.connection_id) return;
      if (d.delivery.job_id === null && auth.role !== 'admin') return;
      write(`event: webhook.delivery\ndata: ${JSON.stringify(d.delivery)}\n\n`);
    });
    const offReconnect = this.bus.onReconnect(() => {
      resume(seen).catch((err: unknown) =>
        this.log.warn({ err: { message: (err as Error).message } }, 'event replay after reconnect failed'),
      );
    });
    const heartbeat = setInterval(() => write(': ping\n\n'), HEARTBEAT_MS);
    this.heartbeats++;
    this.perKey.set(auth.keyId, held + 1);
    const release = () => {
      if (closed) return;
      closed = true;
      this.open.delete(stream);
      clearInterval(heartbeat);
      this.heartbeats--;
      unsubscribe();
      offDeleted();
      offDelivery();
      this.subscriptions--;
      offReconnect();
      const n = (this.perKey.get(auth.keyId) ?? 1) - 1;
      if (n > 0) this.perKey.set(auth.keyId, n);
      else this.perKey.delete(auth.keyId);
      queued.length = 0;
      if (this.open.size === 0) this.stopReauth();
    };
    const stream: OpenStream = {
      keyId: auth.keyId,
      expiresAt,
      end: (reason) => {
        if (closed) return;
        release();
        if (reason === 'slow-client') {
          this.log.warn(
            { key_id: auth.keyId, buffered: res.writableLength },
            'event stream dropped: client not reading',
          );
          // Whatever is still buffered for it is discarded with the socket.
          res.destroy();
        } else {
          if (reason !== 'shutdown') this.log.info({ key_id: auth.keyId, reason }, 'event stream closed');
          if (!res.writableEnded) res.end();
        }
      },
    };
    this.open.add(stream);
    res.on('close', release);
    this.startReauth();

    res.statusCode = 200;
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    // The stream's position as an id-only block (EventSource takes it as its last event id without
    // firing an event): a client that goes before receiving any event resumes from where this
    // stream started, not from wherever the next stream starts. Without it, every change made
    // while such a client came and went between events was lost to it.
    write(`retry: 2000\n: connected\nid: ${this.positions.eventId(auth.tenantId, seen)}\n\n`);

    // Subscribed before replaying so nothing falls between the two; duplicates are skipped by id,
    // per job (a job's own older state is stale; another job's change with a smaller id is not).
    // On PostgreSQL, notifications that came during the replay end in one catch-up read after it.
    try {
      if (lastId !== null) await resume(lastId);
    } catch (err) {
      this.log.warn({ err: { message: (err as Error).message } }, 'event replay failed');
    }
    replaying = false;
    for (const c of queued.splice(0)) send(c);
    if (wokenAgain) catchUp();
  }

  private startReauth(): void {
    if (this.reauthTimer || this.closing) return;
    this.reauthTimer = setInterval(() => void this.reauthorise(), this.config.streams.reauthMs);
    this.reauthTimer.unref();
  }

  private stopReauth(): void {
    if (this.reauthTimer) clearInterval(this.reauthTimer);
    this.reauthTimer = null;
  }

  /**
   * Ends the streams whose token expired or whose key was revoked (or deleted). One indexed query
   * per {@link REAUTH_CHUNK} distinct keys each round, whatever the number of streams or events.
   * When the database cannot answer, streams stay open (no revocation can be recorded either).
   */
  private async reauthorise(now = Date.now()): Promise<void> {
    if (this.reauthRunning) return;
    this.reauthRunning = true;
    try {
      for (const s of [...this.open]) if (s.expiresAt !== null && s.expiresAt <= now) s.end('token-expired');
      const keyIds = [...new Set([...this.open].map((s) => s.keyId))];
      const active = new Set<string>();
      for (let i = 0; i < keyIds.length; i += REAUTH_CHUNK) {
        const chunk = keyIds.slice(i, i + REAUTH_CHUNK);
        for (const id of await this.keys.findActiveKeyIds(chunk)) active.add(id);
      }
      // Only the keys that were asked about: streams opened meanwhile are checked next round.
      const asked = new Set(keyIds);
      for (const s of [...this.open]) if (asked.has(s.keyId) && !active.has(s.keyId)) s.end('key-revoked');
    } catch (err) {
      this.log.warn({ err: { message: (err as Error).message } }, 'event stream re-authorisation failed');
    } finally {
      this.reauthRunning = false;
    }
  }

  private async authenticate(
    req: FastifyRequest,
    query: EventsQuery,
  ): Promise<{ auth: AuthContext; expiresAt: number | null }> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (match?.[1]) {
      const auth = await this.keys.findActiveKey(match[1]);
      if (auth) return { auth, expiresAt: null };
      throw new ApiProblem('unauthorized', 'The API key is unknown or revoked.');
    }
    if (query.token) {
      const token = this.tokens.read(query.token);
      const auth = token ? await this.keys.findActiveKeyById(token.keyId) : null;
      if (auth && token) return { auth, expiresAt: token.expiresAt };
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

  /** The id of the tenant's newest recorded job event (0 when there is none). */
  private newestEventId(tenantId: string): Promise<number> {
    return this.jobs.findNewestEventId(tenantId);
  }

  /**
   * One event per job changed after `lastId`, carrying the job as it is now; `complete` is false
   * when more events followed `lastId` than a replay carries.
   */
  private async replay(
    tenantId: string,
    connectionId: string | null,
    lastId: number,
  ): Promise<{ changes: JobChange[]; complete: boolean }> {
    const page = await this.readChanges(tenantId, connectionId, lastId, this.config.streams.replayLimit);
    return page.more ? { changes: [], complete: false } : { changes: page.changes, complete: true };
  }

  /**
   * The jobs changed by the first `limit` events after `lastId`, one change per job carrying the
   * job as it is now (ordered by each job's latest event id); `lastId` of the page is the last
   * event read, `more` whether events follow it.
   */
  private async readChanges(
    tenantId: string,
    connectionId: string | null,
    lastId: number,
    limit: number,
  ): Promise<{ changes: JobChange[]; lastId: number; more: boolean }> {
    const read = await this.jobs.findEventsAfter(tenantId, connectionId, lastId, limit + 1);
    const more = read.length > limit;
    const events = more ? read.slice(0, limit) : read;
    const pageLastId = events.at(-1)?.id ?? lastId;
    const latest = new Map<string, { id: number; created: boolean }>();
    for (const e of events) {
      const prev = latest.get(e.jobId);
      latest.set(e.jobId, { id: e.id, created: (prev?.created ?? false) || e.kind === 'created' });
    }
    if (latest.size === 0) return { changes: [], lastId: pageLastId, more };
    const jobs = await this.jobs.findJobsByIds(tenantId, [...latest.keys()]);
    const changes = jobs
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
    return { changes, lastId: pageLastId, more };
  }
}

/** True when the response can no longer be written: the client went away (or it already ended). */
function responseGone(res: ServerResponse): boolean {
  return res.destroyed || res.writableEnded || !res.socket || res.socket.destroyed;
}

/** Resolves true once the response drained, false when it closed or `timeoutMs` passed first. */
function drained(res: ServerResponse, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    const timer = setTimeout(() => done(false), timeoutMs);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}
