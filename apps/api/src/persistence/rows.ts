import type { Millis } from '@jobtrail/engine';

/** Row shapes of the tables only the api reads and writes (the engine's are in its store). */

export interface TenantRow {
  id: string;
  name: string;
  created_at: Millis;
}

export interface ApiKeyRow {
  id: string;
  tenant_id: string;
  name: string;
  role: string;
  key_hash: string;
  prefix: string;
  created_at: Millis;
  revoked_at: Millis | null;
  /** Written at most once a minute per key. */
  last_used_at: Millis | null;
  /** The key that created it; null for the command-line tool or start-up. */
  created_by_key_id: string | null;
}

export interface IdempotencyKeyRow {
  tenant_id: string;
  idem_key: string;
  fingerprint: string;
  status_code: number | null;
  response_body: string | null;
  created_at: Millis;
}
