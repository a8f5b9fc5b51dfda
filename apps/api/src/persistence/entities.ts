import { DefaultNamingStrategy, EntitySchema, type EntitySchemaRelationOptions, type Table } from 'typeorm';
import { API_KEY_ROLES, JOB_STATUSES, WEBHOOK_DELIVERY_STATUSES } from '@jobtrail/domain';
import type {
  ConnectionRow,
  JobEventRow,
  JobRow,
  WebhookDeliveryAttemptRow,
  WebhookDeliveryRow,
  WebhookRow,
} from '@jobtrail/engine';
import type { ApiKeyRow, IdempotencyKeyRow, TenantRow } from './rows.js';

/**
 * The TypeORM entities of every table, as `EntitySchema`s over the engine's row types: the domain's
 * Job stays free of decorators, and one mapper (the engine's `rowToJob`) turns a row into a Job.
 * Property names are the column names, so a row read by the engine's store and an entity read by a
 * repository are the same shape. Times are epoch milliseconds (BIGINT). These must match what the
 * migrations build: a test compares them on both databases (`schema-drift.test.ts`).
 */

/**
 * Constraint names as PostgreSQL gives them to the migrations' inline `REFERENCES` and `UNIQUE`
 * (`<table>_<column>_fkey`, `<table>_<column>_key`), so TypeORM's names and the database's agree;
 * SQLite stores no names and TypeORM derives them with this same strategy.
 */
export class SchemaNamingStrategy extends DefaultNamingStrategy {
  override foreignKeyName(table: Table | string, columns: string[]): string {
    return `${typeof table === 'string' ? table : table.name}_${columns.join('_')}_fkey`;
  }
  override uniqueConstraintName(table: Table | string, columns: string[]): string {
    return `${typeof table === 'string' ? table : table.name}_${columns.join('_')}_key`;
  }
}

/** A foreign key of `column` to the parent table's id, deleted with its parent. */
function parent(target: string, column: string): EntitySchemaRelationOptions {
  return { type: 'many-to-one', target, joinColumn: { name: column }, onDelete: 'CASCADE' };
}

/** `column IN ('a', 'b', ...)`: the values a column may hold, from the domain's own lists. */
function oneOf(column: string, values: readonly string[]): string {
  return `${column} IN (${values.map((v) => `'${v}'`).join(', ')})`;
}

/** A nullable column that holds one of `values` when set. */
function nullOrOneOf(column: string, values: readonly string[]): string {
  return `${column} IS NULL OR ${oneOf(column, values)}`;
}

const id = { type: 'varchar', length: 36, primary: true } as const;
const ref = { type: 'varchar', length: 36 } as const;
const millis = { type: 'bigint' } as const;
const nullableMillis = { type: 'bigint', nullable: true } as const;

export const TenantEntity = new EntitySchema<TenantRow>({
  name: 'tenants',
  columns: {
    id,
    name: { type: 'varchar', length: 100, unique: true },
    created_at: millis,
  },
});

export const ApiKeyEntity = new EntitySchema<ApiKeyRow & { tenant?: unknown }>({
  name: 'api_keys',
  relations: {
    tenant: parent('tenants', 'tenant_id'),
  },
  columns: {
    id,
    tenant_id: ref,
    name: { type: 'varchar', length: 100 },
    role: { type: 'varchar', length: 16 },
    key_hash: { type: 'varchar', length: 64, unique: true },
    prefix: { type: 'varchar', length: 16 },
    created_at: millis,
    revoked_at: nullableMillis,
    last_used_at: nullableMillis,
    created_by_key_id: { ...ref, nullable: true },
  },
  indices: [{ name: 'ix_api_keys_tenant', columns: ['tenant_id'] }],
  checks: [{ name: 'ck_api_keys_role', expression: oneOf('role', API_KEY_ROLES) }],
});

