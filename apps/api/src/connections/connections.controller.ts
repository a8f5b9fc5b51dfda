import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req, Res, UseInterceptors } from '@nestjs/common';
import {
  ConnectionIdParamsSchema,
  CreateConnectionBodySchema,
  EmptyBodySchema,
  HistoryQuerySchema,
  PageQuerySchema,
  type ConnectionWire,
  type CreateConnectionBody,
  type HistoryQuery,
  type JobAction,
  type JobSummaryWire,
  type PageQuery,
} from '@jobtrail/domain';
import type { Request, Response } from 'express';
import type { AuthContext } from '../auth/auth-context.js';
import { Caller, RequiresRole } from '../auth/auth.decorators.js';
import { nextLink } from '../common/cursor.js';
import { Valid } from '../common/zod-validation.pipe.js';
import { IdempotencyInterceptor } from '../idempotency/idempotency.interceptor.js';
import { JobsService } from '../jobs/jobs.service.js';
import { ConnectionsService } from './connections.service.js';

type ConnectionParams = { connection_id: string };

@Controller('connections')
export class ConnectionsController {
  constructor(
    private readonly connections: ConnectionsService,
    private readonly jobs: JobsService,
  ) {}

  @Post()
  @RequiresRole('operator')
  @UseInterceptors(IdempotencyInterceptor)
  async create(
    @Caller() auth: AuthContext,
    @Body(Valid.body(CreateConnectionBodySchema)) body: CreateConnectionBody,
    @Res({ passthrough: true }) res: Response,
  ) {
    res.status(202);
    return this.connections.create(auth, body);
  }

  @Get()
  async list(
    @Caller() auth: AuthContext,
    @Query(Valid.query(PageQuerySchema)) query: PageQuery,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ConnectionWire[]> {
    const page = await this.connections.list(auth, query);
    if (page.nextCursor) res.setHeader('Link', nextLink(req.originalUrl, page.nextCursor));
    return page.items;
  }

  @Get(':connection_id')
  get(
    @Caller() auth: AuthContext,
    @Param(Valid.path(ConnectionIdParamsSchema)) params: ConnectionParams,
  ): Promise<ConnectionWire> {
    return this.connections.get(auth, params.connection_id);
  }

  @Delete(':connection_id')
  @HttpCode(204)
  @RequiresRole('admin')
  async delete(
    @Caller() auth: AuthContext,
    @Param(Valid.path(ConnectionIdParamsSchema)) params: ConnectionParams,
  ): Promise<void> {
    await this.connections.delete(auth, params.connection_id);
  }

  @Post(':connection_id/refresh')
  @RequiresRole('operator')
  @UseInterceptors(IdempotencyInterceptor)
  refresh(
    @Caller() auth: AuthContext,
    @Param(Valid.path(ConnectionIdParamsSchema)) params: ConnectionParams,
    @Body(Valid.body(EmptyBodySchema)) _body: object,
    @Res({ passthrough: true }) res: Response,
  ) {
    return this.start(auth, params.connection_id, 'refresh', res);
  }

  @Post(':connection_id/purge')
  @RequiresRole('operator')
  @UseInterceptors(IdempotencyInterceptor)
  purge(
    @Caller() auth: AuthContext,
    @Param(Valid.path(ConnectionIdParamsSchema)) params: ConnectionParams,
    @Body(Valid.body(EmptyBodySchema)) _body: object,
    @Res({ passthrough: true }) res: Response,
  ) {
    return this.start(auth, params.connection_id, 'purge', res);
  }

  /** 202 with a new job, or 200 with the job of that action already pending or processing. */
  private async start(
    auth: AuthContext,
    connectionId: string,
    action: JobAction,
    res: Response,
  ): Promise<JobSummaryWire> {
    const started = await this.jobs.startAction(auth, connectionId, action);
    res.status(started.created ? 202 : 200);
    return started.job;
  }

  @Get(':connection_id/jobs')
  async history(
    @Caller() auth: AuthContext,
    @Param(Valid.path(ConnectionIdParamsSchema)) params: ConnectionParams,
    @Query(Valid.query(HistoryQuerySchema)) query: HistoryQuery,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<JobSummaryWire[]> {
    const page = await this.jobs.history(auth, params.connection_id, query);
    if (page.nextCursor) res.setHeader('Link', nextLink(req.originalUrl, page.nextCursor));
    return page.items;
  }
}
