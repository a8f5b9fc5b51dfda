import { Inject, Injectable } from '@nestjs/common';
import {
  WEBHOOK_SECRET_OVERLAP_MS,
  toIso,
  type CreateWebhookBody,
  type CreatedWebhookWire,
  type RotatedWebhookSecretWire,
  type UpdateWebhookBody,
  type WebhookDeliveriesQuery,
  type WebhookDeliveryWire,
  type WebhookWire,
} from '@jobtrail/domain';
import {
  Database,
  UnsafeWebhookUrlError,
  checkWebhookUrl,
  DatabaseClock,
  deliveryValues,
  insertDeliveries,
  newEventId,
  newWebhookSecret,
  uuidv7,
  type WebhookDeliveryAttemptRow,
  type WebhookDeliveryRow,
  type WebhookRow,
} from '@jobtrail/engine';
import { ApiProblem } from '../common/api-problem.js';
import { decodeCursor, keysetPage, type Page } from '../common/cursor.js';
import { APP_CONFIG } from '../common/tokens.js';
import type { AppConfig } from '../config/app-config.js';
import { CredentialsCipher } from '../connections/credentials-cipher.js';
import type { AuthContext } from '../auth/auth-context.js';
import { WebhooksRepository, type DeliveryFilter } from './webhooks.repository.js';

const date = (ms: number | string) => toIso(new Date(Number(ms)));
const dateOrNull = (ms: number | string | null) => (ms === null ? null : date(ms));

/** A subscription as the API shows it: never its secrets. */
export function toWebhookWire(row: WebhookRow, now = Date.now()): WebhookWire {
  const previousLive = row.previous_secret_expires_at !== null && Number(row.previous_secret_expires_at) > now;
  return {
    webhook_id: row.id,
    url: row.url,
    events: JSON.parse(row.events) as string[],
    description: row.description,
    enabled: row.enabled === true || row.enabled === 1,
    disabled_reason: row.disabled_reason,
    created_at: date(row.created_at),
    updated_at: date(row.updated_at),
    last_success_at: dateOrNull(row.last_success_at),
    last_failure_at: dateOrNull(row.last_failure_at),
    failing_since: dateOrNull(row.failing_since),
    previous_secret_expires_at: previousLive ? dateOrNull(row.previous_secret_expires_at) : null,
  };
}

function toDeliveryWire(row: WebhookDeliveryRow, attempts: readonly WebhookDeliveryAttemptRow[]): WebhookDeliveryWire {
  return {
    delivery_id: row.id,
    webhook_id: row.webhook_id,
    event_id: row.event_id,
    event_type: row.event_type as WebhookDeliveryWire['event_type'],
    job_id: row.job_id,
    status: row.status as WebhookDeliveryWire['status'],
    attempts: Number(row.attempts),
    last_status_code: row.last_status_code === null ? null : Number(row.last_status_code),
    last_error: row.last_error,
    next_attempt_at: row.status === 'pending' ? dateOrNull(row.next_attempt_at) : null,
    created_at: date(row.created_at),
    delivered_at: dateOrNull(row.delivered_at),
    attempt_log: attempts.map((a) => ({
      attempt: Number(a.attempt),
      at: date(a.at),
      status_code: a.status_code === null ? null : Number(a.status_code),
      duration_ms: Number(a.duration_ms),
      error: a.error,
      response_body: a.response_body,
    })),
  };
}

/** Webhook subscriptions of a tenant, their secrets and delivery log (admins). */
@Injectable()
export class WebhooksService {
  constructor(
    private readonly repo: WebhooksRepository,
    private readonly db: Database,
    private readonly cipher: CredentialsCipher,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    // Due times and the old secret's expiry are judged by the dispatchers, on the database clock.
    private readonly clock: DatabaseClock,
  ) {}

  /** The URL's form and every address it resolves to; an unsafe one is a 400 on `body.url`. */
  private async checkUrl(url: string): Promise<void> {
    try {
      await checkWebhookUrl(url, { allowPrivate: this.config.webhooks.allowPrivate });
    } catch (err) {
      if (err instanceof UnsafeWebhookUrlError)
        throw ApiProblem.validation([{ field: 'body.url', message: err.message }]);
      throw err;
    }
  }

  /** Secrets are sealed with the bank credentials' cipher (the same key, the same format). */
  private seal(secret: string, tenantId: string, webhookId: string): string {
    // Bound like bank credentials, to its owner: the tenant and this subscription.
    return this.cipher.encrypt({ password: secret }, { tenantId, connectionId: webhookId });
  }

  private async get(auth: AuthContext, id: string): Promise<WebhookRow> {
    const row = await this.repo.findOfTenant(auth.tenantId, id);
    if (!row) throw ApiProblem.notFound('Webhook');
    return row;
  }

  async create(auth: AuthContext, body: CreateWebhookBody): Promise<CreatedWebhookWire> {
    await this.checkUrl(body.url);
    const now = this.clock.now();
    const secret = newWebhookSecret();
    const id = uuidv7(now);
    const row: WebhookRow = {
      id,
      tenant_id: auth.tenantId,
      url: body.url,
      events: JSON.stringify(body.events),
      description: body.description ?? null,
      enabled: body.enabled ?? true,
      secret_enc: this.seal(secret, auth.tenantId, id),
      previous_secret_enc: null,
      previous_secret_expires_at: null,
      disabled_reason: null,
      created_at: now,
      updated_at: now,
      failing_since: null,
      last_success_at: null,
      last_failure_at: null,
    };
    await this.repo.insert(row);
    return { ...toWebhookWire(row, now), secret };
  }

