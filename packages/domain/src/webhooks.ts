/**
 * Webhooks: which events exist, which subscriptions a job change reaches, the body each carries,
 * and how failed deliveries back off. Data and pure functions; the engine's outbox and dispatcher
 * and the api's subscription endpoints all read them from here.
 */
import { assertNever } from './assert-never.js';
import type { Job } from './job.js';
import type { JobStatus } from './status.js';
import type { JobSummaryWire } from './wire.js';
import { toIso, toJobSummaryWire } from './wire-mappers.js';

/** Every event type a subscription can name. */
export const WEBHOOK_EVENT_TYPES = [
  /** A job was created (API, retry, schedule). */
  'job.created',
  /** A job changed status (every transition), with `previous_status`. */
  'job.updated',
  /** A job reached `success` (sent with its `job.updated`). */
  'job.succeeded',
  /** A job reached `failed`. */
  'job.failed',
  /** A job reached `cancelled`. */
  'job.cancelled',
  /** Sent on request (`POST /webhooks/:id/test`) to check an endpoint. */
  'webhook.test',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** `events: ["*"]` subscribes to every type, present and future. */
export const ALL_WEBHOOK_EVENTS = '*';

/** Where a delivery stands. */
export const WEBHOOK_DELIVERY_STATUSES = [
  /** Waiting for its first or next attempt (`next_attempt_at`). */
  'pending',
  /** An attempt got a 2xx. Terminal (a redelivery makes it pending again). */
  'delivered',
  /** Every scheduled attempt failed, or the subscription was disabled or deleted. Terminal. */
  'failed',
] as const;
export type WebhookDeliveryStatus = (typeof WEBHOOK_DELIVERY_STATUSES)[number];

/**
 * Delay before each retry after a failed attempt (the first attempt is immediate): about 24 h in
 * all, so an endpoint down for a night still gets everything. The dispatcher adds jitter.
 */
export const WEBHOOK_RETRY_SCHEDULE_MS: readonly number[] = [
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3_600_000,
  5 * 3_600_000,
  10 * 3_600_000,
  10 * 3_600_000,
];

/** Attempts a delivery gets before it is `failed`: the first one plus one per retry. */
export const WEBHOOK_MAX_ATTEMPTS = WEBHOOK_RETRY_SCHEDULE_MS.length + 1;

/** A subscription failing for this long without a single success is disabled. */
export const WEBHOOK_DISABLE_AFTER_FAILING_MS = 3 * 24 * 3_600_000;

/** How long the previous secret keeps signing after a rotation. */
export const WEBHOOK_SECRET_OVERLAP_MS = 24 * 3_600_000;

/**
 * When the attempt after `attempts` failed attempts should run, or null when none is left.
 * `scale` shrinks the schedule (tests); `random` in [0, 1) spreads retries by up to ±10 %.
 */
export function nextWebhookAttemptAt(attempts: number, now: number, random: number, scale = 1): number | null {
  const delay = WEBHOOK_RETRY_SCHEDULE_MS[attempts - 1];
  if (attempts < 1 || delay === undefined) return null;
  const jitter = 1 + (random * 2 - 1) * 0.1;
  return now + Math.round(delay * scale * jitter);
}

/**
 * How far past an attempt's timeout its claim holds: an attempt never outlasts its timeout, so the
 * margin only covers recording it. A dispatcher that died mid-send leaves its claims to lapse; the
 * delivery is then sent again (at least once) and stops counting against the endpoint's cap.
 */
export const WEBHOOK_CLAIM_MARGIN_MS = 5_000;

/** When a claim taken at `now` for an attempt limited to `timeoutMs` lapses. */
export function webhookClaimLapsesAt(now: number, timeoutMs: number): number {
  return now + timeoutMs + WEBHOOK_CLAIM_MARGIN_MS;
}

/**
 * How many more deliveries of one subscription a dispatcher may claim: the endpoint's cap less
 * what is in flight to it from every dispatcher (unlapsed claims), within the dispatcher's own
 * free slots. Never negative.
 */
export function webhookClaimRoom(endpointCap: number, inFlightToEndpoint: number, freeSlots: number): number {
  return Math.max(0, Math.min(freeSlots, endpointCap - inFlightToEndpoint));
}

/** True when a subscription to `events` receives events of `type`. */
export function subscribesTo(events: readonly string[], type: WebhookEventType): boolean {
  return events.includes(ALL_WEBHOOK_EVENTS) || events.includes(type);
}

/** The terminal convenience event of a status, if it has one. */
export function terminalEventOf(status: JobStatus): WebhookEventType | null {
  switch (status) {
    case 'pending':
    case 'processing':
      return null;
    case 'success':
      return 'job.succeeded';
    case 'failed':
      return 'job.failed';
    case 'cancelled':
      return 'job.cancelled';
    default:
      return assertNever(status, 'job status');
  }
}

/** `data` of every job event: the job summary, the status it came from, and its version. */
export type WebhookJobData = JobSummaryWire & { previous_status: JobStatus | null };

/** The body of a webhook: `{type, timestamp, data}` (Standard Webhooks' shape). */
export interface WebhookBody<D = unknown> {
  readonly type: WebhookEventType;
  readonly timestamp: string;
  readonly data: D;
}

/** One event a job change causes. */
export interface JobWebhookEvent {
  readonly type: WebhookEventType;
  readonly body: WebhookBody<WebhookJobData>;
}

/**
 * The events of one stored change of a job: `job.created` for a new job, then for each status
 * transition a `job.updated` (with the status it left) and, on a terminal status, its convenience
 * event. Changes without a transition (step progress, a heartbeat) cause none.
 */
export function jobWebhookEvents(
  job: Job,
  created: boolean,
  transitions: ReadonlyArray<{ from: JobStatus; to: JobStatus; at: Date }>,
): JobWebhookEvent[] {
  const summary = toJobSummaryWire(job);
  const out: JobWebhookEvent[] = [];
  const add = (type: WebhookEventType, at: Date, previous: JobStatus | null) =>
    out.push({ type, body: { type, timestamp: toIso(at), data: { ...summary, previous_status: previous } } });
  if (created) add('job.created', job.createdAt, null);
  for (const t of transitions) {
    add('job.updated', t.at, t.from);
    const terminal = terminalEventOf(t.to);
    if (terminal !== null) add(terminal, t.at, t.from);
  }
  return out;
}
