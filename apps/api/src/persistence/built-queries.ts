import { PreparedSql, type Sql } from '@jobtrail/engine';
import type { DataSource, EntityTarget } from 'typeorm';

/**
 * A query as TypeORM's builder gives it: SQL in the database's placeholders, and their values. The
 * SQL of a cached shape is a PreparedSql: PostgreSQL parses and plans it once per connection.
 */
export type BuiltQuery = readonly [Sql, readonly unknown[]];

/** What TypeORM's `getQueryAndParameters()` gives: SQL text and its values. */
export type BuilderOutput = readonly [string, readonly unknown[]];

/** Named parameters of a query: plain values, or arrays of them for `IN (:...name)`. */
export type QueryParams = Readonly<Record<string, string | number | null | ReadonlyArray<string | number>>>;

/** Where each placeholder's value comes from: a parameter (an element of it, for a spread array). */
type Slot = { readonly name: string; readonly index: number | null };

const SENTINEL = '\u0000jobtrail-param:';

/**
 * TypeORM's query builder, run once per shape of query and then only bound. Building (aliases,
 * property names, escaping) cost more CPU per history request than the rest of Nest's pipeline
 * (the history bench's profile, issue 13). A shape names everything that changes the SQL text
 * (which filters are set, how many values a spread list has, the limit); the values bind into it.
 *
 * The first build of a shape runs with marker strings for values, which tells which parameter
 * each placeholder is. A shape whose build does anything else with a value (inlines it, turns it
 * into another value) is not cached: it is built every time, as before.
 */
export class BuiltQueries {
  private readonly shapes = new Map<string, readonly Slot[] | null>();
  private readonly sql = new Map<string, Sql>();
  /** Texts made PreparedSql so far: each stays prepared on every connection that ran it. */
  private readonly prepared = new Map<string, PreparedSql>();

  /**
   * `maxPrepared`: how many distinct texts become prepared statements in this process's life; the
   * shapes after them run unnamed (a bound on what each PostgreSQL connection keeps).
   */
  constructor(
    private readonly maxShapes = 1_000,
    private readonly maxPrepared = 100,
  ) {}

  bind(shape: string, params: QueryParams, build: (params: QueryParams) => BuilderOutput): BuiltQuery {
    let slots = this.shapes.get(shape);
    if (slots === undefined) {
      const [sql, values] = build(markers(params));
      slots = sql.includes(SENTINEL) ? null : slotsOf(values);
      if (this.shapes.size >= this.maxShapes) {
        this.shapes.clear();
        this.sql.clear();
      }
      this.shapes.set(shape, slots);
      if (slots) this.sql.set(shape, this.preparedOrText(sql));
    }
    if (slots === null) return build(params);
    return [
      this.sql.get(shape)!,
      slots.map(({ name, index }) => {
        const value = params[name];
        return index === null ? value : (value as ReadonlyArray<unknown>)[index];
      }),
    ];
  }

  private preparedOrText(sql: string): Sql {
    const known = this.prepared.get(sql);
    if (known) return known;
    if (this.prepared.size >= this.maxPrepared) return sql;
    const prepared = new PreparedSql(sql);
    this.prepared.set(sql, prepared);
    return prepared;
  }
}

/**
 * The columns of an entity's table from `alias`, for a SELECT list: a prepared statement must name
 * its columns, since one reading `*` fails once a migration adds a column under the running
 * process ("cached plan must not change result type").
 */
export function columnsOf(dataSource: DataSource, entity: EntityTarget<unknown>, alias: string): string {
  return dataSource
    .getMetadata(entity)
    .columns.map((c) => `${alias}.${c.databaseName}`)
    .join(', ');
}

function markers(params: QueryParams): QueryParams {
  return Object.fromEntries(
    Object.entries(params).map(([name, value]) => [
      name,
      Array.isArray(value) ? value.map((_, i) => `${SENTINEL}${name}:${i}`) : `${SENTINEL}${name}`,
    ]),
  );
}

/** The parameter behind each placeholder, or null when one is not a marker (the shape is not cached). */
function slotsOf(values: readonly unknown[]): Slot[] | null {
  const slots: Slot[] = [];
  for (const value of values) {
    if (typeof value !== 'string' || !value.startsWith(SENTINEL)) return null;
    const marker = value.slice(SENTINEL.length);
    const colon = marker.lastIndexOf(':');
    slots.push(
      colon < 0
        ? { name: marker, index: null }
        : { name: marker.slice(0, colon), index: Number(marker.slice(colon + 1)) },
    );
  }
  return slots;
}
