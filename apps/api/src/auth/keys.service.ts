import { Injectable } from '@nestjs/common';
import { isApiKeyRole, toIso, type ApiKeyWire, type CreateApiKeyBody, type CreatedApiKeyWire } from '@jobtrail/domain';
import { ApiProblem } from '../common/api-problem.js';
import { ApiKeysRepository, type ApiKeyAuditRow } from './api-keys.repository.js';
import type { AuthContext } from './auth-context.js';

const date = (ms: number | string) => toIso(new Date(Number(ms)));

/** A stored key as the API shows it (never its hash, never the key). */
export function toApiKeyWire(row: ApiKeyAuditRow): ApiKeyWire {
  return {
    key_id: row.id,
    name: row.name,
    // A row with an unknown role cannot authenticate (the guard refuses it); it lists as the least.
    role: isApiKeyRole(row.role) ? row.role : 'viewer',
    prefix: row.prefix,
    created_at: date(row.created_at),
    last_used_at: row.last_used_at === null ? null : date(row.last_used_at),
    created_by:
      row.created_by_key_id === null ? null : { key_id: row.created_by_key_id, name: row.created_by_name ?? '' },
  };
}

/** The tenant's API keys, managed by its admins. */
@Injectable()
export class KeysService {
  constructor(private readonly keys: ApiKeysRepository) {}

  async list(auth: AuthContext): Promise<ApiKeyWire[]> {
    return (await this.keys.findKeysOfTenant(auth.tenantId)).map(toApiKeyWire);
  }

  /** Creates a key in the caller's tenant; the answer carries the key in clear, this once only. */
  async create(auth: AuthContext, body: CreateApiKeyBody): Promise<CreatedApiKeyWire> {
    const { key, summary } = await this.keys.createKey(auth.tenantId, body.name, body.role, undefined, auth.keyId);
    const row = await this.keys.findKeyOfTenant(auth.tenantId, summary.id);
    if (!row) throw new Error('a key just created was not found');
    return { ...toApiKeyWire(row), key };
  }

  /** Revokes a key of the caller's tenant; another tenant's key is answered like a missing one. */
  async revoke(auth: AuthContext, keyId: string): Promise<void> {
    const outcome = await this.keys.revokeKeyOfTenant(auth.tenantId, keyId);
    switch (outcome) {
      case 'revoked':
        return;
      case 'not-found':
        throw ApiProblem.notFound('API key');
      case 'last-admin':
        throw new ApiProblem(
          'last-admin-key',
          "This is the tenant's last active admin key: create another admin key before revoking it.",
        );
    }
  }
}
