import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  DEFAULT_CIRCUIT_COOLDOWN_MS,
  DEFAULT_MFA_TIMEOUT_MS,
  WEBHOOK_DISABLE_AFTER_FAILING_MS,
} from '@jobtrail/domain';
import type { RetentionConfig, WebhookConfig, WorkerConfig } from '@jobtrail/engine';

export type { WorkerConfig } from '@jobtrail/engine';

/** Which parts of Jobtrail a process runs. */
export const PROCESS_ROLES = ['all', 'api', 'worker'] as const;
export type ProcessRole = (typeof PROCESS_ROLES)[number];

/** Everything a Jobtrail process is configured with; read once at start from the environment. */
export interface AppConfig {
  readonly port: number;
  readonly database:
    | { readonly kind: 'sqlite'; readonly file: string }
    | {
        readonly kind: 'postgres';
        readonly url: string;
        /** `JOBTRAIL_PG_PREPARED_STATEMENTS`: hot statements prepared once per connection (default on). */
        readonly preparedStatements?: boolean;
      };
  readonly dataDir: string;
  readonly role: ProcessRole;
  /** An admin key to create at start if missing (tenant `default`). */
  readonly adminKey: string | null;
  /** 32 bytes for AES-256-GCM of bank credentials at rest. */
  readonly encryptionKey: Buffer;
  /** Seed demo data: `true`/`false` when forced, `auto` for "when the database is empty". */
  readonly demo: boolean | 'auto';
  /** Largest accepted JSON body. */
  readonly bodyLimitBytes: number;
  readonly logLevel: string;
  /** `pretty` (coloured lines), `json`, or `auto`: pretty when stdout is a terminal. */
  readonly logFormat: LogFormatSetting;
  /** When set, `GET /metrics` needs `Authorization: Bearer <token>`. */
  readonly metricsToken: string | null;
  /** Where the built dashboard is, if it is served by this process. */
  readonly dashboardDir: string | null;
  readonly worker: WorkerConfig;
  readonly limits: LimitsConfig;
  /** Origins allowed to call the API from a browser (CORS); none by default. */
  readonly corsOrigins: readonly string[];
  readonly http: HttpTimeoutsConfig;
  readonly streams: StreamsConfig;
  readonly idempotency: IdempotencyConfig;
  readonly retention: RetentionConfig;
  readonly webhooks: WebhookConfig;
  /** `JOBTRAIL_AUTO_REFRESH_HOURS`: the refresh schedule of new connections that name none (unset: off). */
  readonly autoRefreshHours?: number | null;
}

/** Values of `JOBTRAIL_LOG_FORMAT`. */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormatSetting = (typeof LOG_FORMATS)[number];

/** `JOBTRAIL_LOG_FORMAT`, checked; unset means `auto`. */
export function logFormatSetting(env: NodeJS.ProcessEnv = process.env): LogFormatSetting {
  const raw = (env.JOBTRAIL_LOG_FORMAT ?? '').trim().toLowerCase() || 'auto';
  if (!(LOG_FORMATS as readonly string[]).includes(raw))
    throw new ConfigError(`JOBTRAIL_LOG_FORMAT must be one of ${LOG_FORMATS.join(', ')}, got "${raw}"`);
  return raw as LogFormatSetting;
}

/** Rate limits. */
export interface LimitsConfig {
  /** Requests per minute per API key (token bucket, per process). */
  readonly requestsPerMinute: number;
  /** Refresh jobs per hour per connection (counted in the database, across processes). */
  readonly refreshesPerHour: number;
}

/**
 * HTTP server timeouts, sized for an API (Node's defaults hold a slow client for 5 minutes).
 * They cover receiving a request, not answering it: long-lived event streams are not cut.
 */
export interface HttpTimeoutsConfig {
  /** Longest time to receive a whole request (headers and body). */
  readonly requestTimeoutMs: number;
  /** Longest time to receive a request's headers. */
  readonly headersTimeoutMs: number;
  /** How long an idle keep-alive connection stays open between requests. */
  readonly keepAliveTimeoutMs: number;
}

/** Limits of `GET /events` streams. */
export interface StreamsConfig {
  /** Open streams allowed per API key (per process); more are refused with 429. */
  readonly perKey: number;
  /**
   * Most events a resume replays. A client further behind gets `event: reset` (reload the
   * history) instead of an incomplete replay.
   */
  readonly replayLimit: number;
  /** Bytes a stream may have waiting to be sent before its client counts as stuck and is dropped. */
  readonly maxBufferBytes: number;
  /** How long a token from `POST /events/token` is valid; a stream opened with it ends then. */
  readonly tokenTtlMs: number;
  /** How often open streams are checked against revoked keys and expired tokens. */
  readonly reauthMs: number;
}

/** Idempotency-Key records. */
export interface IdempotencyConfig {
  /** An in-flight claim older than this (its process crashed) may be taken over by a retry. */
  readonly claimTimeoutMs: number;
  /** How often expired records are deleted. */
  readonly sweepMs: number;
}

