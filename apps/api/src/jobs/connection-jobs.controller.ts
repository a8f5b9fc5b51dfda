import { Body, Controller, Get, Param, Post, Query, Req, Res, StreamableFile, UseInterceptors } from '@nestjs/common';
import {
  ConnectionIdParamsSchema,
  EmptyBodySchema,
  HistoryQuerySchema,
  type HistoryQuery,
  type JobAction,
  type JobSummaryWire,
} from '@jobtrail/domain';
import accepts from 'accepts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthContext } from '../auth/auth-context.js';
import { Caller, RequiresRole } from '../auth/auth.decorators.js';
import { nextLink } from '../common/cursor.js';
import { Valid } from '../common/zod-validation.pipe.js';
import { IdempotencyInterceptor } from '../idempotency/idempotency.interceptor.js';
import { csvStream } from './history-csv.js';
import { JobsService } from './jobs.service.js';

type ConnectionParams = { connection_id: string };

/** The jobs of one connection: starting its actions, and its history. */
@Controller('connections/:connection_id')
export class ConnectionJobsController {
  constructor(private readonly jobs: JobsService) {}

  @Post('refresh')
  @RequiresRole('operator')
  @UseInterceptors(IdempotencyInterceptor)
  refresh(
    @Caller() auth: AuthContext,
    @Param(Valid.path(ConnectionIdParamsSchema)) params: ConnectionParams,
    @Body(Valid.body(EmptyBodySchema)) _body: object,
    @Res({ passthrough: true }) res: FastifyReply,
  ) {
    return this.start(auth, params.connection_id, 'refresh', res);
  }

  @Post('purge')
  @RequiresRole('operator')
  @UseInterceptors(IdempotencyInterceptor)
  purge(
    @Caller() auth: AuthContext,
    @Param(Valid.path(ConnectionIdParamsSchema)) params: ConnectionParams,
    @Body(Valid.body(EmptyBodySchema)) _body: object,
    @Res({ passthrough: true }) res: FastifyReply,
  ) {
    return this.start(auth, params.connection_id, 'purge', res);
  }

  /** 202 with a new job, or 200 with the job of that action already pending or processing. */
  private async start(
    auth: AuthContext,
    connectionId: string,
    action: JobAction,
    res: FastifyReply,
  ): Promise<JobSummaryWire> {
    const started = await this.jobs.startAction(auth, connectionId, action);
    res.status(started.created ? 202 : 200);
    return started.job;
  }

  /**
   * The history, a page at a time as JSON; or, with `Accept: text/csv`, the whole filtered history
   * as one streamed CSV (`limit` and `cursor` do not apply).
   */
  @Get('jobs')
  async history(
    @Caller() auth: AuthContext,
    @Param(Valid.path(ConnectionIdParamsSchema)) params: ConnectionParams,
    @Query(Valid.query(HistoryQuerySchema)) query: HistoryQuery,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<JobSummaryWire[] | StreamableFile> {
    if (accepts(req.raw).type(['application/json', 'text/csv']) === 'text/csv') {
      const batches = await this.jobs.historyBatches(auth, params.connection_id, query);
      return new StreamableFile(csvStream(batches), {
        type: 'text/csv; charset=utf-8',
        disposition: `attachment; filename="connection-${params.connection_id}-jobs.csv"`,
      });
    }
    const page = await this.jobs.history(auth, params.connection_id, query);
    if (page.nextCursor) res.header('Link', nextLink(req.url, page.nextCursor));
    return page.items;
  }
}
