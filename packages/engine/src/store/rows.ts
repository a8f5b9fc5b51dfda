/**
 * Row shapes of the tables, as the drivers return them. Times are epoch milliseconds in BIGINT
 * columns on both databases (PostgreSQL's driver returns BIGINT as a string, hence `number |
 * string`): one representation, exact ordering, no time-zone conversion in either driver.
 */
export type Millis = number | string;

export interface ConnectionRow {
  id: string;
  tenant_id: string;
  institution_id: string;
  login_id: string;
  /** AES-256-GCM of the bank password; never leaves the persistence layer decrypted. */
  credentials_enc: string;
  user_ref: string | null;
  created_at: Millis;
  latest_job_id: string | null;
  /** A ConnectionStatus, derived from the latest finished refresh (see the domain). */
  status: string;
  credentials_updated_at: Millis | null;
  /** HMAC-SHA256 of the login under a key derived from the encryption key: exact search, no scan. */
  login_hash: string | null;
  refresh_every_hours: number | null;
  /** The refresh `status` was derived from. */
  last_refresh_job_id: string | null;
  /** The next scheduled refresh slot (null: no schedule). */
  next_refresh_at: Millis | null;
}

export interface JobRow {
  id: string;
  tenant_id: string;
  connection_id: string;
  action: string;
  status: string;
  created_at: Millis;
  updated_at: Millis;
  started_at: Millis | null;
  finished_at: Millis | null;
  attempt: number;
  max_attempts: number;
  run_at: Millis;
  lease_owner: string | null;
  lease_expires_at: Millis | null;
  deadline_at: Millis | null;
  cancel_requested_at: Millis | null;
  steps: string;
  error: string | null;
  result: string | null;
  retry_of: string | null;
  requested_by_id: string | null;
  requested_by_name: string | null;
  /** `error.code`, as a column to filter and group on. */
  error_code: string | null;
  /** +1 on every change; 1 when created. */
  version: number;
  /** JSON of the waiting one-time-code challenge (type, prompt, expiresAt, wrongCodes), or null. */
  challenge: string | null;
  /** The challenge's expiry, as a column the sweeper seeks. */
  challenge_expires_at: Millis | null;
}

/** A webhook subscription. */
export interface WebhookRow {
  id: string;
  tenant_id: string;
  url: string;
  /** JSON array of event types; `["*"]` is every type. */
  events: string;
  description: string | null;
  enabled: boolean | number;
  /** The signing secret (`whsec_...`), encrypted like bank credentials. */
  secret_enc: string;
  /** The secret before the last rotation; it signs too until `previous_secret_expires_at`. */
  previous_secret_enc: string | null;
  previous_secret_expires_at: Millis | null;
  /** Why the subscription was disabled by the dispatcher (410, failing for days), if it was. */
  disabled_reason: string | null;
  created_at: Millis;
  updated_at: Millis;
  /** Since when every attempt failed (null after a success). */
  failing_since: Millis | null;
  last_success_at: Millis | null;
  last_failure_at: Millis | null;
}

/** One event for one subscription: the outbox row the dispatcher sends. */
export interface WebhookDeliveryRow {
  id: string;
  tenant_id: string;
  webhook_id: string;
  /** The `webhook-id` header: the same on every attempt. */
  event_id: string;
  event_type: string;
  job_id: string | null;
  /** The JSON body sent. */
  payload: string;
  status: string;
  attempts: number;
  /** When the next attempt is due; while one is in flight, when its claim lapses. */
  next_attempt_at: Millis | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Millis;
  delivered_at: Millis | null;
  /** While an attempt is in flight, when its claim lapses (the endpoint's cap counts these); else null. */
  claimed_until: Millis | null;
}

/** One attempt of a delivery. */
export interface WebhookDeliveryAttemptRow {
  id: string;
  delivery_id: string;
  attempt: number;
  at: Millis;
  status_code: number | null;
  duration_ms: number;
  error: string | null;
  /** The response body, truncated to 1 KB. */
  response_body: string | null;
}

/** A job event: a status transition, a log line, or the job's creation. */
export interface JobEventRow {
  id: number | string;
  job_id: string;
  tenant_id: string;
  connection_id: string;
  kind: 'created' | 'transition' | 'log';
  at: Millis;
  from_status: string | null;
  to_status: string | null;
  reason: string | null;
  actor: string | null;
  attempt: number | null;
  level: string | null;
  step: string | null;
  message: string | null;
  /** The ended attempt's steps (JSON), on a transition out of `processing`; null otherwise. */
  steps: string | null;
  /**
   * The log lines recorded with this event (JSON array of at, level, step, message): on a
   * transition or creation, the lines its change recorded; on a `log` row holding several lines,
   * those (its own level, step and message are then null). Null otherwise.
   */
  lines: string | null;
}
