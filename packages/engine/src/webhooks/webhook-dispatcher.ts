import {
  nextWebhookAttemptAt,
  webhookClaimLapsesAt,
  webhookClaimRoom,
  type WebhookDeliveryStatus,
  type WebhookEventType,
} from '@jobtrail/domain';
import type { Logger } from 'pino';
import type { JobEventsBus, WebhookDeliveryChange } from '../bus/job-events.bus.js';
import type { WebhookAttemptOutcome, WebhookConfig, WebhookObserver, WebhookSecretDecryptor } from '../config.js';
import { millis, placeholders, type Database, type SqlExecutor } from '../database/database.js';
import { systemClock, type Clock } from '../clock.js';
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

/** How often the backlog gauge is refreshed. */
const BACKLOG_EVERY_MS = 5_000;
const ERROR_LIMIT = 1_000;

/**
 * Sends the webhook outbox. Any number of dispatchers (one per worker process) share it: a claim
 * takes due deliveries with `FOR UPDATE SKIP LOCKED` on PostgreSQL (one writer on SQLite) and
 * moves their `next_attempt_at` past the attempt's timeout, so a dispatcher that dies mid-send
 * leaves them to be taken again (at-least-once; the receiver dedupes by `webhook-id`).
 * Each subscription has its own cap of deliveries in flight, counted in the database across every
 * dispatcher: a slow endpoint fills only its own.
 */
export class WebhookDispatcher {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private ticking = false;
  private again = false;
  private inFlightTotal = 0;
  /** This process's attempts in flight per subscription: a cheap lower bound of the shared count. */
  private readonly inFlight = new Map<string, number>();
  private readonly sends = new Set<Promise<void>>();
  private lastBacklogAt = 0;
  private unsubscribe: (() => void) | null = null;
  private readonly recordQueue: PendingRecord[] = [];
  private recording = false;

