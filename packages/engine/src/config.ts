import type { RetentionPolicy } from '@jobtrail/domain';

/** How a worker runs jobs. */
export interface WorkerConfig {
  /** Jobs run at once by one worker process. */
  readonly concurrency: number;
  /** How long a claim holds without renewal; renewed every third of it. */
  readonly leaseMs: number;
  /** Longest an attempt may run before it fails with `job-timed-out`. */
  readonly jobDeadlineMs: number;
  /** Fallback polling interval when no wake-up signal comes. */
  readonly pollMs: number;
  /** On SIGTERM, how long running jobs may take to finish before they are released. */
  readonly shutdownGraceMs: number;
  /** Automatic attempts of a job (retryable errors only). */
  readonly maxAttempts: number;
  /** First backoff delay after a retryable error. */
  readonly backoffBaseMs: number;
  /** Longest delay before a job's step progress is written (status changes are written at once). */
  readonly progressFlushMs: number;
  /** How long each step of the sandbox's `user-slow` login takes. */
  readonly sandboxSlowStepMs: number;
  /** How long a one-time-code challenge waits for the user (`JOBTRAIL_MFA_TIMEOUT_MS`). */
  readonly mfaTimeoutMs: number;
  /** How often the refresh scheduler looks for due slots (default 10 s). */
  readonly schedulePollMs?: number;
  /** How long an open institution circuit holds its jobs before a probe (default 60 s). */
  readonly circuitCooldownMs?: number;
}

/** How long finished jobs are kept, and how often the cleanup runs. */
export type RetentionConfig = RetentionPolicy & {
  /** How often the cleanup runs (in worker processes). */
  readonly sweepMs: number;
};

/**
 * Decrypts a connection's bank credentials for one attempt (the api owns the key). The ciphertext
 * is bound to its tenant and connection: moved to another row, it does not decrypt.
 */
export interface CredentialsDecryptor {
  decrypt(credentialsEnc: string, owner: { tenantId: string; connectionId: string }): { password: string };
}

/** Told about every finished attempt (the api's metrics). */
export interface AttemptObserver {
  observeJob(action: string, status: string, seconds: number): void;
}

/** How the webhook dispatcher sends. */
export interface WebhookConfig {
  /** Fallback polling interval for due deliveries (new ones wake it at once in-process). */
  readonly pollMs: number;
  /** One attempt's limit, connection to last byte (10 s). */
  readonly timeoutMs: number;
  /** Deliveries in flight at once in one process. */
  readonly concurrency: number;
  /** Deliveries in flight at once to one subscription, so a slow endpoint never holds up others. */
  readonly perEndpointConcurrency: number;
  /** Multiplies the retry schedule (1 in production; tests shrink it). */
  readonly backoffScale: number;
  /** JOBTRAIL_WEBHOOK_ALLOW_PRIVATE=1: `http` and loopback targets allowed (development, tests). */
  readonly allowPrivate: boolean;
  /** How long a subscription may fail without a success before it is disabled (3 days). */
  readonly disableAfterFailingMs: number;
}

/** Decrypts a subscription's signing secret (the api owns the key, as for bank credentials). */
export interface WebhookSecretDecryptor {
  /** The secret is bound to its subscription (and tenant): moved to another row, it does not decrypt. */
  decryptSecret(secretEnc: string, owner: { readonly tenantId: string; readonly webhookId: string }): string;
}

/** Outcome of one delivery attempt, for metrics. */
export type WebhookAttemptOutcome = 'delivered' | 'retrying' | 'failed' | 'gone' | 'refused';

/** Told about every delivery attempt and the backlog (the api's metrics). */
export interface WebhookObserver {
  /** `lagSeconds`: from the event's commit to its 2xx, for delivered attempts. */
  observeDelivery(outcome: WebhookAttemptOutcome, lagSeconds: number | null): void;
  /** Pending deliveries (due or waiting for a retry). */
  observeBacklog(pending: number): void;
}
