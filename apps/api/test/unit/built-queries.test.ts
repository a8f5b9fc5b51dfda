import { describe, expect, it } from '@jest/globals';
import { PreparedSql, type Sql } from '@jobtrail/engine';
import { BuiltQueries, type BuilderOutput, type QueryParams } from '../../src/persistence/built-queries.js';

const text = (sql: Sql) => (typeof sql === 'string' ? sql : sql.text);
/** A bound query with its SQL as text. */
const plain = ([sql, values]: readonly [Sql, readonly unknown[]]) => [text(sql), values];

/**
 * A stand-in for TypeORM's builder on SQLite: every `:name` becomes `?` with its value pushed,
 * `:...name` one `?` per element; counts its runs.
 */
function fakeBuilder(sql: string) {
  let runs = 0;
  const build = (p: QueryParams): BuilderOutput => {
    runs++;
    const values: unknown[] = [];
    const text = sql.replace(/:(\.\.\.)?(\w+)/g, (_, spread: string | undefined, name: string) => {
      const v = p[name];
      if (spread) {
        values.push(...(v as unknown[]));
        return (v as unknown[]).map(() => '?').join(', ');
      }
      values.push(v);
      return '?';
    });
    return [text, values];
  };
  return { build, runs: () => runs };
}

describe('BuiltQueries', () => {
  it('builds a shape once, then binds each call its own values, in placeholder order (repeats and lists too)', () => {
    const cache = new BuiltQueries();
    const q = fakeBuilder('a = :a AND b IN (:...b) AND (c < :c OR (c = :c AND d < :d))');
    const first = cache.bind('s', { a: 'x', b: [1, 2], c: 10, d: 'id-1' }, q.build);
    const second = cache.bind('s', { a: 'y', b: [3, 4], c: 20, d: 'id-2' }, q.build);
    expect(q.runs()).toBe(1);
    expect(plain(first)).toEqual([
      'a = ? AND b IN (?, ?) AND (c < ? OR (c = ? AND d < ?))',
      ['x', 1, 2, 10, 10, 'id-1'],
    ]);
    expect(plain(second)).toEqual([
      'a = ? AND b IN (?, ?) AND (c < ? OR (c = ? AND d < ?))',
      ['y', 3, 4, 20, 20, 'id-2'],
    ]);
    // The answer is the one an uncached build gives.
    expect(plain(second)).toEqual(
      fakeBuilder('a = :a AND b IN (:...b) AND (c < :c OR (c = :c AND d < :d))').build({
        a: 'y',
        b: [3, 4],
        c: 20,
        d: 'id-2',
      }),
    );
  });

  it('keeps shapes apart', () => {
    const cache = new BuiltQueries();
    const one = fakeBuilder('a = :a');
    const two = fakeBuilder('b = :a');
    expect(text(cache.bind('one', { a: 1 }, one.build)[0])).toBe('a = ?');
    expect(text(cache.bind('two', { a: 1 }, two.build)[0])).toBe('b = ?');
  });

  it('does not cache a shape whose build inlines a value or changes it: it is built every time', () => {
    const cache = new BuiltQueries();
    let runs = 0;
    const inlining = (p: QueryParams): BuilderOutput => {
      runs++;
      return [`a = '${String(p.a)}'`, []];
    };
    expect(cache.bind('inline', { a: 'x' }, inlining)).toEqual(["a = 'x'", []]);
    expect(cache.bind('inline', { a: 'y' }, inlining)).toEqual(["a = 'y'", []]);
    let conversions = 0;
    const converting = (p: QueryParams): BuilderOutput => {
      conversions++;
      return ['a = ?', [String(p.a).toUpperCase()]];
    };
    expect(cache.bind('convert', { a: 'x' }, converting)).toEqual(['a = ?', ['X']]);
    expect(cache.bind('convert', { a: 'y' }, converting)).toEqual(['a = ?', ['Y']]);
    expect(runs).toBe(3);
    expect(conversions).toBe(3);
  });

  it('holds a bounded number of shapes', () => {
    const cache = new BuiltQueries(2);
    const q = fakeBuilder('a = :a');
    for (const shape of ['s1', 's2', 's3', 's1']) cache.bind(shape, { a: 1 }, q.build);
    // s3 cleared the cache when it was full, so s1 was built again.
    expect(q.runs()).toBe(4);
  });

  it('runs a cached shape as a prepared statement, an uncached one as plain text, and prepares a bounded number', () => {
    const cache = new BuiltQueries(1_000, 2);
    const q = fakeBuilder('a = :a');
    const [sql] = cache.bind('s1', { a: 1 }, q.build);
    expect(sql).toBeInstanceOf(PreparedSql);
    // The same text under another shape is the same statement.
    expect(cache.bind('s1-again', { a: 2 }, q.build)[0]).toBe(sql);
    expect(cache.bind('s2', { a: 1 }, fakeBuilder('b = :a').build)[0]).toBeInstanceOf(PreparedSql);
    // Past the bound: still cached, but no longer prepared.
    expect(cache.bind('s3', { a: 1 }, fakeBuilder('c = :a').build)[0]).toBe('c = ?');
    const inlined = cache.bind('inline', { a: 'x' }, (p) => [`d = '${String(p.a)}'`, []]);
    expect(inlined[0]).toBe("d = 'x'");
  });
});
