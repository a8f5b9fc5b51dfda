import { Injectable } from '@nestjs/common';
import { isApiKeyRole, type ApiKeyRole } from '@jobtrail/domain';
import { Database, uuidv7, type ApiKeyRow, type TenantRow } from '@jobtrail/engine';
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

/** Tenants and their API keys. */
@Injectable()
export class ApiKeysRepository {
  constructor(private readonly db: Database) {}

  /** The caller behind a presented key, or null when the key is unknown or revoked. */
  async findActiveKey(key: string): Promise<AuthContext | null> {
    const rows = await this.db.query<ApiKeyRow & { tenant_name: string }>(
      `SELECT k.*, t.name AS tenant_name FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
        WHERE k.key_hash = $1 AND k.revoked_at IS NULL`,
      [hashApiKey(key)],
    );
    const row = rows[0];
    if (!row || !isApiKeyRole(row.role)) return null;
    return { tenantId: row.tenant_id, tenantName: row.tenant_name, keyId: row.id, keyName: row.name, role: row.role };
  }

  /** The caller behind a key id, or null when the key is unknown or revoked. */
  async findActiveKeyById(keyId: string): Promise<AuthContext | null> {
    const rows = await this.db.query<ApiKeyRow & { tenant_name: string }>(
      `SELECT k.*, t.name AS tenant_name FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.id = $1 AND k.revoked_at IS NULL`,
      [keyId],
    );
    const row = rows[0];
    if (!row || !isApiKeyRole(row.role)) return null;
    return { tenantId: row.tenant_id, tenantName: row.tenant_name, keyId: row.id, keyName: row.name, role: row.role };
  }

  async findTenantByName(name: string): Promise<TenantRow | null> {
    return (await this.db.query<TenantRow>('SELECT * FROM tenants WHERE name = $1', [name]))[0] ?? null;
  }

  async createTenant(name: string): Promise<TenantRow> {
    const row: TenantRow = { id: uuidv7(), name, created_at: Date.now() };
    await this.db.execute('INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)', [
      row.id,
      row.name,
      row.created_at,
    ]);
    return row;
  }

  /** Stores a key; `key` defaults to a fresh random one. Returns the key in clear, once. */
  async createKey(
    tenantId: string,
    name: string,
    role: ApiKeyRole,
    key = generateApiKey(),
  ): Promise<{ key: string; summary: ApiKeySummary }> {
    const id = uuidv7();
    await this.db.execute(
      'INSERT INTO api_keys (id, tenant_id, name, role, key_hash, prefix, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)',
      [id, tenantId, name, role, hashApiKey(key), keyPrefix(key), Date.now()],
    );
    return { key, summary: { id, tenantId, name, role, prefix: keyPrefix(key), revoked: false } };
  }

  /** True when the key existed and was active. */
  async revokeKey(keyId: string): Promise<boolean> {
    return (
      (await this.db.execute('UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [
        Date.now(),
        keyId,
      ])) > 0
    );
  }

  async listKeys(tenantId: string): Promise<ApiKeySummary[]> {
    const rows = await this.db.query<ApiKeyRow>('SELECT * FROM api_keys WHERE tenant_id = $1 ORDER BY created_at', [
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
    return (await this.db.query('SELECT 1 AS found FROM api_keys WHERE key_hash = $1', [hashApiKey(key)])).length > 0;
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
