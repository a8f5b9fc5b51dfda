import {
  jobWebhookEvents,
  subscribesTo,
  type Job,
  type JobWebhookEvent,
  type WebhookEventType,
} from '@jobtrail/domain';
import { placeholders, type DatabaseKind, type SqlExecutor } from '../database/database.js';
import { uuidv7 } from '../ids.js';

/** One stored job change, as the store's commit hands it over. */
export interface OutboxChange {
  readonly job: Job;
  readonly tenantId: string;
  readonly created: boolean;
  readonly transitions: ReadonlyArray<{ from: Job['status']; to: Job['status']; at: Date }>;
}

/** A subscription as the outbox needs it. */
interface Subscription {
  readonly id: string;
  readonly tenant_id: string;
  readonly events: string;
}

const DELIVERY_COLUMNS = [
  'id',
  'tenant_id',
  'webhook_id',
  'event_id',
  'event_type',
  'job_id',
  'payload',
  'status',
  'attempts',
  'next_attempt_at',
  'created_at',
] as const;
// 11 parameters a row: well under SQLite's bound-parameter limit.
const ROWS_PER_INSERT = 500;

/** An event's `webhook-id`: one per event, the same for every subscription and attempt. */
export function newEventId(now = Date.now()): string {
  return `msg_${uuidv7(now).replaceAll('-', '')}`;
}

/**
 * The transactional outbox of webhooks: the delivery rows of a batch of job changes, written in the
 * transaction that stores the changes, so a crash between commit and send loses nothing (the
 * dispatcher finds the rows later). Changes without a status transition (step progress,
 * heartbeats) cause no event and cost nothing; otherwise one indexed query finds the enabled
 * subscriptions of every tenant in the batch, whatever its size.
 */
export class WebhookOutbox {
  constructor(private readonly kind: DatabaseKind) {}

  async enqueue(tx: SqlExecutor, changes: readonly OutboxChange[], now = Date.now()): Promise<number> {
    // Only a creation or a transition can cause an event. The events themselves (wire bodies) are
    // built only for tenants that subscribe: most commits find none, and building them was a tenth
    // of the SQLite drain's JavaScript.
    const eventful = changes.filter((c) => c.created || c.transitions.length > 0);
    if (eventful.length === 0) return 0;
    const subscriptions = await this.subscriptionsOf(tx, [...new Set(eventful.map((c) => c.tenantId))]);
    if (subscriptions.size === 0) return 0;
    const events: Array<{ tenantId: string; jobId: string; event: JobWebhookEvent }> = [];
    for (const c of eventful) {
      if (!subscriptions.has(c.tenantId)) continue;
      for (const event of jobWebhookEvents(c.job, c.created, c.transitions))
        events.push({ tenantId: c.tenantId, jobId: c.job.id, event });
    }
    const rows: unknown[][] = [];
    for (const { tenantId, jobId, event } of events) {
      const subs = (subscriptions.get(tenantId) ?? []).filter((s) => subscribesTo(s.events, event.type));
      if (subs.length === 0) continue;
      const eventId = newEventId(now);
      const payload = JSON.stringify(event.body);
      for (const s of subs) rows.push(deliveryValues(tenantId, s.id, eventId, event.type, jobId, payload, now));
    }
    await insertDeliveries(tx, rows);
    return rows.length;
  }

  private async subscriptionsOf(
    tx: SqlExecutor,
    tenantIds: readonly string[],
  ): Promise<Map<string, Array<{ id: string; events: string[] }>>> {
    // Through ix_webhooks_tenant: a tenant without subscriptions costs one index probe.
    // PostgreSQL: FOR KEY SHARE keeps a subscription from being deleted between this read and the
    // insert of its deliveries (the insert would break its foreign key and fail the job's commit);
    // a concurrent DELETE waits for this commit and then removes the new rows with the rest. It
    // does not block updates of the subscription (health, secret, enabled).
    const rows =
      this.kind === 'postgres'
        ? await tx.query<Subscription>(
            `SELECT id, tenant_id, events FROM webhooks
              WHERE tenant_id = ANY(CAST($1 AS VARCHAR[])) AND enabled = TRUE FOR KEY SHARE`,
            [tenantIds],
          )
        : await tx.query<Subscription>(
            `SELECT id, tenant_id, events FROM webhooks WHERE tenant_id IN (${placeholders(tenantIds.length)}) AND enabled = TRUE`,
            tenantIds,
          );
    const byTenant = new Map<string, Array<{ id: string; events: string[] }>>();
    for (const r of rows) {
      const list = byTenant.get(r.tenant_id) ?? [];
      list.push({ id: r.id, events: JSON.parse(r.events) as string[] });
      byTenant.set(r.tenant_id, list);
    }
    return byTenant;
  }
}

/** The values of a new pending delivery, due at once, in DELIVERY_COLUMNS order. */
export function deliveryValues(
  tenantId: string,
  webhookId: string,
  eventId: string,
  type: WebhookEventType,
  jobId: string | null,
  payload: string,
  now: number,
): unknown[] {
  return [uuidv7(now), tenantId, webhookId, eventId, type, jobId, payload, 'pending', 0, now, now];
}

/** Inserts delivery rows (DELIVERY_COLUMNS order) in as few statements as possible. */
export async function insertDeliveries(tx: SqlExecutor, rows: readonly unknown[][]): Promise<void> {
  const width = DELIVERY_COLUMNS.length;
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    const chunk = rows.slice(i, i + ROWS_PER_INSERT);
    const values = chunk.map((_, r) => `(${placeholders(width, r * width + 1)})`).join(', ');
    await tx.execute(`INSERT INTO webhook_deliveries (${DELIVERY_COLUMNS.join(', ')}) VALUES ${values}`, chunk.flat());
  }
}
