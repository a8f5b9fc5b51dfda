import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Scheduled refreshes: a connection's next due slot. Workers claim due slots through the index
 * (conditional update / `FOR UPDATE SKIP LOCKED`), so a slot yields exactly one refresh whatever
 * the number of workers. Existing schedules get their first slot one period from now.
 */
export class RefreshSchedules1733800000401 implements MigrationInterface {
  name = 'RefreshSchedules1733800000401';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE connections ADD COLUMN next_refresh_at BIGINT NULL');
    const now = Date.now();
    await q.query(
      `UPDATE connections SET next_refresh_at = ${now} + refresh_every_hours * 3600000 WHERE refresh_every_hours IS NOT NULL`,
    );
    await q.query('CREATE INDEX "ix_connections_next_refresh" ON "connections" ("next_refresh_at")');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX "ix_connections_next_refresh"');
    await q.query('ALTER TABLE connections DROP COLUMN next_refresh_at');
  }
}
