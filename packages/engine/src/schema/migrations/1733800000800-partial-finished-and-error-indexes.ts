import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every change of a job's status is a non-HOT update: PostgreSQL adds an entry for the new row
 * version to every index of `jobs` whose predicate the row satisfies. The retention index
 * (`status, finished_at`) and the error-code index only serve finished and failed jobs, yet held an
 * entry for every pending and processing row version too: two index inserts of the nine a claim
 * makes, and of the six a success makes. Partial, they receive only the rows their queries can
 * match (`finished_at < $n` and `error_code = $n` imply the predicates, on both databases).
 */
export class PartialFinishedAndErrorIndexes1733800000800 implements MigrationInterface {
  name = 'PartialFinishedAndErrorIndexes1733800000800';

  async up(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX "ix_jobs_finished"');
    await q.query(`CREATE INDEX "ix_jobs_finished" ON "jobs" ("status", "finished_at") WHERE finished_at IS NOT NULL`);
    await q.query('DROP INDEX "ix_jobs_tenant_error_code"');
    await q.query(
      `CREATE INDEX "ix_jobs_tenant_error_code" ON "jobs" ("tenant_id", "error_code", "created_at", "id") WHERE error_code IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX "ix_jobs_tenant_error_code"');
    await q.query('CREATE INDEX "ix_jobs_tenant_error_code" ON "jobs" ("tenant_id", "error_code", "created_at", "id")');
    await q.query('DROP INDEX "ix_jobs_finished"');
    await q.query('CREATE INDEX "ix_jobs_finished" ON "jobs" ("status", "finished_at")');
  }
}
