import type { MigrationInterface, QueryRunner } from 'typeorm';

/** API keys managed in the product: when each key was last used and which key created it. */
export class ApiKeyAudit1733800000100 implements MigrationInterface {
  name = 'ApiKeyAudit1733800000100';

  async up(q: QueryRunner): Promise<void> {
    // Written at most once a minute per key (not on every request).
    await q.query('ALTER TABLE api_keys ADD COLUMN last_used_at BIGINT NULL');
    // Null for keys made by the command-line tool or from JOBTRAIL_ADMIN_KEY at start-up. Keys are
    // revoked, never deleted (until their tenant is), so the creator stays resolvable.
    await q.query('ALTER TABLE api_keys ADD COLUMN created_by_key_id VARCHAR(36) NULL');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE api_keys DROP COLUMN created_by_key_id');
    await q.query('ALTER TABLE api_keys DROP COLUMN last_used_at');
  }
}
