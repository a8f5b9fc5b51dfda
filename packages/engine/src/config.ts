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
