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

/** A subscription row as the outbox reads it. */
export interface Subscription {
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

/** Enabled subscriptions by tenant, as the outbox matches events against them. */
export type TenantSubscriptions = Map<string, Array<{ id: string; events: string[] }>>;

/**
 * PostgreSQL's read of the enabled subscriptions of the tenants in `$n` (a VARCHAR array), through
 * ix_webhooks_tenant: a tenant without subscriptions costs one index probe. FOR KEY SHARE keeps a
 * subscription from being deleted between this read and the insert of its deliveries (the insert
 * would break its foreign key and fail the job's commit); a concurrent DELETE waits for this commit
 * and then removes the new rows with the rest. It does not block updates of the subscription
 * (health, secret, enabled). The store's PostgreSQL commit runs it inside the statement that writes its rows.
 */
export function subscriptionsSql(param: number): string {
  return `SELECT id, tenant_id, events FROM webhooks
    WHERE tenant_id = ANY(CAST($${param} AS VARCHAR[])) AND enabled = TRUE FOR KEY SHARE`;
}

/**
 * The transactional outbox of webhooks: the delivery rows of a batch of job changes, written in the
 * transaction that stores the changes, so a crash between commit and send loses nothing (the
 * dispatcher finds the rows later). Changes without a status transition (step progress,
 * heartbeats) cause no event and cost nothing; otherwise one indexed read finds the enabled
 * subscriptions of every tenant in the batch, whatever its size (`tenantsToLookUp`, then
 * `subscriptionsOf` or, in the store's PostgreSQL statement, `subscriptionsSql`).
 */
export class WebhookOutbox {
  constructor(private readonly kind: DatabaseKind) {}

  /** The tenants whose subscriptions these changes need: those with a creation or a transition. */
  static tenantsToLookUp(changes: readonly OutboxChange[]): string[] {
    return [...new Set(changes.filter(isEventful).map((c) => c.tenantId))];
  }

  /** Writes the deliveries of these changes to subscriptions already looked up (and locked) in `tx`. */
  async enqueue(
    tx: SqlExecutor,
    changes: readonly OutboxChange[],
    subscriptions: TenantSubscriptions,
    now: number,
  ): Promise<number> {
    // Only a creation or a transition can cause an event. The events themselves (wire bodies) are
    // built only for tenants that subscribe: most commits find none, and building them was a tenth
    // of the SQLite drain's JavaScript.
    if (subscriptions.size === 0) return 0;
    const events: Array<{ tenantId: string; jobId: string; event: JobWebhookEvent }> = [];
    for (const c of changes) {
      if (!isEventful(c) || !subscriptions.has(c.tenantId)) continue;
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

  /**
   * The enabled subscriptions of these tenants, read in `tx` (locked on PostgreSQL, see
   * subscriptionsSql). The store's PostgreSQL commit reads them in its own statement instead.
   */
  async subscriptionsOf(tx: SqlExecutor, tenantIds: readonly string[]): Promise<TenantSubscriptions> {
    if (tenantIds.length === 0) return new Map();
    const rows =
      this.kind === 'postgres'
        ? await tx.query<Subscription>(subscriptionsSql(1), [tenantIds])
        : await tx.query<Subscription>(
            `SELECT id, tenant_id, events FROM webhooks WHERE tenant_id IN (${placeholders(tenantIds.length)}) AND enabled = TRUE`,
            tenantIds,
          );
    return subscriptionsByTenant(rows);
  }
}

/** Subscription rows grouped by tenant. */
export function subscriptionsByTenant(rows: readonly Subscription[]): TenantSubscriptions {
  const byTenant: TenantSubscriptions = new Map();
  for (const r of rows) {
    const list = byTenant.get(r.tenant_id) ?? [];
    list.push({ id: r.id, events: JSON.parse(r.events) as string[] });
    byTenant.set(r.tenant_id, list);
  }
  return byTenant;
}

function isEventful(c: OutboxChange): boolean {
  return c.created || c.transitions.length > 0;
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
