import type { WhereExpressionBuilder } from 'typeorm';
import { ApiProblem } from './api-problem.js';

/** A position in a list ordered by (created_at DESC, id DESC): the last row of the previous page. */
export interface KeysetPosition {
  readonly createdAt: number;
  readonly id: string;
}

/** The opaque cursor of a keyset position (clients must not build or read it). */
export function encodeCursor(pos: KeysetPosition): string {
  return Buffer.from(JSON.stringify([pos.createdAt, pos.id]), 'utf8').toString('base64url');
}

/** The position inside a cursor; a cursor that was not made by `encodeCursor` is a 400. */
export function decodeCursor(cursor: string): KeysetPosition {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      Number.isSafeInteger(value[0]) &&
      typeof value[1] === 'string' &&
      /^[0-9a-f-]{36}$/.test(value[1])
    ) {
      return { createdAt: value[0] as number, id: value[1] };
    }
  } catch {
    // falls through to the 400 below
  }
  throw ApiProblem.validation([{ field: 'query.cursor', message: 'is not a valid cursor' }]);
}

/**
 * The `Link: <...>; rel="next"` header value for the next page: the same path and query, with the
 * new cursor (RFC 8288; the reference is relative to the request).
 */
export function nextLink(originalUrl: string, cursor: string): string {
  const url = new URL(originalUrl, 'http://x');
  url.searchParams.set('cursor', cursor);
  return `<${url.pathname}${url.search}>; rel="next"`;
}

/**
 * Narrows a query builder to the rows strictly after `after` in the order (created_at DESC, id
 * DESC). The redundant `created_at <= :at` is what lets both databases seek the index at the
 * cursor: the OR alone is only a filter, so a deep page would walk every newer row first.
 */
export function whereAfter<Q extends WhereExpressionBuilder>(qb: Q, alias: string, after: KeysetPosition | null): Q {
  if (!after) return qb;
  return qb.andWhere(
    `${alias}.created_at <= :afterAt AND (${alias}.created_at < :afterAt OR (${alias}.created_at = :afterAt AND ${alias}.id < :afterId))`,
    { afterAt: after.createdAt, afterId: after.id },
  );
}

/** A page of a list and the cursor of the next one (null on the last page). */
export interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

/** Cuts the one extra row fetched (limit + 1) to know whether a next page exists. */
export function keysetPage<R, T>(
  rows: readonly R[],
  limit: number,
  positionOf: (row: R) => KeysetPosition,
  toItem: (row: R) => T,
): Page<T> {
  const kept = rows.slice(0, limit);
  const last = kept[kept.length - 1];
  return {
    items: kept.map(toItem),
    nextCursor: rows.length > limit && last ? encodeCursor(positionOf(last)) : null,
  };
}
