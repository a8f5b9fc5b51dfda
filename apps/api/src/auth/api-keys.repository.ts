import { Injectable } from '@nestjs/common';
import { isApiKeyRole, type ApiKeyRole } from '@jobtrail/domain';
import { uuidv7 } from '../common/ids.js';
import { Database } from '../database/database.js';
import type { SqlExecutor } from '../database/database.js';
import type { ApiKeyRow, Millis, TenantRow } from '../database/rows.js';
import type { AuthContext } from './auth-context.js';
import { generateApiKey, hashApiKey, keyPrefix } from './key-material.js';

/** A key as listed (never with its secret). */
export interface ApiKeySummary {
  readonly id: string;
  readonly tenantId: string;
  readonly name: string;
  readonly role: ApiKeyRole;
  readonly prefix: string;
  readonly revoked: boolean;
}

/** A key with its audit columns (migration ApiKeyAudit1733800000100) and its creator's name. */
export interface ApiKeyAuditRow extends ApiKeyRow {
  last_used_at: Millis | null;
  created_by_key_id: string | null;
  created_by_name: string | null;
}

/** What revoking a key of a tenant did. */
export type RevokeOutcome = 'revoked' | 'not-found' | 'last-admin';

/** How often `last_used_at` is written per key, at most. */
export const LAST_USED_RESOLUTION_MS = 60_000;

/** Tenants and their API keys. */
@Injectable()
export class ApiKeysRepository {
  constructor(private readonly db: Database) {}

  /** The caller behind a presented key, or null when the key is unknown or revoked. */
  async findActiveKey(key: string): Promise<AuthContext | null> {
    const rows = await this.db.query<ApiKeyRow & { tenant_name: string }>(
      `SELECT k.*, t.name AS tenant_name FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
        WHERE k.key_hash = ? AND k.revoked_at IS NULL`,
      [hashApiKey(key)],
    );
    const row = rows[0];
    if (!row || !isApiKeyRole(row.role)) return null;
    return { tenantId: row.tenant_id, tenantName: row.tenant_name, keyId: row.id, keyName: row.name, role: row.role };
  }

  /** The caller behind a key id, or null when the key is unknown or revoked. */
  async findActiveKeyById(keyId: string): Promise<AuthContext | null> {
    const rows = await this.db.query<ApiKeyRow & { tenant_name: string }>(
      `SELECT k.*, t.name AS tenant_name FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.id = ? AND k.revoked_at IS NULL`,
      [keyId],
    );
    const row = rows[0];
    if (!row || !isApiKeyRole(row.role)) return null;
    return { tenantId: row.tenant_id, tenantName: row.tenant_name, keyId: row.id, keyName: row.name, role: row.role };
  }

  async findTenantByName(name: string): Promise<TenantRow | null> {
    return (await this.db.query<TenantRow>('SELECT * FROM tenants WHERE name = ?', [name]))[0] ?? null;
  }

  async createTenant(name: string): Promise<TenantRow> {
    const row: TenantRow = { id: uuidv7(), name, created_at: Date.now() };
    await this.db.execute('INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)', [
      row.id,
      row.name,
      row.created_at,
    ]);
    return row;
  }

  /**
   * Stores a key; `key` defaults to a fresh random one. Returns the key in clear, once.
   * `createdByKeyId` is the key that asked for it (null: the command-line tool or start-up).
   */
  async createKey(
    tenantId: string,
    name: string,
    role: ApiKeyRole,
    key = generateApiKey(),
    createdByKeyId: string | null = null,
  ): Promise<{ key: string; summary: ApiKeySummary }> {
    const id = uuidv7();
    await this.db.execute(
      'INSERT INTO api_keys (id, tenant_id, name, role, key_hash, prefix, created_at, revoked_at, created_by_key_id) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)',
      [id, tenantId, name, role, hashApiKey(key), keyPrefix(key), Date.now(), createdByKeyId],
    );
    return { key, summary: { id, tenantId, name, role, prefix: keyPrefix(key), revoked: false } };
  }

  /** The active keys of a tenant, oldest first, with their creator's name. */
  async findKeysOfTenant(tenantId: string): Promise<ApiKeyAuditRow[]> {
    return this.db.query<ApiKeyAuditRow>(
      `SELECT k.*, c.name AS created_by_name FROM api_keys k LEFT JOIN api_keys c ON c.id = k.created_by_key_id
        WHERE k.tenant_id = ? AND k.revoked_at IS NULL ORDER BY k.created_at, k.id`,
      [tenantId],
    );
  }

