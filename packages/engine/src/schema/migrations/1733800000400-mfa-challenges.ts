import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One-time-code challenges: a processing job may wait for the user's code with no worker and no
 * lease. `challenge` holds it (JSON: type, prompt, expiry, wrong codes so far); its expiry is a
 * column too, so the sweeper finds lapsed challenges through an index. A parked job is a processing
 * one without a lease: workers find the answered ones through the existing `ix_jobs_lease`.
 */
export class MfaChallenges1733800000400 implements MigrationInterface {
  name = 'MfaChallenges1733800000400';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE jobs ADD COLUMN challenge TEXT NULL');
    await q.query('ALTER TABLE jobs ADD COLUMN challenge_expires_at BIGINT NULL');
    await q.query(
      `CREATE INDEX "ix_jobs_challenge_expiry" ON "jobs" ("challenge_expires_at") WHERE status = 'processing'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX "ix_jobs_challenge_expiry"');
    await q.query('ALTER TABLE jobs DROP COLUMN challenge_expires_at');
    await q.query('ALTER TABLE jobs DROP COLUMN challenge');
  }
}