export const ConnectionEntity = new EntitySchema<ConnectionRow & { tenant?: unknown }>({
  name: 'connections',
  relations: {
    tenant: parent('tenants', 'tenant_id'),
  },
  columns: {
    id,
    tenant_id: ref,
    institution_id: { type: 'varchar', length: 64 },
    login_id: { type: 'varchar', length: 128 },
    credentials_enc: { type: 'text' },
    user_ref: { type: 'varchar', length: 128, nullable: true },
    created_at: millis,
    latest_job_id: { ...ref, nullable: true },
    status: { type: 'varchar', length: 16, default: 'pending' },
    credentials_updated_at: nullableMillis,
    login_hash: { type: 'varchar', length: 64, nullable: true },
    refresh_every_hours: { type: 'integer', nullable: true },
    last_refresh_job_id: { ...ref, nullable: true },
    next_refresh_at: nullableMillis,
  },
  indices: [
    { name: 'ix_connections_tenant_created', columns: ['tenant_id', 'created_at', 'id'] },
    { name: 'ix_connections_next_refresh', columns: ['next_refresh_at'] },
    { name: 'ix_connections_latest_job', columns: ['latest_job_id'] },
    { name: 'ix_connections_tenant_status', columns: ['tenant_id', 'status', 'created_at', 'id'] },
    { name: 'ix_connections_tenant_institution', columns: ['tenant_id', 'institution_id', 'created_at', 'id'] },
    { name: 'ix_connections_tenant_user_ref', columns: ['tenant_id', 'user_ref'] },
    { name: 'ix_connections_tenant_login_hash', columns: ['tenant_id', 'login_hash'] },
  ],
});

const jobEntity = (kind: 'sqlite' | 'postgres') =>
  new EntitySchema<JobRow & { connection?: unknown }>({
    name: 'jobs',
    relations: {
      connection: parent('connections', 'connection_id'),
    },
    columns: {
      id,
      tenant_id: ref,
      connection_id: ref,
      action: { type: 'varchar', length: 32 },
      status: { type: 'varchar', length: 16 },
      created_at: millis,
      updated_at: millis,
      started_at: nullableMillis,
      finished_at: nullableMillis,
      attempt: { type: 'integer' },
      max_attempts: { type: 'integer' },
      run_at: millis,
      lease_owner: { type: 'varchar', length: 100, nullable: true },
      lease_expires_at: nullableMillis,
      deadline_at: nullableMillis,
      cancel_requested_at: nullableMillis,
      steps: { type: 'text' },
      error: { type: 'text', nullable: true },
      result: { type: 'text', nullable: true },
      retry_of: { ...ref, nullable: true },
      requested_by_id: { ...ref, nullable: true },
      requested_by_name: { type: 'varchar', length: 100, nullable: true },
      error_code: { type: 'varchar', length: 100, nullable: true },
      version: { type: 'integer', default: 1 },
      challenge: { type: 'text', nullable: true },
      challenge_expires_at: nullableMillis,
    },
    indices: [
      { name: 'ix_jobs_history', columns: ['connection_id', 'created_at', 'id'] },
      { name: 'ix_jobs_tenant_created', columns: ['tenant_id', 'created_at', 'id'] },
      {
        name: 'ux_jobs_active_action',
        columns: ['connection_id', 'action'],
        unique: true,
        where: "status IN ('pending', 'processing')",
      },
      { name: 'ix_jobs_due', columns: ['run_at'], where: "status = 'pending'" },
      { name: 'ux_jobs_one_processing', columns: ['connection_id'], unique: true, where: "status = 'processing'" },
      { name: 'ix_jobs_lease', columns: ['lease_expires_at'], where: "status = 'processing'" },
      {
        name: 'ix_jobs_connection_pending',
        columns: ['connection_id', 'created_at', 'id'],
        where: "status = 'pending'",
      },
      { name: 'ix_jobs_deadline', columns: ['deadline_at'], where: "status = 'processing'" },
      { name: 'ix_jobs_finished', columns: ['status', 'finished_at'], where: 'finished_at IS NOT NULL' },
      { name: 'ix_jobs_tenant_status', columns: ['tenant_id', 'status', 'created_at', 'id'] },
      {
        name: 'ix_jobs_tenant_error_code',
        columns: ['tenant_id', 'error_code', 'created_at', 'id'],
        where: 'error_code IS NOT NULL',
      },
      { name: 'ix_jobs_challenge_expiry', columns: ['challenge_expires_at'], where: "status = 'processing'" },
      // PostgreSQL's retention finds the oldest finished job it keeps, to know which event partitions it may drop.
      ...(kind === 'postgres'
        ? [{ name: 'ix_jobs_finished_created', columns: ['created_at'], where: 'finished_at IS NOT NULL' }]
        : []),
    ],
    checks: [{ name: 'ck_jobs_status', expression: oneOf('status', JOB_STATUSES) }],
  });

export const JobEntity = jobEntity('postgres');

