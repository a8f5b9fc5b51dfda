import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The first schema, for SQLite and PostgreSQL alike. Plain SQL both databases accept; the only
 * difference is the auto-increment key of job_events (its ids are the SSE event ids).
 */
export class InitialSchema1733800000000 implements MigrationInterface {
  name = 'InitialSchema1733800000000';

  async up(q: QueryRunner): Promise<void> {
    const postgres = q.connection.driver.options.type === 'postgres';
    const serial = postgres ? 'BIGSERIAL PRIMARY KEY' : 'INTEGER PRIMARY KEY AUTOINCREMENT';
    const statements = [
      `CREATE TABLE tenants (
        id VARCHAR(36) PRIMARY KEY,
        name VARCHAR(100) NOT NULL UNIQUE,
        created_at BIGINT NOT NULL)`,
      `CREATE TABLE api_keys (
        id VARCHAR(36) PRIMARY KEY,
        tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        name VARCHAR(100) NOT NULL,
        role VARCHAR(16) NOT NULL,
        key_hash VARCHAR(64) NOT NULL UNIQUE,
        prefix VARCHAR(16) NOT NULL,
        created_at BIGINT NOT NULL,
        revoked_at BIGINT NULL)`,
      `CREATE INDEX ix_api_keys_tenant ON api_keys (tenant_id)`,
      `CREATE TABLE connections (
        id VARCHAR(36) PRIMARY KEY,
        tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        institution_id VARCHAR(64) NOT NULL,
        login_id VARCHAR(128) NOT NULL,
        credentials_enc TEXT NOT NULL,
        user_ref VARCHAR(128) NULL,
        created_at BIGINT NOT NULL,
        latest_job_id VARCHAR(36) NULL)`,
      `CREATE INDEX ix_connections_tenant_created ON connections (tenant_id, created_at DESC, id DESC)`,
      `CREATE TABLE jobs (
        id VARCHAR(36) PRIMARY KEY,
        tenant_id VARCHAR(36) NOT NULL,
        connection_id VARCHAR(36) NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
        action VARCHAR(32) NOT NULL,
        status VARCHAR(16) NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        started_at BIGINT NULL,
        finished_at BIGINT NULL,
        attempt INTEGER NOT NULL,
        max_attempts INTEGER NOT NULL,
        run_at BIGINT NOT NULL,
        lease_owner VARCHAR(100) NULL,
        lease_expires_at BIGINT NULL,
        deadline_at BIGINT NULL,
        cancel_requested_at BIGINT NULL,
        steps TEXT NOT NULL,
        error TEXT NULL,
        result TEXT NULL,
        retry_of VARCHAR(36) NULL,
        requested_by_id VARCHAR(36) NULL,
        requested_by_name VARCHAR(100) NULL)`,
      // The history endpoint's keyset order.
      `CREATE INDEX ix_jobs_history ON jobs (connection_id, created_at DESC, id DESC)`,
      // The tenant-wide search's order.
      `CREATE INDEX ix_jobs_tenant_created ON jobs (tenant_id, created_at DESC, id DESC)`,
      // At most one pending/processing job per (connection, action): duplicate refreshes become
      // the existing job, even under concurrent requests.
      `CREATE UNIQUE INDEX ux_jobs_active_action ON jobs (connection_id, action) WHERE status IN ('pending', 'processing')`,
      // Workers look for due pending jobs.
      `CREATE INDEX ix_jobs_due ON jobs (run_at) WHERE status = 'pending'`,
      `CREATE TABLE job_events (
        id ${serial},
        job_id VARCHAR(36) NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        tenant_id VARCHAR(36) NOT NULL,
        connection_id VARCHAR(36) NOT NULL,
        kind VARCHAR(16) NOT NULL,
        at BIGINT NOT NULL,
        from_status VARCHAR(16) NULL,
        to_status VARCHAR(16) NULL,
        reason VARCHAR(100) NULL,
        actor VARCHAR(100) NULL,
        attempt INTEGER NULL,
        level VARCHAR(8) NULL,
        step VARCHAR(64) NULL,
        message TEXT NULL)`,
      `CREATE INDEX ix_job_events_job ON job_events (job_id, id)`,
      `CREATE INDEX ix_job_events_tenant ON job_events (tenant_id, id)`,
      `CREATE TABLE accounts (
        id VARCHAR(36) PRIMARY KEY,
        connection_id VARCHAR(36) NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
        external_id VARCHAR(100) NOT NULL,
        name VARCHAR(200) NOT NULL,
        currency VARCHAR(3) NOT NULL,
        balance_cents BIGINT NOT NULL,
        updated_at BIGINT NOT NULL)`,
      `CREATE UNIQUE INDEX ux_accounts_external ON accounts (connection_id, external_id)`,
      `CREATE TABLE transactions (
        id VARCHAR(36) PRIMARY KEY,
        connection_id VARCHAR(36) NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
        account_id VARCHAR(36) NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        external_id VARCHAR(100) NOT NULL,
        amount_cents BIGINT NOT NULL,
        description VARCHAR(300) NOT NULL,
        booked_at BIGINT NOT NULL)`,
      `CREATE UNIQUE INDEX ux_transactions_external ON transactions (connection_id, external_id)`,
      `CREATE INDEX ix_transactions_account ON transactions (account_id, booked_at)`,
      `CREATE TABLE idempotency_keys (
        tenant_id VARCHAR(36) NOT NULL,
        idem_key VARCHAR(255) NOT NULL,
        fingerprint VARCHAR(64) NOT NULL,
        status_code INTEGER NULL,
        response_body TEXT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, idem_key))`,
      `CREATE INDEX ix_idempotency_created ON idempotency_keys (created_at)`,
    ];
    for (const sql of statements) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [
      'idempotency_keys',
      'transactions',
      'accounts',
      'job_events',
      'jobs',
      'connections',
      'api_keys',
      'tenants',
    ]) {
      await q.query(`DROP TABLE ${table}`);
    }
  }
}
