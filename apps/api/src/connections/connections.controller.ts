import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Query,
  Req,
  Res,
  UseInterceptors,
} from '@nestjs/common';
import {
  ConnectionIdParamsSchema,
  ConnectionListQuerySchema,
  CreateConnectionBodySchema,
  UpdateConnectionBodySchema,
  type ConnectionListQuery,
  type ConnectionWire,
  type CreateConnectionBody,
  type JobSummaryWire,
  type UpdateConnectionBody,
} from '@jobtrail/domain';
import type { FastifyReply, FastifyRequest } from 'fastify';
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
    @Res({ passthrough: true }) res: FastifyReply,
  ) {
    res.status(202);
    return this.connections.create(auth, body);
  }

  @Get()
  async list(
    @Caller() auth: AuthContext,
    @Query(Valid.query(ConnectionListQuerySchema)) query: ConnectionListQuery,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<ConnectionWire[]> {
    const page = await this.connections.list(auth, query);
    if (page.nextCursor) res.header('Link', nextLink(req.url, page.nextCursor));
    return page.items;
  }

  @Get(':connection_id')
  get(
    @Caller() auth: AuthContext,
    @Param(Valid.path(ConnectionIdParamsSchema)) params: ConnectionParams,
  ): Promise<ConnectionWire> {
    return this.connections.get(auth, params.connection_id);
  }

  /**
   * New credentials: 202 with the refresh that verifies them (200 when a refresh was already
   * active: its next attempt uses them). A schedule alone: 200 with the connection.
   */
  @Patch(':connection_id')
  @RequiresRole('operator')
  async update(
    @Caller() auth: AuthContext,
    @Param(Valid.path(ConnectionIdParamsSchema)) params: ConnectionParams,
    @Body(Valid.body(UpdateConnectionBodySchema)) body: UpdateConnectionBody,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<{ connection: ConnectionWire; job?: JobSummaryWire }> {
    const updated = await this.connections.update(auth, params.connection_id, body);
    res.status(updated.created ? 202 : 200);
    return updated.job ? { connection: updated.connection, job: updated.job } : { connection: updated.connection };
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