  async list(auth: AuthContext): Promise<WebhookWire[]> {
    return (await this.repo.listOfTenant(auth.tenantId)).map((r) => toWebhookWire(r, this.clock.now()));
  }

  async read(auth: AuthContext, id: string): Promise<WebhookWire> {
    return toWebhookWire(await this.get(auth, id), this.clock.now());
  }

  async update(auth: AuthContext, id: string, body: UpdateWebhookBody): Promise<WebhookWire> {
    await this.get(auth, id);
    if (body.url !== undefined) await this.checkUrl(body.url);
    const patch = {
      ...(body.url !== undefined ? { url: body.url } : {}),
      ...(body.events !== undefined ? { events: JSON.stringify(body.events) } : {}),
      ...(body.description !== undefined ? { description: body.description } : {}),
      // Enabling again clears why it was disabled and starts a fresh failure streak.
      ...(body.enabled === true ? { enabled: true, disabled_reason: null, failing_since: null } : {}),
      ...(body.enabled === false ? { enabled: false } : {}),
    };
    if (!(await this.repo.update(auth.tenantId, id, patch))) throw ApiProblem.notFound('Webhook');
    return this.read(auth, id);
  }

  async delete(auth: AuthContext, id: string): Promise<void> {
    if (!(await this.repo.delete(auth.tenantId, id))) throw ApiProblem.notFound('Webhook');
  }

  /** A new secret, shown once; the current one keeps signing alongside for 24 h. */
  async rotateSecret(auth: AuthContext, id: string): Promise<RotatedWebhookSecretWire> {
    const row = await this.get(auth, id);
    const secret = newWebhookSecret();
    const expires = this.clock.now() + WEBHOOK_SECRET_OVERLAP_MS;
    const ok = await this.repo.update(auth.tenantId, id, {
      secret_enc: this.seal(secret, auth.tenantId, id),
      previous_secret_enc: row.secret_enc,
      previous_secret_expires_at: expires,
    });
    if (!ok) throw ApiProblem.notFound('Webhook');
    return { secret, previous_secret_expires_at: date(expires) };
  }

  /** Queues a `webhook.test` event for the subscription (sent by a worker's dispatcher). */
  async test(auth: AuthContext, id: string): Promise<WebhookDeliveryWire> {
    const row = await this.get(auth, id);
    const now = this.clock.now();
    const body = {
      type: 'webhook.test',
      timestamp: toIso(new Date(now)),
      data: { webhook_id: row.id, message: 'A test event from Jobtrail.' },
    };
    const values = deliveryValues(
      auth.tenantId,
      row.id,
      newEventId(now),
      'webhook.test',
      null,
      JSON.stringify(body),
      now,
    );
    try {
      await this.db.transaction((tx) => insertDeliveries(tx, [values]));
    } catch (err) {
      // Deleted since it was read (the delivery's foreign key refused it): answered like a missing one.
      if (!(await this.repo.findOfTenant(auth.tenantId, id))) throw ApiProblem.notFound('Webhook');
      throw err;
    }
    const delivery = await this.repo.findDelivery(auth.tenantId, values[0] as string);
    if (!delivery) throw new Error('a delivery just queued was not found');
    return toDeliveryWire(delivery, []);
  }

  async deliveries(
    auth: AuthContext,
    webhookId: string,
    query: WebhookDeliveriesQuery,
  ): Promise<Page<WebhookDeliveryWire>> {
    const page = await this.page(
      auth,
      {
        webhookId,
        ...(query.job_id !== undefined ? { jobId: query.job_id } : {}),
        ...(query.status !== undefined ? { status: query.status } : {}),
        ...(query.event_type !== undefined ? { eventType: query.event_type } : {}),
      },
      query,
    );
    if (page.items.length === 0) await this.get(auth, webhookId);
    return page;
  }

  async jobDeliveries(
    auth: AuthContext,
    jobId: string,
    query: { limit: number; cursor?: string | undefined },
  ): Promise<Page<WebhookDeliveryWire>> {
    const page = await this.page(auth, { jobId }, query);
    if (page.items.length === 0 && !(await this.repo.jobExists(auth.tenantId, jobId))) throw ApiProblem.notFound('Job');
    return page;
  }

  async redeliver(auth: AuthContext, webhookId: string, deliveryId: string): Promise<WebhookDeliveryWire> {
    if (!(await this.repo.redeliver(auth.tenantId, webhookId, deliveryId, this.clock.now())))
      throw ApiProblem.notFound('Delivery');
    const row = await this.repo.findDelivery(auth.tenantId, deliveryId);
    if (!row) throw ApiProblem.notFound('Delivery');
    return toDeliveryWire(row, await this.repo.attemptsOf([row.id]));
  }

  private async page(
    auth: AuthContext,
    filter: DeliveryFilter,
    query: { limit: number; cursor?: string | undefined },
  ): Promise<Page<WebhookDeliveryWire>> {
    const after = query.cursor === undefined ? null : decodeCursor(query.cursor);
    const rows = await this.repo.deliveriesPage(auth.tenantId, filter, after, query.limit + 1);
    const attempts = await this.repo.attemptsOf(rows.slice(0, query.limit).map((r) => r.id));
    const byDelivery = new Map<string, WebhookDeliveryAttemptRow[]>();
    for (const a of attempts) byDelivery.set(a.delivery_id, [...(byDelivery.get(a.delivery_id) ?? []), a]);
    return keysetPage(
      rows,
      query.limit,
      (r) => ({ createdAt: Number(r.created_at), id: r.id }),
      (r) => toDeliveryWire(r, byDelivery.get(r.id) ?? []),
    );
  }
}
