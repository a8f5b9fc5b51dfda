import { createHash } from 'node:crypto';
import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { Request, Response } from 'express';
import { from, mergeMap, of, throwError, catchError, type Observable } from 'rxjs';
import { ApiProblem } from '../common/api-problem.js';
import type { AuthContext } from '../auth/auth-context.js';
import { IdempotencyRepository } from './idempotency.repository.js';

/** JSON with sorted keys, so `{a,b}` and `{b,a}` are the same body. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * `Idempotency-Key` on the POSTs that start work: the first answer of a key is stored and replayed
 * for 24 h to the same request; the same key with another request is a 422.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(private readonly repo: IdempotencyRepository) {}

  async intercept(ctx: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const req = ctx.switchToHttp().getRequest<Request & { auth?: AuthContext }>();
    const res = ctx.switchToHttp().getResponse<Response>();
    const key = req.headers['idempotency-key'];
    if (key === undefined || !req.auth) return next.handle();
    if (typeof key !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(key)) {
      throw ApiProblem.validation([{ field: 'header.idempotency-key', message: 'must be 1 to 255 visible ASCII characters' }]);
    }
    const tenantId = req.auth.tenantId;
    const fingerprint = createHash('sha256')
      .update(`${req.method} ${req.path}\n${canonicalJson(req.body ?? {})}`)
      .digest('hex');
    const record = await this.repo.claim(tenantId, key, fingerprint);
    if (record.state !== 'claimed') {
      if (record.fingerprint !== fingerprint) {
        throw new ApiProblem('idempotency-key-reused', 'This Idempotency-Key was used with a different request; use a new key.');
      }
      if (record.state === 'in-flight') throw new ApiProblem('idempotency-key-in-flight', 'The first request with this key is still running; retry shortly.');
      res.status(record.status).setHeader('Idempotent-Replayed', 'true');
      return of(JSON.parse(record.body) as unknown);
    }
    return next.handle().pipe(
      mergeMap(async (body: unknown) => {
        await this.repo.complete(tenantId, key, res.statusCode, JSON.stringify(body ?? null));
        return body;
      }),
      catchError((err: unknown) => from(this.repo.release(tenantId, key)).pipe(mergeMap(() => throwError(() => err)))),
    );
  }
}
