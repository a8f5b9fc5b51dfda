import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Req, Res } from '@nestjs/common';
import {
  CreateWebhookBodySchema,
  EmptyBodySchema,
  JobIdParamsSchema,
  PageQuerySchema,
  UpdateWebhookBodySchema,
  WebhookDeliveriesQuerySchema,
  WebhookDeliveryParamsSchema,
  WebhookIdParamsSchema,
  type CreateWebhookBody,
  type CreatedWebhookWire,
  type PageQuery,
  type RotatedWebhookSecretWire,
  type UpdateWebhookBody,
  type WebhookDeliveriesQuery,
  type WebhookDeliveryWire,
  type WebhookWire,
} from '@jobtrail/domain';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthContext } from '../auth/auth-context.js';
import { Caller, RequiresRole } from '../auth/auth.decorators.js';
import { nextLink } from '../common/cursor.js';
import { Valid } from '../common/zod-validation.pipe.js';
import { WebhooksService } from './webhooks.service.js';

type WebhookParams = { webhook_id: string };
type DeliveryParams = { webhook_id: string; delivery_id: string };

/**
 * Webhook subscriptions of the caller's tenant (admins only: a subscription sends the tenant's job
 * data to a URL of the admin's choosing). Another tenant's subscription is answered as missing.
 */
@Controller('webhooks')
@RequiresRole('admin')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post()
  @HttpCode(201)
  create(
    @Caller() auth: AuthContext,
    @Body(Valid.body(CreateWebhookBodySchema)) body: CreateWebhookBody,
  ): Promise<CreatedWebhookWire> {
    return this.webhooks.create(auth, body);
  }

  @Get()
  list(@Caller() auth: AuthContext): Promise<WebhookWire[]> {
    return this.webhooks.list(auth);
  }

  @Get(':webhook_id')
  read(@Caller() auth: AuthContext, @Param(Valid.path(WebhookIdParamsSchema)) p: WebhookParams): Promise<WebhookWire> {
    return this.webhooks.read(auth, p.webhook_id);
  }

  @Patch(':webhook_id')
  update(
    @Caller() auth: AuthContext,
    @Param(Valid.path(WebhookIdParamsSchema)) p: WebhookParams,
    @Body(Valid.body(UpdateWebhookBodySchema)) body: UpdateWebhookBody,
  ): Promise<WebhookWire> {
    return this.webhooks.update(auth, p.webhook_id, body);
  }

  @Delete(':webhook_id')
  @HttpCode(204)
  async delete(@Caller() auth: AuthContext, @Param(Valid.path(WebhookIdParamsSchema)) p: WebhookParams): Promise<void> {
    await this.webhooks.delete(auth, p.webhook_id);
  }

  @Post(':webhook_id/rotate-secret')
  @HttpCode(200)
  rotate(
    @Caller() auth: AuthContext,
    @Param(Valid.path(WebhookIdParamsSchema)) p: WebhookParams,
    @Body(Valid.body(EmptyBodySchema)) _body: object,
  ): Promise<RotatedWebhookSecretWire> {
    return this.webhooks.rotateSecret(auth, p.webhook_id);
  }

  @Post(':webhook_id/test')
  @HttpCode(202)
  test(
    @Caller() auth: AuthContext,
    @Param(Valid.path(WebhookIdParamsSchema)) p: WebhookParams,
    @Body(Valid.body(EmptyBodySchema)) _body: object,
  ): Promise<WebhookDeliveryWire> {
    return this.webhooks.test(auth, p.webhook_id);
  }

  @Get(':webhook_id/deliveries')
  async deliveries(
    @Caller() auth: AuthContext,
    @Param(Valid.path(WebhookIdParamsSchema)) p: WebhookParams,
    @Query(Valid.query(WebhookDeliveriesQuerySchema)) query: WebhookDeliveriesQuery,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<WebhookDeliveryWire[]> {
    const page = await this.webhooks.deliveries(auth, p.webhook_id, query);
    if (page.nextCursor) res.header('Link', nextLink(req.url, page.nextCursor));
    return page.items;
  }

  @Post(':webhook_id/deliveries/:delivery_id/redeliver')
  @HttpCode(202)
  redeliver(
    @Caller() auth: AuthContext,
    @Param(Valid.path(WebhookDeliveryParamsSchema)) p: DeliveryParams,
    @Body(Valid.body(EmptyBodySchema)) _body: object,
  ): Promise<WebhookDeliveryWire> {
    return this.webhooks.redeliver(auth, p.webhook_id, p.delivery_id);
  }
}

/** The deliveries a job's changes caused (any role that can read the job). */
@Controller('jobs')
export class JobDeliveriesController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Get(':job_id/deliveries')
  async list(
    @Caller() auth: AuthContext,
    @Param(Valid.path(JobIdParamsSchema)) p: { job_id: string },
    @Query(Valid.query(PageQuerySchema)) query: PageQuery,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<WebhookDeliveryWire[]> {
    const page = await this.webhooks.jobDeliveries(auth, p.job_id, query);
    if (page.nextCursor) res.header('Link', nextLink(req.url, page.nextCursor));
    return page.items;
  }
}