  constructor(
    private readonly db: Database,
    private readonly config: WebhookConfig,
    private readonly secrets: WebhookSecretDecryptor,
    private readonly observer: WebhookObserver | null,
    private readonly log: Logger,
    private readonly bus: JobEventsBus | null = null,
    private readonly resolver?: HostResolver,
    /** Claims expire and backoffs fall due by it: the database clock in every process. */
    private readonly clock: Clock = systemClock,
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
      const now = this.clock.now();
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

  /**
   * Claims due deliveries, per subscription within its cap, in one transaction. The cap holds
   * across processes: the subscription's row is locked (PostgreSQL: `FOR NO KEY UPDATE`, so two
   * dispatchers never count the same endpoint at once; it does not block the outbox's `FOR KEY
   * SHARE`; SQLite: one writer), then its unlapsed claims are counted through
   * `ix_webhook_deliveries_in_flight` and only the room left is claimed.
   */
  private async claim(now: number): Promise<Claimed[]> {
    const free = this.config.concurrency - this.inFlightTotal;
    if (free <= 0) return [];
    const postgres = this.db.kind === 'postgres';
    // Already at the cap from this process alone: the shared count can only say the same, so
    // such a subscription is neither locked (a recording of its attempts may hold it) nor counted.
    const full = [...this.inFlight].filter(([, n]) => n >= this.config.perEndpointConcurrency).map(([id]) => id);
    const skip = full.length > 0 ? ` AND webhook_id NOT IN (${placeholders(full.length, 2)})` : '';
    return this.db.transaction(async (tx) => {
      // The subscriptions with due deliveries, locked. Deleted ones took their deliveries with
      // them. The lock is waited for (a claim or a recording holds it for a few statements):
      // skipping would leave the endpoint idle until the next poll. Rows in id order, as every
      // writer of several takes them.
      const webhooks = await tx.query<WebhookRow>(
        `SELECT * FROM webhooks WHERE id IN (
            SELECT DISTINCT webhook_id FROM webhook_deliveries
              WHERE status = 'pending' AND next_attempt_at <= $1${skip} LIMIT 100)
          ORDER BY id${postgres ? ' FOR NO KEY UPDATE' : ''}`,
        [now, ...full],
      );
      if (webhooks.length === 0) return [];
      const inFlight = new Map(
        (
          await tx.query<{ webhook_id: string; n: number | string }>(
            `SELECT webhook_id, COUNT(*) AS n FROM webhook_deliveries
              WHERE webhook_id IN (${placeholders(webhooks.length, 2)}) AND claimed_until > $1
              GROUP BY webhook_id`,
            [now, ...webhooks.map((w) => w.id)],
          )
        ).map((r) => [r.webhook_id, Number(r.n)]),
      );
      const lock = postgres ? 'FOR UPDATE SKIP LOCKED' : '';
      const claimedUntil = webhookClaimLapsesAt(now, this.config.timeoutMs);
      const out: Claimed[] = [];
      let left = free;
      for (const webhook of webhooks) {
        if (left <= 0) break;
        if (!isEnabled(webhook)) {
          // Disabled since these were written: they will not be sent.
          await failPending(tx, webhook.id, 'the subscription is disabled');
          continue;
        }
        const room = webhookClaimRoom(this.config.perEndpointConcurrency, inFlight.get(webhook.id) ?? 0, left);
        if (room === 0) continue;
        // Due again when the claim lapses: a dispatcher that dies mid-send leaves it to another.
        const rows = await tx.query<WebhookDeliveryRow>(
          `UPDATE webhook_deliveries SET next_attempt_at = $1, claimed_until = $1
            WHERE id IN (
              SELECT id FROM webhook_deliveries
                WHERE webhook_id = $2 AND status = 'pending' AND next_attempt_at <= $3
                ORDER BY next_attempt_at LIMIT $4 ${lock})
            RETURNING *`,
          [claimedUntil, webhook.id, now, room],
        );
        for (const delivery of rows) out.push({ delivery, webhook });
        left -= rows.length;
      }
      return out;
    });
  }

  /** Counted once the claim committed (a claim that failed to commit sends nothing). */
  private startSend(c: Claimed): void {
    this.inFlightTotal++;
    this.inFlight.set(c.webhook.id, (this.inFlight.get(c.webhook.id) ?? 0) + 1);
    const p = this.send(c)
      .catch((err: unknown) => this.log.error({ err, delivery_id: c.delivery.id }, 'webhook attempt not recorded'))
      .finally(() => {
        this.sends.delete(p);
        this.inFlightTotal--;
        const n = (this.inFlight.get(c.webhook.id) ?? 1) - 1;
        if (n <= 0) this.inFlight.delete(c.webhook.id);
        else this.inFlight.set(c.webhook.id, n);
        this.wake();
      });
    this.sends.add(p);
  }

  private async send({ delivery, webhook }: Claimed): Promise<void> {
    const now = this.clock.now();
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

  /**
   * Stores an attempt's outcome. Attempts that finish while a recording is being written wait
   * and are written together in the next one (group commit): one transaction, one lock of each
   * subscription's row and one update of its health per batch rather than per attempt.
   */
  private record(
    delivery: WebhookDeliveryRow,
    webhook: WebhookRow,
    result: SendResult,
    startedAt: number,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      this.recordQueue.push({ delivery, webhook, result, startedAt, resolve, reject });
      void this.flushRecords();
    });
  }

  private async flushRecords(): Promise<void> {
    if (this.recording) return;
    this.recording = true;
    try {
      while (this.recordQueue.length > 0) {
        const batch = this.recordQueue.splice(0);
        try {
          await this.recordBatch(batch);
          for (const r of batch) r.resolve();
        } catch (err) {
          for (const r of batch) r.reject(err);
        }
      }
    } finally {
      this.recording = false;
    }
  }

