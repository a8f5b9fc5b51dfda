import { Injectable } from '@nestjs/common';
import { isApiKeyRole, type ApiKeyRole } from '@jobtrail/domain';
import { Database, uuidv7, type Millis } from '@jobtrail/engine';
import { DataSource, IsNull, type SelectQueryBuilder } from 'typeorm';
import { BuiltQueries, columnsOf } from '../persistence/built-queries.js';
import { ApiKeyEntity, TenantEntity } from '../persistence/entities.js';
import type { ApiKeyRow, TenantRow } from '../persistence/rows.js';
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

/** A key with its audit columns and its creator's name. */
export interface ApiKeyAuditRow extends ApiKeyRow {
  created_by_name: string | null;
}

/** What revoking a key of a tenant did. */
export type RevokeOutcome = 'revoked' | 'not-found' | 'last-admin';

/** How often `last_used_at` is written per key, at most. */
export const LAST_USED_RESOLUTION_MS = 60_000;

type KeyWithTenant = ApiKeyRow & { tenant_name: string };

function toAuthContext(row: KeyWithTenant | undefined): AuthContext | null {
  if (!row || !isApiKeyRole(row.role)) return null;
  return { tenantId: row.tenant_id, tenantName: row.tenant_name, keyId: row.id, keyName: row.name, role: row.role };
}

/**
 * Tenants and their API keys, through TypeORM: the query builder for reads (run through the
 * engine's Database, which on SQLite keeps one connection's statements in order), the entity
 * manager for writes.
 */
@Injectable()
export class ApiKeysRepository {
  private readonly built = new BuiltQueries();

  constructor(
    private readonly db: Database,
    private readonly dataSource: DataSource,
  ) {}

  /** Active keys joined with their tenant's name. */
  private activeKeys(): SelectQueryBuilder<KeyWithTenant> {
    return this.dataSource
      .createQueryBuilder()
      .select(columnsOf(this.dataSource, ApiKeyEntity, 'k'))
      .addSelect('t.name', 'tenant_name')
      .from(ApiKeyEntity, 'k')
      .innerJoin(TenantEntity.options.name, 't', 't.id = k.tenant_id')
      .where('k.revoked_at IS NULL') as SelectQueryBuilder<KeyWithTenant>;
  }

  /** Keys of a tenant with the name of the key that created each. */
  private keysWithCreator(tenantId: string): SelectQueryBuilder<ApiKeyAuditRow> {
    return this.dataSource
      .createQueryBuilder()
      .select('k.*')
      .addSelect('c.name', 'created_by_name')
      .from(ApiKeyEntity, 'k')
      .leftJoin(ApiKeyEntity.options.name, 'c', 'c.id = k.created_by_key_id')
      .where('k.tenant_id = :tenantId AND k.revoked_at IS NULL', { tenantId }) as SelectQueryBuilder<ApiKeyAuditRow>;
  }

  /** The caller behind a presented key, or null when the key is unknown or revoked. */
  async findActiveKey(key: string): Promise<AuthContext | null> {
    // Every request's first query: built once, then only bound (BuiltQueries).
    const built = this.built.bind('active-key', { hash: hashApiKey(key) }, (p) =>
      this.activeKeys().andWhere('k.key_hash = :hash', p).getQueryAndParameters(),
    );
    return toAuthContext((await this.db.queryBuilt<KeyWithTenant>(built))[0]);
  }

  /** The caller behind a key id, or null when the key is unknown or revoked. */
  async findActiveKeyById(keyId: string): Promise<AuthContext | null> {
    const qb = this.activeKeys().andWhere('k.id = :keyId', { keyId });
    return toAuthContext((await this.db.queryBuilt<KeyWithTenant>(qb.getQueryAndParameters()))[0]);
  }

  /** Which of these key ids are still active (not revoked), in one indexed lookup. */
  async findActiveKeyIds(keyIds: readonly string[]): Promise<string[]> {
    if (keyIds.length === 0) return [];
    const qb = this.dataSource
      .createQueryBuilder()
      .select('k.id', 'id')
      .from(ApiKeyEntity, 'k')
      .where('k.revoked_at IS NULL AND k.id IN (:...keyIds)', { keyIds });
    return (await this.db.queryBuilt<{ id: string }>(qb.getQueryAndParameters())).map((r) => r.id);
  }

  findTenantByName(name: string): Promise<TenantRow | null> {
    return this.db.withManager((m) => m.findOneBy(TenantEntity, { name }));
  }

