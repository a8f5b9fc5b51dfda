import { Injectable } from '@nestjs/common';
import { Database, isUniqueViolation, millis } from '@jobtrail/engine';
import type { IdempotencyKeyRow } from '../persistence/rows.js';

/** How long a key's first answer is replayed. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/** The stored state of an Idempotency-Key. */
export type IdempotencyRecord =
  | { readonly state: 'claimed' }
  | { readonly state: 'in-flight'; readonly fingerprint: string }
  | { readonly state: 'done'; readonly fingerprint: string; readonly status: number; readonly body: string };

/** Idempotency keys of a tenant: claimed before the work, completed with its answer. */
@Injectable()
export class IdempotencyRepository {
  constructor(private readonly db: Database) {}

  /** Claims the key for this request, or tells what an earlier request with it left. */
  async claim(tenantId: string, key: string, fingerprint: string, now = Date.now()): Promise<IdempotencyRecord> {
    for (let tries = 0; tries < 3; tries++) {
      try {
        await this.db.execute(
          'INSERT INTO idempotency_keys (tenant_id, idem_key, fingerprint, status_code, response_body, created_at) VALUES ($1, $2, $3, NULL, NULL, $4)',
          [tenantId, key, fingerprint, now],
        );
        return { state: 'claimed' };
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
      }
      const row = (
        await this.db.query<IdempotencyKeyRow>(
          'SELECT * FROM idempotency_keys WHERE tenant_id = $1 AND idem_key = $2',
          [tenantId, key],
        )
      )[0];
      if (!row) continue; // released meanwhile: claim again
      if (millis(row.created_at) < now - IDEMPOTENCY_TTL_MS) {
        // Expired: forget it and claim afresh.
        await this.db.execute(
          'DELETE FROM idempotency_keys WHERE tenant_id = $1 AND idem_key = $2 AND created_at = $3',
          [tenantId, key, row.created_at],
        );
        continue;
      }
      if (row.status_code === null || row.response_body === null)
        return { state: 'in-flight', fingerprint: row.fingerprint };
      return { state: 'done', fingerprint: row.fingerprint, status: Number(row.status_code), body: row.response_body };
    }
    return { state: 'in-flight', fingerprint };
  }

  async complete(tenantId: string, key: string, status: number, body: string): Promise<void> {
    await this.db.execute(
      'UPDATE idempotency_keys SET status_code = $1, response_body = $2 WHERE tenant_id = $3 AND idem_key = $4',
      [status, body, tenantId, key],
    );
  }

  /** Forgets a claim whose request failed, so the client can try again with the same key. */
  async release(tenantId: string, key: string): Promise<void> {
    await this.db.execute(
      'DELETE FROM idempotency_keys WHERE tenant_id = $1 AND idem_key = $2 AND status_code IS NULL',
      [tenantId, key],
    );
  }

  /** Drops keys older than the replay window; returns how many. */
  async purgeExpired(now = Date.now()): Promise<number> {
    return this.db.execute('DELETE FROM idempotency_keys WHERE created_at < $1', [now - IDEMPOTENCY_TTL_MS]);
  }
}
