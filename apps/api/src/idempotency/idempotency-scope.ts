import { AsyncLocalStorage } from 'node:async_hooks';
import { ApiProblem } from '../common/api-problem.js';
import type { Transaction } from '@jobtrail/engine';
import { IsNull } from 'typeorm';
import { IdempotencyKeyEntity } from '../persistence/entities.js';

/** The Idempotency-Key claim of the request being answered. */
export interface IdempotencyClaim {
  readonly tenantId: string;
  readonly key: string;
  /** The claim's time: identifies this claim (a takeover gives the row a new one). */
  readonly claimedAt: number;
  /** Set once the answer was written in the work's own transaction. */
  storedInWork: boolean;
}

const scope = new AsyncLocalStorage<IdempotencyClaim>();

/** Runs `fn` (the request's handler) with its claim visible to {@link recordIdempotentAnswer}. */
export function runWithIdempotencyClaim<T>(claim: IdempotencyClaim, fn: () => T): T {
  return scope.run(claim, fn);
}

/** The claim of the current request, if it carries an Idempotency-Key. */
export function currentIdempotencyClaim(): IdempotencyClaim | undefined {
  return scope.getStore();
}

/**
 * The hook that makes idempotency exact: called by a service inside the transaction of the work,
 * with the status and body the route will answer, it writes the key's answer in that very
 * transaction. Work and answer then commit together or not at all, so no failure between them
 * can make a retry run the work again. It does nothing for a request without Idempotency-Key.
 *
 * When the claim is no longer this request's (taken over after `claimTimeoutMs`), it throws
 * 409 `idempotency-key-in-flight`, rolling the work back: two requests can never both commit
 * work for one key.
 */
export async function recordIdempotentAnswer(tx: Transaction, status: number, body: unknown): Promise<void> {
  const claim = scope.getStore();
  if (!claim) return;
  const updated = await tx.manager.update(
    IdempotencyKeyEntity,
    { tenant_id: claim.tenantId, idem_key: claim.key, created_at: claim.claimedAt, status_code: IsNull() },
    { status_code: status, response_body: JSON.stringify(body ?? null) },
  );
  if (updated.affected !== 1)
    throw new ApiProblem(
      'idempotency-key-in-flight',
      'Another request with this Idempotency-Key took it over; retry to get its answer.',
    );
  claim.storedInWork = true;
}
