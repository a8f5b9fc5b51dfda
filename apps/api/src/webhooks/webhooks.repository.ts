import { Injectable } from '@nestjs/common';
import {
  Database,
  failPending,
  type WebhookDeliveryAttemptRow,
  type WebhookDeliveryRow,
  type WebhookRow,
} from '@jobtrail/engine';
import { DataSource } from 'typeorm';
import { whereAfter, type KeysetPosition } from '../common/cursor.js';
import {
  JobEntity,
  WebhookDeliveryAttemptEntity,
  WebhookDeliveryEntity,
  WebhookEntity,
} from '../persistence/entities.js';

/** The changeable columns of a subscription. */
export type WebhookPatch = Partial<
  Pick<
    WebhookRow,
    | 'url'
    | 'events'
    | 'description'
    | 'enabled'
    | 'disabled_reason'
    | 'secret_enc'
    | 'previous_secret_enc'
    | 'previous_secret_expires_at'
    | 'failing_since'
  >
>;

/** Which deliveries a log lists. */
export interface DeliveryFilter {
  readonly webhookId?: string;
  readonly jobId?: string;
  readonly status?: string;
  readonly eventType?: string;
}

/**
 * Subscriptions and their delivery log, tenant-scoped: every statement names the tenant, so
 * another tenant's subscription is never found (and answered like a missing one). Reads are built
 * with TypeORM's query builder and run through the engine's Database; writes use the manager.
 */
@Injectable()
export class WebhooksRepository {
  constructor(
    private readonly db: Database,
    private readonly dataSource: DataSource,
  ) {}

  async insert(row: WebhookRow): Promise<void> {
    await this.db.withManager((m) => m.insert(WebhookEntity, row));
  }

  /** The tenant's subscriptions, oldest first (a tenant has a handful). */
  listOfTenant(tenantId: string): Promise<WebhookRow[]> {
    const qb = this.dataSource
      .createQueryBuilder()
      .select('w.*')
      .from(WebhookEntity, 'w')
      .where('w.tenant_id = :tenantId', { tenantId })
      .orderBy('w.created_at')
      .addOrderBy('w.id');
    return this.db.queryBuilt<WebhookRow>(qb.getQueryAndParameters());
  }

  async findOfTenant(tenantId: string, id: string): Promise<WebhookRow | null> {
    const qb = this.dataSource
      .createQueryBuilder()
      .select('w.*')
      .from(WebhookEntity, 'w')
      .where('w.tenant_id = :tenantId AND w.id = :id', { tenantId, id });
    return (await this.db.queryBuilt<WebhookRow>(qb.getQueryAndParameters()))[0] ?? null;
  }

  /**
   * Changes a subscription; when it becomes disabled, its pending deliveries end as `failed` in the
   * same transaction (they would not be sent). The subscription's row is written before its
   * deliveries', the dispatcher's lock order. False when the tenant has no such subscription.
   */
  async update(tenantId: string, id: string, patch: WebhookPatch, now = Date.now()): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const res = await tx.manager.update(WebhookEntity, { tenant_id: tenantId, id }, { ...patch, updated_at: now });
      if ((res.affected ?? 0) === 0) return false;
      if (patch.enabled === false) await failPending(tx, id, 'the subscription was disabled');
      return true;
    });
  }

  /** Deletes a subscription with its deliveries (cascade). False when there was none. */
  async delete(tenantId: string, id: string): Promise<boolean> {
    const res = await this.db.withManager((m) => m.delete(WebhookEntity, { tenant_id: tenantId, id }));
    return (res.affected ?? 0) > 0;
  }

  /** Up to `limit` deliveries, newest first, after a keyset position (through the webhook or job index). */
  deliveriesPage(
    tenantId: string,
    filter: DeliveryFilter,
    after: KeysetPosition | null,
    limit: number,
  ): Promise<WebhookDeliveryRow[]> {
    const qb = this.dataSource
      .createQueryBuilder()
      .select('d.*')
      .from(WebhookDeliveryEntity, 'd')
      .where('d.tenant_id = :tenantId', { tenantId });
    if (filter.webhookId !== undefined) qb.andWhere('d.webhook_id = :webhookId', { webhookId: filter.webhookId });
    if (filter.jobId !== undefined) qb.andWhere('d.job_id = :jobId', { jobId: filter.jobId });
    if (filter.status !== undefined) qb.andWhere('d.status = :status', { status: filter.status });
    if (filter.eventType !== undefined) qb.andWhere('d.event_type = :eventType', { eventType: filter.eventType });
    whereAfter(qb, 'd', after).orderBy('d.created_at', 'DESC').addOrderBy('d.id', 'DESC').limit(limit);
    return this.db.queryBuilt<WebhookDeliveryRow>(qb.getQueryAndParameters());
  }

  /** Every attempt of these deliveries, oldest first. */
  async attemptsOf(deliveryIds: readonly string[]): Promise<WebhookDeliveryAttemptRow[]> {
    if (deliveryIds.length === 0) return [];
    const qb = this.dataSource
      .createQueryBuilder()
      .select('a.*')
      .from(WebhookDeliveryAttemptEntity, 'a')
      .where('a.delivery_id IN (:...ids)', { ids: deliveryIds })
      .orderBy('a.delivery_id')
      .addOrderBy('a.attempt');
    return this.db.queryBuilt<WebhookDeliveryAttemptRow>(qb.getQueryAndParameters());
  }

  /** Makes a delivery of a tenant's subscription due again now. False when there is none. */
  async redeliver(tenantId: string, webhookId: string, deliveryId: string, now = Date.now()): Promise<boolean> {
    const res = await this.db.withManager((m) =>
      m.update(
        WebhookDeliveryEntity,
        { tenant_id: tenantId, webhook_id: webhookId, id: deliveryId },
        { status: 'pending', next_attempt_at: now, delivered_at: null },
      ),
    );
    return (res.affected ?? 0) > 0;
  }

  async findDelivery(tenantId: string, id: string): Promise<WebhookDeliveryRow | null> {
    const qb = this.dataSource
      .createQueryBuilder()
      .select('d.*')
      .from(WebhookDeliveryEntity, 'd')
      .where('d.tenant_id = :tenantId AND d.id = :id', { tenantId, id });
    return (await this.db.queryBuilt<WebhookDeliveryRow>(qb.getQueryAndParameters()))[0] ?? null;
  }

  /** True when the tenant has this job. */
  async jobExists(tenantId: string, jobId: string): Promise<boolean> {
    const qb = this.dataSource
      .createQueryBuilder()
      .select('j.id', 'id')
      .from(JobEntity, 'j')
      .where('j.id = :jobId AND j.tenant_id = :tenantId', { jobId, tenantId });
    return (await this.db.queryBuilt(qb.getQueryAndParameters())).length > 0;
  }
}
