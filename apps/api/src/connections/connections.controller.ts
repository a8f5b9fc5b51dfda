import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req, Res, UseInterceptors } from '@nestjs/common';
import {
  ConnectionIdParamsSchema,
  CreateConnectionBodySchema,
  PageQuerySchema,
  type ConnectionWire,
  type CreateConnectionBody,
  type PageQuery,
} from '@jobtrail/domain';
import type { Request, Response } from 'express';
import type { AuthContext } from '../auth/auth-context.js';
import { Caller, RequiresRole } from '../auth/auth.decorators.js';
import { nextLink } from '../common/cursor.js';
import { Valid } from '../common/zod-validation.pipe.js';
import { IdempotencyInterceptor } from '../idempotency/idempotency.interceptor.js';
import { ConnectionsService } from './connections.service.js';

type ConnectionParams = { connection_id: string };

@Controller('connections')
export class ConnectionsController {
  constructor(private readonly connections: ConnectionsService) {}

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
}
