import { createHmac } from 'node:crypto';
import { Inject, Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { from, mergeMap, of, throwError, catchError, Observable } from 'rxjs';
import { ApiProblem } from '../common/api-problem.js';
import { requestPath } from '../logging/logger.js';
import type { AuthContext } from '../auth/auth-context.js';
import { APP_CONFIG, LOGGER } from '../common/tokens.js';
import type { AppConfig } from '../config/app-config.js';
import { IdempotencyRepository } from './idempotency.repository.js';
import { runWithIdempotencyClaim, type IdempotencyClaim } from './idempotency-scope.js';

/** A claim that could not be released (or completed) is retried this often, this many times (5 minutes). */
const RELEASE_RETRY_MS = 500;
const RELEASE_RETRIES = 600;
/** Attempts to store the answer before the response is sent (then in the background), and the first pause. */
const COMPLETE_INLINE_TRIES = 3;
const COMPLETE_RETRY_MS = 100;

/** Deeper bodies are refused (400) instead of overflowing the stack; no valid body comes close. */
const MAX_BODY_DEPTH = 32;

/** JSON with sorted keys, so `{a,b}` and `{b,a}` are the same body. */
function canonicalJson(value: unknown, depth = 0): string {
  if (depth > MAX_BODY_DEPTH)
    throw ApiProblem.validation([
      { field: 'body', message: `must not be nested more than ${MAX_BODY_DEPTH} levels deep` },
    ]);
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v, depth + 1)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v, depth + 1)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * `Idempotency-Key` on the POSTs that start work: the first answer of a key is stored and replayed
 * for 24 h to the same request; the same key with another request is a 422.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  /** Keys the fingerprints: a plain hash of a body with a bank password could be guessed offline. */
  private readonly secret: Buffer;

  private readonly claimTimeoutMs: number;

  constructor(
    private readonly repo: IdempotencyRepository,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.claimTimeoutMs = config.idempotency.claimTimeoutMs;
    this.secret = createHmac('sha256', config.encryptionKey).update('jobtrail:idempotency').digest();
  }

  async intercept(ctx: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const req = ctx.switchToHttp().getRequest<FastifyRequest & { auth?: AuthContext }>();
    const res = ctx.switchToHttp().getResponse<FastifyReply>();
    const key = req.headers['idempotency-key'];
    if (key === undefined || !req.auth) return next.handle();
    if (typeof key !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(key)) {
      throw ApiProblem.validation([
        { field: 'header.idempotency-key', message: 'must be 1 to 255 visible ASCII characters' },
      ]);
    }
    const tenantId = req.auth.tenantId;
    const fingerprint = createHmac('sha256', this.secret)
      .update(`${req.method} ${requestPath(req)}\n${canonicalJson(req.body ?? {})}`)
      .digest('hex');
    const record = await this.repo.claim(tenantId, key, fingerprint, Date.now(), this.claimTimeoutMs);
    if (record.state !== 'claimed') {
      if (record.fingerprint !== fingerprint) {
        throw new ApiProblem(
          'idempotency-key-reused',
          'This Idempotency-Key was used with a different request; use a new key.',
        );
      }
      if (record.state === 'in-flight')
        throw new ApiProblem(
          'idempotency-key-in-flight',
          'The first request with this key is still running; retry shortly.',
        );
      res.status(record.status).header('Idempotent-Replayed', 'true');
      return of(JSON.parse(record.body) as unknown);
    }
    const { claimedAt } = record;
    const claim: IdempotencyClaim = { tenantId, key, claimedAt, storedInWork: false };
    // The handler runs when Nest subscribes: subscribe inside the claim's scope so a service can
    // write the answer in its own transaction (recordIdempotentAnswer).
    const handled = new Observable<unknown>((subscriber) =>
      runWithIdempotencyClaim(claim, () => next.handle().subscribe(subscriber)),
    );
    return handled.pipe(
      // The work is done (committed): from here on the claim is never released, or a retry would
      // do the work again. Storing the answer never throws (see `store`).
      mergeMap(async (body: unknown) => {
        // Written with the work already (exact): nothing left to do.
        if (!claim.storedInWork)
          await this.store(tenantId, key, claimedAt, res.statusCode, JSON.stringify(body ?? null));
        return body;
      }),
      // The work failed: free the key so the client can retry it.
      catchError((err: unknown) =>
        from(this.release(tenantId, key, claimedAt)).pipe(mergeMap(() => throwError(() => err))),
      ),
    );
  }

  /**
   * Exact when the service wrote the answer in the work's transaction (`recordIdempotentAnswer`):
   * then there is nothing left to store. Otherwise, this best effort.
   *
   * Stores the answer of work that committed: a few quick attempts before the response goes out,
   * then in the background (every 500 ms, up to 5 minutes) while this process lives. Until it is
   * stored a retry with the key gets 409 in-flight, never a second run of the work; the claim can
   * only be taken over once it is `claimTimeoutMs` old. So the work runs twice only when the
   * answer cannot be stored for that long (database refusing writes, or this process dying between
   * the commit and the store) and the client retries after it: a window only closed by writing the
   * record in the work's own transaction.
   */
  private async store(tenantId: string, key: string, claimedAt: number, status: number, body: string): Promise<void> {
    for (let attempt = 0; attempt < COMPLETE_INLINE_TRIES; attempt++) {
      if (attempt > 0) await sleep(COMPLETE_RETRY_MS * 4 ** (attempt - 1));
      try {
        if (!(await this.repo.complete(tenantId, key, claimedAt, status, body)))
          this.log.warn(
            { idempotency_key_claimed_at: claimedAt },
            'idempotency claim was taken over before it completed',
          );
        return;
      } catch (err) {
        this.log.warn({ err: { message: (err as Error).message }, attempt }, 'storing an idempotent answer failed');
      }
    }
    this.completeLater(tenantId, key, claimedAt, status, body, 0);
  }

  private completeLater(
    tenantId: string,
    key: string,
    claimedAt: number,
    status: number,
    body: string,
    attempt: number,
  ): void {
    if (attempt >= RELEASE_RETRIES) {
      this.log.error(
        { idempotency_key_claimed_at: claimedAt },
        'gave up storing an idempotent answer; a retry after the claim timeout may repeat the work',
      );
      return;
    }
    setTimeout(() => {
      this.repo.complete(tenantId, key, claimedAt, status, body).then(
        () => undefined,
        () => this.completeLater(tenantId, key, claimedAt, status, body, attempt + 1),
      );
    }, RELEASE_RETRY_MS).unref();
  }

  /**
   * Forgets the claim of a request that failed, so the client can retry with the same key. When
   * the database is down too (the usual reason the request failed), the release is retried in the
   * background until it comes back; otherwise the key would answer "in flight" for 24 h.
   */
  private async release(tenantId: string, key: string, claimedAt: number, attempt = 0): Promise<void> {
    try {
      await this.repo.release(tenantId, key, claimedAt);
    } catch {
      if (attempt >= RELEASE_RETRIES) return;
      setTimeout(() => void this.release(tenantId, key, claimedAt, attempt + 1), RELEASE_RETRY_MS).unref();
    }
  }
}
