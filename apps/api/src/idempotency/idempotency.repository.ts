import { Injectable } from '@nestjs/common';
import { Database, isUniqueViolation, millis } from '@jobtrail/engine';
import { IsNull } from 'typeorm';
import { IdempotencyKeyEntity } from '../persistence/entities.js';

/** How long a key's first answer is replayed. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/** The stored state of an Idempotency-Key. */
export type IdempotencyRecord =
  | { readonly state: 'claimed'; readonly claimedAt: number }
  | { readonly state: 'in-flight'; readonly fingerprint: string }
  | { readonly state: 'done'; readonly fingerprint: string; readonly status: number; readonly body: string };

/** Expired records deleted per statement by the sweep (short statements on the created_at index). */
export const PURGE_BATCH = 1_000;

/**
 * Idempotency keys of a tenant: claimed before the work, completed with its answer.
 *
 * A claim is identified by its `created_at` (the claim time, in ms): completing or releasing a
 * claim names it, so a process whose claim was taken over (see `claimTimeoutMs`) cannot complete
 * or delete the claim of the process that took it over.
 */
@Injectable()
export class IdempotencyRepository {
  constructor(private readonly db: Database) {}

  /**
   * Claims the key for this request, or tells what an earlier request with it left. An in-flight
   * claim older than `claimTimeoutMs` belongs to a request that died with its process (a request
   * cannot outlive it otherwise): the same request may take it over, atomically — the UPDATE names
   * the old claim time, so of two takers exactly one matches.
   */
  async claim(
    tenantId: string,
    key: string,
    fingerprint: string,
    now = Date.now(),
    claimTimeoutMs = Number.POSITIVE_INFINITY,
  ): Promise<IdempotencyRecord> {
    for (let tries = 0; tries < 3; tries++) {
      try {
        await this.db.withManager((m) =>
          m.insert(IdempotencyKeyEntity, {
            tenant_id: tenantId,
            idem_key: key,
            fingerprint,
            status_code: null,
            response_body: null,
            created_at: now,
          }),
        );
        return { state: 'claimed', claimedAt: now };
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
      }
      const row = await this.db.withManager((m) =>
        m.findOneBy(IdempotencyKeyEntity, { tenant_id: tenantId, idem_key: key }),
      );
      if (!row) continue; // released meanwhile: claim again
      if (millis(row.created_at) < now - IDEMPOTENCY_TTL_MS) {
        // Expired: forget it and claim afresh.
        await this.db.withManager((m) =>
          m.delete(IdempotencyKeyEntity, { tenant_id: tenantId, idem_key: key, created_at: row.created_at }),
        );
        continue;
      }
      if (row.status_code === null || row.response_body === null) {
        if (row.fingerprint === fingerprint && millis(row.created_at) <= now - claimTimeoutMs) {
          // Never the same claim time as the stale claim, or a late completion of it would match.
          const claimedAt = Math.max(now, millis(row.created_at) + 1);
          const taken = await this.db.withManager((m) =>
            m.update(
              IdempotencyKeyEntity,
              { tenant_id: tenantId, idem_key: key, created_at: row.created_at, status_code: IsNull() },
              { created_at: claimedAt },
            ),
          );
          if (taken.affected === 1) return { state: 'claimed', claimedAt };
          continue; // another taker won, or it completed meanwhile: look again
        }
        return { state: 'in-flight', fingerprint: row.fingerprint };
      }
      return { state: 'done', fingerprint: row.fingerprint, status: Number(row.status_code), body: row.response_body };
    }
    return { state: 'in-flight', fingerprint };
  }

  /** Stores the answer of this claim; false when the claim is no longer ours (taken over). */
  async complete(tenantId: string, key: string, claimedAt: number, status: number, body: string): Promise<boolean> {
    const res = await this.db.withManager((m) =>
      m.update(
        IdempotencyKeyEntity,
        { tenant_id: tenantId, idem_key: key, created_at: claimedAt, status_code: IsNull() },
        { status_code: status, response_body: body },
      ),
    );
    return res.affected === 1;
  }

  /** Forgets this claim of a request that failed, so the client can try again with the same key. */
  async release(tenantId: string, key: string, claimedAt: number): Promise<void> {
    await this.db.withManager((m) =>
      m.delete(IdempotencyKeyEntity, {
        tenant_id: tenantId,
        idem_key: key,
        created_at: claimedAt,
        status_code: IsNull(),
      }),
    );
  }

  /**
   * Deletes one batch of keys older than the replay window (found through the created_at index);
   * returns how many. Call until it returns less than `batch`.
   */
  async purgeExpiredBatch(now = Date.now(), batch = PURGE_BATCH): Promise<number> {
    const res = await this.db.withManager((m) =>
      m
        .createQueryBuilder()
        .delete()
        .from(IdempotencyKeyEntity)
        .where(
          `(tenant_id, idem_key) IN
             (SELECT tenant_id, idem_key FROM idempotency_keys WHERE created_at < :before ORDER BY created_at LIMIT :batch)`,
          { before: now - IDEMPOTENCY_TTL_MS, batch },
        )
        .execute(),
    );
    return res.affected ?? 0;
  }

  /** Drops every key older than the replay window, batch by batch; returns how many. */
  async purgeExpired(now = Date.now(), batch = PURGE_BATCH): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.purgeExpiredBatch(now, batch);
      total += n;
      if (n < batch) return total;
    }
  }
}
