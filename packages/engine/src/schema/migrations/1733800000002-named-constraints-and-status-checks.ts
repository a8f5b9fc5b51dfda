import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Names every constraint the way TypeORM's entities do (`<table>_<column>_fkey`, `_key`, `ck_...`),
 * and adds CHECK constraints on the status columns (jobs, job events) and key roles, so a status the
 * domain does not know can never be stored.
 *
 * PostgreSQL named the first migration's inline constraints already: it only gains the checks.
 * SQLite cannot add a constraint to a table, nor does it keep the names of inline ones, so each
 * table is rebuilt (create, copy, drop, rename; TypeORM turns foreign keys off while migrations
 * run, so dropping a parent cascades nothing), with the statements TypeORM's schema builder
 * generates from the entities.
 */
export class NamedConstraintsAndStatusChecks1733800000002 implements MigrationInterface {
  name = 'NamedConstraintsAndStatusChecks1733800000002';

  async up(q: QueryRunner): Promise<void> {
    if (q.connection.driver.options.type === 'postgres') {
      for (const sql of POSTGRES) await q.query(sql);
      return;
    }
    for (const sql of SQLITE) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    if (q.connection.driver.options.type !== 'postgres') return;
    await q.query('ALTER TABLE job_events DROP CONSTRAINT ck_job_events_to_status');
    await q.query('ALTER TABLE job_events DROP CONSTRAINT ck_job_events_from_status');
    await q.query('ALTER TABLE job_events DROP CONSTRAINT ck_job_events_kind');
    await q.query('ALTER TABLE jobs DROP CONSTRAINT ck_jobs_status');
    await q.query('ALTER TABLE api_keys DROP CONSTRAINT ck_api_keys_role');
  }
}

const STATUSES = "('pending', 'processing', 'success', 'failed', 'cancelled')";

const POSTGRES = [
  "ALTER TABLE api_keys ADD CONSTRAINT ck_api_keys_role CHECK (role IN ('viewer', 'operator', 'admin'))",
  `ALTER TABLE jobs ADD CONSTRAINT ck_jobs_status CHECK (status IN ${STATUSES})`,
  "ALTER TABLE job_events ADD CONSTRAINT ck_job_events_kind CHECK (kind IN ('created', 'transition', 'log'))",
  `ALTER TABLE job_events ADD CONSTRAINT ck_job_events_from_status CHECK (from_status IS NULL OR from_status IN ${STATUSES})`,
  `ALTER TABLE job_events ADD CONSTRAINT ck_job_events_to_status CHECK (to_status IS NULL OR to_status IN ${STATUSES})`,
];

