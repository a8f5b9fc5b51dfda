import { nextWebhookAttemptAt } from '@jobtrail/domain';
import type { Logger } from 'pino';
import type { JobEventsBus } from '../bus/job-events.bus.js';
import type { WebhookConfig, WebhookObserver, WebhookSecretDecryptor } from '../config.js';
import { millis, placeholders, type Database, type SqlExecutor } from '../database/database.js';
import { uuidv7 } from '../ids.js';
import type { WebhookDeliveryRow, WebhookRow } from '../store/rows.js';
import { sendWebhook, type SendResult } from './webhook-sender.js';
import { signWebhook } from './webhook-signature.js';
import type { HostResolver } from './url-safety.js';

/** A claimed delivery with what sending it needs. */
interface Claimed {
  readonly delivery: WebhookDeliveryRow;
  readonly webhook: WebhookRow;
}

/**
 * How much longer than the timeout a claim holds before another dispatcher may take the delivery:
 * an attempt never outlasts its timeout, so this only covers recording it. A dispatcher that died
 * mid-send leaves its deliveries to others after timeout + margin (sent again: at least once).
 */
const CLAIM_MARGIN_MS = 5_000;
/** How often the backlog gauge is refreshed. */
const BACKLOG_EVERY_MS = 5_000;
const ERROR_LIMIT = 1_000;

/**
 * Sends the webhook outbox. Any number of dispatchers (one per worker process) share it: a claim
 * takes due deliveries with `FOR UPDATE SKIP LOCKED` on PostgreSQL (one writer on SQLite) and
 * moves their `next_attempt_at` past the attempt's timeout, so a dispatcher that dies mid-send
 * leaves them to be taken again (at-least-once; the receiver dedupes by `webhook-id`).
 * Each subscription has its own cap of deliveries in flight: a slow endpoint fills only its own.
 */
