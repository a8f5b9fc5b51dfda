import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Webhooks: subscriptions, the delivery outbox (written in the job change's own transaction) and
 * each delivery attempt; and the per-job `version` counter that webhook payloads carry.
 *
 * Constraints are named as TypeORM names them (`<table>_<column>_fkey`, `ck_...`), inline, so the
 * same statements suit SQLite (which keeps no names of constraints added later) and PostgreSQL.
 */
export class Webhooks1733800000200 implements MigrationInterface {
  name = 'Webhooks1733800000200';

  async up(q: QueryRunner): Promise<void> {
    const postgres = q.connection.driver.options.type === 'postgres';
    // Existing jobs start at version 1, as a new job does.
    await q.query(
      postgres
        ? 'ALTER TABLE "jobs" ADD COLUMN "version" integer NOT NULL DEFAULT 1'
        : 'ALTER TABLE "jobs" ADD COLUMN "version" integer NOT NULL DEFAULT (1)',
    );
    await q.query(
      `CREATE TABLE "webhooks" ("id" varchar(36) PRIMARY KEY NOT NULL, "tenant_id" varchar(36) NOT NULL, "url" varchar(2048) NOT NULL, "events" text NOT NULL, "description" varchar(500), "enabled" boolean NOT NULL, "secret_enc" text NOT NULL, "previous_secret_enc" text, "previous_secret_expires_at" bigint, "disabled_reason" varchar(300), "created_at" bigint NOT NULL, "updated_at" bigint NOT NULL, "failing_since" bigint, "last_success_at" bigint, "last_failure_at" bigint, CONSTRAINT "webhooks_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)`,
    );
    // The list's order, and the commit's lookup of a batch's tenants' subscriptions.
    await q.query('CREATE INDEX "ix_webhooks_tenant" ON "webhooks" ("tenant_id", "created_at", "id")');
    await q.query(
      `CREATE TABLE "webhook_deliveries" ("id" varchar(36) PRIMARY KEY NOT NULL, "tenant_id" varchar(36) NOT NULL, "webhook_id" varchar(36) NOT NULL, "event_id" varchar(64) NOT NULL, "event_type" varchar(32) NOT NULL, "job_id" varchar(36), "payload" text NOT NULL, "status" varchar(16) NOT NULL, "attempts" integer NOT NULL, "next_attempt_at" bigint, "last_status_code" integer, "last_error" varchar(1000), "created_at" bigint NOT NULL, "delivered_at" bigint, CONSTRAINT "ck_webhook_deliveries_status" CHECK (status IN ('pending', 'delivered', 'failed')), CONSTRAINT "webhook_deliveries_webhook_id_fkey" FOREIGN KEY ("webhook_id") REFERENCES "webhooks" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)`,
    );
    // The dispatcher's scan: due pending deliveries in time order.
    await q.query(
      `CREATE INDEX "ix_webhook_deliveries_due" ON "webhook_deliveries" ("next_attempt_at") WHERE status = 'pending'`,
    );
    // A subscription's delivery log and a job's deliveries, newest first (keyset).
    await q.query(
      'CREATE INDEX "ix_webhook_deliveries_webhook" ON "webhook_deliveries" ("webhook_id", "created_at", "id")',
    );
    await q.query('CREATE INDEX "ix_webhook_deliveries_job" ON "webhook_deliveries" ("job_id", "created_at", "id")');
    await q.query(
      `CREATE TABLE "webhook_delivery_attempts" ("id" varchar(36) PRIMARY KEY NOT NULL, "delivery_id" varchar(36) NOT NULL, "attempt" integer NOT NULL, "at" bigint NOT NULL, "status_code" integer, "duration_ms" integer NOT NULL, "error" varchar(1000), "response_body" text, CONSTRAINT "webhook_delivery_attempts_delivery_id_fkey" FOREIGN KEY ("delivery_id") REFERENCES "webhook_deliveries" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)`,
    );
    await q.query(
      'CREATE INDEX "ix_webhook_delivery_attempts_delivery" ON "webhook_delivery_attempts" ("delivery_id", "attempt")',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE "webhook_delivery_attempts"');
    await q.query('DROP TABLE "webhook_deliveries"');
    await q.query('DROP TABLE "webhooks"');
    await q.query('ALTER TABLE "jobs" DROP COLUMN "version"');
  }
}