  async createTenant(name: string): Promise<TenantRow> {
    const row: TenantRow = { id: uuidv7(), name, created_at: Date.now() };
    await this.db.withManager((m) => m.insert(TenantEntity, row));
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
    const row: ApiKeyRow = {
      id: uuidv7(),
      tenant_id: tenantId,
      name,
      role,
      key_hash: hashApiKey(key),
      prefix: keyPrefix(key),
      created_at: Date.now(),
      revoked_at: null,
      last_used_at: null,
      created_by_key_id: createdByKeyId,
    };
    await this.db.withManager((m) => m.insert(ApiKeyEntity, row));
    return { key, summary: { id: row.id, tenantId, name, role, prefix: row.prefix, revoked: false } };
  }

  /** The active keys of a tenant, oldest first, with their creator's name. */
  findKeysOfTenant(tenantId: string): Promise<ApiKeyAuditRow[]> {
    const qb = this.keysWithCreator(tenantId).orderBy('k.created_at').addOrderBy('k.id');
    return this.db.queryBuilt<ApiKeyAuditRow>(qb.getQueryAndParameters());
  }

  /** One active key of a tenant; null for a revoked key, another tenant's or none. */
  async findKeyOfTenant(tenantId: string, keyId: string): Promise<ApiKeyAuditRow | null> {
    const qb = this.keysWithCreator(tenantId).andWhere('k.id = :keyId', { keyId });
    return (await this.db.queryBuilt<ApiKeyAuditRow>(qb.getQueryAndParameters()))[0] ?? null;
  }

  /**
   * Revokes an active key of a tenant, unless it is the tenant's last active admin key. One
   * transaction: on PostgreSQL the tenant's active admin rows are locked first, so two admins
   * revoking each other's keys at once cannot both succeed (SQLite runs one writer at a time).
   */
  async revokeKeyOfTenant(tenantId: string, keyId: string, now = Date.now()): Promise<RevokeOutcome> {
    return this.db.transaction(async (tx) => {
      const admins = tx.manager
        .createQueryBuilder()
        .select('k.id', 'id')
        .from(ApiKeyEntity, 'k')
        .where("k.tenant_id = :tenantId AND k.role = 'admin' AND k.revoked_at IS NULL", { tenantId });
      if (this.db.kind === 'postgres') admins.setLock('pessimistic_write');
      const adminIds = await tx.queryBuilt<{ id: string }>(admins.getQueryAndParameters());
      const target = await tx.manager.findOneBy(ApiKeyEntity, { tenant_id: tenantId, id: keyId, revoked_at: IsNull() });
      if (!target) return 'not-found';
      if (target.role === 'admin' && adminIds.length <= 1) return 'last-admin';
      const res = await tx.manager.update(
        ApiKeyEntity,
        { tenant_id: tenantId, id: keyId, revoked_at: IsNull() },
        { revoked_at: now },
      );
      return (res.affected ?? 0) > 0 ? 'revoked' : 'not-found';
    });
  }

  /**
   * Notes that a key was used at `now`, unless that was already noted within the last
   * {@link LAST_USED_RESOLUTION_MS} (by any process). True when a row was written.
   */
  async touchLastUsed(keyId: string, now = Date.now()): Promise<boolean> {
    const res = await this.db.withManager((m) =>
      m
        .createQueryBuilder()
        .update(ApiKeyEntity)
        .set({ last_used_at: now })
        .where('id = :keyId AND (last_used_at IS NULL OR last_used_at <= :before)', {
          keyId,
          before: now - LAST_USED_RESOLUTION_MS,
        })
        .execute(),
    );
    return (res.affected ?? 0) > 0;
  }

  /** True when the key existed and was active. */
  async revokeKey(keyId: string): Promise<boolean> {
    const res = await this.db.withManager((m) =>
      m.update(ApiKeyEntity, { id: keyId, revoked_at: IsNull() }, { revoked_at: Date.now() as Millis }),
    );
    return (res.affected ?? 0) > 0;
  }

  async listKeys(tenantId: string): Promise<ApiKeySummary[]> {
    const rows = await this.db.withManager((m) =>
      m.find(ApiKeyEntity, { where: { tenant_id: tenantId }, order: { created_at: 'ASC' } }),
    );
    return rows.map((r) => ({
      id: r.id,
      tenantId: r.tenant_id,
      name: r.name,
      role: isApiKeyRole(r.role) ? r.role : 'viewer',
      prefix: r.prefix,
      revoked: r.revoked_at !== null,
    }));
  }

  keyExists(key: string): Promise<boolean> {
    return this.db.withManager((m) => m.existsBy(ApiKeyEntity, { key_hash: hashApiKey(key) }));
  }

  /** True when no tenant exists yet (a fresh database). */
  async isEmpty(): Promise<boolean> {
    return !(await this.db.withManager((m) => m.exists(TenantEntity)));
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
