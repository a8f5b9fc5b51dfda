import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Each institution's circuit breaker (across tenants): consecutive outage failures, and when it
 * opened or let its probe through. The rules are the domain's (`institution.ts`); the store's
 * commit keeps the row with the attempt that ended, the claim reads it.
 */
export class InstitutionCircuits1733800000402 implements MigrationInterface {
  name = 'InstitutionCircuits1733800000402';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      'CREATE TABLE "institution_circuits" ("institution_id" varchar(64) PRIMARY KEY NOT NULL, "state" varchar(16) NOT NULL, "consecutive_failures" integer NOT NULL, "opened_at" bigint, "probe_started_at" bigint, "updated_at" bigint NOT NULL)',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE institution_circuits');
  }
}
