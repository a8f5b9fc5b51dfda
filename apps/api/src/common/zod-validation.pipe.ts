import { Injectable, type PipeTransform } from '@nestjs/common';
import { fieldErrors } from '@jobtrail/domain';
import type { z } from 'zod';
import { ApiProblem } from './api-problem.js';

/** Where a validated value comes from; prefixes field names in errors (`query.limit`). */
export type InputLocation = 'path' | 'query' | 'body';

/**
 * Fields (dotted paths) of the strings in `value` that hold a NUL character: PostgreSQL cannot
 * store one in text, so such input is refused as invalid on both databases instead of failing there.
 */
function nulFields(value: unknown, path: string): string[] {
  if (typeof value === 'string') return value.includes('\u0000') ? [path] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => nulFields(v, `${path}.${i}`));
  if (value !== null && typeof value === 'object')
    return Object.entries(value).flatMap(([k, v]) => nulFields(v, `${path}.${k}`));
  return [];
}

/** Validates a request part with a domain schema; failures become 400 problems with field errors. */
@Injectable()
export class ZodValidationPipe<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  constructor(
    private readonly schema: S,
    private readonly location: InputLocation,
  ) {}

  transform(value: unknown): z.infer<S> {
    // An absent JSON body is the empty object for the action endpoints.
    let input = this.location === 'body' && (value === undefined || value === null) ? {} : value;
    // Ids are stored in lower case; a UUID is the same id whatever the case of its hex digits.
    if (this.location === 'path' && input !== null && typeof input === 'object') {
      input = Object.fromEntries(
        Object.entries(input).map(([k, v]) => [k, typeof v === 'string' && k.endsWith('_id') ? v.toLowerCase() : v]),
      );
    }
    const res = this.schema.safeParse(input);
    if (!res.success) throw ApiProblem.validation(fieldErrors(res.error, this.location));
    const nul = nulFields(res.data, this.location);
    if (nul.length > 0)
      throw ApiProblem.validation(nul.map((field) => ({ field, message: 'must not contain NUL characters' })));
    return res.data;
  }
}

/** Shorthands for controllers. */
export const Valid = {
  path: <S extends z.ZodType>(schema: S) => new ZodValidationPipe(schema, 'path'),
  query: <S extends z.ZodType>(schema: S) => new ZodValidationPipe(schema, 'query'),
  body: <S extends z.ZodType>(schema: S) => new ZodValidationPipe(schema, 'body'),
};
