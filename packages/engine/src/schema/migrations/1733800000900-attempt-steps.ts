import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A claim resets the job's `steps`, so an attempt's steps were lost once the next one started. The
 * transition that ends an attempt (out of `processing`) now records them; rows written before have
 * none (null), and their attempts show no steps.
 */
export class AttemptSteps1733800000900 implements MigrationInterface {
  name = 'AttemptSteps1733800000900';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE "job_events" ADD "steps" text');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE "job_events" DROP COLUMN "steps"');
  }
}