const SQLITE = [
  'CREATE TABLE "temporary_tenants" ("id" varchar(36) PRIMARY KEY NOT NULL, "name" varchar(100) NOT NULL, "created_at" bigint NOT NULL, CONSTRAINT "tenants_name_key" UNIQUE ("name"))',
  'INSERT INTO "temporary_tenants"("id", "name", "created_at") SELECT "id", "name", "created_at" FROM "tenants"',
  'DROP TABLE "tenants"',
  'ALTER TABLE "temporary_tenants" RENAME TO "tenants"',
  'DROP INDEX "ix_api_keys_tenant"',
  'CREATE TABLE "temporary_api_keys" ("id" varchar(36) PRIMARY KEY NOT NULL, "tenant_id" varchar(36) NOT NULL, "name" varchar(100) NOT NULL, "role" varchar(16) NOT NULL, "key_hash" varchar(64) NOT NULL, "prefix" varchar(16) NOT NULL, "created_at" bigint NOT NULL, "revoked_at" bigint, CONSTRAINT "api_keys_key_hash_key" UNIQUE ("key_hash"), CONSTRAINT "ck_api_keys_role" CHECK (role IN (\'viewer\', \'operator\', \'admin\')), CONSTRAINT "api_keys_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)',
  'INSERT INTO "temporary_api_keys"("id", "tenant_id", "name", "role", "key_hash", "prefix", "created_at", "revoked_at") SELECT "id", "tenant_id", "name", "role", "key_hash", "prefix", "created_at", "revoked_at" FROM "api_keys"',
  'DROP TABLE "api_keys"',
  'ALTER TABLE "temporary_api_keys" RENAME TO "api_keys"',
  'CREATE INDEX "ix_api_keys_tenant" ON "api_keys" ("tenant_id")',
  'DROP INDEX "ix_connections_tenant_created"',
  'CREATE TABLE "temporary_connections" ("id" varchar(36) PRIMARY KEY NOT NULL, "tenant_id" varchar(36) NOT NULL, "institution_id" varchar(64) NOT NULL, "login_id" varchar(128) NOT NULL, "credentials_enc" text NOT NULL, "user_ref" varchar(128), "created_at" bigint NOT NULL, "latest_job_id" varchar(36), CONSTRAINT "connections_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)',
  'INSERT INTO "temporary_connections"("id", "tenant_id", "institution_id", "login_id", "credentials_enc", "user_ref", "created_at", "latest_job_id") SELECT "id", "tenant_id", "institution_id", "login_id", "credentials_enc", "user_ref", "created_at", "latest_job_id" FROM "connections"',
  'DROP TABLE "connections"',
  'ALTER TABLE "temporary_connections" RENAME TO "connections"',
  'CREATE INDEX "ix_connections_tenant_created" ON "connections" ("tenant_id", "created_at", "id")',
  'DROP INDEX "ix_jobs_history"',
  'DROP INDEX "ix_jobs_tenant_created"',
  'DROP INDEX "ux_jobs_active_action"',
  'DROP INDEX "ix_jobs_due"',
  'DROP INDEX "ux_jobs_one_processing"',
  'DROP INDEX "ix_jobs_lease"',
  'DROP INDEX "ix_jobs_connection_pending"',
  'CREATE TABLE "temporary_jobs" ("id" varchar(36) PRIMARY KEY NOT NULL, "tenant_id" varchar(36) NOT NULL, "connection_id" varchar(36) NOT NULL, "action" varchar(32) NOT NULL, "status" varchar(16) NOT NULL, "created_at" bigint NOT NULL, "updated_at" bigint NOT NULL, "started_at" bigint, "finished_at" bigint, "attempt" integer NOT NULL, "max_attempts" integer NOT NULL, "run_at" bigint NOT NULL, "lease_owner" varchar(100), "lease_expires_at" bigint, "deadline_at" bigint, "cancel_requested_at" bigint, "steps" text NOT NULL, "error" text, "result" text, "retry_of" varchar(36), "requested_by_id" varchar(36), "requested_by_name" varchar(100), CONSTRAINT "ck_jobs_status" CHECK (status IN (\'pending\', \'processing\', \'success\', \'failed\', \'cancelled\')), CONSTRAINT "jobs_connection_id_fkey" FOREIGN KEY ("connection_id") REFERENCES "connections" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)',
  'INSERT INTO "temporary_jobs"("id", "tenant_id", "connection_id", "action", "status", "created_at", "updated_at", "started_at", "finished_at", "attempt", "max_attempts", "run_at", "lease_owner", "lease_expires_at", "deadline_at", "cancel_requested_at", "steps", "error", "result", "retry_of", "requested_by_id", "requested_by_name") SELECT "id", "tenant_id", "connection_id", "action", "status", "created_at", "updated_at", "started_at", "finished_at", "attempt", "max_attempts", "run_at", "lease_owner", "lease_expires_at", "deadline_at", "cancel_requested_at", "steps", "error", "result", "retry_of", "requested_by_id", "requested_by_name" FROM "jobs"',
  'DROP TABLE "jobs"',
  'ALTER TABLE "temporary_jobs" RENAME TO "jobs"',
  'CREATE INDEX "ix_jobs_history" ON "jobs" ("connection_id", "created_at", "id")',
  'CREATE INDEX "ix_jobs_tenant_created" ON "jobs" ("tenant_id", "created_at", "id")',
  'CREATE UNIQUE INDEX "ux_jobs_active_action" ON "jobs" ("connection_id", "action") WHERE status IN (\'pending\', \'processing\')',
  'CREATE INDEX "ix_jobs_due" ON "jobs" ("run_at") WHERE status = \'pending\'',
  'CREATE UNIQUE INDEX "ux_jobs_one_processing" ON "jobs" ("connection_id") WHERE status = \'processing\'',
  'CREATE INDEX "ix_jobs_lease" ON "jobs" ("lease_expires_at") WHERE status = \'processing\'',
  'CREATE INDEX "ix_jobs_connection_pending" ON "jobs" ("connection_id", "created_at", "id") WHERE status = \'pending\'',
  'DROP INDEX "ix_job_events_job"',
  'DROP INDEX "ix_job_events_tenant"',
  'CREATE TABLE "temporary_job_events" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "job_id" varchar(36) NOT NULL, "tenant_id" varchar(36) NOT NULL, "connection_id" varchar(36) NOT NULL, "kind" varchar(16) NOT NULL, "at" bigint NOT NULL, "from_status" varchar(16), "to_status" varchar(16), "reason" varchar(100), "actor" varchar(100), "attempt" integer, "level" varchar(8), "step" varchar(64), "message" text, CONSTRAINT "ck_job_events_kind" CHECK (kind IN (\'created\', \'transition\', \'log\')), CONSTRAINT "ck_job_events_from_status" CHECK (from_status IS NULL OR from_status IN (\'pending\', \'processing\', \'success\', \'failed\', \'cancelled\')), CONSTRAINT "ck_job_events_to_status" CHECK (to_status IS NULL OR to_status IN (\'pending\', \'processing\', \'success\', \'failed\', \'cancelled\')), CONSTRAINT "job_events_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)',
  'INSERT INTO "temporary_job_events"("id", "job_id", "tenant_id", "connection_id", "kind", "at", "from_status", "to_status", "reason", "actor", "attempt", "level", "step", "message") SELECT "id", "job_id", "tenant_id", "connection_id", "kind", "at", "from_status", "to_status", "reason", "actor", "attempt", "level", "step", "message" FROM "job_events"',
  'DROP TABLE "job_events"',
  'ALTER TABLE "temporary_job_events" RENAME TO "job_events"',
  'CREATE INDEX "ix_job_events_job" ON "job_events" ("job_id", "id")',
  'CREATE INDEX "ix_job_events_tenant" ON "job_events" ("tenant_id", "id")',
  'DROP INDEX "ux_accounts_external"',
  'CREATE TABLE "temporary_accounts" ("id" varchar(36) PRIMARY KEY NOT NULL, "connection_id" varchar(36) NOT NULL, "external_id" varchar(100) NOT NULL, "name" varchar(200) NOT NULL, "currency" varchar(3) NOT NULL, "balance_cents" bigint NOT NULL, "updated_at" bigint NOT NULL, CONSTRAINT "accounts_connection_id_fkey" FOREIGN KEY ("connection_id") REFERENCES "connections" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)',
  'INSERT INTO "temporary_accounts"("id", "connection_id", "external_id", "name", "currency", "balance_cents", "updated_at") SELECT "id", "connection_id", "external_id", "name", "currency", "balance_cents", "updated_at" FROM "accounts"',
  'DROP TABLE "accounts"',
  'ALTER TABLE "temporary_accounts" RENAME TO "accounts"',
  'CREATE UNIQUE INDEX "ux_accounts_external" ON "accounts" ("connection_id", "external_id")',
  'DROP INDEX "ux_transactions_external"',
  'DROP INDEX "ix_transactions_account"',
  'CREATE TABLE "temporary_transactions" ("id" varchar(36) PRIMARY KEY NOT NULL, "connection_id" varchar(36) NOT NULL, "account_id" varchar(36) NOT NULL, "external_id" varchar(100) NOT NULL, "amount_cents" bigint NOT NULL, "description" varchar(300) NOT NULL, "booked_at" bigint NOT NULL, CONSTRAINT "transactions_connection_id_fkey" FOREIGN KEY ("connection_id") REFERENCES "connections" ("id") ON DELETE CASCADE ON UPDATE NO ACTION, CONSTRAINT "transactions_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)',
  'INSERT INTO "temporary_transactions"("id", "connection_id", "account_id", "external_id", "amount_cents", "description", "booked_at") SELECT "id", "connection_id", "account_id", "external_id", "amount_cents", "description", "booked_at" FROM "transactions"',
  'DROP TABLE "transactions"',
  'ALTER TABLE "temporary_transactions" RENAME TO "transactions"',
  'CREATE UNIQUE INDEX "ux_transactions_external" ON "transactions" ("connection_id", "external_id")',
  'CREATE INDEX "ix_transactions_account" ON "transactions" ("account_id", "booked_at")',
  'DROP INDEX "ix_idempotency_created"',
  'CREATE TABLE "temporary_idempotency_keys" ("tenant_id" varchar(36) NOT NULL, "idem_key" varchar(255) NOT NULL, "fingerprint" varchar(64) NOT NULL, "status_code" integer, "response_body" text, "created_at" bigint NOT NULL, PRIMARY KEY ("tenant_id", "idem_key"))',
  'INSERT INTO "temporary_idempotency_keys"("tenant_id", "idem_key", "fingerprint", "status_code", "response_body", "created_at") SELECT "tenant_id", "idem_key", "fingerprint", "status_code", "response_body", "created_at" FROM "idempotency_keys"',
  'DROP TABLE "idempotency_keys"',
  'ALTER TABLE "temporary_idempotency_keys" RENAME TO "idempotency_keys"',
  'CREATE INDEX "ix_idempotency_created" ON "idempotency_keys" ("created_at")',
];