/** A configuration value that cannot be used; start-up stops with this message. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function intVar(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  return n;
}

/**
 * The encryption key: given (base64 of 32 bytes, or any passphrase of 32+ characters, hashed), or
 * in SQLite mode generated once into the data folder so a local start needs no set-up.
 */
function encryptionKey(env: NodeJS.ProcessEnv, dataDir: string, postgres: boolean): Buffer {
  const given = env.JOBTRAIL_ENCRYPTION_KEY;
  if (given) {
    const decoded = Buffer.from(given, 'base64');
    if (decoded.length === 32) return decoded;
    throw new ConfigError(
      'JOBTRAIL_ENCRYPTION_KEY must be 32 bytes encoded in base64 (e.g. `openssl rand -base64 32`)',
    );
  }
  if (postgres) throw new ConfigError('JOBTRAIL_ENCRYPTION_KEY is required with PostgreSQL (32 bytes in base64)');
  const file = join(dataDir, 'encryption.key');
  if (existsSync(file)) return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600 });
  chmodSync(file, 0o600);
  return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
}

/** `JOBTRAIL_METRICS_TOKEN`: unset or empty means `/metrics` is open (aggregate figures only). */
function metricsToken(env: NodeJS.ProcessEnv): string | null {
  const token = env.JOBTRAIL_METRICS_TOKEN?.trim() ?? '';
  if (token === '') return null;
  if (token.length < 16 || /\s/.test(token))
    throw new ConfigError('JOBTRAIL_METRICS_TOKEN must be at least 16 characters, without spaces');
  return token;
}

/** The HTTP timeouts; the header timeout never exceeds the request timeout (Node refuses that). */
function httpTimeouts(env: NodeJS.ProcessEnv): HttpTimeoutsConfig {
  const requestTimeoutMs = intVar(env, 'JOBTRAIL_REQUEST_TIMEOUT_MS', 30_000, 1_000, 3_600_000);
  return {
    requestTimeoutMs,
    headersTimeoutMs: Math.min(requestTimeoutMs, intVar(env, 'JOBTRAIL_HEADERS_TIMEOUT_MS', 10_000, 1_000, 3_600_000)),
    keepAliveTimeoutMs: intVar(env, 'JOBTRAIL_KEEP_ALIVE_TIMEOUT_MS', 5_000, 100, 600_000),
  };
}

/** `JOBTRAIL_PG_PREPARED_STATEMENTS`: on unless `false` (or `0`, `off`, `no`). */
function preparedStatements(env: NodeJS.ProcessEnv): boolean {
  const raw = (env.JOBTRAIL_PG_PREPARED_STATEMENTS ?? '').trim().toLowerCase();
  if (raw === '' || ['1', 'true', 'on', 'yes'].includes(raw)) return true;
  if (['0', 'false', 'off', 'no'].includes(raw)) return false;
  throw new ConfigError(`JOBTRAIL_PG_PREPARED_STATEMENTS must be true or false, got "${raw}"`);
}