export class WebhookDispatcher {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private ticking = false;
  private again = false;
  private readonly inFlight = new Map<string, number>();
  private inFlightTotal = 0;
  private readonly sends = new Set<Promise<void>>();
  private lastBacklogAt = 0;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly db: Database,
    private readonly config: WebhookConfig,
    private readonly secrets: WebhookSecretDecryptor,
    private readonly observer: WebhookObserver | null,
    private readonly log: Logger,
    private readonly bus: JobEventsBus | null = null,
    private readonly resolver?: HostResolver,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    // A job change may have written deliveries: look at once rather than at the next poll.
    this.unsubscribe = this.bus?.subscribe(() => this.wake()) ?? null;
    this.schedule(0);
  }

  /** Stops claiming and waits for the attempts in flight. */
  async stop(): Promise<void> {
    this.running = false;
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.sends]);
  }

  /** Looks for due deliveries now. */
  wake(): void {
    if (!this.running) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), ms);
  }

  /** One pass: claim what fits under the caps, start sending it. Returns how many were claimed. */
  async tick(): Promise<number> {
    if (this.ticking) return 0;
    this.ticking = true;
    this.again = false;
    let claimed = 0;
    try {
      const now = Date.now();
      const batch = await this.claim(now);
      claimed = batch.length;
      for (const c of batch) this.startSend(c);
      if (now - this.lastBacklogAt >= BACKLOG_EVERY_MS && this.observer) {
        this.lastBacklogAt = now;
        const [row] = await this.db.query<{ n: number | string }>(
          "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'pending'",
        );
        this.observer.observeBacklog(Number(row?.n ?? 0));
      }
    } catch (err) {
      this.log.warn({ err }, 'webhook dispatch failed; retrying at the next poll');
    } finally {
      this.ticking = false;
    }
    this.schedule(this.again ? 0 : this.config.pollMs);
    return claimed;
  }

  /** Claims due deliveries, per subscription within its cap, in one transaction. */
  private async claim(now: number): Promise<Claimed[]> {
    const free = this.config.concurrency - this.inFlightTotal;
    if (free <= 0) return [];
    return this.db.transaction(async (tx) => {
      const webhookIds = (
        await tx.query<{ webhook_id: string }>(
          `SELECT DISTINCT webhook_id FROM webhook_deliveries
            WHERE status = 'pending' AND next_attempt_at <= $1 LIMIT 100`,
          [now],
        )
      )
        .map((r) => r.webhook_id)
        .filter((id) => (this.inFlight.get(id) ?? 0) < this.config.perEndpointConcurrency);
      if (webhookIds.length === 0) return [];
      const webhooks = new Map(
        (
          await tx.query<WebhookRow>(
            `SELECT * FROM webhooks WHERE id IN (${placeholders(webhookIds.length)})`,
            webhookIds,
          )
        ).map((w) => [w.id, w]),
      );
      const lock = this.db.kind === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '';
      const out: Claimed[] = [];
      let left = free;
      for (const webhookId of webhookIds) {
        if (left <= 0) break;
        const webhook = webhooks.get(webhookId);
        const room = Math.min(left, this.config.perEndpointConcurrency - (this.inFlight.get(webhookId) ?? 0));
        const rows = await tx.query<WebhookDeliveryRow>(
          `SELECT * FROM webhook_deliveries
            WHERE webhook_id = $1 AND status = 'pending' AND next_attempt_at <= $2
            ORDER BY next_attempt_at LIMIT $3 ${lock}`,
          [webhookId, now, webhook && isEnabled(webhook) ? room : 1_000],
        );
        if (rows.length === 0) continue;
        const ids = rows.map((r) => r.id);
        if (!webhook || !isEnabled(webhook)) {
          // Disabled since these were written: they will not be sent.
          await tx.execute(
            `UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, last_error = $1
              WHERE id IN (${placeholders(ids.length, 2)})`,
            ['the subscription is disabled', ...ids],
          );
          continue;
        }
        await tx.execute(
          `UPDATE webhook_deliveries SET next_attempt_at = $1 WHERE id IN (${placeholders(ids.length, 2)})`,
          [now + this.config.timeoutMs + CLAIM_MARGIN_MS, ...ids],
        );
        for (const delivery of rows) out.push({ delivery, webhook });
        left -= rows.length;
        this.inFlight.set(webhookId, (this.inFlight.get(webhookId) ?? 0) + rows.length);
        this.inFlightTotal += rows.length;
      }
      return out;
    });
  }

  private startSend(c: Claimed): void {
    const p = this.send(c)
      .catch((err: unknown) => this.log.error({ err, delivery_id: c.delivery.id }, 'webhook attempt not recorded'))
      .finally(() => {
        this.sends.delete(p);
        const n = (this.inFlight.get(c.webhook.id) ?? 1) - 1;
        if (n <= 0) this.inFlight.delete(c.webhook.id);
        else this.inFlight.set(c.webhook.id, n);
        this.inFlightTotal--;
        this.wake();
      });
    this.sends.add(p);
  }

  private async send({ delivery, webhook }: Claimed): Promise<void> {
    const now = Date.now();
    const owner = { tenantId: webhook.tenant_id, webhookId: webhook.id };
    const secrets = [this.secrets.decryptSecret(webhook.secret_enc, owner)];
    if (
      webhook.previous_secret_enc !== null &&
      webhook.previous_secret_expires_at !== null &&
      millis(webhook.previous_secret_expires_at) > now
    )
      secrets.push(this.secrets.decryptSecret(webhook.previous_secret_enc, owner));
    const timestamp = Math.floor(now / 1000);
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'Jobtrail-Webhooks/1',
      'webhook-id': delivery.event_id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signWebhook(delivery.event_id, timestamp, delivery.payload, secrets),
    };
    const result = await sendWebhook(
      webhook.url,
      headers,
      delivery.payload,
      { allowPrivate: this.config.allowPrivate, ...(this.resolver ? { resolver: this.resolver } : {}) },
      this.config.timeoutMs,
    );
    await this.record(delivery, webhook, result, now);
  }

  /** Stores an attempt's outcome: the attempt row, the delivery's new state, the subscription's health. */
  private async record(
    delivery: WebhookDeliveryRow,
    webhook: WebhookRow,
    result: SendResult,
    startedAt: number,
  ): Promise<void> {
    const now = Date.now();
    const attempts = Number(delivery.attempts) + 1;
    const code = result.statusCode;
    const ok = code !== null && code >= 200 && code < 300;
    const gone = code === 410;
    const error = ok
      ? null
      : truncate(
          result.error ??
            (code !== null && code >= 300 && code < 400 ? `redirect (${code}) not followed` : `HTTP ${code}`),
        );
    const retryAt = ok || gone ? null : nextWebhookAttemptAt(attempts, now, Math.random(), this.config.backoffScale);
    const status = ok ? 'delivered' : retryAt === null ? 'failed' : 'pending';
    let disabledReason: string | null = null;
    const recorded = await this.db.transaction(async (tx) => {
      // Lock order, everywhere: a subscription's row before its deliveries' (PATCH, delete and the
      // disabling below do the same), so two writers never wait on each other in a cycle.
      // PostgreSQL: FOR NO KEY UPDATE also holds off a delete until this attempt is written.
      const lock = this.db.kind === 'postgres' ? 'FOR NO KEY UPDATE' : '';
      const [w] = await tx.query<{ failing_since: number | string | null; enabled: boolean | number }>(
        `SELECT failing_since, enabled FROM webhooks WHERE id = $1 ${lock}`,
        [webhook.id],
      );
      // Deleted meanwhile (its deliveries with it): nothing to record.
      if (!w) return false;
      const exists = await tx.query('SELECT id FROM webhook_deliveries WHERE id = $1', [delivery.id]);
      if (exists.length === 0) return false;
      await tx.execute(
        `INSERT INTO webhook_delivery_attempts (id, delivery_id, attempt, at, status_code, duration_ms, error, response_body)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [uuidv7(startedAt), delivery.id, attempts, startedAt, code, result.durationMs, error, result.body],
      );
      // Fenced on the attempt count the claim saw: a dispatcher whose claim lapsed (and whose
      // delivery someone else sent meanwhile) records its attempt but does not move the delivery.
      await tx.execute(
        `UPDATE webhook_deliveries SET status = $1, attempts = $2, next_attempt_at = $3, last_status_code = $4,
            last_error = $5, delivered_at = $6
          WHERE id = $7 AND status = 'pending' AND attempts = $8`,
        [status, attempts, retryAt, code, error, ok ? now : null, delivery.id, Number(delivery.attempts)],
      );
      if (ok) {
        await tx.execute('UPDATE webhooks SET failing_since = NULL, last_success_at = $1 WHERE id = $2', [
          now,
          webhook.id,
        ]);
        return true;
      }
      const failingSince = w.failing_since === null ? startedAt : millis(w.failing_since);
      if (gone) disabledReason = 'the endpoint answered 410 Gone';
      else if (now - failingSince >= this.config.disableAfterFailingMs)
        disabledReason = `every delivery failed for ${Math.round((now - failingSince) / 3_600_000)} h`;
      await tx.execute('UPDATE webhooks SET failing_since = $1, last_failure_at = $2 WHERE id = $3', [
        failingSince,
        now,
        webhook.id,
      ]);
      if (disabledReason !== null && isEnabled({ enabled: w.enabled })) {
        await tx.execute('UPDATE webhooks SET enabled = FALSE, disabled_reason = $1, updated_at = $2 WHERE id = $3', [
          disabledReason,
          now,
          webhook.id,
        ]);
        await failPending(tx, webhook.id, 'the subscription was disabled: ' + disabledReason);
      }
      return true;
    });
    if (!recorded) return;
    const outcome = ok
      ? 'delivered'
      : gone
        ? 'gone'
        : result.error?.startsWith('refused:')
          ? 'refused'
          : status === 'failed'
            ? 'failed'
            : 'retrying';
    this.observer?.observeDelivery(outcome, ok ? (now - millis(delivery.created_at)) / 1000 : null);
    if (disabledReason !== null)
      this.log.warn({ webhook_id: webhook.id, reason: disabledReason }, 'webhook subscription disabled');
  }
}

/** Ends a subscription's pending deliveries (it was disabled). */
export async function failPending(tx: SqlExecutor, webhookId: string, reason: string): Promise<void> {
  await tx.execute(
    `UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, last_error = $1
      WHERE webhook_id = $2 AND status = 'pending'`,
    [truncate(reason), webhookId],
  );
}

/** SQLite returns booleans as 0/1. */
export function isEnabled(w: { enabled: boolean | number }): boolean {
  return w.enabled === true || w.enabled === 1;
}

function truncate(s: string): string {
  return s.length > ERROR_LIMIT ? s.slice(0, ERROR_LIMIT) : s;
}
