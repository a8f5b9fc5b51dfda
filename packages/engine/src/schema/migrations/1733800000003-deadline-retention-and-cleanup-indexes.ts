import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes for the scans that had none: the sweeper's deadline check (jobs processing past their
 * deadline), retention (finished jobs by status and finish time) and the retention's release of a
 * connection's latest job.
 */
export class DeadlineRetentionAndCleanupIndexes1733800000003 implements MigrationInterface {
  name = 'DeadlineRetentionAndCleanupIndexes1733800000003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX "ix_jobs_deadline" ON "jobs" ("deadline_at") WHERE status = 'processing'`);
    await q.query(`CREATE INDEX "ix_jobs_finished" ON "jobs" ("status", "finished_at")`);
    await q.query(`CREATE INDEX "ix_connections_latest_job" ON "connections" ("latest_job_id")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX "ix_connections_latest_job"');
    await q.query('DROP INDEX "ix_jobs_finished"');
    await q.query('DROP INDEX "ix_jobs_deadline"');
  }
}
