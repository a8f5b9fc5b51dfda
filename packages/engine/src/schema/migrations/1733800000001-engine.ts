import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The execution engine's constraints: one processing job per connection, and lease scans. */
export class Engine1733800000001 implements MigrationInterface {
  name = 'Engine1733800000001';

  async up(q: QueryRunner): Promise<void> {
    // Two workers (in any processes) can never run two jobs of one connection at once.
    await q.query(`CREATE UNIQUE INDEX ux_jobs_one_processing ON jobs (connection_id) WHERE status = 'processing'`);
    // The sweeper looks for processing jobs whose lease ran out.
    await q.query(`CREATE INDEX ix_jobs_lease ON jobs (lease_expires_at) WHERE status = 'processing'`);
    // Claims look for the oldest pending job of each connection.
    await q.query(
      `CREATE INDEX ix_jobs_connection_pending ON jobs (connection_id, created_at, id) WHERE status = 'pending'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX ix_jobs_connection_pending');
    await q.query('DROP INDEX ix_jobs_lease');
    await q.query('DROP INDEX ux_jobs_one_processing');
  }
}