/** Reads the configuration from environment variables (see the README's table). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const dataDir = resolve(env.JOBTRAIL_DATA_DIR || './data');
  const url = env.DATABASE_URL || '';
  if (url && !/^postgres(ql)?:\/\//.test(url))
    throw new ConfigError('DATABASE_URL must start with postgres:// (leave it unset for SQLite)');
  const role = (env.JOBTRAIL_ROLE || 'all') as ProcessRole;
  if (!PROCESS_ROLES.includes(role)) throw new ConfigError(`JOBTRAIL_ROLE must be one of ${PROCESS_ROLES.join(', ')}`);
  const demoRaw = (env.JOBTRAIL_DEMO ?? '').toLowerCase();
  const demo = demoRaw === '' || demoRaw === 'auto' ? 'auto' : ['1', 'true', 'on', 'yes'].includes(demoRaw);
  const adminKey = env.JOBTRAIL_ADMIN_KEY || null;
  if (adminKey !== null && adminKey.length < 20)
    throw new ConfigError('JOBTRAIL_ADMIN_KEY must be at least 20 characters');
  if (!url) mkdirSync(dataDir, { recursive: true });
  return {
    port: intVar(env, 'PORT', 3000, 0, 65535),
    database: url
      ? { kind: 'postgres', url, preparedStatements: preparedStatements(env) }
      : { kind: 'sqlite', file: join(dataDir, 'jobtrail.sqlite') },
    dataDir,
    role,
    adminKey,
    encryptionKey: encryptionKey(env, dataDir, Boolean(url)),
    demo,
    bodyLimitBytes: intVar(env, 'JOBTRAIL_BODY_LIMIT_BYTES', 16 * 1024, 1024, 10 * 1024 * 1024),
    logLevel: env.JOBTRAIL_LOG_LEVEL || 'info',
    logFormat: logFormatSetting(env),
    metricsToken: metricsToken(env),
    dashboardDir: env.JOBTRAIL_DASHBOARD_DIR ?? null,
    autoRefreshHours: env.JOBTRAIL_AUTO_REFRESH_HOURS ? intVar(env, 'JOBTRAIL_AUTO_REFRESH_HOURS', 24, 1, 720) : null,
    limits: {
      requestsPerMinute: intVar(env, 'JOBTRAIL_RATE_LIMIT_PER_MINUTE', 600, 1, 10_000_000),
      refreshesPerHour: intVar(env, 'JOBTRAIL_REFRESH_LIMIT_PER_HOUR', 60, 1, 10_000_000),
    },
    corsOrigins: (env.JOBTRAIL_CORS_ORIGINS ?? '')
      .split(',')
      .map((o) => o.trim())
      .filter(Boolean),
    http: httpTimeouts(env),
    streams: {
      perKey: intVar(env, 'JOBTRAIL_SSE_STREAMS_PER_KEY', 10, 1, 100_000),
      replayLimit: intVar(env, 'JOBTRAIL_SSE_REPLAY_LIMIT', 5_000, 1, 1_000_000),
      maxBufferBytes: intVar(env, 'JOBTRAIL_SSE_MAX_BUFFER_BYTES', 1024 * 1024, 16 * 1024, 1024 * 1024 * 1024),
      tokenTtlMs: intVar(env, 'JOBTRAIL_EVENT_TOKEN_TTL_MS', 10 * 60 * 1000, 1_000, 86_400_000),
      reauthMs: intVar(env, 'JOBTRAIL_SSE_REAUTH_MS', 2_000, 100, 60_000),
    },
    idempotency: {
      claimTimeoutMs: intVar(env, 'JOBTRAIL_IDEMPOTENCY_CLAIM_TIMEOUT_MS', 60_000, 1_000, 86_400_000),
      sweepMs: intVar(env, 'JOBTRAIL_IDEMPOTENCY_SWEEP_MS', 600_000, 1_000, 86_400_000),
    },
    retention: {
      successDays: intVar(env, 'JOBTRAIL_RETENTION_SUCCESS_DAYS', 90, 1, 36_500),
      failedDays: intVar(env, 'JOBTRAIL_RETENTION_FAILED_DAYS', 365, 1, 36_500),
      cancelledDays: intVar(env, 'JOBTRAIL_RETENTION_CANCELLED_DAYS', 90, 1, 36_500),
      sweepMs: intVar(env, 'JOBTRAIL_RETENTION_SWEEP_MS', 3_600_000, 1_000, 86_400_000),
    },
    webhooks: {
      pollMs: intVar(env, 'JOBTRAIL_WEBHOOK_POLL_MS', 1_000, 10, 600_000),
      timeoutMs: intVar(env, 'JOBTRAIL_WEBHOOK_TIMEOUT_MS', 10_000, 50, 120_000),
      concurrency: intVar(env, 'JOBTRAIL_WEBHOOK_CONCURRENCY', 32, 1, 1_024),
      perEndpointConcurrency: intVar(env, 'JOBTRAIL_WEBHOOK_ENDPOINT_CONCURRENCY', 4, 1, 256),
      // Per mille of the retry schedule (1000 = 5 s, 5 min, ... as documented); tests shrink it.
      backoffScale: intVar(env, 'JOBTRAIL_WEBHOOK_BACKOFF_PERMILLE', 1_000, 0, 1_000) / 1_000,
      allowPrivate: env.JOBTRAIL_WEBHOOK_ALLOW_PRIVATE === '1',
      disableAfterFailingMs: WEBHOOK_DISABLE_AFTER_FAILING_MS,
    },
    worker: {
      concurrency: intVar(env, 'JOBTRAIL_WORKER_CONCURRENCY', 4, 1, 256),
      leaseMs: intVar(env, 'JOBTRAIL_LEASE_MS', 30_000, 200, 3_600_000),
      jobDeadlineMs: intVar(env, 'JOBTRAIL_JOB_DEADLINE_MS', 300_000, 100, 86_400_000),
      pollMs: intVar(env, 'JOBTRAIL_POLL_MS', 1_000, 10, 600_000),
      shutdownGraceMs: intVar(env, 'JOBTRAIL_SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
      maxAttempts: intVar(env, 'JOBTRAIL_MAX_ATTEMPTS', 3, 1, 100),
      backoffBaseMs: intVar(env, 'JOBTRAIL_BACKOFF_BASE_MS', 2_000, 1, 3_600_000),
      progressFlushMs: intVar(env, 'JOBTRAIL_PROGRESS_FLUSH_MS', 250, 0, 60_000),
      sandboxSlowStepMs: intVar(env, 'JOBTRAIL_SANDBOX_SLOW_STEP_MS', 2_000, 0, 600_000),
      mfaTimeoutMs: intVar(env, 'JOBTRAIL_MFA_TIMEOUT_MS', DEFAULT_MFA_TIMEOUT_MS, 100, 86_400_000),
      schedulePollMs: intVar(env, 'JOBTRAIL_SCHEDULE_POLL_MS', 10_000, 50, 3_600_000),
      circuitCooldownMs: intVar(env, 'JOBTRAIL_CIRCUIT_COOLDOWN_MS', DEFAULT_CIRCUIT_COOLDOWN_MS, 100, 86_400_000),
    },
  };
}
