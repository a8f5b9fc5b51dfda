import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A delivery's claim as a column of its own, so that the per-endpoint concurrency cap holds across
 * dispatcher processes: a claim counts a subscription's deliveries in flight (claimed, the claim
 * not lapsed) through `ix_webhook_deliveries_in_flight`, under a lock on the subscription's row.
 * The index holds only claimed rows (a handful per endpoint), whatever the size of the outbox.
 */
export class WebhookClaims1733800000500 implements MigrationInterface {
  name = 'WebhookClaims1733800000500';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE "webhook_deliveries" ADD COLUMN "claimed_until" bigint NULL');
    await q.query(
      `CREATE INDEX "ix_webhook_deliveries_in_flight" ON "webhook_deliveries" ("webhook_id", "claimed_until") WHERE claimed_until IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX "ix_webhook_deliveries_in_flight"');
    await q.query('ALTER TABLE "webhook_deliveries" DROP COLUMN "claimed_until"');
  }
}