/** job_events.id: BIGSERIAL on PostgreSQL; SQLite autoincrements only an INTEGER key (64-bit all the same). */
const eventId = (kind: 'sqlite' | 'postgres') =>
  ({ type: kind === 'postgres' ? 'bigint' : 'integer', primary: true, generated: 'increment' }) as const;

const jobEventEntity = (kind: 'sqlite' | 'postgres') =>
  new EntitySchema<JobEventRow & { job?: unknown }>({
    name: 'job_events',
    relations: {
      job: parent('jobs', 'job_id'),
    },
    columns: {
      id: eventId(kind),
      job_id: ref,
      tenant_id: ref,
      connection_id: ref,
      kind: { type: 'varchar', length: 16 },
      // PostgreSQL partitions job_events by `at`, and a partitioned table's key must include it.
      at: kind === 'postgres' ? { ...millis, primary: true } : millis,
      from_status: { type: 'varchar', length: 16, nullable: true },
      to_status: { type: 'varchar', length: 16, nullable: true },
      reason: { type: 'varchar', length: 100, nullable: true },
      actor: { type: 'varchar', length: 100, nullable: true },
      attempt: { type: 'integer', nullable: true },
      level: { type: 'varchar', length: 8, nullable: true },
      step: { type: 'varchar', length: 64, nullable: true },
      message: { type: 'text', nullable: true },
      steps: { type: 'text', nullable: true },
      lines: { type: 'text', nullable: true },
    },
    indices: [
      { name: 'ix_job_events_job', columns: ['job_id', 'id'] },
      { name: 'ix_job_events_tenant', columns: ['tenant_id', 'id'] },
    ],
    checks: [
      { name: 'ck_job_events_kind', expression: oneOf('kind', ['created', 'transition', 'log']) },
      { name: 'ck_job_events_from_status', expression: nullOrOneOf('from_status', JOB_STATUSES) },
      { name: 'ck_job_events_to_status', expression: nullOrOneOf('to_status', JOB_STATUSES) },
    ],
  });

/** An account fetched from an institution (written by refresh, deleted by purge). */
export interface AccountRow {
  id: string;
  connection_id: string;
  external_id: string;
  name: string;
  currency: string;
  balance_cents: number | string;
  updated_at: number | string;
}

/** A transaction fetched from an institution. */
export interface TransactionRow {
  id: string;
  connection_id: string;
  account_id: string;
  external_id: string;
  amount_cents: number | string;
  description: string;
  booked_at: number | string;
}

export const AccountEntity = new EntitySchema<AccountRow & { connection?: unknown }>({
  name: 'accounts',
  relations: {
    connection: parent('connections', 'connection_id'),
  },
  columns: {
    id,
    connection_id: ref,
    external_id: { type: 'varchar', length: 100 },
    name: { type: 'varchar', length: 200 },
    currency: { type: 'varchar', length: 3 },
    balance_cents: { type: 'bigint' },
    updated_at: millis,
  },
  indices: [{ name: 'ux_accounts_external', columns: ['connection_id', 'external_id'], unique: true }],
});

export const TransactionEntity = new EntitySchema<TransactionRow & { connection?: unknown; account?: unknown }>({
  name: 'transactions',
  relations: {
    connection: parent('connections', 'connection_id'),
    account: parent('accounts', 'account_id'),
  },
  columns: {
    id,
    connection_id: ref,
    account_id: ref,
    external_id: { type: 'varchar', length: 100 },
    amount_cents: { type: 'bigint' },
    description: { type: 'varchar', length: 300 },
    booked_at: millis,
  },
  indices: [
    { name: 'ux_transactions_external', columns: ['connection_id', 'external_id'], unique: true },
    { name: 'ix_transactions_account', columns: ['account_id', 'booked_at'] },
  ],
});

export const IdempotencyKeyEntity = new EntitySchema<IdempotencyKeyRow>({
  name: 'idempotency_keys',
  columns: {
    tenant_id: { type: 'varchar', length: 36, primary: true },
    idem_key: { type: 'varchar', length: 255, primary: true },
    fingerprint: { type: 'varchar', length: 64 },
    status_code: { type: 'integer', nullable: true },
    response_body: { type: 'text', nullable: true },
    created_at: millis,
  },
  indices: [{ name: 'ix_idempotency_created', columns: ['created_at'] }],
});

export const JobEventEntity = jobEventEntity('postgres');