  /** One active key of a tenant; null for a revoked key, another tenant's or none. */
  async findKeyOfTenant(tenantId: string, keyId: string): Promise<ApiKeyAuditRow | null> {
    const rows = await this.db.query<ApiKeyAuditRow>(
      `SELECT k.*, c.name AS created_by_name FROM api_keys k LEFT JOIN api_keys c ON c.id = k.created_by_key_id
        WHERE k.tenant_id = ? AND k.id = ? AND k.revoked_at IS NULL`,
      [tenantId, keyId],
    );
    return rows[0] ?? null;
  }

  /** Active admin keys of a tenant. */
  async countActiveAdmins(tenantId: string, tx: SqlExecutor = this.db): Promise<number> {
    const rows = await tx.query<{ n: number | string }>(
      `SELECT COUNT(*) AS n FROM api_keys WHERE tenant_id = ? AND role = 'admin' AND revoked_at IS NULL`,
      [tenantId],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * Revokes an active key of a tenant, unless it is the tenant's last active admin key. One
   * transaction: on PostgreSQL the tenant's active admin rows are locked first, so two admins
   * revoking each other's keys at once cannot both succeed (SQLite runs one writer at a time).
   */
  async revokeKeyOfTenant(tenantId: string, keyId: string, now = Date.now()): Promise<RevokeOutcome> {
    return this.db.transaction(async (tx) => {
      const lock = this.db.kind === 'postgres' ? 'FOR UPDATE' : '';
      const admins = await tx.query<{ id: string }>(
        `SELECT id FROM api_keys WHERE tenant_id = ? AND role = 'admin' AND revoked_at IS NULL ${lock}`,
        [tenantId],
      );
      const [target] = await tx.query<{ role: string }>(
        'SELECT role FROM api_keys WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL',
        [tenantId, keyId],
      );
      if (!target) return 'not-found';
      if (target.role === 'admin' && admins.length <= 1) return 'last-admin';
      const changed = await tx.execute(
        'UPDATE api_keys SET revoked_at = ? WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL',
        [now, tenantId, keyId],
      );
      return changed > 0 ? 'revoked' : 'not-found';
    });
  }

  /**
   * Notes that a key was used at `now`, unless that was already noted within the last
   * {@link LAST_USED_RESOLUTION_MS} (by any process). True when a row was written.
   */
  async touchLastUsed(keyId: string, now = Date.now()): Promise<boolean> {
    return (
      (await this.db.execute(
        'UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)',
        [now, keyId, now - LAST_USED_RESOLUTION_MS],
      )) > 0
    );
  }

  /** True when the key existed and was active. */
  async revokeKey(keyId: string): Promise<boolean> {
    return (
      (await this.db.execute('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [
        Date.now(),
        keyId,
      ])) > 0
    );
  }

  async listKeys(tenantId: string): Promise<ApiKeySummary[]> {
    const rows = await this.db.query<ApiKeyRow>('SELECT * FROM api_keys WHERE tenant_id = ? ORDER BY created_at', [
      tenantId,
    ]);
    return rows.map((r) => ({
      id: r.id,
      tenantId: r.tenant_id,
      name: r.name,
      role: isApiKeyRole(r.role) ? r.role : 'viewer',
      prefix: r.prefix,
      revoked: r.revoked_at !== null,
    }));
  }

  async keyExists(key: string): Promise<boolean> {
    return (await this.db.query('SELECT 1 AS found FROM api_keys WHERE key_hash = ?', [hashApiKey(key)])).length > 0;
  }

  /** True when no tenant exists yet (a fresh database). */
  async isEmpty(): Promise<boolean> {
    return (await this.db.query('SELECT 1 AS found FROM tenants LIMIT 1')).length === 0;
  }

  /**
   * Makes sure `key` exists as an admin key of tenant `tenantName` (created if needed), so scripts
   * and tests can start from a known key.
   */
  async ensureAdminKey(key: string, tenantName = 'default'): Promise<void> {
    if (await this.keyExists(key)) return;
    const tenant = (await this.findTenantByName(tenantName)) ?? (await this.createTenant(tenantName));
    await this.createKey(tenant.id, 'bootstrap admin', 'admin', key);
  }
}