  private async recordBatch(batch: readonly PendingRecord[]): Promise<void> {
    const now = this.clock.now();
    const outcomes = batch.map((r) => outcomeOf(r, now, this.config.backoffScale));
    const disabled = new Map<string, string>();
    const recorded = await this.db.transaction(async (tx) => {
      disabled.clear();
      // Lock order, everywhere: a subscription's row before its deliveries' (PATCH, delete and the
      // disabling below do the same), so two writers never wait on each other in a cycle; several
      // subscriptions' rows in id order. PostgreSQL: FOR NO KEY UPDATE also holds off a delete
      // until these attempts are written (it does not block the outbox's FOR KEY SHARE).
      const webhookIds = [...new Set(batch.map((r) => r.webhook.id))].sort();
      const lock = this.db.kind === 'postgres' ? ' FOR NO KEY UPDATE' : '';
      const webhooks = new Map(
        (
          await tx.query<{ id: string; failing_since: number | string | null; enabled: boolean | number }>(
            `SELECT id, failing_since, enabled FROM webhooks WHERE id IN (${placeholders(webhookIds.length)}) ORDER BY id${lock}`,
            webhookIds,
          )
        ).map((w) => [w.id, w]),
      );
      // Deleted meanwhile (the deliveries with them): nothing to record.
      const deliveryIds = batch.filter((r) => webhooks.has(r.webhook.id)).map((r) => r.delivery.id);
      const exist =
        deliveryIds.length === 0
          ? new Set<string>()
          : new Set(
              (
                await tx.query<{ id: string }>(
                  `SELECT id FROM webhook_deliveries WHERE id IN (${placeholders(deliveryIds.length)})`,
                  deliveryIds,
                )
              ).map((d) => d.id),
            );
      const kept = outcomes.filter((o) => exist.has(o.delivery.id));
      if (kept.length === 0) return kept;
      await tx.execute(
        `INSERT INTO webhook_delivery_attempts (id, delivery_id, attempt, at, status_code, duration_ms, error, response_body)
          VALUES ${kept.map((_, i) => `(${placeholders(8, 8 * i + 1)})`).join(', ')}`,
        kept.flatMap((o) => [
          uuidv7(o.startedAt),
          o.delivery.id,
          o.attempts,
          o.startedAt,
          o.code,
          o.result.durationMs,
          o.error,
          o.result.body,
        ]),
      );
      for (const o of kept) {
        // Fenced on the attempt count the claim saw: a dispatcher whose claim lapsed (and whose
        // delivery someone else sent meanwhile) records its attempt but does not move the delivery.
        await tx.execute(
          `UPDATE webhook_deliveries SET status = $1, attempts = $2, next_attempt_at = $3, last_status_code = $4,
              last_error = $5, delivered_at = $6, claimed_until = NULL
            WHERE id = $7 AND status = 'pending' AND attempts = $8`,
          [
            o.status,
            o.attempts,
            o.retryAt,
            o.code,
            o.error,
            o.ok ? now : null,
            o.delivery.id,
            Number(o.delivery.attempts),
          ],
        );
      }
      // Each subscription's health, as if its attempts had been recorded one by one in time order.
      for (const [id, w] of webhooks) {
        let failingSince = w.failing_since === null ? null : millis(w.failing_since);
        let lastSuccess: number | null = null;
        let lastFailure: number | null = null;
        let reason: string | null = null;
        for (const o of kept.filter((k) => k.webhookId === id).sort((a, b) => a.startedAt - b.startedAt)) {
          if (o.ok) {
            failingSince = null;
            lastSuccess = now;
            continue;
          }
          failingSince ??= o.startedAt;
          lastFailure = now;
          if (o.gone) reason ??= 'the endpoint answered 410 Gone';
          else if (now - failingSince >= this.config.disableAfterFailingMs)
            reason ??= `every delivery failed for ${Math.round((now - failingSince) / 3_600_000)} h`;
        }
        if (lastSuccess === null && lastFailure === null) continue;
        await tx.execute(
          `UPDATE webhooks SET failing_since = $1, last_success_at = COALESCE($2, last_success_at),
              last_failure_at = COALESCE($3, last_failure_at) WHERE id = $4`,
          [failingSince, lastSuccess, lastFailure, id],
        );
        if (reason !== null && isEnabled({ enabled: w.enabled })) {
          await tx.execute('UPDATE webhooks SET enabled = FALSE, disabled_reason = $1, updated_at = $2 WHERE id = $3', [
            reason,
            now,
            id,
          ]);
          await failPending(tx, id, 'the subscription was disabled: ' + reason);
          disabled.set(id, reason);
        }
      }
      return kept;
    });
    for (const o of recorded)
      this.observer?.observeDelivery(o.outcome, o.ok ? (now - millis(o.delivery.created_at)) / 1000 : null);
    // Live views (delivery log, subscription health, a job's deliveries) refresh on these; a lost
    // notification only delays a view until its next fetch.
    this.bus
      ?.publishDeliveries(recorded.map((o) => deliveryChange(o)))
      .catch((err: unknown) => this.log.warn({ err }, 'webhook attempts not announced'));
    for (const [webhookId, reason] of disabled)
      this.log.warn({ webhook_id: webhookId, reason }, 'webhook subscription disabled');
  }
}

