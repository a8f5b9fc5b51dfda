import { Body, Controller, Get, HttpCode, Param, Post, Query, Req, Res, UseInterceptors } from '@nestjs/common';
import {
  BulkRetryBodySchema,
  EmptyBodySchema,
  JobStatsQuerySchema,
  MfaAnswerBodySchema,
  type MfaAnswerBody,
  type BulkRetryBody,
  type BulkRetryResponse,
  type JobStatsQuery,
  type JobStatsWire,
  JobIdParamsSchema,
  JobSearchQuerySchema,
  PageQuerySchema,
  type JobDetailWire,
  type JobLogLineWire,
  type JobSearchQuery,
  type JobSummaryWire,
  type PageQuery,
} from '@jobtrail/domain';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthContext } from '../auth/auth-context.js';
import { Caller, RequiresRole } from '../auth/auth.decorators.js';
import { nextLink } from '../common/cursor.js';
import { Valid } from '../common/zod-validation.pipe.js';
import { IdempotencyInterceptor } from '../idempotency/idempotency.interceptor.js';
import { JobsService } from './jobs.service.js';

type JobParams = { job_id: string };

@Controller('jobs')
export class JobsController {
  constructor(private readonly jobs: JobsService) {}

  @Get()
  async search(
    @Caller() auth: AuthContext,
    @Query(Valid.query(JobSearchQuerySchema)) query: JobSearchQuery,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<JobSummaryWire[]> {
    const page = await this.jobs.search(auth, query);
    if (page.nextCursor) res.header('Link', nextLink(req.url, page.nextCursor));
    return page.items;
  }

  /** Counts of the tenant's jobs created in a time range: by status, by error code, per hour. */
  @Get('stats')
  stats(
    @Caller() auth: AuthContext,
    @Query(Valid.query(JobStatsQuerySchema)) query: JobStatsQuery,
  ): Promise<JobStatsWire> {
    return this.jobs.stats(auth, query);
  }

  /** Retries the finished jobs matching a filter (200 with what was retried and skipped, and why). */
  @Post('retry')
  @HttpCode(200)
  @RequiresRole('operator')
  @UseInterceptors(IdempotencyInterceptor)
  bulkRetry(
    @Caller() auth: AuthContext,
    @Body(Valid.body(BulkRetryBodySchema)) body: BulkRetryBody,
  ): Promise<BulkRetryResponse> {
    return this.jobs.bulkRetry(auth, body);
  }

  @Get(':job_id')
  detail(@Caller() auth: AuthContext, @Param(Valid.path(JobIdParamsSchema)) params: JobParams): Promise<JobDetailWire> {
    return this.jobs.detail(auth, params.job_id);
  }

  @Get(':job_id/logs')
  async logs(
    @Caller() auth: AuthContext,
    @Param(Valid.path(JobIdParamsSchema)) params: JobParams,
    @Query(Valid.query(PageQuerySchema)) query: PageQuery,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<JobLogLineWire[]> {
    const page = await this.jobs.logs(auth, params.job_id, query);
    if (page.nextCursor) res.header('Link', nextLink(req.url, page.nextCursor));
    return page.items;
  }

  @Post(':job_id/retry')
  @RequiresRole('operator')
  @UseInterceptors(IdempotencyInterceptor)
  async retry(
    @Caller() auth: AuthContext,
    @Param(Valid.path(JobIdParamsSchema)) params: JobParams,
    @Body(Valid.body(EmptyBodySchema)) _body: object,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<JobSummaryWire> {
    const started = await this.jobs.retry(auth, params.job_id);
    res.status(started.created ? 202 : 200);
    return started.job;
  }

  /** Answers the one-time-code challenge the job waits on: 202 when the code is right (the job goes on). */
  @Post(':job_id/mfa')
  @HttpCode(202)
  @RequiresRole('operator')
  @UseInterceptors(IdempotencyInterceptor)
  answerChallenge(
    @Caller() auth: AuthContext,
    @Param(Valid.path(JobIdParamsSchema)) params: JobParams,
    @Body(Valid.body(MfaAnswerBodySchema)) body: MfaAnswerBody,
  ): Promise<JobSummaryWire> {
    return this.jobs.answerChallenge(auth, params.job_id, body.code);
  }

  /** 200 when the job is now cancelled; 202 when it is processing and will stop at its next step. */
  @Post(':job_id/cancel')
  @RequiresRole('operator')
  @UseInterceptors(IdempotencyInterceptor)
  async cancel(
    @Caller() auth: AuthContext,
    @Param(Valid.path(JobIdParamsSchema)) params: JobParams,
    @Body(Valid.body(EmptyBodySchema)) _body: object,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<JobSummaryWire> {
    const job = await this.jobs.cancel(auth, params.job_id);
    res.status(job.status === 'cancelled' ? 200 : 202);
    return job;
  }
}
