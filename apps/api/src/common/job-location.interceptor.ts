import { HTTP_CODE_METADATA } from '@nestjs/common/constants.js';
import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { map, type Observable } from 'rxjs';

/** The path of the API base (the app's global prefix). */
export const API_BASE_PATH = '/api';

/** The job a 202 answer is about: a job summary (`job_id`) or `{connection, job}`. */
export function acceptedJobId(body: unknown): string | null {
  if (body === null || typeof body !== 'object') return null;
  // A queued webhook delivery names the job whose change it carries; it is not that job.
  if ('delivery_id' in body) return null;
  const b = body as { job_id?: unknown; job?: { job_id?: unknown } | null };
  if (typeof b.job_id === 'string') return b.job_id;
  if (typeof b.job?.job_id === 'string') return b.job.job_id;
  return null;
}

/**
 * `202 Accepted` says the work goes on elsewhere; `Location` says where to follow it (RFC 9110
 * §15.3.3): every 202 that carries a job gets `Location: /api/jobs/<job_id>`. Keyed on the answer's
 * body, so the routes (and the idempotent replays) need not each remember it.
 */
@Injectable()
export class JobLocationInterceptor implements NestInterceptor {
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const res = ctx.switchToHttp().getResponse<FastifyReply>();
    const declared = Reflect.getMetadata(HTTP_CODE_METADATA, ctx.getHandler()) as number | undefined;
    return next.handle().pipe(
      map((body: unknown) => {
        // A status set by the handler wins; else the one declared with @HttpCode.
        const status = res.statusCode !== 200 ? res.statusCode : (declared ?? res.statusCode);
        const jobId = status === 202 ? acceptedJobId(body) : null;
        if (jobId !== null && !res.sent) res.header('Location', `${API_BASE_PATH}/jobs/${encodeURIComponent(jobId)}`);
        return body;
      }),
    );
  }
}