/** A recorded attempt as the event bus carries it. */
function deliveryChange(o: ReturnType<typeof outcomeOf>): WebhookDeliveryChange {
  const d = o.delivery;
  let connectionId: string | null = null;
  if (d.job_id !== null) {
    try {
      connectionId = (JSON.parse(d.payload) as { data?: { connection_id?: string } }).data?.connection_id ?? null;
    } catch {
      connectionId = null;
    }
  }
  return {
    type: 'webhook.delivery',
    tenantId: d.tenant_id,
    connectionId,
    delivery: {
      delivery_id: d.id,
      webhook_id: d.webhook_id,
      job_id: d.job_id,
      event_type: d.event_type as WebhookEventType,
      // A fenced-out attempt (its claim had lapsed) did not move the delivery: its own outcome is
      // what it saw; the client refetches the delivery's real state anyway.
      status: o.status as WebhookDeliveryStatus,
      attempts: o.attempts,
      status_code: o.code,
    },
  };
}

/** An attempt waiting to be recorded. */
interface PendingRecord {
  readonly delivery: WebhookDeliveryRow;
  readonly webhook: WebhookRow;
  readonly result: SendResult;
  readonly startedAt: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/** What an attempt's result means for its delivery. */
function outcomeOf(r: PendingRecord, now: number, backoffScale: number) {
  const attempts = Number(r.delivery.attempts) + 1;
  const code = r.result.statusCode;
  const ok = code !== null && code >= 200 && code < 300;
  const gone = code === 410;
  const error = ok
    ? null
    : truncate(
        r.result.error ??
          (code !== null && code >= 300 && code < 400 ? `redirect (${code}) not followed` : `HTTP ${code}`),
      );
  const retryAt = ok || gone ? null : nextWebhookAttemptAt(attempts, now, Math.random(), backoffScale);
  const status = ok ? 'delivered' : retryAt === null ? 'failed' : 'pending';
  const outcome: WebhookAttemptOutcome = ok
    ? 'delivered'
    : gone
      ? 'gone'
      : r.result.error?.startsWith('refused:')
        ? 'refused'
        : status === 'failed'
          ? 'failed'
          : 'retrying';
  return {
    delivery: r.delivery,
    webhookId: r.webhook.id,
    result: r.result,
    startedAt: r.startedAt,
    attempts,
    code,
    ok,
    gone,
    error,
    retryAt,
    status,
    outcome,
  };
}

/** Ends a subscription's pending deliveries (it was disabled). */
export async function failPending(tx: SqlExecutor, webhookId: string, reason: string): Promise<void> {
  await tx.execute(
    `UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, claimed_until = NULL, last_error = $1
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