export const WebhookEntity = new EntitySchema<WebhookRow & { tenant?: unknown }>({
  name: 'webhooks',
  relations: {
    tenant: parent('tenants', 'tenant_id'),
  },
  columns: {
    id,
    tenant_id: ref,
    url: { type: 'varchar', length: 2048 },
    events: { type: 'text' },
    description: { type: 'varchar', length: 500, nullable: true },
    enabled: { type: 'boolean' },
    secret_enc: { type: 'text' },
    previous_secret_enc: { type: 'text', nullable: true },
    previous_secret_expires_at: nullableMillis,
    disabled_reason: { type: 'varchar', length: 300, nullable: true },
    created_at: millis,
    updated_at: millis,
    failing_since: nullableMillis,
    last_success_at: nullableMillis,
    last_failure_at: nullableMillis,
  },
  indices: [{ name: 'ix_webhooks_tenant', columns: ['tenant_id', 'created_at', 'id'] }],
});

export const WebhookDeliveryEntity = new EntitySchema<WebhookDeliveryRow & { webhook?: unknown }>({
  name: 'webhook_deliveries',
  relations: {
    webhook: parent('webhooks', 'webhook_id'),
  },
  columns: {
    id,
    tenant_id: ref,
    webhook_id: ref,
    event_id: { type: 'varchar', length: 64 },
    event_type: { type: 'varchar', length: 32 },
    job_id: { ...ref, nullable: true },
    payload: { type: 'text' },
    status: { type: 'varchar', length: 16 },
    attempts: { type: 'integer' },
    next_attempt_at: nullableMillis,
    last_status_code: { type: 'integer', nullable: true },
    last_error: { type: 'varchar', length: 1000, nullable: true },
    created_at: millis,
    delivered_at: nullableMillis,
    claimed_until: nullableMillis,
  },
  indices: [
    {
      name: 'ix_webhook_deliveries_in_flight',
      columns: ['webhook_id', 'claimed_until'],
      where: 'claimed_until IS NOT NULL',
    },
    { name: 'ix_webhook_deliveries_due', columns: ['next_attempt_at'], where: "status = 'pending'" },
    { name: 'ix_webhook_deliveries_webhook', columns: ['webhook_id', 'created_at', 'id'] },
    { name: 'ix_webhook_deliveries_job', columns: ['job_id', 'created_at', 'id'] },
  ],
  checks: [{ name: 'ck_webhook_deliveries_status', expression: oneOf('status', WEBHOOK_DELIVERY_STATUSES) }],
});

export const WebhookDeliveryAttemptEntity = new EntitySchema<WebhookDeliveryAttemptRow & { delivery?: unknown }>({
  name: 'webhook_delivery_attempts',
  relations: {
    delivery: parent('webhook_deliveries', 'delivery_id'),
  },
  columns: {
    id,
    delivery_id: ref,
    attempt: { type: 'integer' },
    at: millis,
    status_code: { type: 'integer', nullable: true },
    duration_ms: { type: 'integer' },
    error: { type: 'varchar', length: 1000, nullable: true },
    response_body: { type: 'text', nullable: true },
  },
  indices: [{ name: 'ix_webhook_delivery_attempts_delivery', columns: ['delivery_id', 'attempt'] }],
});

/** Each institution's circuit breaker (engine-kept; see the domain's `institution.ts`). */
export const InstitutionCircuitEntity = new EntitySchema<{
  institution_id: string;
  state: string;
  consecutive_failures: number;
  opened_at: number | null;
  probe_started_at: number | null;
  updated_at: number;
}>({
  name: 'institution_circuits',
  columns: {
    institution_id: { type: 'varchar', length: 64, primary: true },
    state: { type: 'varchar', length: 16 },
    consecutive_failures: { type: 'integer' },
    opened_at: nullableMillis,
    probe_started_at: nullableMillis,
    updated_at: millis,
  },
});

/** Every entity, for the DataSource of a database of this kind. */
export function entitiesFor(kind: 'sqlite' | 'postgres'): EntitySchema[] {
  return [
    TenantEntity,
    ApiKeyEntity,
    ConnectionEntity,
    kind === 'postgres' ? JobEntity : jobEntity('sqlite'),
    kind === 'postgres' ? JobEventEntity : jobEventEntity('sqlite'),
    AccountEntity,
    TransactionEntity,
    IdempotencyKeyEntity,
    WebhookEntity,
    WebhookDeliveryEntity,
    WebhookDeliveryAttemptEntity,
    InstitutionCircuitEntity,
  ] as EntitySchema[];
}
