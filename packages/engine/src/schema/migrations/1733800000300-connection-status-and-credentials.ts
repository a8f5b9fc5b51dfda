import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What closing the failure loop needs from the schema:
 * - connections: a `status` derived from the latest finished refresh (kept by the store's commit,
 *   the refresh's id in `last_refresh_job_id` orders concurrent writers), when the credentials were
 *   last replaced, a keyed hash of the login (find a customer by full login without scanning), and
 *   a refresh schedule;
 * - jobs: the error code as a column, so lists, bulk retry and stats filter and group on an index
 *   rather than parse every error.
 * Plus an index for each list filter.
 */
export class ConnectionStatusAndCredentials1733800000300 implements MigrationInterface {
  name = 'ConnectionStatusAndCredentials1733800000300';

  async up(q: QueryRunner): Promise<void> {
    const postgres = q.connection.driver.options.type === 'postgres';
    await q.query(`ALTER TABLE connections ADD COLUMN status VARCHAR(16) NOT NULL DEFAULT 'pending'`);
    await q.query('ALTER TABLE connections ADD COLUMN credentials_updated_at BIGINT NULL');
    await q.query('ALTER TABLE connections ADD COLUMN login_hash VARCHAR(64) NULL');
    await q.query('ALTER TABLE connections ADD COLUMN refresh_every_hours INTEGER NULL');
    await q.query('ALTER TABLE connections ADD COLUMN last_refresh_job_id VARCHAR(36) NULL');
    await q.query('ALTER TABLE jobs ADD COLUMN error_code VARCHAR(100) NULL');

    // Backfill existing rows once. The rule is the domain's `connectionStatusAfterRefresh`; this
    // restates it for rows written before the store kept the column.
    await q.query(
      postgres
        ? `UPDATE jobs SET error_code = LEFT(CAST(error AS json)->>'code', 100) WHERE error IS NOT NULL`
        : `UPDATE jobs SET error_code = substr(json_extract(error, '$.code'), 1, 100) WHERE error IS NOT NULL`,
    );
    await q.query(`UPDATE connections SET last_refresh_job_id = (
        SELECT j.id FROM jobs j WHERE j.connection_id = connections.id AND j.action = 'refresh'
          AND j.status IN ('success', 'failed') ORDER BY j.created_at DESC, j.id DESC LIMIT 1)`);
    await q.query(`UPDATE connections SET status = COALESCE((
        SELECT CASE WHEN j.status = 'success' THEN 'active'
                    WHEN j.error_code = 'invalid-credentials' THEN 'invalid'
                    WHEN j.error_code = 'user-action-required' THEN 'action-required'
                    ELSE 'unavailable' END
          FROM jobs j WHERE j.id = connections.last_refresh_job_id), 'pending')`);

    await q.query(
      'CREATE INDEX "ix_connections_tenant_status" ON "connections" ("tenant_id", "status", "created_at", "id")',
    );
    await q.query(
      'CREATE INDEX "ix_connections_tenant_institution" ON "connections" ("tenant_id", "institution_id", "created_at", "id")',
    );
    await q.query('CREATE INDEX "ix_connections_tenant_user_ref" ON "connections" ("tenant_id", "user_ref")');
    await q.query('CREATE INDEX "ix_connections_tenant_login_hash" ON "connections" ("tenant_id", "login_hash")');
    await q.query('CREATE INDEX "ix_jobs_tenant_status" ON "jobs" ("tenant_id", "status", "created_at", "id")');
    await q.query('CREATE INDEX "ix_jobs_tenant_error_code" ON "jobs" ("tenant_id", "error_code", "created_at", "id")');
  }

  async down(q: QueryRunner): Promise<void> {
    for (const ix of [
      'ix_jobs_tenant_error_code',
      'ix_jobs_tenant_status',
      'ix_connections_tenant_login_hash',
      'ix_connections_tenant_user_ref',
      'ix_connections_tenant_institution',
      'ix_connections_tenant_status',
    ])
      await q.query(`DROP INDEX "${ix}"`);
    await q.query('ALTER TABLE jobs DROP COLUMN error_code');
    for (const c of ['last_refresh_job_id', 'refresh_every_hours', 'login_hash', 'credentials_updated_at', 'status'])
      await q.query(`ALTER TABLE connections DROP COLUMN ${c}`);
  }
}
